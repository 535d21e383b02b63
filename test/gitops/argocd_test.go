// Package gitops tests what Argo CD and Flux read of the two kinds: the Lua
// health checks and actions under config/argocd, run with the Lua Argo CD
// embeds, and the Flux CEL health expressions under config/flux.
package gitops

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/testenv"
)

var customizations = filepath.Join(testenv.RepoRoot(), "config", "argocd", "resource_customizations", "contacts.contactconverter.io")

// healthTests is argo-cd's health_test.yaml.
type healthTests struct {
	Tests []struct {
		HealthStatus struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"healthStatus"`
		InputPath string `json:"inputPath"`
	} `json:"tests"`
}

// actionTests is argo-cd's actions/action_test.yaml.
type actionTests struct {
	DiscoveryTests []struct {
		InputPath string           `json:"inputPath"`
		Result    []map[string]any `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action             string `json:"action"`
		InputPath          string `json:"inputPath"`
		ExpectedOutputPath string `json:"expectedOutputPath"`
	} `json:"actionTests"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readObject reads a testdata object, checking it is a valid object of its
// kind, so the scripts are tested on the fields the API really has.
func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	var obj map[string]any
	readYAML(t, path, &obj)
	var typed any
	switch obj["kind"] {
	case "ContactConversion":
		typed = &ccv1.ContactConversion{}
	case "PreferenceCenter":
		typed = &ccv1.PreferenceCenter{}
	default:
		t.Fatalf("%s: kind %v", path, obj["kind"])
	}
	readYAML(t, path, typed)
	return obj
}

// newLua is a Lua state as Argo CD gives scripts: the base, table, string
// and math libraries, and an os module with only date and time.
func newLua(t *testing.T, obj map[string]any) *lua.LState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	t.Cleanup(L.Close)
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}, {lua.OsLibName, lua.OpenOs}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	full := L.GetGlobal("os").(*lua.LTable)
	safe := L.NewTable()
	safe.RawSetString("date", full.RawGetString("date"))
	safe.RawSetString("time", full.RawGetString("time"))
	L.SetGlobal("os", lua.LNil)
	L.PreloadModule("os", func(L *lua.LState) int { L.Push(safe); return 1 })
	L.SetGlobal("obj", toLua(L, obj))
	return L
}

func runScript(t *testing.T, L *lua.LState, script string) lua.LValue {
	t.Helper()
	if err := L.DoFile(script); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		tb := L.NewTable()
		for _, x := range v {
			tb.Append(toLua(L, x))
		}
		return tb
	case map[string]any:
		tb := L.NewTable()
		for k, x := range v {
			tb.RawSetString(k, toLua(L, x))
		}
		return tb
	}
	panic("unexpected value")
}

func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LBool:
		return bool(v)
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			out := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				out = append(out, fromLua(v.RawGetInt(i)))
			}
			return out
		}
		out := map[string]any{}
		v.ForEach(func(k, x lua.LValue) { out[k.String()] = fromLua(x) })
		return out
	}
	return nil
}

// Every row of the health tables, for both kinds.
func TestArgoCDHealth(t *testing.T) {
	for _, kind := range []string{"ContactConversion", "PreferenceCenter"} {
		dir := filepath.Join(customizations, kind)
		var tests healthTests
		readYAML(t, filepath.Join(dir, "health_test.yaml"), &tests)
		inputs, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
		if len(tests.Tests) == 0 || len(tests.Tests) != len(inputs) {
			t.Errorf("%s: %d health tests for %d testdata objects: every object needs its test", kind, len(tests.Tests), len(inputs))
		}
		for _, tc := range tests.Tests {
			t.Run(kind+"/"+tc.InputPath, func(t *testing.T) {
				L := newLua(t, readObject(t, filepath.Join(dir, tc.InputPath)))
				got, _ := fromLua(runScript(t, L, filepath.Join(dir, "health.lua"))).(map[string]any)
				want := map[string]any{"status": tc.HealthStatus.Status, "message": tc.HealthStatus.Message}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("health (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// Discovery offers suspend or resume as the object is, and each action
// changes what it says; run-now stamps the current time.
func TestArgoCDActions(t *testing.T) {
	dir := filepath.Join(customizations, "ContactConversion", "actions")
	var tests actionTests
	readYAML(t, filepath.Join(dir, "action_test.yaml"), &tests)
	scripts, _ := filepath.Glob(filepath.Join(dir, "*", "action.lua"))
	var tested []string
	for _, tc := range tests.ActionTests {
		tested = append(tested, tc.Action)
	}
	for _, s := range scripts {
		if name := filepath.Base(filepath.Dir(s)); !slices.Contains(tested, name) {
			t.Errorf("action %s has no test", name)
		}
	}
	for _, tc := range tests.DiscoveryTests {
		t.Run("discovery/"+tc.InputPath, func(t *testing.T) {
			L := newLua(t, readObject(t, filepath.Join(dir, tc.InputPath)))
			actions, _ := fromLua(runScript(t, L, filepath.Join(dir, "discovery.lua"))).(map[string]any)
			var got []map[string]any
			for name, a := range actions {
				m := a.(map[string]any)
				m["name"] = name
				got = append(got, m)
			}
			slices.SortFunc(got, func(a, b map[string]any) int { return strings.Compare(a["name"].(string), b["name"].(string)) })
			if diff := cmp.Diff(tc.Result, got); diff != "" {
				t.Errorf("discovery (-want +got):\n%s", diff)
			}
		})
	}
	for _, tc := range tests.ActionTests {
		t.Run(tc.Action+"/"+tc.InputPath, func(t *testing.T) {
			L := newLua(t, readObject(t, filepath.Join(dir, tc.InputPath)))
			before := time.Now().UTC().Truncate(time.Second)
			got := fromLua(runScript(t, L, filepath.Join(dir, tc.Action, "action.lua"))).(map[string]any)
			// The time run-now stamps is checked, then set to the zero time
			// the expected object holds, as argo-cd's own tests do.
			if ann, ok := got["metadata"].(map[string]any)["annotations"].(map[string]any); ok {
				if v, ok := ann[ccv1.RunRequestedAtAnnotation].(string); ok {
					at, err := time.Parse(time.RFC3339, v)
					if err != nil || at.Before(before) || at.After(time.Now()) {
						t.Errorf("run-requested-at %q is not the current time in RFC 3339 (%v)", v, err)
					}
					ann[ccv1.RunRequestedAtAnnotation] = "0001-01-01T00:00:00Z"
				}
			}
			want := readObject(t, filepath.Join(dir, tc.ExpectedOutputPath))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.Action, diff)
			}
		})
	}
}
