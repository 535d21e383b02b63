package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// One-click unsubscribes sent while the conversion runs take effect at once:
// each is in the database when its answer comes (or is refused with 503 and
// tried again, as a mail provider does), and no partition the run writes
// afterwards undoes one.
func TestUnsubscribesDuringConversion(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	ref := referenceExport(t, c.Binary)
	create(t, c, namespace("unsub"), claim("unsub", "contacts"))
	pc := tw.MakeCenter("prefs", "unsub").SQLite("contacts").Conversion("big").
		Topics(ccv1.Topic{Name: "fairs", Segment: "salon-2018", Title: map[string]string{"en": "Fairs"}}).Obj()
	create(t, c, pc)
	pageAddress(t, c, pc)
	big.slowRate.Store(600 << 10)
	defer big.slowRate.Store(0)
	cc := bigConversion(t, "unsub", "big", sqliteOn("contacts"))
	create(t, c, cc)
	waitPhase(t, c, cc, ccv1.PhaseRunning, 60*time.Second)

	keys := keysOf(ref, 200)
	sg := signer(t, c, pc)
	addr := pageAddress(t, c, pc)
	var wg sync.WaitGroup
	var retried atomic.Int64
	codes := make([]int, len(keys))
	errs := make([]error, len(keys))
	slots := make(chan struct{}, 8) // as a mailing system's workers would
	for i, key := range keys {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			tok, err := sg.Mint(key, linktoken.PurposeUnsubscribe, time.Now().Add(time.Hour))
			if err != nil {
				errs[i] = err
				return
			}
			for try := 0; try < 10; try++ {
				res, err := http.Post(addr+"/u/"+tok, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
				if err != nil {
					errs[i] = err
					return
				}
				codes[i] = res.StatusCode
				res.Body.Close()
				if res.StatusCode != http.StatusServiceUnavailable {
					return
				}
				retried.Add(1)
				time.Sleep(time.Second)
			}
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("unsubscribe %d: %d %v", i, code, errs[i])
		}
	}
	if err := get(t, c.Client, cc); err != nil || cc.Status.Phase != ccv1.PhaseRunning {
		t.Fatalf("the unsubscribes did not arrive during the run (phase %s)", cc.Status.Phase)
	}
	// Mid-run, every contact the run has written already carries its
	// unsubscribe: nothing waits for the run's end.
	during := exportClaim(t, c, "unsub", "contacts")
	written := 0
	for _, key := range keys {
		if line := lineOf(during, key); line != "" {
			written++
			if !strings.Contains(line, `"globalOptOut":true`) {
				t.Errorf("contact %d is in the database without the unsubscribe it was sent", written)
			}
		}
	}
	big.slowRate.Store(0)
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, 3*time.Minute)
	eventually(t, 30*time.Second, "every unsubscribe in the database", func() string {
		export := exportClaim(t, c, "unsub", "contacts")
		missing := 0
		for _, key := range keys {
			if !strings.Contains(lineOf(export, key), `"globalOptOut":true`) {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Sprintf("%d of %d unsubscribes missing", missing, len(keys))
		}
		return ""
	})
	t.Logf("%d one-click unsubscribes during the run (%d retried after a 503, %d of the contacts written when they came), all applied; scenario in %s",
		len(keys), retried.Load(), written, time.Since(start).Round(time.Second))
}

// keysOf returns the keys of the first n contacts of an export that have
// not opted out.
func keysOf(export string, n int) []string {
	var keys []string
	for _, line := range strings.Split(export, "\n") {
		if len(keys) == n {
			break
		}
		if !strings.Contains(line, `"globalOptOut":false`) {
			continue
		}
		_, rest, ok := strings.Cut(line, `"key":"`)
		if !ok {
			continue
		}
		key, _, _ := strings.Cut(rest, `"`)
		keys = append(keys, key)
	}
	return keys
}
