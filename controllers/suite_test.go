package controllers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/kubescheme"
	"github.com/contactconverter/contact-converter/internal/testenv"
)

// testNetwork is the operator's view of the cluster network in the tests.
var testNetwork = desired.NetworkEnv{IngressNamespace: "ingress-nginx", MonitoringNamespace: "monitoring"}

// harness is a control plane with both reconcilers running on a fake clock.
type harness struct {
	env   *testenv.Env
	c     client.Client
	clock *clocktesting.FakeClock
	// stopManager stops the manager the harness started.
	stopManager func()
	// writes is every write the manager's client made.
	writes writeLog
}

// writeLog records the writes a manager's client makes, as "verb Kind
// namespace/name".
type writeLog struct {
	mu  sync.Mutex
	all []string
}

func (w *writeLog) add(verb, kind, namespace, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = append(w.all, verb+" "+kind+" "+namespace+"/"+name)
}

// since returns the writes recorded after mark, and the new mark.
func (w *writeLog) since(mark int) ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.all[mark:]), len(w.all)
}

// recording wraps a manager's client so that its writes land in w.
func (w *writeLog) recording(config *rest.Config, o client.Options) (client.Client, error) {
	c, err := client.NewWithWatch(config, o)
	if err != nil {
		return nil, err
	}
	kind := func(obj runtime.Object) string {
		gvk, _ := apiutil.GVKForObject(obj, c.Scheme())
		return gvk.Kind
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			w.add("create", kind(obj), obj.GetNamespace(), obj.GetName())
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			w.add("update", kind(obj), obj.GetNamespace(), obj.GetName())
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			w.add("patch", kind(obj), obj.GetNamespace(), obj.GetName())
			return c.Patch(ctx, obj, patch, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			if u, ok := obj.(interface {
				GetKind() string
				GetNamespace() string
				GetName() string
			}); ok {
				w.add("apply", u.GetKind(), u.GetNamespace(), u.GetName())
			} else {
				w.add("apply", fmt.Sprintf("%T", obj), "", "")
			}
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			w.add("delete", kind(obj), obj.GetNamespace(), obj.GetName())
			return c.Delete(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			w.add("patch "+sub, kind(obj), obj.GetNamespace(), obj.GetName())
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			w.add("update "+sub, kind(obj), obj.GetNamespace(), obj.GetName())
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	}), nil
}

func startHarness(t *testing.T) *harness { return startHarnessWithCap(t, 4) }

func startHarnessWithCap(t *testing.T, maxConcurrent int) *harness {
	t.Helper()
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(testWriter{t})))
	h := &harness{env: testenv.Start(t), clock: clocktesting.NewFakeClock(time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC))}
	h.c = h.env.Client
	h.stopManager = sync.OnceFunc(h.startManager(t, Options{MaxConcurrent: maxConcurrent}))
	t.Cleanup(h.stopManager)
	return h
}

// startManager runs the reconcilers against the harness's control plane
// with o's caps, until the returned stop is called: as the operator, which
// may be stopped and started again.
func (h *harness) startManager(t *testing.T, o Options, watchNamespaces ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := ctrl.NewManager(h.env.Config, ctrl.Options{
		Scheme:  kubescheme.New(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   CacheOptions(watchNamespaces...),
		// Each test starts its own manager in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Client:     ClientOptions(),
		NewClient:  h.writes.recording,
	})
	if err != nil {
		t.Fatal(err)
	}
	o.Clock, o.Image, o.Network = h.clock, "contact-converter:test", testNetwork
	if err := Setup(ctx, mgr, o); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	return func() { cancel(); <-done }
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func (h *harness) namespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := h.c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}

func (h *harness) create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := h.c.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// eventually polls cond until it returns "" or the timeout passes, then fails
// with the last explanation.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// waitCondition waits until obj has the condition with status and reason.
func (h *harness) waitCondition(t *testing.T, obj client.Object, condType string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, obj.GetName()+" "+condType, func() string {
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err.Error()
		}
		c := meta.FindStatusCondition(conditionsOf(obj), condType)
		switch {
		case c == nil:
			return "condition absent"
		case c.Status != status || c.Reason != reason:
			return "got " + string(c.Status) + "/" + c.Reason + ": " + c.Message
		}
		return ""
	})
}

func conditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *ccv1.ContactConversion:
		return o.Status.Conditions
	case *ccv1.PreferenceCenter:
		return o.Status.Conditions
	}
	return nil
}

// waitEvent waits for an event with reason about the named object.
func (h *harness) waitEvent(t *testing.T, ns, name, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, "event "+reason+" for "+name, func() string {
		var list eventsv1.EventList
		if err := h.c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err.Error()
		}
		for _, e := range list.Items {
			if e.Regarding.Name == name && e.Reason == reason {
				found = e
				return ""
			}
		}
		return "not found among " + itoa(len(list.Items)) + " events"
	})
	return found
}

func itoa(i int) string { return strconv.Itoa(i) }
