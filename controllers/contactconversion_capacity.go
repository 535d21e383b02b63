package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/admission"
	"github.com/contactconverter/contact-converter/internal/lifecycle"
)

// expectationTimeout bounds how long a slot given to a Job not yet seen in
// the cache stays taken: a create the cache never shows (deleted at once)
// gives its slot back.
const expectationTimeout = 2 * time.Minute

// slots knows who holds a run slot and who waits for one, from the cache's
// events: Jobs that run, and conversions whose status says they are
// queued. Admitting a conversion is then a pure decision (internal/admission)
// on that state, with no list and no API call. A slot given out is held as
// an expectation until the cache shows the Job running (as the ReplicaSet
// and Job controllers track their creates), so concurrent reconciles never
// exceed the caps. The lock guards only this state: it is never held
// across an API call.
type slots struct {
	caps  admission.Caps
	clock clock.PassiveClock
	// wake receives the conversions a freed slot goes to.
	wake chan event.GenericEvent

	mu sync.Mutex
	// running maps a running Job (namespace/name) to its conversion.
	running map[types.NamespacedName]types.NamespacedName
	// expected are conversions given a slot whose Job the cache does not
	// show running yet, with when.
	expected map[types.NamespacedName]time.Time
	// queued are the conversions waiting for a slot.
	queued map[types.NamespacedName]admission.Candidate
	// scheduled are the conversions waiting for their window: in the
	// moments after it opens they all want a slot at once, and each one's
	// claim weighs the others' before their own claims come.
	scheduled map[types.NamespacedName]admission.Candidate
	// lastAdmitted is when each namespace last got a slot (its newest
	// Job), so namespaces take turns.
	lastAdmitted map[string]time.Time
	// deferred are the conversions told to wait in the first moments of
	// their window, whose queued status is written on their next look.
	deferred map[types.NamespacedName]bool
	synced   []toolscache.InformerSynced
}

func newSlots(caps admission.Caps, clk clock.PassiveClock) *slots {
	return &slots{caps: caps, clock: clk, wake: make(chan event.GenericEvent, 1024),
		running:   map[types.NamespacedName]types.NamespacedName{},
		expected:  map[types.NamespacedName]time.Time{},
		queued:    map[types.NamespacedName]admission.Candidate{},
		scheduled: map[types.NamespacedName]admission.Candidate{},
		deferred:  map[types.NamespacedName]bool{}, lastAdmitted: map[string]time.Time{}}
}

// watch feeds the state from the cache's Job and ContactConversion
// informers.
func (s *slots) watch(ctx context.Context, c cache.Cache) error {
	for _, w := range []struct {
		obj    client.Object
		record func(o any, deleted bool)
	}{{&batchv1.Job{}, s.job}, {&ccv1.ContactConversion{}, s.conversion}} {
		informer, err := c.GetInformer(ctx, w.obj)
		if err != nil {
			return err
		}
		reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { w.record(o, false) },
			UpdateFunc: func(_, o any) { w.record(o, false) },
			DeleteFunc: func(o any) { w.record(o, true) },
		})
		if err != nil {
			return err
		}
		s.synced = append(s.synced, reg.HasSynced)
	}
	return nil
}

func unwrap(o any) any {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return o
}

// job records a Job's run: one that runs holds its conversion's slot.
func (s *slots) job(o any, deleted bool) {
	j, ok := unwrap(o).(*batchv1.Job)
	if !ok {
		return
	}
	owner := metav1.GetControllerOf(j)
	if owner == nil || owner.Kind != "ContactConversion" || owner.APIVersion != ccv1.GroupVersion.String() {
		return // not ours, whatever its labels say
	}
	key := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
	conv := types.NamespacedName{Namespace: j.Namespace, Name: owner.Name}
	runs := !deleted && j.DeletionTimestamp == nil && jobRunning(j)
	s.mu.Lock()
	if created := j.CreationTimestamp.Time; created.After(s.lastAdmitted[j.Namespace]) {
		s.lastAdmitted[j.Namespace] = created
	}
	_, ran := s.running[key]
	if runs {
		s.running[key] = conv
		delete(s.expected, conv)
	} else {
		delete(s.running, key)
	}
	var next []types.NamespacedName
	if ran && !runs {
		next = s.nextLocked()
	}
	s.mu.Unlock()
	s.notify(next)
}

// conversion records whether a conversion waits for a slot.
func (s *slots) conversion(o any, deleted bool) {
	cc, ok := unwrap(o).(*ccv1.ContactConversion)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: cc.Namespace, Name: cc.Name}
	s.mu.Lock()
	if !deleted && cc.Status.QueuedForCapacity() {
		s.queued[key] = s.candidate(cc, windowStart(cc))
	} else {
		delete(s.queued, key)
	}
	if deleted {
		delete(s.deferred, key)
	}
	if !deleted && !cc.Spec.Suspend && cc.Status.NextWindowStart != nil && cc.Conditions().Reason(ccv1.ConditionReady) == ccv1.ReasonScheduled {
		start := cc.Status.NextWindowStart.Time // it will wait from its window's start
		s.scheduled[key] = admission.Candidate{Namespace: cc.Namespace, Name: cc.Name, WindowStart: start, QueuedSince: start}
	} else {
		delete(s.scheduled, key)
	}
	var next []types.NamespacedName
	if _, held := s.expected[key]; deleted && held {
		delete(s.expected, key)
		next = s.nextLocked()
	}
	s.mu.Unlock()
	s.notify(next)
}

func windowStart(cc *ccv1.ContactConversion) time.Time {
	if cc.Status.NextWindowStart != nil {
		return cc.Status.NextWindowStart.Time
	}
	return time.Time{}
}

// candidate is cc waiting in window; a conversion not queued yet waits
// from the window's start (or now, when that is later).
func (s *slots) candidate(cc *ccv1.ContactConversion, window time.Time) admission.Candidate {
	c := admission.Candidate{Namespace: cc.Namespace, Name: cc.Name, WindowStart: window, QueuedSince: s.clock.Now()}
	switch {
	case cc.Status.Queue != nil:
		c.QueuedSince = cc.Status.Queue.Since.Time
	case !window.IsZero() && window.Before(c.QueuedSince):
		c.QueuedSince = window
	}
	return c
}

// errNotSynced asks for another try once the informers have told all.
var errNotSynced = errors.New("the admission queue is still reading the cache")

// claim gives cc a slot if the caps and the queue allow, and holds it
// until its Job shows in the cache or release gives it back. Otherwise it
// says where cc stands.
func (s *slots) claim(cc *ccv1.ContactConversion, window time.Time) (bool, lifecycle.Wait, error) {
	for _, synced := range s.synced {
		if !synced() {
			return false, lifecycle.Wait{}, errNotSynced
		}
	}
	key := types.NamespacedName{Namespace: cc.Namespace, Name: cc.Name}
	me := s.candidate(cc, window)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	if _, held := s.expected[key]; held {
		return true, lifecycle.Wait{}, nil
	}
	running := s.runningLocked(key)
	candidates := append(s.waitingLocked(key), me)
	for _, d := range admission.Plan(candidates, running, s.lastAdmitted, s.caps) {
		if d.Namespace != cc.Namespace || d.Name != cc.Name {
			continue
		}
		if d.Admit {
			s.expected[key] = s.clock.Now()
			s.lastAdmitted[cc.Namespace] = s.clock.Now()
		}
		return d.Admit, lifecycle.Wait{Position: d.Position, Reason: d.Reason}, nil
	}
	return false, lifecycle.Wait{}, nil // not reached: cc is a candidate
}

// deferQueue tells a conversion just denied a slot, in the first moments
// of its window, to leave its status for its next look: when a window
// opens for hundreds at once, those admitted then reach the API server
// first, and the others write that they are queued just after. It says so
// once per conversion.
func (s *slots) deferQueue(conv types.NamespacedName, window time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deferred[conv] || window.IsZero() || s.clock.Since(window) > windowRush/2 {
		delete(s.deferred, conv)
		return false
	}
	s.deferred[conv] = true
	return true
}

// pending tells whether conv was given a slot whose Job the cache does not
// show yet. A slot held too long is given back, to the next in the queue.
func (s *slots) pending(conv types.NamespacedName) bool {
	s.mu.Lock()
	var next []types.NamespacedName
	if s.expireLocked() {
		next = s.nextLocked()
	}
	_, held := s.expected[conv]
	s.mu.Unlock()
	s.notify(next)
	return held
}

// release gives back a slot claim gave cc when no Job started with it.
func (s *slots) release(cc *ccv1.ContactConversion) {
	key := types.NamespacedName{Namespace: cc.Namespace, Name: cc.Name}
	s.mu.Lock()
	_, held := s.expected[key]
	delete(s.expected, key)
	var next []types.NamespacedName
	if held {
		next = s.nextLocked()
	}
	s.mu.Unlock()
	s.notify(next)
}

// runningLocked counts the slots held, by namespace, leaving out except's
// own (a conversion asking again for the slot its Job holds).
func (s *slots) runningLocked(except types.NamespacedName) map[string]int {
	out := map[string]int{}
	seen := map[types.NamespacedName]bool{}
	for _, conv := range s.running {
		if conv != except && !seen[conv] {
			seen[conv] = true
			out[conv.Namespace]++
		}
	}
	for conv := range s.expected {
		if conv != except && !seen[conv] {
			seen[conv] = true
			out[conv.Namespace]++
		}
	}
	return out
}

// waitingLocked are the conversions that want a slot and have none, but
// except: those queued (the cache may show one queued a moment after its
// slot was given), and those whose window has just opened.
func (s *slots) waitingLocked(except types.NamespacedName) []admission.Candidate {
	holding := map[types.NamespacedName]bool{}
	for _, conv := range s.running {
		holding[conv] = true
	}
	waits := func(k types.NamespacedName) bool {
		_, expected := s.expected[k]
		return k != except && !expected && !holding[k]
	}
	out := make([]admission.Candidate, 0, len(s.queued))
	for k, c := range s.queued {
		if waits(k) {
			out = append(out, c)
		}
	}
	now := s.clock.Now()
	for k, c := range s.scheduled {
		if _, queued := s.queued[k]; !queued && waits(k) && !c.WindowStart.After(now) && now.Sub(c.WindowStart) < windowRush {
			out = append(out, c)
		}
	}
	return out
}

// windowRush is how long after its window opens a conversion still
// waiting for it counts as wanting a slot, before its own claim comes.
const windowRush = 30 * time.Second

// expireLocked gives back the slots held past expectationTimeout, and
// says whether there were any.
func (s *slots) expireLocked() bool {
	expired := false
	for conv, at := range s.expected {
		if s.clock.Since(at) > expectationTimeout {
			delete(s.expected, conv)
			expired = true
		}
	}
	return expired
}

// nextLocked are the queued conversions the free slots go to now: only
// they are woken.
func (s *slots) nextLocked() []types.NamespacedName {
	if len(s.queued) == 0 {
		return nil
	}
	s.expireLocked()
	var out []types.NamespacedName
	for _, d := range admission.Plan(s.waitingLocked(types.NamespacedName{}), s.runningLocked(types.NamespacedName{}), s.lastAdmitted, s.caps) {
		if d.Admit {
			out = append(out, types.NamespacedName{Namespace: d.Namespace, Name: d.Name})
		}
	}
	return out
}

// notify wakes conversions, outside the lock; a full channel hands the rest
// to a goroutine rather than block an informer.
func (s *slots) notify(keys []types.NamespacedName) {
	wake := func(k types.NamespacedName) event.GenericEvent {
		return event.GenericEvent{Object: &ccv1.ContactConversion{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}}
	}
	for i, k := range keys {
		select {
		case s.wake <- wake(k):
		default:
			go func() {
				for _, k := range keys[i:] {
					s.wake <- wake(k)
				}
			}()
			return
		}
	}
}
