package prefcenter

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactconverter/contact-converter/internal/linktoken"
)

// BenchmarkPreferenceCenter measures the page and the one-click unsubscribe
// under 16 concurrent clients, against each database, and reports the
// latency percentiles.
func BenchmarkPreferenceCenter(b *testing.B) {
	for name, open := range stores {
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, open(b), nil)
			prefs := f.http.URL + f.link(greta, linktoken.PurposePreferences)
			unsub := f.http.URL + f.link(greta, linktoken.PurposeUnsubscribe)
			for _, tc := range []struct {
				name string
				do   func(*http.Client) (*http.Response, error)
			}{
				{"page", func(c *http.Client) (*http.Response, error) { return c.Get(prefs) }},
				{"one-click", func(c *http.Client) (*http.Response, error) {
					return c.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
				}},
			} {
				b.Run(tc.name, func(b *testing.B) { measure(b, tc.do) })
			}
		})
	}
}

func measure(b *testing.B, do func(*http.Client) (*http.Response, error)) {
	const clients = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range work {
				start := time.Now()
				res, err := do(client)
				if err != nil {
					b.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("status %d", res.StatusCode)
					return
				}
				d := time.Since(start)
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "req/s")
	}
}
