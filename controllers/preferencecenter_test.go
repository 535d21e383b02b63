package controllers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	tw "github.com/contactconverter/contact-converter/internal/testwrap"

	"github.com/google/go-cmp/cmp"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
)

func (h *harness) get(t *testing.T, obj client.Object) error {
	t.Helper()
	return h.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
}

// waitObject waits until obj exists and check says nothing is wrong.
func (h *harness) waitObject(t *testing.T, obj client.Object, check func() string) {
	t.Helper()
	eventually(t, obj.GetName(), func() string {
		if err := h.get(t, obj); err != nil {
			return err.Error()
		}
		if check != nil {
			return check()
		}
		return ""
	})
}

func (h *harness) waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, obj.GetName()+" deleted", func() string {
		if err := h.get(t, obj); apierrors.IsNotFound(err) {
			return ""
		}
		return "still there"
	})
}

// markAvailable plays the Deployment controller, which envtest lacks.
func (h *harness) markAvailable(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if err := h.get(t, d); err != nil {
		t.Fatal(err)
	}
	n := *d.Spec.Replicas
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
	if err := h.c.Status().Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func TestPreferenceCenterObjects(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-prefs")
	ctx := context.Background()
	h.create(t, secret(ns, "acme-db", map[string]string{"uri": "postgres://acme@db/acme"}))
	h.create(t, secret(ns, "prefs-tls", map[string]string{"tls.crt": "x", "tls.key": "y"}))
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Postgres("acme-db").Obj()
	h.create(t, cc)
	pc := tw.MakeCenter("acme", ns).SQLite("contacts").IngressTLS("prefs.acme.example", "prefs-tls").Obj()
	pc.Spec.Database = ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: "acme-db"}}}
	pc.Spec.ConversionRef = &ccv1.LocalObjectReference{Name: "acme"}
	pc.Spec.Replicas = ptr.To[int32](2)
	h.create(t, pc)

	name := desired.PreferenceCenterName(pc)
	obj := metav1.ObjectMeta{Namespace: ns, Name: name}

	// A signing key is generated once.
	signing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-signing"}}
	h.waitObject(t, signing, nil)
	if _, err := linktoken.NewSigner(signing.Data); err != nil || len(signing.Data) != 2 {
		t.Fatalf("generated signing Secret: %v (%d keys)", err, len(signing.Data))
	}
	h.waitEvent(t, ns, "acme", "SigningKeyCreated")

	// The rendered configuration is one the service accepts.
	cm := &corev1.ConfigMap{ObjectMeta: obj}
	h.waitObject(t, cm, nil)
	var cfg prefconfig.Config
	if err := json.Unmarshal([]byte(cm.Data[desired.ConfigKey]), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || cfg.PublicURL != "https://prefs.acme.example" || !cfg.HSTS {
		t.Errorf("config = %+v (%v)", cfg, err)
	}

	d := &appsv1.Deployment{ObjectMeta: obj}
	h.waitObject(t, d, nil)
	spec := d.Spec.Template.Spec
	if *d.Spec.Replicas != 2 || spec.Containers[0].Image != "contact-converter:test" || !*spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem ||
		d.Spec.Template.Annotations[desired.AnnotationConfigHash] == "" || spec.ServiceAccountName != name {
		t.Errorf("deployment = %+v", d.Spec)
	}
	for _, o := range []client.Object{&corev1.Service{ObjectMeta: obj}, &networkingv1.Ingress{ObjectMeta: obj},
		&policyv1.PodDisruptionBudget{ObjectMeta: obj}, &corev1.ServiceAccount{ObjectMeta: obj}} {
		h.waitObject(t, o, nil)
	}
	// The page's port admits the Ingress controller's namespace and its own;
	// the metrics port the monitoring namespace.
	np := &networkingv1.NetworkPolicy{ObjectMeta: obj}
	h.waitObject(t, np, nil)
	wantPolicy, _ := desired.PreferenceCenterNetworkPolicy(pc, testNetwork)
	if diff := cmp.Diff(wantPolicy.Spec, np.Spec); diff != "" || len(np.Spec.Ingress) != 2 ||
		np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != testNetwork.IngressNamespace {
		t.Errorf("NetworkPolicy (-want +got):\n%s", diff)
	}
	h.waitCondition(t, pc, ccv1.ConditionReconciling, metav1.ConditionTrue, ccv1.ReasonRollingOut)
	if pc.Status.URL != "https://prefs.acme.example" {
		t.Errorf("status.url = %q", pc.Status.URL)
	}

	// Available Deployment: Ready.
	h.markAvailable(t, d)
	h.waitCondition(t, pc, ccv1.ConditionReady, metav1.ConditionTrue, ccv1.ReasonAvailable)
	if pc.Status.ReadyReplicas != 2 || meta.FindStatusCondition(pc.Status.Conditions, ccv1.ConditionReconciling) != nil {
		t.Errorf("status = %+v", pc.Status)
	}
	if got := kstatusOf(t, pc); got != status.CurrentStatus {
		t.Errorf("kstatus = %s, want Current", got)
	}

	// A running conversion holds nothing back: no maintenance condition,
	// and the pods read nothing from the API.
	setConversionPhase(t, h, cc, ccv1.PhaseRunning)
	h.waitObject(t, pc, func() string {
		if meta.FindStatusCondition(pc.Status.Conditions, conditionMaintenance) != nil || pc.Status.ObservedGeneration != pc.Generation {
			return "a Maintenance condition"
		}
		return ""
	})
	for _, o := range []client.Object{&rbacv1.Role{ObjectMeta: obj}, &rbacv1.RoleBinding{ObjectMeta: obj}} {
		h.waitGone(t, o)
	}

	// Hand edits are corrected; a deleted Deployment comes back.
	d.Spec.Replicas = ptr.To[int32](7)
	d.Spec.Template.Spec.Containers[0].Image = "evil:latest"
	if err := h.c.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	h.waitObject(t, d, func() string {
		if *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "contact-converter:test" {
			return "not corrected yet"
		}
		return ""
	})
	if err := h.c.Delete(ctx, &appsv1.Deployment{ObjectMeta: obj}); err != nil {
		t.Fatal(err)
	}
	h.waitObject(t, &appsv1.Deployment{ObjectMeta: obj}, func() string { return "" })

	// A spec change rolls the pods through the config hash.
	h.waitObject(t, d, nil)
	before := d.Spec.Template.Annotations[desired.AnnotationConfigHash]
	patchCenter(t, h, pc, func(pc *ccv1.PreferenceCenter) { pc.Spec.Organization.Name = "ACME Belgium" })
	h.waitObject(t, d, func() string {
		if d.Spec.Template.Annotations[desired.AnnotationConfigHash] == before {
			return "config hash unchanged"
		}
		return ""
	})

	// A key added to the signing Secret is kept, and rolls the pods too.
	before = d.Spec.Template.Annotations[desired.AnnotationConfigHash]
	if err := h.get(t, signing); err != nil {
		t.Fatal(err)
	}
	signing.Data["key-29991231"] = []byte(strings.Repeat("n", 32))
	if err := h.c.Update(ctx, signing); err != nil {
		t.Fatal(err)
	}
	h.waitObject(t, d, func() string {
		if d.Spec.Template.Annotations[desired.AnnotationConfigHash] == before {
			return "config hash unchanged after a key rotation"
		}
		return ""
	})
	if err := h.get(t, signing); err != nil || len(signing.Data) != 3 {
		t.Errorf("the signing Secret was overwritten: %d keys, %v", len(signing.Data), err)
	}

	// Fewer replicas, no ingress, no conversion, no NetworkPolicy: their
	// objects go.
	patchCenter(t, h, pc, func(pc *ccv1.PreferenceCenter) {
		pc.Spec.Replicas, pc.Spec.Ingress, pc.Spec.ConversionRef = ptr.To[int32](1), nil, nil
		pc.Spec.NetworkPolicy.Enabled = ptr.To(false)
	})
	for _, o := range []client.Object{&policyv1.PodDisruptionBudget{ObjectMeta: obj}, &networkingv1.Ingress{ObjectMeta: obj},
		&networkingv1.NetworkPolicy{ObjectMeta: obj}} {
		h.waitGone(t, o)
	}
}

func TestPreferenceCenterStallsOnMissingDatabaseSecret(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-nodb")
	pc := tw.MakeCenter("acme", ns).SQLite("contacts").Obj()
	pc.Spec.Database = ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: "acme-db"}}}
	h.create(t, pc)
	h.waitCondition(t, pc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonSecretNotFound)
	if msg := meta.FindStatusCondition(pc.Status.Conditions, ccv1.ConditionStalled).Message; !strings.Contains(msg, "spec.database.postgres.secretRef") {
		t.Errorf("message %q does not name the field", msg)
	}
	h.waitEvent(t, ns, "acme", ccv1.ReasonSecretNotFound)
	if err := h.get(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: desired.PreferenceCenterName(pc)}}); !apierrors.IsNotFound(err) {
		t.Errorf("a Deployment was made for a database it cannot reach: %v", err)
	}
	h.create(t, secret(ns, "acme-db", map[string]string{"uri": "postgres://acme@db/acme"}))
	h.waitCondition(t, pc, ccv1.ConditionReconciling, metav1.ConditionTrue, ccv1.ReasonRollingOut)
	if meta.FindStatusCondition(pc.Status.Conditions, ccv1.ConditionStalled) != nil {
		t.Error("Stalled stays after the fix")
	}
}

func setConversionPhase(t *testing.T, h *harness, cc *ccv1.ContactConversion, phase ccv1.Phase) {
	t.Helper()
	eventually(t, "set phase "+string(phase), func() string {
		if err := h.get(t, cc); err != nil {
			return err.Error()
		}
		orig := cc.DeepCopy()
		cc.Status.Phase = phase
		if err := h.c.Status().Patch(context.Background(), cc, client.MergeFrom(orig)); err != nil {
			return err.Error()
		}
		return ""
	})
}

func patchCenter(t *testing.T, h *harness, pc *ccv1.PreferenceCenter, mutate func(*ccv1.PreferenceCenter)) {
	t.Helper()
	if err := h.get(t, pc); err != nil {
		t.Fatal(err)
	}
	orig := pc.DeepCopy()
	mutate(pc)
	if err := h.c.Patch(context.Background(), pc, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
}
