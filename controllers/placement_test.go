package controllers

import (
	"strings"
	"testing"

	tw "github.com/contactconverter/contact-converter/internal/testwrap"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
)

// A conversion on the SQLite claim of a PreferenceCenter runs on the
// preference center's node; one on a claim of its own goes anywhere.
func TestJobSharesTheNodeOfThePreferenceCenter(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-placement")
	h.create(t, claim(ns, "contacts"))
	h.create(t, claim(ns, "archive"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n"}))
	h.create(t, tw.MakeCenter("prefs", ns).SQLite("contacts").Obj())
	shared := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
	alone := tw.MakeConversion("archive", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").SQLite("archive").Obj()
	h.create(t, shared)
	h.create(t, alone)

	want := &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{desired.LabelSQLiteClaim: "contacts"}},
			TopologyKey:   corev1.LabelHostname,
		}},
	}}
	pod := h.waitJobs(t, ns, "acme", 1).Spec.Template
	if diff := cmp.Diff(want, pod.Spec.Affinity); diff != "" {
		t.Errorf("the Job beside the preference center: affinity (-want +got):\n%s", diff)
	}
	if pod.Labels[desired.LabelSQLiteClaim] != "contacts" {
		t.Errorf("pod labels %v", pod.Labels)
	}
	if pod := h.waitJobs(t, ns, "archive", 1).Spec.Template; pod.Spec.Affinity != nil {
		t.Errorf("the Job alone on its claim: affinity %+v", pod.Spec.Affinity)
	}
}

// A ReadWriteOncePod claim admits one pod: the Job could never start beside
// the preference center. The conversion stalls with the fix, and no Job
// starts.
func TestReadWriteOncePodClaimSharedWithAPreferenceCenterStalls(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-rwop")
	pvc := claim(ns, "contacts")
	pvc.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}
	h.create(t, pvc)
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n"}))
	h.create(t, tw.MakeCenter("prefs", ns).SQLite("contacts").Obj())
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
	h.create(t, cc)

	h.waitCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonClaimNotShareable)
	msg := cc.Conditions().Message(ccv1.ConditionStalled)
	for _, want := range []string{"spec.database.sqlite.persistentVolumeClaim", "contacts", "ReadWriteOncePod", "prefs", "ReadWriteOnce"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Stalled message %q does not name %q", msg, want)
		}
	}
	h.waitEvent(t, ns, "acme", ccv1.ReasonClaimNotShareable)
	if jobs := h.jobs(t, ns, "acme"); len(jobs) != 0 {
		t.Errorf("%d Jobs started on a claim they cannot mount", len(jobs))
	}
	// The user moves the preference center to its own claim: the run starts.
	h.create(t, claim(ns, "prefs-db"))
	// A merge patch, as the controller writes the status meanwhile.
	pc := tw.MakeCenter("prefs", ns).Obj()
	patchCenter(t, h, pc, func(pc *ccv1.PreferenceCenter) { pc.Spec.Database.SQLite.PersistentVolumeClaim = "prefs-db" })
	h.poke(t, cc)
	h.waitJobs(t, ns, "acme", 1)
}

// Pod labels and annotations the API server would refuse on the Job or the
// Deployment stall the object with the field to fix, instead of failing
// every apply.
func TestInvalidPodMetadataStalls(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-podmeta")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n"}))
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
	cc.Spec.Job.PodLabels = map[string]string{"team": "mail & more"}
	h.create(t, cc)
	pc := tw.MakeCenter("prefs", ns).SQLite("contacts").Obj()
	pc.Spec.Pod.Annotations = map[string]string{"not a key": "x"}
	h.create(t, pc)

	h.waitCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonInvalidSpec)
	if msg := cc.Conditions().Message(ccv1.ConditionStalled); !strings.Contains(msg, "spec.job.podLabels") {
		t.Errorf("conversion: Stalled message %q does not name spec.job.podLabels", msg)
	}
	h.waitCondition(t, pc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonInvalidSpec)
	if msg := pc.Conditions().Message(ccv1.ConditionStalled); !strings.Contains(msg, "spec.pod.annotations") {
		t.Errorf("preference center: Stalled message %q does not name spec.pod.annotations", msg)
	}
	if jobs := h.jobs(t, ns, "acme"); len(jobs) != 0 {
		t.Errorf("%d Jobs started with labels the API server refuses", len(jobs))
	}
}
