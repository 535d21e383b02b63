package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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

// statusMemo remembers, per conversion, the resourceVersion of the cached
// object its last status write was computed from, and the one the write
// made. An event can reach the reconciler before the cache shows that write
// (the new Job's often does): a status computed then would start from the
// old object, so it waits for the cache instead of writing again.
type statusMemo struct {
	mu   sync.Mutex
	last map[types.NamespacedName]writtenStatus
}

type writtenStatus struct {
	from, to string
	at       time.Time
}

// statusWriteTimeout bounds the wait for the cache to show a status write.
const statusWriteTimeout = 10 * time.Second

// record notes a status write at now, computed from the object at
// resourceVersion from, which made resourceVersion to.
func (m *statusMemo) record(key types.NamespacedName, from, to string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[types.NamespacedName]writtenStatus{}
	}
	m.last[key] = writtenStatus{from: from, to: to, at: now}
}

// behind tells whether the cache, showing resourceVersion rv at now, does
// not show the last status write yet. A write the API server found
// unchanged made no new resourceVersion, and leaves nothing to wait for;
// nor does one older than statusWriteTimeout.
func (m *statusMemo) behind(key types.NamespacedName, rv string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.last[key]
	return ok && w.from == rv && w.to != rv && now.Sub(w.at) < statusWriteTimeout
}

// forget drops a deleted conversion.
func (m *statusMemo) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.last, key)
}
