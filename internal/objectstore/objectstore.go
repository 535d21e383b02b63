// Package objectstore reads and writes lists in S3-compatible object stores
// (AWS S3, GCS through its interoperability API, MinIO, Ceph RGW,
// SeaweedFS), with minio-go. The endpoint is a tenant's and treated as
// hostile: it is dialled under the same address policy as a list URL.
// Reads stream and resume after a dropped connection with a range request
// pinned to the object's ETag.
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/contactconverter/contact-converter/internal/fetch"
)

// Location is where objects are: the fields of csv.s3.
type Location struct {
	// Endpoint is a URL (https://host[:port]); empty is AWS S3.
	Endpoint  string
	Region    string
	Bucket    string
	PathStyle bool
}

// Keys are static credentials, as in an AWS-style Secret.
type Keys struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Client reads and writes the objects of one bucket.
type Client struct {
	mc     *minio.Client
	core   minio.Core
	bucket string
	// Backoff are the waits between attempts to resume a read.
	Backoff []time.Duration
}

// New connects to loc's store. keys nil means the pod's own identity: the
// AWS_* variables, then a web identity (IRSA), ECS or EC2 role. With a
// policy, the endpoint is dialled only where it allows (nil: anywhere, for
// a person's own uploads).
func New(loc Location, keys *Keys, policy *fetch.Policy) (*Client, error) {
	host, secure := "s3.amazonaws.com", true
	if loc.Endpoint != "" {
		u, err := url.Parse(loc.Endpoint)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, &Error{Field: "endpoint", Reason: "must be a URL such as https://s3.example.com or http://minio.storage.svc:9000, with no path"}
		}
		if policy != nil {
			if err := policy.CheckURL(u); err != nil {
				return nil, &Error{Field: "endpoint", Reason: err.Error()}
			}
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	var creds *credentials.Credentials
	if keys != nil {
		creds = credentials.NewStaticV4(keys.AccessKeyID, keys.SecretAccessKey, keys.SessionToken)
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.IAM{}})
	}
	opts := &minio.Options{Creds: creds, Secure: secure, Region: loc.Region, BucketLookup: minio.BucketLookupAuto}
	if loc.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	if policy != nil {
		opts.Transport = policy.Transport()
	}
	mc, err := minio.New(host, opts)
	if err != nil {
		return nil, &Error{Field: "endpoint", Reason: err.Error()}
	}
	return &Client{mc: mc, core: minio.Core{Client: mc}, bucket: loc.Bucket,
		Backoff: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}}, nil
}

// Error is a location or an answer the spec's author must fix: it names the
// csv.s3 field at fault.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("csv.s3.%s: %s", e.Field, e.Reason) }

// explain turns the store's answer into an Error when a person must act,
// and leaves other failures (the network, a busy store) as they are.
func (c *Client) explain(err error, key string) error {
	var refused *fetch.RefusedError
	if errors.As(err, &refused) {
		return &Error{Field: "endpoint", Reason: refused.Error()}
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket":
		return &Error{Field: "bucket", Reason: fmt.Sprintf("bucket %q not found at this endpoint; check the name, csv.s3.endpoint and csv.s3.region", c.bucket)}
	case "NoSuchKey":
		return &Error{Field: "key", Reason: fmt.Sprintf("no object %q in bucket %q", key, c.bucket)}
	// XAdminUserNotFound is versitygw's word for an unknown access key.
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "InvalidToken", "ExpiredToken", "XAdminUserNotFound":
		return c.denied(resp.Code)
	case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
		return &Error{Field: "region", Reason: fmt.Sprintf("bucket %q is in another region (%s): set csv.s3.region", c.bucket, resp.Code)}
	case "PreconditionFailed":
		return fmt.Errorf("object %q: %w", key, ErrChanged)
	}
	if resp.StatusCode == 403 {
		return c.denied(resp.Code)
	}
	return err
}

// ErrChanged is an object replaced while it was read: the run fails, and
// the next one reads the new object whole.
var ErrChanged = errors.New("the object changed while it was read; run the conversion again to read the new one")

func (c *Client) denied(code string) error {
	return &Error{Field: "secretRef", Reason: fmt.Sprintf("access denied to bucket %q (%s): check the keys in the Secret, or the pod's role, and that they may read the bucket", c.bucket, code)}
}

// ReadError is a read that failed after its retries: the network or the
// store, not the spec.
type ReadError struct {
	Key    string
	Offset int64
	Err    error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("reading %s at byte %d: %v", e.Key, e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Object is one object to read.
type Object struct {
	Key  string
	Size int64
	ETag string
}

// MaxObjects bounds how many objects one glob may match.
const MaxObjects = 10000

// Match lists the objects a key names: the key itself, or every key a glob
// (path.Match syntax) matches, in name order.
func (c *Client) Match(ctx context.Context, pattern string) ([]Object, error) {
	if !IsGlob(pattern) {
		info, err := c.mc.StatObject(ctx, c.bucket, pattern, minio.StatObjectOptions{})
		if err != nil {
			return nil, c.explain(err, pattern)
		}
		return []Object{{Key: info.Key, Size: info.Size, ETag: info.ETag}}, nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &Error{Field: "key", Reason: fmt.Sprintf("%q is not a valid glob: %v", pattern, err)}
	}
	prefix := pattern[:strings.IndexAny(pattern, `*?[\`)]
	var out []Object
	for info := range c.mc.ListObjects(ctx, c.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, c.explain(info.Err, pattern)
		}
		if ok, _ := path.Match(pattern, info.Key); ok && !strings.HasSuffix(info.Key, "/") {
			out = append(out, Object{Key: info.Key, Size: info.Size, ETag: info.ETag})
		}
		if len(out) > MaxObjects {
			return nil, &Error{Field: "key", Reason: fmt.Sprintf("%q matches more than %d objects: narrow it", pattern, MaxObjects)}
		}
	}
	if len(out) == 0 {
		return nil, &Error{Field: "key", Reason: fmt.Sprintf("no object in bucket %q matches %q", c.bucket, pattern)}
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// IsGlob tells a glob from a plain key or path.
func IsGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Open streams an object. A connection dropped mid-object is picked up
// where it stopped, with a range request that only the same version of the
// object (its ETag) may answer; Backoff sets the waits, and a read that
// makes progress starts them again.
func (c *Client) Open(ctx context.Context, o Object) io.ReadCloser {
	return &resuming{ctx: ctx, c: c, obj: o}
}

type resuming struct {
	ctx      context.Context
	c        *Client
	obj      Object
	body     io.ReadCloser
	off      int64
	failures int
}

func (r *resuming) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			if err := r.open(); err != nil {
				if !r.retry(err) {
					return 0, r.failed(err)
				}
				continue
			}
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if n > 0 {
			r.failures = 0
		}
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && r.off >= r.obj.Size:
			return n, io.EOF
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF // the connection ended early
		}
		_ = r.body.Close()
		r.body = nil
		if !r.retry(err) {
			return n, r.failed(err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// failed says why reading stopped: a mistake to fix as it is, anything
// else as a ReadError, which a later attempt may get past.
func (r *resuming) failed(err error) error {
	var mistake *Error
	if errors.As(err, &mistake) {
		return err
	}
	return &ReadError{Key: r.obj.Key, Offset: r.off, Err: err}
}

func (r *resuming) open() error {
	opts := minio.GetObjectOptions{}
	if r.obj.ETag != "" {
		_ = opts.SetMatchETag(r.obj.ETag)
	}
	if r.off > 0 {
		if err := opts.SetRange(r.off, 0); err != nil {
			return err
		}
	}
	body, _, _, err := r.c.core.GetObject(r.ctx, r.c.bucket, r.obj.Key, opts)
	if err != nil {
		return r.c.explain(err, r.obj.Key)
	}
	r.body = body
	return nil
}

// retry waits before another attempt, or says to give up: on a cancelled
// run, an answer a person must act on, or once the waits are spent.
func (r *resuming) retry(err error) bool {
	var final *Error
	if r.ctx.Err() != nil || errors.As(err, &final) || errors.Is(err, ErrChanged) || r.failures >= len(r.c.Backoff) {
		return false
	}
	select {
	case <-time.After(r.c.Backoff[r.failures]):
	case <-r.ctx.Done():
		return false
	}
	r.failures++
	return true
}

func (r *resuming) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}

// Upload writes r (size bytes, or -1 when unknown) to key, in parts when it
// is large, and returns the object's ETag.
func (c *Client) Upload(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	info, err := c.mc.PutObject(ctx, c.bucket, key, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return "", c.explain(err, key)
	}
	return info.ETag, nil
}
