package controllers

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
)

// Reasons of a preference center's conditions.
const (
	reasonAvailable          = "Available"
	reasonRollingOut         = "RollingOut"
	reasonConversionRunning  = "ConversionRunning"
	reasonConversionIdle     = "ConversionIdle"
	reasonNoConversion       = "NoConversion"
	reasonConversionNotFound = "ConversionNotFound"
)

// setStatus reports the Deployment's readiness and the conversion's
// maintenance. applied is the Deployment as the cache has it; empty when
// the cache has not seen it yet.
func (r *PreferenceCenterReconciler) setStatus(pc *ccv1.PreferenceCenter, cc *ccv1.ContactConversion, applied *appsv1.Deployment) {
	conds := pc.Conditions()
	conds.Now = r.Clock.Now()
	pc.Status.URL = desired.PreferenceCenterURL(pc)
	pc.Status.ReadyReplicas = applied.Status.ReadyReplicas
	want := ptr.Deref(pc.Spec.Replicas, 1)
	st := applied.Status
	switch {
	case st.ObservedGeneration >= applied.Generation && st.UpdatedReplicas >= want && st.AvailableReplicas >= want && deploymentAvailable(applied):
		conds.Ready(reasonAvailable, fmt.Sprintf("%d/%d replicas ready at %s", st.ReadyReplicas, want, pc.Status.URL))
	default:
		conds.Reconciling(reasonRollingOut, fmt.Sprintf("Deployment %s: %d/%d replicas updated and available", desired.PreferenceCenterName(pc), min(st.UpdatedReplicas, st.AvailableReplicas), want))
	}

	switch {
	case pc.Spec.ConversionRef == nil:
		conds.False(ccv1.ConditionMaintenance, reasonNoConversion, "No conversionRef: changes always apply at once.")
	case cc == nil:
		conds.False(ccv1.ConditionMaintenance, reasonConversionNotFound, fmt.Sprintf("ContactConversion %s does not exist (yet).", pc.Spec.ConversionRef.Name))
	case cc.Status.Phase == ccv1.PhaseRunning || cc.Status.Phase == ccv1.PhasePaused:
		conds.True(ccv1.ConditionMaintenance, reasonConversionRunning,
			fmt.Sprintf("ContactConversion %s is %s: changes are queued and applied after it.", cc.Name, cc.Status.Phase))
	default:
		conds.False(ccv1.ConditionMaintenance, reasonConversionIdle, fmt.Sprintf("ContactConversion %s is not running.", cc.Name))
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
