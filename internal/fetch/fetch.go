// Package fetch downloads a list from a URL a tenant wrote, as from a
// hostile source: only public addresses are dialled (checked on the address
// actually connected to, so DNS answers and redirects cannot lead inside),
// the size is capped, the file lands on disk, and transient failures are
// retried.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// Policy says which addresses besides public ones may be dialled.
type Policy struct {
	// Allowed lists the networks allowed although internal, such as a
	// file server's (the operator's --allow-url-cidrs).
	Allowed []netip.Prefix
}

// ParsePolicy reads comma-separated CIDRs.
func ParsePolicy(cidrs string) (Policy, error) {
	var p Policy
	for _, c := range strings.Split(cidrs, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(c)
		if err != nil {
			return p, fmt.Errorf("%q is not a CIDR such as 10.20.0.0/16", c)
		}
		p.Allowed = append(p.Allowed, prefix.Masked())
	}
	return p, nil
}

// RefusedError is a URL that leads where lists may not come from.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// TooLargeError is a download past its cap.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the file is larger than %d bytes", e.Limit)
}

// check refuses an address that is not public, unless allowed.
func (p Policy) check(a netip.Addr) error {
	a = a.Unmap()
	for _, allowed := range p.Allowed {
		if allowed.Contains(a) {
			return nil
		}
	}
	kind := ""
	switch {
	case a.IsLoopback():
		kind = "a loopback address"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		kind = "a link-local address (such as a cloud metadata service)"
	case a.IsPrivate() || sharedAddressSpace.Contains(a):
		kind = "a private network address (such as a cluster Service or Pod)"
	case a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast():
		kind = "not a host address"
	default:
		return nil
	}
	return &RefusedError{Reason: fmt.Sprintf("%s is %s; lists must come from a public host (an operator may allow networks with --allow-url-cidrs)", a, kind)}
}

// sharedAddressSpace is RFC 6598's carrier-grade NAT range, used by some
// clusters for Pods.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// CheckURL refuses what is wrong before anything is dialled. A
// cluster-internal name is refused when no internal network is allowed;
// otherwise the address it resolves to decides.
func (p Policy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &RefusedError{Reason: fmt.Sprintf("%q: only http and https URLs are read", u.Scheme)}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	internal := strings.HasSuffix(host, ".svc") || strings.Contains(host, ".svc.") || strings.HasSuffix(host, ".cluster.local") || host == "kubernetes"
	if internal && len(p.Allowed) == 0 {
		return &RefusedError{Reason: fmt.Sprintf("%s is a cluster-internal name; lists must come from a public host (an operator may allow internal networks with --allow-url-cidrs)", host)}
	}
	return nil
}

// Transport dials only what the policy allows, with no proxy (a proxy would
// dial for us, unchecked).
func (p Policy) Transport() *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &RefusedError{Reason: fmt.Sprintf("%s is not an IP address", address)}
		}
		return p.check(ap.Addr())
	}}
	return &http.Transport{Proxy: nil, DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 30 * time.Second, ResponseHeaderTimeout: 2 * time.Minute}
}

func (p Policy) client() *http.Client {
	return &http.Client{
		Transport: p.Transport(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return p.CheckURL(req.URL)
		},
	}
}

// backoff are the waits before the second and third attempts.
var backoff = []time.Duration{2 * time.Second, 8 * time.Second}

// Download fetches url into an unlinked file in dir (read back from its
// start), at most maxBytes. A refused address or a file too large fails at
// once; network errors, 429 and 5xx answers are tried again.
func Download(ctx context.Context, p Policy, rawURL, dir string, maxBytes int64) (*os.File, int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, 0, &RefusedError{Reason: err.Error()}
	}
	if err := p.CheckURL(u); err != nil {
		return nil, 0, err
	}
	hc := p.client()
	for attempt := 0; ; attempt++ {
		f, n, err := download(ctx, hc, u.String(), dir, maxBytes)
		var refused *RefusedError
		var tooBig *TooLargeError
		var status *statusError
		final := errors.As(err, &refused) || errors.As(err, &tooBig) || (errors.As(err, &status) && !status.transient())
		if err == nil || final || attempt == len(backoff) || ctx.Err() != nil {
			return f, n, err
		}
		select {
		case <-time.After(backoff[attempt]):
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

type statusError struct{ status string }

func (e *statusError) Error() string { return "HTTP " + e.status }

func (e *statusError) transient() bool {
	return strings.HasPrefix(e.status, "5") || strings.HasPrefix(e.status, "429")
}

func download(ctx context.Context, hc *http.Client, u, dir string, maxBytes int64) (*os.File, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, &RefusedError{Reason: err.Error()}
	}
	resp, err := hc.Do(req)
	var refused *RefusedError
	if errors.As(err, &refused) {
		return nil, 0, refused // said plainly, not inside the dialler's words
	}
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, &statusError{resp.Status}
	}
	if resp.ContentLength > maxBytes {
		return nil, 0, &TooLargeError{Limit: maxBytes}
	}
	f, err := os.CreateTemp(dir, "contact-list-*")
	if err != nil {
		return nil, 0, err
	}
	_ = os.Remove(f.Name()) // unlinked: gone when closed
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxBytes+1))
	if err == nil && n > maxBytes {
		err = &TooLargeError{Limit: maxBytes}
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, n, nil
}
