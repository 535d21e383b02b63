package inputs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/objectstore"
	"github.com/contactconverter/contact-converter/internal/source"
)

// S3 keys in a csv.s3.secretRef Secret, as AWS tools name them.
const (
	S3AccessKeyID     = ccv1.S3AccessKeyIDKey
	S3SecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	S3SessionToken    = "AWS_SESSION_TOKEN"
)

// S3Keys reads a csv.s3.secretRef Secret.
func S3Keys(field string, s *corev1.Secret) (*objectstore.Keys, error) {
	k := &objectstore.Keys{SessionToken: string(s.Data[S3SessionToken])}
	for key, into := range map[string]*string{S3AccessKeyID: &k.AccessKeyID, S3SecretAccessKey: &k.SecretAccessKey} {
		v, ok := s.Data[key]
		if !ok || len(v) == 0 {
			return nil, &engine.ConfigError{Err: fmt.Errorf("%s: Secret %q has no key %s: it needs %s and %s (and %s for temporary credentials)",
				field, s.Name, key, S3AccessKeyID, S3SecretAccessKey, S3SessionToken)}
		}
		*into = string(v)
	}
	return k, nil
}

// openS3 reads csv.s3: the object, or the objects its glob matches, as one
// list. keys nil is the pod's own identity.
func (u URLs) openS3(ctx context.Context, where string, c *ccv1.CSVSource, keys *objectstore.Keys, opts source.CSVOptions) (source.Table, int64, error) {
	loc := objectstore.Location{Endpoint: c.S3.Endpoint, Region: c.S3.Region, Bucket: c.S3.Bucket, PathStyle: c.S3.PathStyle}
	client, err := objectstore.New(loc, keys, &u.Policy)
	if err != nil {
		return nil, 0, storeError(where, err)
	}
	objs, err := client.Match(ctx, c.S3.Key)
	if err != nil {
		return nil, 0, storeError(where, err)
	}
	files := make([]source.File, len(objs))
	var total int64
	for i, o := range objs {
		files[i] = source.File{Name: o.Key, Size: o.Size, Version: "etag " + o.ETag, Open: func() (io.ReadCloser, error) { return client.Open(ctx, o), nil }}
		total += o.Size
	}
	return openFiles(where, files, total, opts)
}

// storeError says which field to fix, or passes on a failure to retry.
func storeError(where string, err error) error {
	var mistake *objectstore.Error
	if errors.As(err, &mistake) {
		return &engine.ConfigError{Err: fmt.Errorf("%s: %w", where, err)}
	}
	return fmt.Errorf("%s: csv.s3: %w", where, err)
}

// openPaths reads a file, or the files a glob matches in name order, inside
// root; field names the spec field for errors. Nothing outside root is
// read, whatever symbolic links the files are: a tenant's claim cannot lead
// to the container's own files.
func openPaths(where, field, rootDir, pattern string, opts source.CSVOptions) (source.Table, int64, error) {
	fail := func(err error) (source.Table, int64, error) {
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: %s: %w", where, field, err)}
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return fail(err)
	}
	defer root.Close()                  // each file opens in it again when its turn comes
	shown := func(name string) string { // as the person wrote it
		if rootDir == "/" {
			return "/" + name
		}
		return name
	}
	names := []string{pattern}
	if objectstore.IsGlob(pattern) {
		if names, err = fs.Glob(root.FS(), pattern); err != nil {
			return fail(fmt.Errorf("%q is not a valid glob: %w", pattern, err))
		}
	}
	files := make([]source.File, 0, len(names))
	var total int64
	for _, name := range names {
		st, err := root.Stat(name)
		switch {
		case err == nil && st.IsDir() && len(names) > 1:
			continue
		case err == nil && st.IsDir():
			return fail(fmt.Errorf("%s is a folder", shown(name)))
		case errors.Is(err, fs.ErrNotExist):
			return fail(fmt.Errorf("no file %s", shown(name)))
		case err != nil:
			return fail(err)
		}
		files = append(files, source.File{Name: shown(name), Size: st.Size(), Version: "modified " + st.ModTime().UTC().Format(time.RFC3339Nano), Open: func() (io.ReadCloser, error) { return os.OpenInRoot(rootDir, name) }})
		total += st.Size()
	}
	if len(files) == 0 {
		return fail(fmt.Errorf("no file matches %q", pattern))
	}
	return openFiles(where, files, total, opts)
}

func openFiles(where string, files []source.File, total int64, opts source.CSVOptions) (source.Table, int64, error) {
	t, err := source.OpenFiles(files, opts)
	var network *objectstore.ReadError
	switch {
	case errors.As(err, &network) || errors.Is(err, context.Canceled):
		return nil, 0, fmt.Errorf("%s: %w", where, err) // tried again
	case err != nil:
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: %w", where, err)}
	}
	return t, total, nil
}
