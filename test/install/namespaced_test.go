package install_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	clock "k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/controllers"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/kubescheme"
	"github.com/contactconverter/contact-converter/internal/testenv"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// With watchNamespaces, the chart grants the manager its rights in those
// namespaces only, and the operator, running as the chart's ServiceAccount,
// does its work there and nowhere else.
func TestHelmChartNamespacedRBAC(t *testing.T) {
	helm := tool(t, "HELM", "helm", "run `make test`, which builds bin/helm from its Go module, or set HELM")
	env := testenv.Start(t)
	ctx := testenv.Context(t)
	objs := decode(t, run(t, helm, "template", "cc", "charts/contact-converter", "--namespace", "cc-system",
		"--set", "watchNamespaces={team-a,team-b},crds.enabled=false"))
	var bound []string
	for _, b := range byKind(objs, "RoleBinding") {
		if ref, _, _ := unstructured.NestedString(b.Object, "roleRef", "name"); ref == "cc-contact-converter-manager" {
			bound = append(bound, b.GetNamespace())
		}
	}
	if len(bound) != 2 || bound[0] != "team-a" || bound[1] != "team-b" {
		t.Errorf("the manager's ClusterRole is bound in %v, want team-a and team-b", bound)
	}
	for _, b := range byKind(objs, "ClusterRoleBinding") {
		if ref, _, _ := unstructured.NestedString(b.Object, "roleRef", "name"); ref == "cc-contact-converter-manager" {
			t.Errorf("ClusterRoleBinding %s grants the manager's rights cluster-wide", b.GetName())
		}
	}

	for _, ns := range []string{"cc-system", "team-a", "team-b", "team-c"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, o)
		}
	}
	if err := testenv.Apply(ctx, env.Client, rbac); err != nil {
		t.Fatalf("applying the chart's RBAC: %v", err)
	}

	// The operator as the chart's ServiceAccount.
	asOperator := rest.CopyConfig(env.Config)
	asOperator.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:cc-system:cc-contact-converter",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:cc-system", "system:authenticated"}}
	operator, err := client.New(asOperator, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	if err := operator.List(ctx, &ccv1.ContactConversionList{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing conversions cluster-wide as the operator: %v, want forbidden", err)
	}
	if err := operator.List(ctx, &ccv1.ContactConversionList{}, client.InNamespace("team-c")); !apierrors.IsForbidden(err) {
		t.Errorf("listing conversions in team-c as the operator: %v, want forbidden", err)
	}
	mgr, err := ctrl.NewManager(asOperator, ctrl.Options{
		Scheme:     kubescheme.New(),
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      controllers.CacheOptions("team-a", "team-b"),
		Client:     controllers.ClientOptions(),
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{Clock: clock.RealClock{}, Image: "contact-converter:test", MaxConcurrent: 4}); err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- mgr.Start(mctx)
		close(done) // read twice when it stopped early: the cleanup gets nil
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the namespaced operator: %v", err)
		}
	})

	for _, ns := range []string{"team-a", "team-c"} {
		for _, obj := range []client.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lists"}, Data: map[string]string{"a.csv": "email\n"}},
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "contacts"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
			tw.MakeConversion("acme", ns).CSVFromConfigMap("a", "lists", "a.csv").SQLite("contacts").Obj(),
		} {
			if err := env.Client.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
	}
	// In team-a it gets its Job, ServiceAccount, Role and RoleBinding:
	// the operator may grant its Job only what it holds there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var jobs batchv1.JobList
		if err := env.Client.List(ctx, &jobs, client.InNamespace("team-a"), client.MatchingLabels{desired.LabelManagedBy: desired.ManagedBy}); err != nil {
			t.Fatal(err)
		}
		if len(jobs.Items) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Job in team-a 30 s after its conversion was created, as the namespaced operator")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var outside ccv1.ContactConversion
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "team-c", Name: "acme"}, &outside); err != nil {
		t.Fatal(err)
	}
	if outside.Status.Phase != "" || outside.Status.ObservedGeneration != 0 {
		t.Errorf("the conversion in team-c, which is not watched, has a status: %+v", outside.Status)
	}
	select {
	case err := <-done:
		t.Fatalf("the namespaced operator stopped: %v", err)
	default:
	}
}
