package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
	"github.com/contactconverter/contact-converter/test/cluster"
)

func csvConversion(ns, name string, csv ccv1.CSVSource) *ccv1.ContactConversion {
	return tw.MakeConversion(name, ns).SQLite("contacts").Sources(ccv1.Source{Name: "list", CSV: &csv}).
		Edit(func(cc *ccv1.ContactConversion) { cc.Spec.Job.BackoffLimit = ptr.To[int32](0) }).Obj()
}

// waitEvent waits for an event with reason about name.
func waitEvent(t *testing.T, c *cluster.Cluster, ns, name, reason string) string {
	t.Helper()
	var note string
	eventually(t, 60*time.Second, "event "+reason, func() string {
		var list eventsv1.EventList
		if err := c.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err.Error()
		}
		for _, e := range list.Items {
			if e.Regarding.Name == name && e.Reason == reason {
				note = e.Note
				return ""
			}
		}
		return "none yet"
	})
	return note
}

func stalled(t *testing.T, c *cluster.Cluster, cc *ccv1.ContactConversion, reason string) string {
	t.Helper()
	var msg string
	eventually(t, 60*time.Second, cc.Name+" stalled", func() string {
		if err := get(t, c.Client, cc); err != nil {
			return err.Error()
		}
		s := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionStalled)
		if s == nil || s.Status != metav1.ConditionTrue || s.Reason != reason {
			return "not stalled with " + reason
		}
		msg = s.Message
		return ""
	})
	return msg
}

// Bad input gives a clear status and an event, and never a half-written
// database.
func TestBadInput(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	ctx := context.Background()
	create(t, c, namespace("bad"), claim("bad", "contacts"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "bad", Name: "lists"},
			Data: map[string]string{"list.csv": "email,first\nan@example.be,An\nbo@example.be,Bo\n"}})

	t.Run("a list with broken quoting and an unknown encoding", func(t *testing.T) {
		cc := csvConversion("bad", "quoting", ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "list.csv"}})
		create(t, c, cc)
		waitPhase(t, c, cc, ccv1.PhaseSucceeded, 90*time.Second)
		good := exportClaim(t, c, "bad", "contacts")
		// The list is replaced by one in no known encoding, whose quoting
		// breaks on line 3.
		var cm corev1.ConfigMap
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "bad", Name: "lists"}, &cm); err != nil {
			t.Fatal(err)
		}
		cm.Data = nil
		cm.BinaryData = map[string][]byte{"list.csv": []byte("email,first\nan@example.be,An\xff\xfe\x00\n\"bo@example.be,Bo\ncy@example.be,Cy\n")}
		if err := c.Client.Update(ctx, &cm); err != nil {
			t.Fatal(err)
		}
		runNow(t, c, "bad", "quoting")
		waitPhase(t, c, cc, ccv1.PhaseFailed, 90*time.Second)
		msg := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionReady).Message
		if !strings.Contains(msg, "spec.sources[0] (list)") || !strings.Contains(msg, "line 3") {
			t.Errorf("the failure does not name the source and line: %q", msg)
		}
		if note := waitEvent(t, c, "bad", "quoting", ccv1.ReasonJobFailed); !strings.Contains(note, "line 3") {
			t.Errorf("the event does not say where: %q", note)
		}
		if got := exportClaim(t, c, "bad", "contacts"); got != good {
			t.Errorf("the failed run changed the database:\n%s\nwant\n%s", got, good)
		}
	})

	t.Run("a missing Secret", func(t *testing.T) {
		cc := csvConversion("bad", "secret", ccv1.CSVSource{SecretKeyRef: &ccv1.KeySelector{Name: "absent", Key: "list.csv"}})
		create(t, c, cc)
		msg := stalled(t, c, cc, ccv1.ReasonSecretNotFound)
		if !strings.Contains(msg, "spec.sources[0].csv.secretKeyRef") || !strings.Contains(msg, `"absent"`) {
			t.Errorf("message %q", msg)
		}
		waitEvent(t, c, "bad", "secret", ccv1.ReasonSecretNotFound)
	})

	t.Run("an unreachable URL", func(t *testing.T) {
		cc := csvConversion("bad", "unreachable", ccv1.CSVSource{URL: "http://127.0.0.1:9/lists/list.csv"})
		create(t, c, cc)
		waitPhase(t, c, cc, ccv1.PhaseFailed, 90*time.Second)
		msg := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionReady).Message
		if !strings.Contains(msg, "spec.sources[0] (list)") || !strings.Contains(msg, "127.0.0.1:9") {
			t.Errorf("the failure does not name the source and URL: %q", msg)
		}
		waitEvent(t, c, "bad", "unreachable", ccv1.ReasonJobFailed)
	})

	t.Run("a URL to an internal address", func(t *testing.T) {
		cc := csvConversion("bad", "metadata", ccv1.CSVSource{URL: "http://169.254.169.254/latest/meta-data/"})
		create(t, c, cc)
		waitPhase(t, c, cc, ccv1.PhaseFailed, 90*time.Second)
		msg := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionReady).Message
		if !strings.Contains(msg, "spec.sources[0] (list): csv.url: refused") || !strings.Contains(msg, "link-local") {
			t.Errorf("the failure does not name the field and the reason: %q", msg)
		}
	})

	t.Run("an invalid time zone", func(t *testing.T) {
		cc := csvConversion("bad", "zone", ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "list.csv"}})
		cc.Spec.Schedule = ccv1.ScheduleSpec{TimeZone: "Europe/Atlantis", Windows: []ccv1.Window{{Start: "19:00", End: "07:00"}}}
		create(t, c, cc)
		msg := stalled(t, c, cc, ccv1.ReasonInvalidSchedule)
		if !strings.Contains(msg, "spec.schedule.timeZone") {
			t.Errorf("message %q", msg)
		}
		waitEvent(t, c, "bad", "zone", ccv1.ReasonInvalidSchedule)
	})
	t.Logf("bad input scenarios in %s", time.Since(start).Round(time.Second))
}

// Two tenants in two namespaces: neither Job's ServiceAccount can read the
// other's Secrets, nor any Secret it was not given.
func TestTenantIsolation(t *testing.T) {
	c := startCluster(t)
	for _, ns := range []string{"tenant-a", "tenant-b"} {
		create(t, c, namespace(ns), claim(ns, "contacts"),
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crm"}, StringData: map[string]string{"list.csv": "email\nx@example.be\n"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"}, StringData: map[string]string{"k": "v"}})
		cc := csvConversion(ns, "acme", ccv1.CSVSource{SecretKeyRef: &ccv1.KeySelector{Name: "crm", Key: "list.csv"}})
		create(t, c, cc)
		waitPhase(t, c, cc, ccv1.PhaseSucceeded, 90*time.Second)
	}
	can := func(as, verb, resource, ns string) string {
		out, _ := c.Kubectl(context.Background(), "auth", "can-i", verb, resource, "-n", ns, "--as", as)
		return strings.TrimSpace(out)
	}
	a := "system:serviceaccount:tenant-a:acme-converter"
	for _, tc := range []struct{ verb, resource, ns, want string }{
		{"get", "secrets/crm", "tenant-a", "yes"},
		{"get", "secrets/crm", "tenant-b", "no"},
		{"get", "secrets/other", "tenant-a", "no"},
		{"list", "secrets", "tenant-a", "no"},
		{"get", "contactconversions.contacts.contactconverter.io/acme", "tenant-b", "no"},
		{"patch", "contactconversions.contacts.contactconverter.io/acme", "tenant-a", "no"},
	} {
		if got := can(a, tc.verb, tc.resource, tc.ns); got != tc.want {
			t.Errorf("kubectl auth can-i %s %s -n %s --as %s: %s, want %s", tc.verb, tc.resource, tc.ns, a, got, tc.want)
		}
	}
}
