package monitoring

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	authv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/cli"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
	"github.com/contactconverter/contact-converter/internal/testenv"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runCommand runs a contact-converter command in this process until the
// test ends.
func runCommand(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := cli.NewRootCommand()
		cmd.SetArgs(args)
		done <- cmd.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", args[0], err)
		}
	})
}

// scrape reads metric families from url, retrying while the server starts.
func scrape(t *testing.T, c *http.Client, url, token string) (map[string]*dto.MetricFamily, int) {
	t.Helper()
	var last error
	for range 100 {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, res.StatusCode
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(res.Body)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		return families, res.StatusCode
	}
	t.Fatalf("%s: %v", url, last)
	return nil, 0
}

// The manager serves metrics over HTTPS to the metrics-reader only, with
// one set of series per conversion in each phase; a preference center
// serving requests serves its own. Together they serve every metric the
// alerts and the dashboard read, and the README's table lists them all.
func TestEveryMetricReadIsServed(t *testing.T) {
	env := testenv.Start(t)
	ctx := testenv.Context(t)
	t.Setenv("KUBECONFIG", env.Kubeconfig(t))
	metricsAddr := freeAddr(t)
	runCommand(t, "manager", "--metrics-bind-address", metricsAddr, "--health-probe-bind-address", "0",
		"--max-concurrent-conversions", "3", "--image", "contact-converter:test")

	served := map[string]bool{}
	managerFamilies := scrapeManager(t, ctx, env, metricsAddr)
	for n := range managerFamilies {
		served[n] = true
	}
	for n := range scrapePreferenceCenter(t) {
		served[n] = true
	}
	served["up"] = true // Prometheus's own
	for name, where := range usedNames(t) {
		if !served[name] {
			t.Errorf("%s reads %s, which no scrape serves", where, name)
		}
	}

	// The README's metrics table lists exactly the project's metrics.
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(contact_converter_[a-z_]+)`").FindAllStringSubmatch(string(readme), -1) {
		listed[m[1]] = true
	}
	for name := range served {
		if strings.HasPrefix(name, "contact_converter_") && !listed[name] {
			t.Errorf("metric %s is served but missing from the README's Monitoring table", name)
		}
	}
	for name := range listed {
		if !served[name] {
			t.Errorf("the README lists %s, which no scrape serves", name)
		}
	}
}

// scrapeManager puts conversions in each phase, then scrapes the manager.
func scrapeManager(t *testing.T, ctx context.Context, env *testenv.Env, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	c := env.Client
	ns := "tenant"
	create := func(objs ...client.Object) {
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lists"}, Data: map[string]string{"list.csv": "email\n"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "contacts"}, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}})
	conversion := func(name string, edit func(*ccv1.ContactConversion)) *ccv1.ContactConversion {
		w := tw.MakeConversion(name, ns).CSVFromConfigMap("list", "lists", "list.csv").SQLite("contacts")
		if edit != nil {
			w.Edit(edit)
		}
		cc := w.Obj()
		create(cc)
		return cc
	}
	// Three runs end: one succeeds, one with conflicts pending, one fails.
	// Each reports its progress first, as the engine does.
	ended := map[string]*ccv1.ContactConversion{"done": conversion("done", nil), "conflicts": conversion("conflicts", nil), "failed": conversion("failed", nil)}
	for name, cc := range ended {
		job := waitJob(t, ctx, c, cc)
		report := `{"status":{"progress":{"sourcesTotal":1,"sourcesDone":1,"percent":100,"rowsRead":10,"rowsRejected":1,"contacts":8,"duplicatesMerged":1}}}`
		if name == "conflicts" {
			report = `{"status":{"progress":{"sourcesTotal":1,"sourcesDone":1,"percent":100,"rowsRead":10,"rowsRejected":0,"contacts":8,"duplicatesMerged":2},"conflicts":{"total":3,"unresolved":2,"reportSecret":"conflicts-conflicts"}}}`
		}
		if err := c.Status().Patch(ctx, cc, client.RawPatch("application/merge-patch+json", []byte(report))); err != nil {
			t.Fatal(err)
		}
		finishJob(t, ctx, c, job, name != "failed")
	}
	for name, phase := range map[string]ccv1.Phase{"done": ccv1.PhaseSucceeded, "conflicts": ccv1.PhaseConflictsPending, "failed": ccv1.PhaseFailed} {
		waitPhase(t, ctx, c, ended[name], phase)
	}
	// Three run, one waits for a slot, one for its window, one is
	// suspended, one names a ConfigMap that does not exist.
	for _, name := range []string{"running-1", "running-2", "running-3"} {
		waitPhase(t, ctx, c, conversion(name, nil), ccv1.PhaseRunning)
	}
	queued := conversion("queued", nil)
	far := time.Now().UTC().Add(6 * time.Hour)
	windowed := conversion("windowed", func(cc *ccv1.ContactConversion) {
		cc.Spec.Schedule.Windows = []ccv1.Window{{Start: far.Format("15:04"), End: far.Add(time.Hour).Format("15:04")}}
	})
	paused := conversion("paused", func(cc *ccv1.ContactConversion) { cc.Spec.Suspend = true })
	stalled := conversion("stalled", func(cc *ccv1.ContactConversion) { cc.Spec.Sources[0].CSV.ConfigMapKeyRef.Name = "absent" })
	waitPhase(t, ctx, c, queued, ccv1.PhaseWaiting)
	waitPhase(t, ctx, c, windowed, ccv1.PhaseWaiting)
	waitPhase(t, ctx, c, paused, ccv1.PhasePaused)
	waitPhase(t, ctx, c, stalled, ccv1.PhasePending)
	create(tw.MakeCenter("prefs", ns).SQLite("contacts").Obj())

	// Prometheus's ServiceAccount holds the metrics-reader ClusterRole;
	// another does not.
	reader, err := testenv.DecodeFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "metrics_reader_role.yaml"))
	if err != nil || len(reader) != 1 {
		t.Fatalf("config/rbac/metrics_reader_role.yaml: %v", err)
	}
	create(reader[0],
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prometheus"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nosy"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader[0].GetName()},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "prometheus"}}})
	cs := kubernetes.NewForConfigOrDie(env.Config)
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("a token for %s: %v", sa, err)
		}
		return tr.Status.Token
	}
	https := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	url := "https://" + addr + "/metrics"
	if _, code := scrape(t, https, url, ""); code != http.StatusUnauthorized {
		t.Errorf("a scrape without a token: %d, want 401", code)
	}
	if _, code := scrape(t, https, url, token("nosy")); code != http.StatusForbidden {
		t.Errorf("a scrape by a ServiceAccount without metrics-reader: %d, want 403", code)
	}
	families, code := scrape(t, https, url, token("prometheus"))
	if code != http.StatusOK {
		t.Fatalf("a scrape by the metrics-reader: %d", code)
	}

	phases := map[string]float64{}
	for _, m := range families["contact_converter_conversion_phase"].GetMetric() {
		phases[label(m, "phase")] += m.GetGauge().GetValue()
	}
	want := map[string]float64{"Pending": 1, "Waiting": 2, "Running": 3, "Paused": 1, "ConflictsPending": 1, "Succeeded": 1, "Failed": 1}
	if fmt.Sprint(phases) != fmt.Sprint(want) {
		t.Errorf("conversions by phase from the scrape: %v, want %v", phases, want)
	}
	for _, m := range families["contact_converter_conversion_queued"].GetMetric() {
		if q := m.GetGauge().GetValue(); (label(m, "name") == "queued") != (q == 1) {
			t.Errorf("%s queued = %v", label(m, "name"), q)
		}
	}
	var names []string
	for n := range families {
		if strings.HasPrefix(n, "contact_converter_") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	t.Logf("the manager serves: %s", strings.Join(names, ", "))
	return families
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func waitJob(t *testing.T, ctx context.Context, c client.Client, cc *ccv1.ContactConversion) *batchv1.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var jobs batchv1.JobList
		if err := c.List(ctx, &jobs, client.InNamespace(cc.Namespace), client.MatchingLabels{desired.LabelConversion: cc.Name}); err != nil {
			t.Fatal(err)
		}
		if len(jobs.Items) == 1 {
			return &jobs.Items[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no Job for %s", cc.Name)
	return nil
}

// finishJob plays the Job controller, which envtest does not run.
func finishJob(t *testing.T, ctx context.Context, c client.Client, job *batchv1.Job, succeeded bool) {
	t.Helper()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	start := metav1.NewTime(now.Add(-time.Minute))
	job.Status.StartTime = &start
	cond := func(typ batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now}
	}
	if succeeded {
		job.Status.Succeeded, job.Status.CompletionTime = 1, &now
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
	}
	if err := c.Status().Update(ctx, job); err != nil {
		t.Fatalf("finishing Job %s: %v", job.Name, err)
	}
}

func waitPhase(t *testing.T, ctx context.Context, c client.Client, cc *ccv1.ContactConversion, phase ccv1.Phase) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), cc); err != nil {
			t.Fatal(err)
		}
		if cc.Status.Phase == phase {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: phase %q, want %s", cc.Name, cc.Status.Phase, phase)
}

// scrapePreferenceCenter serves the sample tenant's database, sends it the
// requests contacts and attackers make, and scrapes it.
func scrapePreferenceCenter(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "contacts.db")
	convert := cli.NewRootCommand()
	convert.SetArgs([]string{"convert", "-f", filepath.Join(testenv.RepoRoot(), "config", "samples", "tenant", "conversion.yaml"), "--database", db})
	convert.SetErr(new(strings.Builder))
	if err := convert.Execute(); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "signing")
	key := []byte(strings.Repeat("k", 32))
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "key-1"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	listen, metrics := freeAddr(t), freeAddr(t)
	cfg, _ := json.Marshal(prefconfig.Config{
		Organization: ccv1.Organization{Name: "ACME", PrivacyPolicyURL: "https://acme.example/privacy"},
		Languages:    []string{"nl"}, DefaultLanguage: "nl",
		Topics:  []ccv1.Topic{{Name: "fairs", Segment: "salon-x-2018", Title: map[string]string{"nl": "Beurzen"}}},
		LinkTTL: "720h", PublicURL: "http://" + listen, KeyIsEmail: true, SigningKeysDir: keys,
	})
	config := filepath.Join(dir, "config.json")
	if err := os.WriteFile(config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	runCommand(t, "preference-center", "--config", config, "--database", db, "--listen", listen, "--metrics-listen", metrics)

	plain := &http.Client{Timeout: 10 * time.Second}
	signer, err := linktoken.NewSigner(map[string][]byte{"key-1": key})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Mint("greta@example.de", linktoken.PurposeUnsubscribe, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/u/" + tok, "/u/made-up"} {
		var res *http.Response
		for range 100 {
			if res, err = plain.Post("http://"+listen+path, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	families, code := scrape(t, plain, "http://"+metrics+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("preference center /metrics: %d", code)
	}
	return families
}
