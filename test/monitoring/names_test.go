package monitoring

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/contactconverter/contact-converter/internal/testenv"
)

// Grafana's variables, replaced by values the parser takes.
var grafanaVars = strings.NewReplacer("$namespace", "ns", "$conversion", "name", "${datasource}", "prometheus")

// queryNames parses a PromQL query and returns the metric names it reads,
// histograms by their family name.
func queryNames(t *testing.T, where, query string) []string {
	t.Helper()
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(placeholders.Replace(query)))
	if err != nil {
		t.Errorf("%s: the query does not parse: %v\n%s", where, err, query)
		return nil
	}
	var names []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok && vs.Name != "" {
			names = append(names, strings.TrimSuffix(vs.Name, "_bucket"))
		}
		return nil
	})
	return names
}

// alertQueries are the expressions of the alert rules, by alert.
func alertQueries(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "contact-converter", "files", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}

type dashboard struct {
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// dashboardQueries are the dashboard's panel queries, by panel.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "contact-converter", "files", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard.json is not valid JSON: %v", err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			out["panel "+p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	// label_values(metric{...}, label) variables read a metric too.
	lv := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		q, _ := v.Query.(map[string]any)
		if s, _ := q["query"].(string); s != "" {
			if m := lv.FindStringSubmatch(s); m != nil {
				out["variable "+v.Name] = m[1]
			} else {
				t.Errorf("variable %s: query %q is not label_values(...)", v.Name, s)
			}
		}
	}
	if len(out) < 10 {
		t.Errorf("%d dashboard queries, want the panels of the README", len(out))
	}
	return out
}

// usedNames are the metric names the alerts and the dashboard read, each
// with one place that reads it.
func usedNames(t *testing.T) map[string]string {
	t.Helper()
	used := map[string]string{}
	for _, queries := range []map[string]string{alertQueries(t), dashboardQueries(t)} {
		for where, q := range queries {
			for _, n := range queryNames(t, where, q) {
				used[n] = where
			}
		}
	}
	return used
}

// Every query of the dashboard and the alerts parses, and reads only
// metrics of the project (or Prometheus's own up).
func TestQueriesParse(t *testing.T) {
	used := usedNames(t)
	var names []string
	for n, where := range used {
		if n != "up" && !strings.HasPrefix(n, "contact_converter_") {
			t.Errorf("%s reads %s, which is not a contact_converter_ metric", where, n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("metrics read by the alerts and the dashboard: %s", strings.Join(names, ", "))
}
