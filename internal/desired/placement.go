package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// LabelSQLiteClaim marks every pod that mounts an SQLite database's claim,
// with the claim as its value (SQLiteClaimLabel).
//
// A ReadWriteOnce volume attaches to one node at a time, so the conversion
// Job and the preference center sharing an SQLite claim must run on one
// node. Each such pod requires a pod with the same label on its node. The
// scheduler lets the first one go anywhere (a pod that matches its own term
// may start alone) and sends the others after it. So the Job follows the
// preference center; a preference-center pod restarted during a run follows
// the Job; and after a node drain the first pod to be scheduled again leads.
// Finished pods do not count: the scheduler ignores them.
const LabelSQLiteClaim = "contacts.contactconverter.io/sqlite-claim"

// SQLiteClaimLabel is the LabelSQLiteClaim value of a claim: its name, or,
// when the name does not fit a label value, its start and a digest.
func SQLiteClaimLabel(claim string) string {
	if len(validation.IsValidLabelValue(claim)) == 0 {
		return claim
	}
	sum := sha256.Sum256([]byte(claim))
	return ccv1.TruncateName(claim, validation.LabelValueMaxLength-17) + "-" + hex.EncodeToString(sum[:8])
}

// SameNodeAsClaim places a pod on the node of the other pods mounting claim,
// and labels it as one of them.
func SameNodeAsClaim(pod *corev1.PodTemplateSpec, claim string) {
	value := SQLiteClaimLabel(claim)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[LabelSQLiteClaim] = value
	// The user's affinity (a copy) keeps its terms; this one joins them.
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.PodAffinity == nil {
		pod.Spec.Affinity.PodAffinity = &corev1.PodAffinity{}
	}
	pa := pod.Spec.Affinity.PodAffinity
	pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution, corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelSQLiteClaim: value}},
		TopologyKey:   corev1.LabelHostname,
	})
}

// podMetadata is the user's labels and annotations under the operator's own,
// which win.
func podMetadata(userLabels, userAnnotations, labels, annotations map[string]string) metav1.ObjectMeta {
	meta := metav1.ObjectMeta{Labels: maps.Clone(userLabels), Annotations: maps.Clone(userAnnotations)}
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	maps.Copy(meta.Labels, labels)
	if len(annotations) > 0 && meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	maps.Copy(meta.Annotations, annotations)
	return meta
}
