package controllers

import (
	"context"
	"strings"
	"testing"

	tw "github.com/contactconverter/contact-converter/internal/testwrap"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

func TestValidationReconcile(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-a")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\na@b.be\n"}))

	t.Run("a valid conversion without windows runs, its generation observed", func(t *testing.T) {
		cc := tw.MakeConversion("valid", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
		h.create(t, cc)
		h.waitPhase(t, cc, ccv1.PhaseRunning)
		if cc.Status.ObservedGeneration != cc.Generation {
			t.Errorf("observedGeneration %d, generation %d", cc.Status.ObservedGeneration, cc.Generation)
		}
		if c := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionStalled); c != nil {
			t.Errorf("Stalled present on a valid conversion: %+v", c)
		}
	})

	t.Run("an unknown time zone stalls with InvalidSchedule and an event", func(t *testing.T) {
		cc := tw.MakeConversion("bad-zone", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").TimeZone("Mars/Olympus_Mons").Obj()
		h.create(t, cc)
		h.waitCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonInvalidSchedule)
		ready := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, `"Mars/Olympus_Mons" is not an IANA time zone`) {
			t.Errorf("Ready = %+v, want False naming the zone", ready)
		}
		ev := h.waitEvent(t, ns, "bad-zone", ccv1.ReasonInvalidSchedule)
		if ev.Type != "Warning" || !strings.Contains(ev.Note, "spec.schedule.timeZone") {
			t.Errorf("event %s %q, want a Warning naming spec.schedule.timeZone", ev.Type, ev.Note)
		}
	})

	t.Run("a missing Secret stalls until it is created", func(t *testing.T) {
		cc := tw.MakeConversion("pg", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Postgres("pg-app").Obj()
		h.create(t, cc)
		h.waitCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonSecretNotFound)
		msg := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionStalled).Message
		if !strings.Contains(msg, "spec.database.postgres.secretRef") || !strings.Contains(msg, `"pg-app" not found`) {
			t.Errorf("message %q should name the field and the Secret", msg)
		}
		h.waitEvent(t, ns, "pg", ccv1.ReasonSecretNotFound)

		// A Secret without the key is still a problem, named as such.
		h.create(t, secret(ns, "pg-app", map[string]string{"password": "x"}))
		h.waitCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonSecretNotFound)
		eventually(t, "missing key message", func() string {
			_ = h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc)
			if m := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionStalled); m == nil || !strings.Contains(m.Message, `has no key "uri"`) {
				return "stalled message does not name the missing key"
			}
			return ""
		})

		// Adding the key wakes the conversion up, without any change to it.
		var s = secret(ns, "pg-app", map[string]string{"uri": "postgres://app@db/app"})
		if err := h.c.Update(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		h.waitPhase(t, cc, ccv1.PhaseRunning)
		if c := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionStalled); c != nil {
			t.Errorf("Stalled kept after recovery: %+v", c)
		}
	})

	t.Run("a ConfigMap without the key stalls, naming the source", func(t *testing.T) {
		cc := tw.MakeConversion("nokey", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "absent.csv").Obj()
		h.create(t, cc)
		h.waitCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonConfigMapNotFound)
		msg := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionStalled).Message
		if !strings.Contains(msg, "spec.sources[0].csv.configMapKeyRef") || !strings.Contains(msg, `"absent.csv"`) {
			t.Errorf("message %q should name the source field and the key", msg)
		}
	})

	t.Run("a missing list claim or S3 Secret stalls, naming the source field", func(t *testing.T) {
		cc := tw.MakeConversion("uploads", ns).SQLite("contacts").Sources(ccv1.Source{Name: "fair", CSV: &ccv1.CSVSource{
			PersistentVolumeClaim: &ccv1.ClaimFiles{ClaimName: "uploads", Path: "fair/*.csv.gz"}}}).Obj()
		h.create(t, cc)
		h.waitCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonClaimNotFound)
		if msg := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionStalled).Message; !strings.Contains(msg, "spec.sources[0].csv.persistentVolumeClaim.claimName") {
			t.Errorf("message %q should name the source's claim field", msg)
		}
		s3 := tw.MakeConversion("bucket", ns).SQLite("contacts").Sources(ccv1.Source{Name: "crm", CSV: &ccv1.CSVSource{
			S3: &ccv1.S3Location{Bucket: "exports", Key: "crm.csv", SecretRef: &ccv1.LocalObjectReference{Name: "s3-keys"}}}}).Obj()
		h.create(t, s3)
		h.waitCondition(t, s3, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonSecretNotFound)
		if msg := meta.FindStatusCondition(s3.Status.Conditions, ccv1.ConditionStalled).Message; !strings.Contains(msg, "spec.sources[0].csv.s3.secretRef") || !strings.Contains(msg, "AWS_ACCESS_KEY_ID") && !strings.Contains(msg, `"s3-keys"`) {
			t.Errorf("message %q should name the source's secretRef field", msg)
		}
	})

	t.Run("a preference center rolls out, or is Stalled on a missing TLS secret", func(t *testing.T) {
		pc := tw.MakeCenter("prefs", ns).SQLite("contacts").Obj()
		h.create(t, pc)
		h.waitCondition(t, pc, ccv1.ConditionReconciling, metav1.ConditionTrue, ccv1.ReasonRollingOut)

		bad := tw.MakeCenter("prefs-tls", ns).SQLite("contacts").IngressTLS("prefs.acme.example", "prefs-tls").Obj()
		h.create(t, bad)
		h.waitCondition(t, bad, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonSecretNotFound)
		if msg := meta.FindStatusCondition(bad.Status.Conditions, ccv1.ConditionStalled).Message; !strings.Contains(msg, "spec.ingress.tlsSecretName") {
			t.Errorf("message %q should name spec.ingress.tlsSecretName", msg)
		}
		h.waitEvent(t, ns, "prefs-tls", ccv1.ReasonSecretNotFound)
	})
}
