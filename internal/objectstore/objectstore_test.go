package objectstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/fetch"
	"github.com/contactconverter/contact-converter/internal/s3test"
)

var loopback = &fetch.Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

func connect(t *testing.T, endpoint string, keys *Keys, bucket string) *Client {
	t.Helper()
	c, err := New(Location{Endpoint: endpoint, Bucket: bucket, PathStyle: true}, keys, loopback)
	if err != nil {
		t.Fatal(err)
	}
	c.Backoff = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	return c
}

func keysOf(s *s3test.Server) *Keys {
	return &Keys{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}
}

func put(t *testing.T, c *Client, key string, data []byte) {
	t.Helper()
	if _, err := c.Upload(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, c *Client, o Object) []byte {
	t.Helper()
	r := c.Open(context.Background(), o)
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestGlobsListInNameOrderAndObjectsStream(t *testing.T) {
	s := s3test.Start(t, "lists")
	c := connect(t, s.Endpoint, keysOf(s), "lists")
	for _, k := range []string{"exports/2024-03.csv", "exports/2024-01.csv", "exports/2023-12.csv", "exports/2024-02.csv.bak", "other/2024-01.csv"} {
		put(t, c, k, []byte("email\n"+k+"@example.be\n"))
	}
	objs, err := c.Match(context.Background(), "exports/2024-*.csv")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
		if o.ETag == "" || o.Size == 0 {
			t.Errorf("%s: no ETag or size: %+v", o.Key, o)
		}
	}
	if d := cmp.Diff([]string{"exports/2024-01.csv", "exports/2024-03.csv"}, keys); d != "" {
		t.Errorf("matched keys (-want +got):\n%s", d)
	}
	if got := string(readAll(t, c, objs[1])); got != "email\nexports/2024-03.csv@example.be\n" {
		t.Errorf("object read as %q", got)
	}
	one, err := c.Match(context.Background(), "other/2024-01.csv")
	if err != nil || len(one) != 1 || one[0].Key != "other/2024-01.csv" {
		t.Errorf("a plain key: %+v, %v", one, err)
	}
}

func TestMistakesNameTheField(t *testing.T) {
	s := s3test.Start(t, "lists")
	c := connect(t, s.Endpoint, keysOf(s), "lists")
	put(t, c, "a.csv", []byte("email\n"))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		c    *Client
		key  string
		want string
	}{
		{"no such key", c, "b.csv", `csv.s3.key: no object "b.csv" in bucket "lists"`},
		{"a glob matching nothing", c, "exports/*.csv", `csv.s3.key: no object in bucket "lists" matches "exports/*.csv"`},
		{"no such bucket", connect(t, s.Endpoint, keysOf(s), "missing"), "a.csv", `csv.s3.bucket: bucket "missing" not found`},
		{"a wrong secret", connect(t, s.Endpoint, &Keys{AccessKeyID: s.AccessKeyID, SecretAccessKey: "wrong"}, "lists"), "a.csv", "csv.s3.secretRef: access denied"},
		{"an unknown key id", connect(t, s.Endpoint, &Keys{AccessKeyID: "nobody", SecretAccessKey: "wrong"}, "lists"), "exports/*.csv", "csv.s3.secretRef: access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Match(ctx, tc.key)
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want an error starting %q", err, tc.want)
			}
		})
	}
}

func TestInternalEndpointsAreRefused(t *testing.T) {
	s := s3test.Start(t, "lists")
	c, err := New(Location{Endpoint: s.Endpoint, Bucket: "lists", PathStyle: true}, keysOf(s), &fetch.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	c.Backoff = nil
	_, err = c.Match(context.Background(), "a.csv")
	if err == nil || !strings.Contains(err.Error(), "csv.s3.endpoint: refused: 127.0.0.1 is a loopback address") {
		t.Errorf("err = %v, want the endpoint refused", err)
	}
	for _, bad := range []string{"ftp://x", "https://s3.example.com/bucket", "http://minio.storage.svc:9000"} {
		if _, err := New(Location{Endpoint: bad, Bucket: "b"}, nil, &fetch.Policy{}); err == nil || !strings.HasPrefix(err.Error(), "csv.s3.endpoint: ") {
			t.Errorf("endpoint %q: %v, want a refusal naming csv.s3.endpoint", bad, err)
		}
	}
}

// cutter forwards to the server and, while armed, drops the connection
// that has carried cutAfter bytes back to the client.
type cutter struct {
	cutAfter atomic.Int64
	cuts     atomic.Int32
}

func (p *cutter) start(t *testing.T, target string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = down.Close()
				continue
			}
			go func() { _, _ = io.Copy(up, down); _ = up.Close() }()
			go func() {
				defer down.Close()
				defer up.Close()
				var sent int64
				buf := make([]byte, 16<<10)
				for {
					n, err := up.Read(buf)
					if limit := p.cutAfter.Load(); limit > 0 && sent+int64(n) > limit {
						_, _ = down.Write(buf[:limit-sent])
						if p.cutAfter.CompareAndSwap(limit, 0) {
							p.cuts.Add(1)
							return
						}
					}
					if _, werr := down.Write(buf[:n]); werr != nil || err != nil {
						return
					}
					sent += int64(n)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestADroppedConnectionResumesWhereItStopped(t *testing.T) {
	s := s3test.Start(t, "lists")
	var data bytes.Buffer
	for i := range 100000 {
		fmt.Fprintf(&data, "contact%06d@example.be;Contact %d\n", i, i)
	}
	c := connect(t, s.Endpoint, keysOf(s), "lists")
	put(t, c, "big.csv", data.Bytes())

	var p cutter
	through := connect(t, p.start(t, strings.TrimPrefix(s.Endpoint, "http://")), keysOf(s), "lists")
	objs, err := through.Match(context.Background(), "big.csv")
	if err != nil {
		t.Fatal(err)
	}
	p.cutAfter.Store(int64(data.Len()) / 3) // mid-object, on the GET's connection
	got := readAll(t, through, objs[0])
	if p.cuts.Load() != 1 {
		t.Fatalf("the connection was cut %d times, want 1", p.cuts.Load())
	}
	if sha256.Sum256(got) != sha256.Sum256(data.Bytes()) {
		t.Errorf("read %d bytes after the cut, not the object's %d", len(got), data.Len())
	}
}

func TestAnObjectReplacedMidReadFailsTheRead(t *testing.T) {
	s := s3test.Start(t, "lists")
	c := connect(t, s.Endpoint, keysOf(s), "lists")
	put(t, c, "list.csv", bytes.Repeat([]byte("a@example.be\n"), 100000))
	objs, err := c.Match(context.Background(), "list.csv")
	if err != nil {
		t.Fatal(err)
	}
	r := c.Open(context.Background(), objs[0])
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	put(t, c, "list.csv", []byte("email\nb@example.be\n"))
	r.(*resuming).body.Close() // the connection drops; the resumed read finds another object
	_, err = io.ReadAll(r)
	if !errors.Is(err, ErrChanged) {
		t.Errorf("err = %v, want ErrChanged", err)
	}
}
