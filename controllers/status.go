package controllers

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// statusEqual tells whether two statuses are semantically equal, so an
// unchanged status is never written.
func statusEqual(a, b any) bool { return equality.Semantic.DeepEqual(a, b) }

// stalledChanged tells whether the Stalled condition appeared or changed its
// reason or message between two condition lists.
func stalledChanged(before, after []metav1.Condition) bool {
	b := meta.FindStatusCondition(before, ccv1.ConditionStalled)
	a := meta.FindStatusCondition(after, ccv1.ConditionStalled)
	if a == nil {
		return false
	}
	return b == nil || a.Reason != b.Reason || a.Message != b.Message
}
