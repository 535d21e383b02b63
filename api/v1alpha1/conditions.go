package v1alpha1

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +kubebuilder:object:generate=false

// Conditions edits a condition list the way kstatus reads it: Ready is always
// present, while Reconciling and Stalled exist only while true.
type Conditions struct {
	List       *[]metav1.Condition
	Generation int64
	// Now stamps a condition whose status changes; zero means the wall clock.
	Now time.Time
}

// Set sets a condition, keeping its transition time when the status is
// unchanged.
func (c Conditions) Set(conditionType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(c.List, metav1.Condition{
		Type:               conditionType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: c.Generation,
		LastTransitionTime: metav1.NewTime(c.Now.Truncate(time.Second)),
	})
}

// True sets a condition to True.
func (c Conditions) True(conditionType, reason, message string) {
	c.Set(conditionType, metav1.ConditionTrue, reason, message)
}

// False sets a condition to False.
func (c Conditions) False(conditionType, reason, message string) {
	c.Set(conditionType, metav1.ConditionFalse, reason, message)
}

// Remove deletes a condition.
func (c Conditions) Remove(conditionType string) {
	meta.RemoveStatusCondition(c.List, conditionType)
}

// Stalled marks the object as failed: Stalled=True, Ready=False, and no
// Reconciling.
func (c Conditions) Stalled(reason, message string) {
	c.True(ConditionStalled, reason, message)
	c.False(ConditionReady, reason, message)
	c.Remove(ConditionReconciling)
}

// Reconciling marks work in progress: Reconciling=True, Ready=False, and no
// Stalled.
func (c Conditions) Reconciling(reason, message string) {
	c.True(ConditionReconciling, reason, message)
	c.False(ConditionReady, reason, message)
	c.Remove(ConditionStalled)
}

// Ready marks the object as settled: Ready=True, with neither Reconciling nor
// Stalled.
func (c Conditions) Ready(reason, message string) {
	c.True(ConditionReady, reason, message)
	c.Remove(ConditionReconciling)
	c.Remove(ConditionStalled)
}

// Conditions returns the condition editor of a ContactConversion.
func (cc *ContactConversion) Conditions() Conditions {
	return Conditions{List: &cc.Status.Conditions, Generation: cc.Generation}
}

// QueuedForCapacity tells whether the status says the conversion waits for
// a free slot.
func (s *ContactConversionStatus) QueuedForCapacity() bool {
	return Conditions{List: &s.Conditions}.Reason(ConditionReady) == ReasonQueuedForCapacity
}

// Conditions returns the condition editor of a PreferenceCenter.
func (pc *PreferenceCenter) Conditions() Conditions {
	return Conditions{List: &pc.Status.Conditions, Generation: pc.Generation}
}

// Reason is a condition's reason, or "" when absent.
func (c Conditions) Reason(conditionType string) string {
	if cond := meta.FindStatusCondition(*c.List, conditionType); cond != nil {
		return cond.Reason
	}
	return ""
}

// Message is a condition's message, or "" when absent.
func (c Conditions) Message(conditionType string) string {
	if cond := meta.FindStatusCondition(*c.List, conditionType); cond != nil {
		return cond.Message
	}
	return ""
}
