package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/linktoken"
)

// One-click unsubscribes sent while the conversion runs are all in the
// database afterwards.
func TestUnsubscribesDuringConversion(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	ref := referenceExport(t, c.Binary)
	create(t, c, namespace("unsub"), claim("unsub", "contacts"))
	pc := &ccv1.PreferenceCenter{
		ObjectMeta: metav1.ObjectMeta{Namespace: "unsub", Name: "prefs"},
		Spec: ccv1.PreferenceCenterSpec{
			Database:      sqliteOn("contacts"),
			ConversionRef: &ccv1.LocalObjectReference{Name: "big"},
			Organization:  ccv1.Organization{Name: "ACME", PrivacyPolicyURL: "https://acme.example/privacy"},
			Topics:        []ccv1.Topic{{Name: "fairs", Segment: "salon-2018", Title: map[string]string{"en": "Fairs"}}},
		},
	}
	create(t, c, pc)
	pageAddress(t, c, pc)
	big.slowRate.Store(600 << 10)
	defer big.slowRate.Store(0)
	cc := bigConversion(t, "unsub", "big", sqliteOn("contacts"))
	create(t, c, cc)
	waitPhase(t, c, cc, ccv1.PhaseRunning, 60*time.Second)
	time.Sleep(3 * time.Second) // the page polls the conversion every 2 s

	keys := keysOf(ref, 200)
	sg := signer(t, c, pc)
	addr := pageAddress(t, c, pc)
	var wg sync.WaitGroup
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
			res, err := http.Post(addr+"/u/"+tok, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
			if err != nil {
				errs[i] = err
				return
			}
			codes[i] = res.StatusCode
			res.Body.Close()
		})
	}
	wg.Wait()
	queued := 0
	for i, code := range codes {
		switch code {
		case http.StatusAccepted:
			queued++
		case http.StatusOK:
		default:
			t.Fatalf("unsubscribe of %s: %d %v", keys[i], code, errs[i])
		}
	}
	if err := get(t, c.Client, cc); err != nil || cc.Status.Phase != ccv1.PhaseRunning || queued == 0 {
		t.Fatalf("the unsubscribes did not arrive during the run (phase %s, %d queued)", cc.Status.Phase, queued)
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
	t.Logf("%d one-click unsubscribes during the run (%d queued), all applied; scenario in %s", len(keys), queued, time.Since(start).Round(time.Second))
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
