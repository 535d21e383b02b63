package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func init() { backoff = []time.Duration{time.Millisecond, time.Millisecond} }

// serve starts a server on addr (a loopback address) answering with h.
func serve(t *testing.T, addr string, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	s := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	s.Start()
	t.Cleanup(s.Close)
	return s.URL
}

func get(t *testing.T, p Policy, url string, maxBytes int64) (string, error) {
	t.Helper()
	f, _, err := Download(context.Background(), p, url, t.TempDir(), maxBytes)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	return string(data), nil
}

func TestInternalAddressesAreRefused(t *testing.T) {
	list := serve(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "email\nan@example.be\n") })
	elsewhere := serve(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secret") })
	redirect := serve(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, elsewhere+"/x", http.StatusFound) })
	port := list[strings.LastIndexByte(list, ':'):]
	onlyFirst := Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	for _, tc := range []struct {
		name   string
		policy Policy
		url    string
		want   string
	}{
		{"loopback", Policy{}, list, "loopback"},
		{"loopback by name", Policy{}, "http://localhost" + port, "loopback"},
		{"IPv6 loopback", Policy{}, "http://[::1]" + port, "loopback"},
		{"cloud metadata", Policy{}, "http://169.254.169.254/latest/meta-data/", "link-local"},
		{"private network", Policy{}, "http://10.0.0.1/list.csv", "private"},
		{"a cluster Service by name", Policy{}, "http://crm.tenant-b.svc.cluster.local/list.csv", "cluster-internal"},
		{"a redirect to a refused address", onlyFirst, redirect, "loopback"},
		{"not HTTP", Policy{}, "file:///etc/passwd", "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := get(t, tc.policy, tc.url, 1<<20)
			var refused *RefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
	// With an internal network allowed, a Service name is looked up and
	// the address it resolves to decides (here it does not resolve).
	_, err := get(t, onlyFirst, "http://crm.tenant-b.svc.cluster.local/list.csv", 1<<20)
	if err == nil || strings.Contains(err.Error(), "cluster-internal name") {
		t.Errorf("a Service name with an allowed network: %v, want a lookup failure", err)
	}
	if got, err := get(t, onlyFirst, list, 1<<20); err != nil || !strings.Contains(got, "an@example.be") {
		t.Errorf("an allowed address: %q, %v", got, err)
	}
}

func TestTheSizeIsCapped(t *testing.T) {
	big := serve(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strings.Repeat("x", 5000)) })
	_, err := get(t, Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, big, 1000)
	var tooBig *TooLargeError
	if !errors.As(err, &tooBig) || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("err = %v, want a size refusal naming the limit", err)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	var calls atomic.Int32
	flaky := serve(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "email\n")
	})
	got, err := get(t, Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, flaky, 1<<20)
	if err != nil || got != "email\n" || calls.Load() != 3 {
		t.Errorf("%q, %v after %d calls; want the list after 3", got, err, calls.Load())
	}
	missing := serve(t, "127.0.0.1", http.NotFound)
	calls.Store(0)
	if _, err := get(t, Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, missing, 1<<20); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v", err)
	}
}
