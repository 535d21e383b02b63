// Package install_test renders the Helm chart and the kustomize overlay and
// applies what they produce to a real API server.
package install_test

import (
	"bytes"
	"encoding/json"
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

// clusterRole is the rendered ClusterRole whose name ends in suffix.
func clusterRole(objs []*unstructured.Unstructured, suffix string) *unstructured.Unstructured {
	for _, r := range byKind(objs, "ClusterRole") {
		if strings.HasSuffix(r.GetName(), suffix) {
			return r
		}
	}
	return nil
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
	if manager := clusterRole(objs, "-manager"); manager == nil || !equality.Semantic.DeepEqual(manager.Object["rules"], generatedRules(t)) {
		t.Errorf("the chart's manager ClusterRole rules differ from config/rbac/role.yaml; run `make manifests`")
	}
	if clusterRole(objs, "-metrics-reader") == nil {
		t.Error("no metrics-reader ClusterRole for Prometheus")
	}
	for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
		if n := len(byKind(objs, kind)); n != 0 {
			t.Errorf("%d %s rendered by default, want none (monitoring is off by default)", n, kind)
		}
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
	if r := clusterRole(objs, "-manager-role"); r == nil || !equality.Semantic.DeepEqual(r.Object["rules"], generatedRules(t)) {
		t.Errorf("kustomize's manager ClusterRole differs from config/rbac/role.yaml")
	}
	if clusterRole(objs, "-metrics-reader") == nil {
		t.Error("no metrics-reader ClusterRole for Prometheus")
	}
	checkManager(t, objs)
	if err := testenv.Apply(ctx, env.Client, objs); err != nil {
		t.Fatalf("applying config/default: %v", err)
	}
}

// Each monitoring value renders its object, and the API server takes them
// with the Prometheus Operator's CRDs installed (vendored, pinned in
// hack/vendor-monitoring-crds.sh).
func TestHelmChartMonitoring(t *testing.T) {
	helm := tool(t, "HELM", "helm", "run `make test`, which builds bin/helm from its Go module, or set HELM")
	env := testenv.Start(t, filepath.Join(testenv.RepoRoot(), "test", "install", "testdata", "monitoring-crds"))
	ctx := testenv.Context(t)
	// Helm's NOTES, on the empty cluster (an install, dry-run).
	notes := string(run(t, helm, "install", "notes", "charts/contact-converter", "--dry-run=client", "--namespace", "notes", "--kubeconfig", env.Kubeconfig(t),
		"--set", "monitoring.prometheusRule.enabled=true,crds.enabled=false"))
	if !strings.Contains(notes, "monitoring.coreos.com/v1") {
		t.Errorf("NOTES do not name the CRDs monitoring needs:\n%s", notes)
	}
	objs := decode(t, run(t, helm, "template", "cc", "charts/contact-converter", "--namespace", "default",
		"--set", "monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true,monitoring.prometheusRule.enabled=true",
		"--set", "monitoring.grafanaDashboard.enabled=true,monitoring.prometheusRule.noSuccessDays=5"))
	for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
		if n := len(byKind(objs, kind)); n != 1 {
			t.Errorf("%d %s rendered, want 1", n, kind)
		}
	}
	for _, rule := range byKind(objs, "PrometheusRule") {
		groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
		data, _ := json.Marshal(groups)
		if strings.Contains(string(data), "__") || !strings.Contains(string(data), "5 * 86400") || !strings.Contains(string(data), `job=\"cc-contact-converter-metrics\"`) {
			t.Errorf("PrometheusRule groups not filled in: %s", data)
		}
	}
	var dashboard *unstructured.Unstructured
	for _, cm := range byKind(objs, "ConfigMap") {
		if cm.GetLabels()["grafana_dashboard"] == "1" {
			dashboard = cm
		}
	}
	if dashboard == nil {
		t.Fatal("no ConfigMap labelled grafana_dashboard: \"1\"")
	}
	body, _, _ := unstructured.NestedString(dashboard.Object, "data", "contact-converter.json")
	if !json.Valid([]byte(body)) {
		t.Error("the dashboard ConfigMap does not hold valid JSON")
	}
	if err := testenv.Apply(ctx, env.Client, objs); err != nil {
		t.Fatalf("applying the rendered chart with monitoring: %v", err)
	}
}

// The schema refuses a wrong type or a misspelt value, naming it; the
// manager's pod knobs reach the pod; tenants' edit and view roles cover the
// two kinds.
func TestHelmChartValues(t *testing.T) {
	helm := tool(t, "HELM", "helm", "run `make test`, which builds bin/helm from its Go module, or set HELM")
	for set, want := range map[string]string{
		"replicaCount=two":            "/replicaCount': got string, want integer",
		"metrics.prot=8443":           "additional properties 'prot' not allowed",
		"logLevel=loud":               "/logLevel",
		"extraArgs[0]=kube-api-qps=5": "/extraArgs/0",
	} {
		cmd := exec.Command(helm, "template", "cc", "charts/contact-converter", "--set", set)
		cmd.Dir = testenv.RepoRoot()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("--set %s: %v, output does not name %q:\n%s", set, err, want, out)
		}
	}
	objs := decode(t, run(t, helm, "template", "cc", "charts/contact-converter",
		"--set", "priorityClassName=platform,imagePullSecrets[0].name=registry,extraArgs[0]=--kube-api-qps=50",
		"--set", "podLabels.team=mail,topologySpreadConstraints[0].maxSkew=1,topologySpreadConstraints[0].topologyKey=zone,topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway"))
	pod, _, _ := unstructured.NestedMap(byKind(objs, "Deployment")[0].Object, "spec", "template")
	data, _ := json.Marshal(pod)
	for _, want := range []string{`"priorityClassName":"platform"`, `"imagePullSecrets":[{"name":"registry"}]`, `"--kube-api-qps=50"`,
		`"team":"mail"`, `"topologySpreadConstraints":[{`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the manager's pod template lacks %s", want)
		}
	}
	for suffix, label := range map[string]string{"-edit": "rbac.authorization.k8s.io/aggregate-to-edit", "-view": "rbac.authorization.k8s.io/aggregate-to-view"} {
		r := clusterRole(objs, suffix)
		if r == nil || r.GetLabels()[label] != "true" {
			t.Errorf("no ClusterRole *%s labelled %s", suffix, label)
			continue
		}
		rules, _ := json.Marshal(r.Object["rules"])
		if !strings.Contains(string(rules), "contactconversions") || !strings.Contains(string(rules), "preferencecenters") {
			t.Errorf("ClusterRole *%s rules %s", suffix, rules)
		}
	}
}
