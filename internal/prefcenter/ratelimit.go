package prefcenter

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter gives each client address its own token bucket. Idle buckets
// are dropped, so the map stays small.
//
// The server keeps two: a tight one spent by invalid or expired links, which
// stops anyone guessing tokens, and a generous one spent by every request,
// which leaves room for a mail provider sending many one-click unsubscribes.
type ipLimiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	now     func() time.Time
	clients map[string]*client
	swept   time.Time
}

type client struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newIPLimiter(perSecond float64, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{rate: rate.Limit(perSecond), burst: burst, now: now, clients: map[string]*client{}}
}

// allow takes one token from ip's bucket, if there is one.
func (l *ipLimiter) allow(ip string) bool { return l.take(ip, 1) }

// exhausted tells whether ip's bucket is empty, taking nothing.
func (l *ipLimiter) exhausted(ip string) bool { return !l.take(ip, 0) }

func (l *ipLimiter) take(ip string, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > time.Minute {
		for k, c := range l.clients {
			if now.Sub(c.seen) > 10*time.Minute {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	c := l.clients[ip]
	if c == nil {
		c = &client{limiter: rate.NewLimiter(l.rate, l.burst)}
		l.clients[ip] = c
	}
	c.seen = now
	if n == 0 {
		return c.limiter.TokensAt(now) >= 1
	}
	return c.limiter.AllowN(now, n)
}
