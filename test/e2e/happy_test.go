package e2e

import (
	"archive/zip"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/linktoken"
)

// The demo tenant as a user applies it: the conversion waits for its
// window, runs on request in a real Pod, stops at the pending conflict, and
// the database equals the golden export. The preference page answers on
// its Pod's address, ticks nothing for an address the old platform's
// unsubscribe export holds, and an unsubscribe there reaches the database.
func TestHappyPath(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	applyDemo(t, c)
	cc := conversion("acme", "acme")
	eventually(t, 30*time.Second, "scheduled", func() string {
		if err := get(t, c.Client, cc); err != nil {
			return err.Error()
		}
		// Inside the evening window the run may start, and reach its
		// pending conflict, while the demo is still being applied.
		switch cc.Status.Phase {
		case ccv1.PhaseWaiting, ccv1.PhaseRunning, ccv1.PhaseConflictsPending:
			return ""
		}
		return "phase " + string(cc.Status.Phase)
	})
	if cc.Status.Phase == ccv1.PhaseWaiting {
		runNow(t, c, "acme", "acme")
	}
	waitPhase(t, c, cc, ccv1.PhaseConflictsPending, 120*time.Second)
	p := cc.Status.Progress
	if p == nil || p.Contacts != 10 || cc.Status.Conflicts == nil || cc.Status.Conflicts.Unresolved != 1 {
		t.Errorf("status: progress %+v conflicts %+v", p, cc.Status.Conflicts)
	}
	// The kubectl plugin, found on the PATH by kubectl.
	status, err := c.KubectlPlugin(context.Background(), "status", "acme", "-n", "acme")
	if err != nil || !strings.Contains(status, "Phase:             ConflictsPending") || !strings.Contains(status, "kubectl contacts conflicts acme") {
		t.Errorf("kubectl contacts status: %v\n%s", err, status)
	}
	t.Logf("kubectl contacts status acme -n acme:\n%s", status)
	// Its logs, through the API server and the node, as kubectl logs reads
	// them.
	logs, err := c.KubectlPlugin(context.Background(), "logs", "acme", "-n", "acme")
	if err != nil || !strings.Contains(logs, `] {"time":`) || !strings.Contains(logs, `"msg":"acme/acme generation 1, shard 0 of 1"`) || !strings.Contains(logs, "mailchimp-unsubscribed") {
		t.Errorf("kubectl contacts logs: %v\n%s", err, logs)
	}
	// A support bundle, with the pods' logs read through the node.
	bundle := filepath.Join(t.TempDir(), "acme-report.zip")
	if _, err := c.KubectlPlugin(context.Background(), "report", "acme", "-n", "acme", "-o", bundle); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var bundled []string
	for _, f := range zr.File {
		bundled = append(bundled, f.Name)
		if strings.HasPrefix(f.Name, "logs/") {
			r, _ := f.Open()
			data, _ := io.ReadAll(r)
			r.Close()
			if !strings.Contains(string(data), `"msg":"acme/acme generation 1, shard 0 of 1"`) {
				t.Errorf("%s in the bundle:\n%s", f.Name, data)
			}
		}
	}
	if !slices.ContainsFunc(bundled, func(n string) bool { return strings.HasPrefix(n, "logs/") }) {
		t.Errorf("the bundle has no logs: %v", bundled)
	}
	if got := exportClaim(t, c, "acme", "acme-contacts"); got != golden(t) {
		t.Errorf("the cluster's database differs from the golden export:\n%s", got)
	}
	t.Logf("conversion done in %s", time.Since(start).Round(time.Second))
	// The erasure salt lives in a Secret of its own, shared by the Job and
	// the page, and owned by neither.
	var salt corev1.Secret
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "acme", Name: "acme-contacts-erasure-salt"}, &salt); err != nil ||
		len(salt.Data["salt"]) != 32 || len(salt.OwnerReferences) != 0 {
		t.Errorf("erasure salt Secret: %d bytes, owners %v, %v", len(salt.Data["salt"]), salt.OwnerReferences, err)
	}

	pc := &ccv1.PreferenceCenter{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"}}
	addr := pageAddress(t, c, pc)
	sg := signer(t, c, pc)
	tok, err := sg.Mint("greta@example.de", linktoken.PurposePreferences, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, addr+"/p/"+tok); code != 200 || !strings.Contains(body, "Beurzen en salons") {
		t.Fatalf("preference page: %d\n%s", code, body)
	}
	// Luc is subscribed in two lists and in the old platform's unsubscribe
	// export: his page ticks nothing.
	luc, _ := sg.Mint("luc.janssens@example.be", linktoken.PurposePreferences, time.Now().Add(time.Hour))
	if code, body := httpGet(t, addr+"/p/"+luc); code != 200 || !strings.Contains(body, `value="fairs"`) || strings.Contains(body, `" checked`) {
		t.Errorf("the page of an imported opt-out: %d, ticked %d topics", code, strings.Count(body, `" checked`))
	}
	unsub, _ := sg.Mint("greta@example.de", linktoken.PurposeUnsubscribe, time.Now().Add(time.Hour))
	if code := oneClick(t, addr+"/u/"+unsub); code != 200 {
		t.Fatalf("one-click: %d", code)
	}
	eventually(t, 20*time.Second, "the unsubscribe in the database", func() string {
		if line := lineOf(exportClaim(t, c, "acme", "acme-contacts"), "greta@example.de"); !strings.Contains(line, `"globalOptOut":true`) {
			return line
		}
		return ""
	})
	t.Logf("happy path in %s", time.Since(start).Round(time.Second))
}

func lineOf(export, key string) string {
	for _, l := range strings.Split(export, "\n") {
		if strings.Contains(l, `"key":"`+key+`"`) {
			return l
		}
	}
	return ""
}
