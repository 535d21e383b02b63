// Package monitoring tests what the chart ships for Prometheus: the alert
// rules, with promtool.
package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/contactconverter/contact-converter/internal/testenv"
)

// Values the chart fills in, as the tests expect them.
var placeholders = strings.NewReplacer("__NO_SUCCESS_DAYS__", "7", "__OPERATOR_JOB__", "contact-converter-metrics")

// promtool builds (once) and returns promtool, pinned in hack/setup-promtool.sh.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "setup-promtool.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("promtool is missing and could not be built (%v): run hack/setup-promtool.sh, or set PROMTOOL to a promtool binary", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func rulesDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rules, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "contact-converter", "files", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yaml"), []byte(placeholders.Replace(string(rules))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Every alert is valid, and behaves as its tests say.
func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	dir := rulesDir(t)
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `json:"alert"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

type testFile struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// Each alert has a test that fires it, a summary, a description and a
// runbook section.
func TestEveryAlertIsTestedAndDocumented(t *testing.T) {
	dir := rulesDir(t)
	var rules ruleFile
	var tests testFile
	for name, into := range map[string]any{"alerts.yaml": &rules, "alerts_test.yaml": &tests} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.Alertname] = true
			}
		}
	}
	runbooks, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			count++
			if !fired[r.Alert] {
				t.Errorf("alert %s: no test fires it", r.Alert)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("alert %s: no %s", r.Alert, a)
				}
			}
			anchor := "#" + strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "docs/runbooks.md"+anchor) || !strings.Contains(string(runbooks), "\n## "+r.Alert+"\n") {
				t.Errorf("alert %s: runbook_url %q, or no section \"## %s\" in docs/runbooks.md", r.Alert, r.Annotations["runbook_url"], r.Alert)
			}
		}
	}
	if count < 9 {
		t.Errorf("%d alerts, want the 9 the runbooks describe", count)
	}
}
