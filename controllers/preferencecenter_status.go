package controllers

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
)

// conditionMaintenance was set by an earlier version, which held changes
// back while a conversion ran; changes now always apply at once.
const conditionMaintenance = "Maintenance"

// setStatus reports the Deployment's readiness. applied is the Deployment
// as the cache has it; empty when the cache has not seen it yet.
func (r *PreferenceCenterReconciler) setStatus(pc *ccv1.PreferenceCenter, applied *appsv1.Deployment) {
	conds := pc.Conditions()
	conds.Now = r.Clock.Now()
	pc.Status.URL = desired.PreferenceCenterURL(pc)
	pc.Status.ReadyReplicas = applied.Status.ReadyReplicas
	want := ptr.Deref(pc.Spec.Replicas, 1)
	st := applied.Status
	switch {
	case st.ObservedGeneration >= applied.Generation && st.UpdatedReplicas >= want && st.AvailableReplicas >= want && deploymentAvailable(applied):
		conds.Ready(ccv1.ReasonAvailable, fmt.Sprintf("%d/%d replicas ready at %s", st.ReadyReplicas, want, pc.Status.URL))
	default:
		conds.Reconciling(ccv1.ReasonRollingOut, fmt.Sprintf("Deployment %s: %d/%d replicas updated and available", desired.PreferenceCenterName(pc), min(st.UpdatedReplicas, st.AvailableReplicas), want))
	}

	meta.RemoveStatusCondition(&pc.Status.Conditions, conditionMaintenance)
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
