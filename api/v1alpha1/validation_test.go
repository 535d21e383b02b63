package v1alpha1_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/contactconverter/contact-converter/internal/testenv"
)

const validConversion = `
apiVersion: contacts.contactconverter.io/v1alpha1
kind: ContactConversion
metadata: {name: base}
spec:
  defaultLanguage: nl
  languages: [nl, fr]
  sources:
    - name: fair
      csv: {configMapKeyRef: {name: lists, key: fair.csv}}
      columns: {email: E-mail, customerNumber: Klant}
    - name: shop
      sql: {secretRef: {name: shop-db}, query: "SELECT 1"}
      columns: {customerNumber: nr}
  database:
    sqlite: {persistentVolumeClaim: contacts}
`

const validCenter = `
apiVersion: contacts.contactconverter.io/v1alpha1
kind: PreferenceCenter
metadata: {name: base}
spec:
  database:
    postgres: {secretRef: {name: db}}
  organization: {name: ACME, privacyPolicyURL: "https://acme.example/privacy"}
  languages: [nl, en]
  defaultLanguage: nl
  topics:
    - name: news
      title: {nl: Nieuws, en: News}
`

func TestCRDValidation(t *testing.T) {
	env := testenv.Start(t)
	ctx := testenv.Context(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "validation"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}

	t.Run("samples are accepted", func(t *testing.T) {
		samples, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
		production, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "production", "*.yaml"))
		count := 0
		for _, path := range append(samples, production...) {
			// Each production sample stands alone, in a namespace of its own.
			namespace := ns.Name
			if filepath.Base(filepath.Dir(path)) == "production" {
				namespace = "validation-" + strings.TrimSuffix(filepath.Base(path), ".yaml")
				if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
					t.Fatal(err)
				}
			}
			if filepath.Base(path) == "kustomization.yaml" {
				continue
			}
			objs, err := testenv.DecodeFile(path)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, obj := range objs {
				if g := obj.GroupVersionKind().Group; g != "" && g != "contacts.contactconverter.io" {
					continue // another operator's kind (a CloudNativePG Cluster)
				}
				obj.SetNamespace(namespace)
				if err := env.Client.Create(ctx, obj); err != nil {
					t.Errorf("%s: %s %q rejected: %v", filepath.Base(path), obj.GetKind(), obj.GetName(), err)
				}
				count++
			}
		}
		if count < 3 {
			t.Fatalf("found %d sample objects, want at least 3", count)
		}
	})

	t.Run("defaults are applied", func(t *testing.T) {
		obj := parse(t, validConversion)
		obj.SetNamespace(ns.Name)
		obj.SetName("defaults")
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]any{
			"spec.uniqueKey":                    "email",
			"spec.conflicts.policy":             "Manual",
			"spec.schedule.timeZone":            "UTC",
			"spec.schedule.pauseOutsideWindow":  true,
			"spec.parallelism":                  int64(1),
			"spec.database.sqlite.path":         "contacts.db",
			"spec.sources[1].sql.secretRef.key": "uri",
		} {
			if got := lookup(obj.Object, path); got != want {
				t.Errorf("%s = %v (%T), want %v", path, got, got, want)
			}
		}
	})

	cases := []struct {
		name   string
		base   string
		mutate string // a YAML merge applied to the base spec
		edit   func(spec map[string]any)
		want   string
	}{
		{name: "csv and sql together", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["sql"] = map[string]any{"secretRef": map[string]any{"name": "x"}, "query": "SELECT 1"}
		}, want: "set exactly one of csv or sql in each source"},
		{name: "neither csv nor sql", base: validConversion, edit: func(s map[string]any) {
			delete(src(s, 0), "csv")
		}, want: "set exactly one of csv or sql in each source"},
		{name: "two csv locations", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"].(map[string]any)["url"] = "https://example.com/a.csv"
		}, want: "set exactly one of csv.configMapKeyRef, csv.secretKeyRef, csv.url, csv.s3, csv.persistentVolumeClaim or csv.path"},
		{name: "no csv location", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"] = map[string]any{"delimiter": ";"}
		}, want: "set exactly one of csv.configMapKeyRef, csv.secretKeyRef, csv.url, csv.s3, csv.persistentVolumeClaim or csv.path"},
		{name: "duplicate source names", base: validConversion, edit: func(s map[string]any) {
			src(s, 1)["name"] = "fair"
		}, want: "Duplicate value"},
		{name: "source name not a DNS label", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["name"] = "Salon X"
		}, want: "must be a DNS label"},
		{name: "no sources", base: validConversion, edit: func(s map[string]any) {
			s["sources"] = []any{}
		}, want: "spec.sources: Invalid value"},
		{name: "window start not HH:MM", base: validConversion, edit: func(s map[string]any) {
			s["schedule"] = map[string]any{"windows": []any{map[string]any{"start": "25:00", "end": "07:00"}}}
		}, want: "must be a time of day as HH:MM in 24-hour form"},
		{name: "unknown day", base: validConversion, edit: func(s map[string]any) {
			s["schedule"] = map[string]any{"windows": []any{map[string]any{"days": []any{"Monday"}, "start": "19:00", "end": "07:00"}}}
		}, want: `Unsupported value: "Monday"`},
		{name: "time zone with spaces", base: validConversion, edit: func(s map[string]any) {
			s["schedule"] = map[string]any{"timeZone": "Central European Time"}
		}, want: "must be an IANA time zone name"},
		{name: "language not ISO 639-1", base: validConversion, edit: func(s map[string]any) {
			s["defaultLanguage"] = "xx"
		}, want: "must be a two-letter ISO 639-1 language code"},
		{name: "upper-case language", base: validConversion, edit: func(s map[string]any) {
			s["languages"] = []any{"nl", "FR"}
		}, want: "must be a two-letter ISO 639-1 language code"},
		{name: "default language outside languages", base: validConversion, edit: func(s map[string]any) {
			s["defaultLanguage"] = "de"
		}, want: "defaultLanguage must be one of languages"},
		{name: "alias to a language not offered", base: validConversion, edit: func(s map[string]any) {
			s["languageAliases"] = map[string]any{"deutsch": "de"}
		}, want: "every languageAliases value must be one of languages"},
		{name: "unique key not mapped by every source", base: validConversion, edit: func(s map[string]any) {
			s["uniqueKey"] = "customerNumber"
			delete(src(s, 1), "columns")
		}, want: "uniqueKey must be 'email' or a field that every source maps in its columns"},
		{name: "resolution on an undeclared field", base: validConversion, edit: func(s map[string]any) {
			s["conflicts"] = map[string]any{"resolutions": []any{map[string]any{"key": "a@b.be", "field": "shoeSize", "value": "42"}}}
		}, want: "conflicts.resolutions[].field must be email, firstName, lastName, language or a field mapped"},
		{name: "unknown conflict policy", base: validConversion, edit: func(s map[string]any) {
			s["conflicts"] = map[string]any{"policy": "Newest"}
		}, want: `Unsupported value: "Newest"`},
		{name: "parallelism above 64", base: validConversion, edit: func(s map[string]any) {
			s["parallelism"] = 65
		}, want: "should be less than or equal to 64"},
		{name: "parallelism zero", base: validConversion, edit: func(s map[string]any) {
			s["parallelism"] = 0
		}, want: "should be greater than or equal to 1"},
		{name: "parallel shards on SQLite", base: validConversion, edit: func(s map[string]any) {
			s["parallelism"] = 4
		}, want: "parallelism above 1 needs database.postgres"},
		{name: "two databases", base: validConversion, edit: func(s map[string]any) {
			s["database"].(map[string]any)["postgres"] = map[string]any{"secretRef": map[string]any{"name": "db"}}
		}, want: "set exactly one of database.postgres or database.sqlite"},
		{name: "no database", base: validConversion, edit: func(s map[string]any) {
			s["database"] = map[string]any{}
		}, want: "set exactly one of database.postgres or database.sqlite"},
		{name: "sqlite path escaping the volume", base: validConversion, edit: func(s map[string]any) {
			s["database"].(map[string]any)["sqlite"].(map[string]any)["path"] = "../etc/contacts.db"
		}, want: "database.sqlite.path must be relative to the volume and must not contain '..'"},
		{name: "url without http", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"] = map[string]any{"url": "ftp://example.com/list.csv"}
		}, want: "csv.url must start with https:// or http://"},
		{name: "two places for one list", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"].(map[string]any)["s3"] = map[string]any{"bucket": "lists", "key": "a.csv"}
		}, want: "set exactly one of csv.configMapKeyRef, csv.secretKeyRef, csv.url, csv.s3, csv.persistentVolumeClaim or csv.path"},
		{name: "s3 endpoint without http", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"] = map[string]any{"s3": map[string]any{"endpoint": "minio:9000", "bucket": "lists", "key": "a.csv"}}
		}, want: "csv.s3.endpoint must start with https:// or http://"},
		{name: "s3 bucket name", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"] = map[string]any{"s3": map[string]any{"bucket": "My_Lists", "key": "a.csv"}}
		}, want: "spec.sources[0].csv.s3.bucket: Invalid value"},
		{name: "claim path escaping the claim", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"] = map[string]any{"persistentVolumeClaim": map[string]any{"claimName": "exports", "path": "lists/../../etc/passwd"}}
		}, want: "csv.persistentVolumeClaim.path is relative to the claim's root and may not contain '..'"},
		{name: "unknown delimiter", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"].(map[string]any)["delimiter"] = ":"
		}, want: `Unsupported value: ":"`},
		{name: "unknown encoding", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["csv"].(map[string]any)["encoding"] = "latin9"
		}, want: `Unsupported value: "latin9"`},
		{name: "column field with a dash", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["columns"] = map[string]any{"e-mail": "E-mail"}
		}, want: "columns keys are field names"},
		{name: "every row an opt-out, and an opt-out column", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["optOuts"] = map[string]any{"allRows": true}
			src(s, 0)["columns"] = map[string]any{"email": "E-mail", "optOut": "Unsubscribed"}
		}, want: "optOuts.allRows makes every row an opt-out: remove columns.optOut"},
		{name: "unknown opt-out scope", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["optOuts"] = map[string]any{"allRows": true, "scope": "Everything"}
		}, want: `Unsupported value: "Everything"`},
		{name: "pod start timeout too short", base: validConversion, edit: func(s map[string]any) {
			s["job"] = map[string]any{"podStartTimeout": "2s"}
		}, want: "job.podStartTimeout must be a duration between 10s and 24h, such as 10m"},
		{name: "unknown opt-out kind", base: validConversion, edit: func(s map[string]any) {
			src(s, 0)["optOuts"] = map[string]any{"allRows": true, "kind": "SoftBounce"}
		}, want: `spec.sources[0].optOuts.kind: Unsupported value: "SoftBounce": supported values: "Unsubscribe", "Bounce", "Complaint"`},
		{name: "rule segment named like a source", base: validConversion, edit: func(s map[string]any) {
			s["segments"] = []any{map[string]any{"name": "shop", "match": map[string]any{"language": "fr"}}}
		}, want: "a rule segment's name must differ from every source's segment name"},
		{name: "rule segment without criteria", base: validConversion, edit: func(s map[string]any) {
			s["segments"] = []any{map[string]any{"name": "all", "match": map[string]any{}}}
		}, want: "segments[].match needs at least one of language, sources or fields"},
		{name: "rule segment on an unknown source", base: validConversion, edit: func(s map[string]any) {
			s["segments"] = []any{map[string]any{"name": "old", "match": map[string]any{"sources": []any{"fair-2017"}}}}
		}, want: "segments[].match.sources must name sources declared in sources[].name"},
		{name: "center default language not offered", base: validCenter, edit: func(s map[string]any) {
			s["defaultLanguage"] = "fr"
		}, want: "defaultLanguage must be one of languages"},
		{name: "center language without translations", base: validCenter, edit: func(s map[string]any) {
			s["languages"] = []any{"nl", "es"}
		}, want: `Unsupported value: "es"`},
		{name: "topic without a title in the default language", base: validCenter, edit: func(s map[string]any) {
			s["topics"] = []any{map[string]any{"name": "news", "title": map[string]any{"en": "News"}}}
		}, want: "every topic needs a title in defaultLanguage"},
		{name: "topic title in a language not offered", base: validCenter, edit: func(s map[string]any) {
			s["topics"] = []any{map[string]any{"name": "news", "title": map[string]any{"nl": "Nieuws", "fr": "Nouvelles"}}}
		}, want: "topic titles and descriptions may only use the languages listed in languages"},
		{name: "trusted proxy not a CIDR", base: validCenter, edit: func(s map[string]any) {
			s["trustedProxies"] = []any{"10.0.0.1"}
		}, want: "trustedProxies entries must be CIDRs"},
		{name: "link TTL too short", base: validCenter, edit: func(s map[string]any) {
			s["linkTTL"] = "30s"
		}, want: "linkTTL must be a duration between 5m and 8760h"},
		{name: "privacy policy not a URL", base: validCenter, edit: func(s map[string]any) {
			s["organization"].(map[string]any)["privacyPolicyURL"] = "acme.example/privacy"
		}, want: "organization.privacyPolicyURL must start with https:// or http://"},
		{name: "center without topics", base: validCenter, edit: func(s map[string]any) {
			s["topics"] = []any{}
		}, want: "spec.topics: Invalid value"},
		{name: "center with zero replicas", base: validCenter, edit: func(s map[string]any) {
			s["replicas"] = 0
		}, want: "should be greater than or equal to 1"},
		{name: "center with replicas on SQLite", base: validCenter, edit: func(s map[string]any) {
			s["database"] = map[string]any{"sqlite": map[string]any{"persistentVolumeClaim": "contacts"}}
			s["replicas"] = 2
		}, want: "replicas above 1 need database.postgres"},
		{name: "center behind an ingress without trustedProxies", base: validCenter, edit: func(s map[string]any) {
			s["ingress"] = map[string]any{"host": "prefs.acme.example"}
		}, want: "trustedProxies: list the CIDRs of the Ingress controller's pods"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, tc.base)
			obj.SetNamespace(ns.Name)
			obj.SetName(strings.ToLower(obj.GetKind()) + "-" + strconv.Itoa(i))
			tc.edit(obj.Object["spec"].(map[string]any))
			err := env.Client.Create(ctx, obj)
			if err == nil {
				t.Fatalf("accepted; want rejection with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("rejected with\n  %v\nwant a message containing\n  %q", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
	if len(cases) < 15 {
		t.Fatalf("only %d invalid manifests; the suite promises at least 15", len(cases))
	}
}

func src(spec map[string]any, i int) map[string]any {
	return spec["sources"].([]any)[i].(map[string]any)
}

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

// lookup follows a path like "spec.sources[1].sql.secretRef.key".
func lookup(obj map[string]any, path string) any {
	var cur any = obj
	for _, part := range strings.Split(path, ".") {
		idx := -1
		if i := strings.Index(part, "["); i >= 0 {
			idx = int(part[i+1] - '0')
			part = part[:i]
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
		if idx >= 0 {
			list, ok := cur.([]any)
			if !ok || idx >= len(list) {
				return nil
			}
			cur = list[idx]
		}
	}
	return cur
}
