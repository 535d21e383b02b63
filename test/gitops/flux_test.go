package gitops

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"sigs.k8s.io/yaml"

	"github.com/contactconverter/contact-converter/internal/testenv"
)

// fluxKustomization is the part of config/flux/kustomization.yaml the test
// reads.
type fluxKustomization struct {
	Spec struct {
		HealthCheckExprs []struct {
			Kind       string `json:"kind"`
			InProgress string `json:"inProgress"`
			Failed     string `json:"failed"`
			Current    string `json:"current"`
		} `json:"healthCheckExprs"`
	} `json:"spec"`
}

// fluxStatus evaluates the expressions as kustomize-controller does: a
// generation not observed yet is InProgress; then inProgress, failed and
// current in that order; none true is InProgress. An expression on an
// object without status cannot be evaluated: Flux then keeps waiting, as
// for InProgress.
func fluxStatus(t *testing.T, exprs map[string]string, obj map[string]any) string {
	t.Helper()
	status, hasStatus := obj["status"].(map[string]any)
	if hasStatus {
		if og, ok := status["observedGeneration"].(float64); ok {
			if g, ok := obj["metadata"].(map[string]any)["generation"].(float64); ok && og != g {
				return "InProgress"
			}
		}
	}
	env, err := cel.NewEnv(cel.OptionalTypes(), ext.Strings())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct{ name, result string }{{"inProgress", "InProgress"}, {"failed", "Failed"}, {"current", "Current"}} {
		expr := exprs[e.name]
		if expr == "" {
			continue
		}
		ast, iss := env.Parse(expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", e.name, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.Eval(obj)
		if err != nil {
			if !hasStatus {
				return "InProgress"
			}
			t.Fatalf("%s on an object with a status: %v", e.name, err)
		}
		if out.Value() == true {
			return e.result
		}
	}
	return "InProgress"
}

// The Flux health expressions follow the same table as the Argo CD health
// checks, on the same objects.
func TestFluxHealthExpressions(t *testing.T) {
	var k fluxKustomization
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "flux", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]map[string]string{}
	for _, h := range k.Spec.HealthCheckExprs {
		exprs[h.Kind] = map[string]string{"inProgress": h.InProgress, "failed": h.Failed, "current": h.Current}
	}
	for kind, want := range map[string]map[string]string{
		"ContactConversion": {
			"no_status": "InProgress", "stale_generation": "InProgress", "pending": "InProgress", "running": "InProgress",
			"stalled": "Failed", "failed": "Failed",
			"conflicts_pending": "Current", "paused_outside_window": "Current", "suspended_by_user": "Current", "waiting": "Current", "succeeded": "Current",
		},
		"PreferenceCenter": {"no_status": "InProgress", "rolling_out": "InProgress", "stalled": "Failed", "ready": "Current"},
	} {
		inputs, _ := filepath.Glob(filepath.Join(customizations, kind, "testdata", "*.yaml"))
		if len(inputs) != len(want) {
			t.Errorf("%s: %d objects, %d expected states: every object needs one", kind, len(inputs), len(want))
		}
		for name, status := range want {
			t.Run(kind+"/"+name, func(t *testing.T) {
				obj := readObject(t, filepath.Join(customizations, kind, "testdata", name+".yaml"))
				if got := fluxStatus(t, exprs[kind], obj); got != status {
					t.Errorf("Flux status %s, want %s", got, status)
				}
			})
		}
	}
}
