package prefcenter

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter gives each client its own token bucket.
//
// The server keeps two. Invalid links and API tokens spend a tight budget
// per address, which stops anyone guessing tokens and slows nothing else: a
// valid link never meets it, so a flood of bad links from an address shared
// by many (a proxy) locks nobody out. Valid links spend a budget per
// contact, which stops one link being hammered without touching others.
//
// Memory is bounded: a bucket that has filled up again is the same as a
// new one, so it is dropped; past max clients, new ones get the answer
// whenFull.
type ipLimiter struct {
	mu       sync.Mutex
	rate     rate.Limit
	burst    int
	now      func() time.Time
	clients  map[string]*rate.Limiter
	swept    time.Time
	max      int
	whenFull bool
}

const defaultMaxClients = 100_000

func newIPLimiter(perSecond float64, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{rate: rate.Limit(perSecond), burst: burst, now: now, clients: map[string]*rate.Limiter{}, max: defaultMaxClients}
}

// allow takes one token from the client's bucket, if there is one.
func (l *ipLimiter) allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.clients) >= l.max || now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	c := l.clients[client]
	if c == nil {
		if len(l.clients) >= l.max {
			return l.whenFull
		}
		c = rate.NewLimiter(l.rate, l.burst)
		l.clients[client] = c
	}
	return c.AllowN(now, 1)
}

// sweep drops the buckets that are full again.
func (l *ipLimiter) sweep(now time.Time) {
	for k, c := range l.clients {
		if c.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, k)
		}
	}
	l.swept = now
}

// clientKey is the limiter's key for an address: an IPv6 client commonly
// holds a whole /64, so it counts as one.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}
