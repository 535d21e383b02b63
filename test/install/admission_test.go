package install_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/kubescheme"
	"github.com/contactconverter/contact-converter/internal/testenv"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// The admission policies check references against the person who wrote
// the spec: Mallory, who may create conversions but may not read the CRM
// Secret, cannot have the operator read it for her, nor run her Job as a
// ServiceAccount she cannot use; Alice, who may, can.
func TestAdmissionPoliciesCheckTheAuthor(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	objs, err := testenv.DecodeFile(filepath.Join(testenv.RepoRoot(), "config", "admission", "policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	const ns = "shop"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crm"}, StringData: map[string]string{"list.csv": "email\n"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "etl"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "writer"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{ccv1.GroupVersion.Group}, Resources: []string{"contactconversions", "preferencecenters"},
			Verbs: []string{"get", "create", "update", "patch"}}}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crm-owner"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"crm"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, ResourceNames: []string{"etl"}, Verbs: []string{"impersonate"}}}},
		binding(ns, "writers", "writer", "alice", "mallory"),
		binding(ns, "crm-owners", "crm-owner", "alice"),
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	alice, mallory := userClient(t, env, "alice"), userClient(t, env, "mallory")

	readsCRM := func(name string) *ccv1.ContactConversion {
		return tw.MakeConversion(name, ns).SQLite("contacts").
			Sources(ccv1.Source{Name: "crm", CSV: &ccv1.CSVSource{SecretKeyRef: &ccv1.KeySelector{Name: "crm", Key: "list.csv"}}}).Obj()
	}
	runsAsETL := func(name string) *ccv1.ContactConversion {
		cc := readsCRM(name)
		cc.Spec.Sources[0].CSV = &ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "list.csv"}}
		cc.Spec.Job.ServiceAccountName = "etl"
		return cc
	}
	center := tw.MakeCenter("prefs", ns).Postgres("db").
		Edit(func(pc *ccv1.PreferenceCenter) {
			pc.Spec.APITokenSecretRef = &ccv1.KeySelector{Name: "crm", Key: "list.csv"}
		}).Obj()

	// The policies take a moment to load.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := mallory.Create(ctx, readsCRM("mallory-crm"))
		if err != nil && strings.Contains(err.Error(), "you may not get every Secret the spec names (crm)") {
			break
		}
		if err == nil {
			_ = env.Client.Delete(ctx, readsCRM("mallory-crm"))
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mallory's conversion reading the CRM Secret: %v; want it refused", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		c    client.Client
		obj  client.Object
		want string // "" for accepted
	}{
		{"Mallory runs her Job as etl", mallory, runsAsETL("mallory-etl"), "spec.job.serviceAccountName: you may not use ServiceAccount etl"},
		{"Mallory's page uses the CRM Secret as its API token", mallory, center.DeepCopy(), "you may not get every Secret the spec names (db, crm)"},
		{"Alice reads the CRM Secret", alice, readsCRM("alice-crm"), ""},
		{"Alice runs her Job as etl", alice, runsAsETL("alice-etl"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Create(ctx, tc.obj)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
	// An update that leaves the references alone is not checked again:
	// Mallory may suspend Alice's conversion.
	var cc ccv1.ContactConversion
	if err := mallory.Get(ctx, client.ObjectKey{Namespace: ns, Name: "alice-crm"}, &cc); err != nil {
		t.Fatal(err)
	}
	cc.Spec.Suspend = true
	if err := mallory.Update(ctx, &cc); err != nil {
		t.Errorf("suspending a conversion whose references did not change: %v", err)
	}
}

func binding(ns, name, role string, users ...string) *rbacv1.RoleBinding {
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role}}
	for _, u := range users {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	return b
}

func userClient(t *testing.T, env *testenv.Env, name string) client.Client {
	t.Helper()
	u, err := env.Env.ControlPlane.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(u.Config(), client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
