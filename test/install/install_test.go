// Package install_test renders the Helm chart and the kustomize overlay and
// applies what they produce to a real API server.
package install_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/contactconverter/contact-converter/internal/testenv"
)

// tool finds a command, or fails saying how to get it.
func tool(t *testing.T, env, name, hint string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, dir := range []string{filepath.Join(testenv.RepoRoot(), "bin"), os.Getenv("KUBEBUILDER_ASSETS")} {
		if p := filepath.Join(dir, name); dir != "" && fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found: %s", name, hint)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = testenv.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.DecodeObjects(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func byKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// generatedRules are the ClusterRole rules controller-gen wrote from the
// +kubebuilder:rbac markers.
func generatedRules(t *testing.T) any {
	objs, err := testenv.DecodeFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil || len(objs) != 1 {
		t.Fatalf("config/rbac/role.yaml: %v (%d objects)", err, len(objs))
	}
	return objs[0].Object["rules"]
}

// checkManager verifies the hardening of the manager's Deployment.
func checkManager(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	deps := byKind(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("%d Deployments rendered, want 1", len(deps))
	}
	pod, _, _ := unstructured.NestedMap(deps[0].Object, "spec", "template", "spec")
	if v, _, _ := unstructured.NestedBool(pod, "securityContext", "runAsNonRoot"); !v {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	containers, _, _ := unstructured.NestedSlice(pod, "containers")
	c := containers[0].(map[string]any)
	sc := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false {
		t.Errorf("container securityContext %v: want readOnlyRootFilesystem true and allowPrivilegeEscalation false", sc)
	}
	if drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop"); len(drop) != 1 || drop[0] != "ALL" {
		t.Errorf("capabilities.drop = %v, want [ALL]", drop)
	}
	image := c["image"].(string)
	var envImage string
	for _, e := range c["env"].([]any) {
		if m := e.(map[string]any); m["name"] == "OPERATOR_IMAGE" {
			envImage, _ = m["value"].(string)
		}
	}
	if envImage != image {
		t.Errorf("OPERATOR_IMAGE = %q, want the container's own image %q", envImage, image)
	}
}

func TestHelmChart(t *testing.T) {
	helm := tool(t, "HELM", "helm", "run `make test`, which builds bin/helm from its Go module, or set HELM")
	env := testenv.Start(t)
	ctx := testenv.Context(t)

	run(t, helm, "lint", "--strict", "charts/contact-converter")
	objs := decode(t, run(t, helm, "template", "cc", "charts/contact-converter", "--namespace", "default"))

	crds := byKind(objs, "CustomResourceDefinition")
	if len(crds) != 2 {
		t.Fatalf("%d CRDs rendered, want 2", len(crds))
	}
	for _, crd := range crds {
		if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s lacks helm.sh/resource-policy: keep", crd.GetName())
		}
	}
	roles := byKind(objs, "ClusterRole")
	if len(roles) != 1 || !equality.Semantic.DeepEqual(roles[0].Object["rules"], generatedRules(t)) {
		t.Errorf("the chart's ClusterRole rules differ from config/rbac/role.yaml; run `make manifests`")
	}
	checkManager(t, objs)
	if err := testenv.Apply(ctx, env.Client, objs); err != nil {
		t.Fatalf("applying the rendered chart: %v", err)
	}

	noCRDs := decode(t, run(t, helm, "template", "cc", "charts/contact-converter", "--set", "crds.enabled=false"))
	if n := len(byKind(noCRDs, "CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.enabled=false still renders %d CRDs", n)
	}
	unkept := decode(t, run(t, helm, "template", "cc", "charts/contact-converter", "--set", "crds.keep=false"))
	for _, crd := range byKind(unkept, "CustomResourceDefinition") {
		if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("crds.keep=false still annotates %s", crd.GetName())
		}
	}
}

func TestKustomizeDefault(t *testing.T) {
	env := testenv.Start(t)
	kubectl := tool(t, "KUBECTL", "kubectl", "run `make envtest` to build it into KUBEBUILDER_ASSETS")
	ctx := testenv.Context(t)

	objs := decode(t, run(t, kubectl, "kustomize", "config/default"))
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && ns != "contact-converter-system" {
			t.Errorf("%s %s in namespace %q, want contact-converter-system", o.GetKind(), o.GetName(), ns)
		}
	}
	roles := byKind(objs, "ClusterRole")
	if len(roles) != 1 || !equality.Semantic.DeepEqual(roles[0].Object["rules"], generatedRules(t)) {
		t.Errorf("kustomize's ClusterRole differs from config/rbac/role.yaml")
	}
	checkManager(t, objs)
	if err := testenv.Apply(ctx, env.Client, objs); err != nil {
		t.Fatalf("applying config/default: %v", err)
	}
}
