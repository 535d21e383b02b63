package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/inventory"
	"github.com/contactconverter/contact-converter/internal/testenv"
	"github.com/contactconverter/contact-converter/internal/testwrap"
)

// pluginCluster is a control plane and a kubeconfig for it.
type pluginCluster struct {
	t          *testing.T
	c          client.Client
	kubeconfig string
}

func startPluginCluster(t *testing.T) *pluginCluster {
	env := testenv.Start(t)
	path := env.Kubeconfig(t)
	for _, ns := range []string{"tenant-acme", "tenant-beta"} {
		if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	return &pluginCluster{t: t, c: env.Client, kubeconfig: path}
}

// kubectl runs `kubectl contacts ARGS` and returns its output and error
// stream.
func (p *pluginCluster) kubectl(args ...string) (stdout, stderr string, err error) {
	cmd := newPluginCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"--kubeconfig", p.kubeconfig}, args...))
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// create makes a conversion, applied by manager, with its status.
func (p *pluginCluster) create(w *testwrap.ConversionWrapper, manager string) *ccv1.ContactConversion {
	p.t.Helper()
	ctx := context.Background()
	cc := w.Obj()
	status := cc.Status
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cc)
	if err != nil {
		p.t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: raw}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(u.Object, "metadata", "generation")
	if err := p.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager)); err != nil {
		p.t.Fatal(err)
	}
	if err := p.c.Get(ctx, client.ObjectKeyFromObject(cc), cc); err != nil {
		p.t.Fatal(err)
	}
	status.ObservedGeneration = cc.Generation
	cc.Status = status
	if err := p.c.Status().Update(ctx, cc); err != nil {
		p.t.Fatal(err)
	}
	return cc
}

func running(name, ns string) *testwrap.ConversionWrapper {
	now := time.Now()
	return testwrap.MakeConversion(name, ns).Window("Europe/Brussels", "19:00", "07:00").Phase(ccv1.PhaseRunning).Job(name+"-run-7c9f").
		NextWindow(now.Add(4*time.Hour), now.Add(16*time.Hour)).
		Progress(ccv1.Progress{SourcesTotal: 1, RowsRead: 500000, RowsRejected: 12, Percent: 42}).
		Condition(ccv1.ConditionReady, metav1.ConditionFalse, ccv1.ReasonJobRunning, "Job "+name+"-run-7c9f is running", now)
}

func TestPluginStatus(t *testing.T) {
	p := startPluginCluster(t)
	ctx := context.Background()
	p.create(running("acme", "tenant-acme"), "kubectl")
	p.create(testwrap.MakeConversion("beta", "tenant-beta").Phase(ccv1.PhaseWaiting), "kubectl")
	job := testwrap.MakeJob("acme-run-7c9f", "tenant-acme").Obj()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "acme-run-7c9f-0-x2k4p", Namespace: "tenant-acme", Labels: map[string]string{batchv1.JobNameLabel: "acme-run-7c9f"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "convert", Image: "contact-converter"}}}}
	pc := testwrap.MakeCenter("acme", "tenant-acme").SQLite("acme-contacts").Conversion("acme").Languages("nl").
		Topics(ccv1.Topic{Name: "fairs", Segment: "salon-x-2018", Title: map[string]string{"nl": "Beurzen"}}).
		Edit(func(pc *ccv1.PreferenceCenter) { pc.Spec.Organization.ContactEmail = "privacy@acme.example" }).Obj()
	for _, obj := range []client.Object{job, pod, pc} {
		if err := p.c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	out, _, err := p.kubectl("status", "-n", "tenant-acme")
	if err != nil || !strings.Contains(out, "NEXT WINDOW (UTC)") || !strings.Contains(out, "acme ") || !strings.Contains(out, "42%") || strings.Contains(out, "beta") {
		t.Errorf("status -n tenant-acme: %v\n%s", err, out)
	}
	out, _, err = p.kubectl("status", "-A")
	if err != nil || !strings.Contains(out, "tenant-beta") || !strings.Contains(out, "Waiting") || !strings.HasPrefix(out, "NAMESPACE") {
		t.Errorf("status -A: %v\n%s", err, out)
	}
	out, _, err = p.kubectl("status", "acme", "-n", "tenant-acme")
	for _, want := range []string{"ContactConversion: tenant-acme/acme", "Running [########------------] 42%", "every day 19:00-07:00 (Europe/Brussels)",
		"Job:               acme-run-7c9f", "pod acme-run-7c9f-0-x2k4p", "PreferenceCenter:  acme"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("status acme lacks %q: %v\n%s", want, err, out)
		}
	}
	out, _, err = p.kubectl("status", "acme", "-n", "tenant-acme", "-o", "json")
	var got ccv1.ContactConversion
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.Name != "acme" || got.Kind != "ContactConversion" || got.Status.Progress.Percent != 42 {
		t.Errorf("status -o json: %v\n%s", err, out)
	}
	if _, _, err := p.kubectl("status", "nope", "-n", "tenant-acme"); err == nil ||
		err.Error() != "no ContactConversion nope in namespace tenant-acme; kubectl contacts status -A lists them" {
		t.Errorf("an unknown name: %v", err)
	}
	if _, _, err := p.kubectl("status", "-o", "wide"); err == nil || !strings.Contains(err.Error(), "-o wide: use table, json, yaml") {
		t.Errorf("an unknown output: %v", err)
	}
}

func TestPluginDrivesAConversion(t *testing.T) {
	p := startPluginCluster(t)
	ctx := context.Background()
	cc := p.create(running("acme", "tenant-acme").Conflicts(2, 1), "argocd-controller")
	get := func() *ccv1.ContactConversion {
		t.Helper()
		if err := p.c.Get(ctx, client.ObjectKeyFromObject(cc), cc); err != nil {
			t.Fatal(err)
		}
		return cc
	}

	// Pause and resume, with the warning that Argo CD puts spec back.
	out, errOut, err := p.kubectl("pause", "acme", "-n", "tenant-acme")
	if err != nil || !get().Spec.Suspend || !strings.Contains(out, "spec.suspend is true") ||
		!strings.Contains(errOut, "warning: Argo CD applies this ContactConversion from git") || !strings.Contains(errOut, "set `suspend: true` under spec in git") {
		t.Errorf("pause: %v, suspend %v\n%s%s", err, cc.Spec.Suspend, out, errOut)
	}
	if _, _, err := p.kubectl("resume", "acme", "-n", "tenant-acme"); err != nil || get().Spec.Suspend {
		t.Errorf("resume: %v, suspend %v", err, cc.Spec.Suspend)
	}

	// run-now --wait returns once the operator echoes the request.
	go func() {
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			var c ccv1.ContactConversion
			if p.c.Get(ctx, client.ObjectKeyFromObject(cc), &c) != nil || c.Annotations[ccv1.RunRequestedAtAnnotation] == "" {
				continue
			}
			c.Status.LastHandledRunRequest = c.Annotations[ccv1.RunRequestedAtAnnotation]
			c.Status.Phase = ccv1.PhaseRunning
			_ = p.c.Status().Update(ctx, &c)
			return
		}
	}()
	out, _, err = p.kubectl("run-now", "acme", "-n", "tenant-acme", "--wait", "--timeout", "30s")
	if err != nil || !strings.Contains(out, "run requested at") || !strings.Contains(out, "handled: phase Running: Job acme-run-7c9f is running") {
		t.Errorf("run-now --wait: %v\n%s", err, out)
	}
	if _, err := time.Parse(time.RFC3339Nano, get().Annotations[ccv1.RunRequestedAtAnnotation]); err != nil {
		t.Errorf("run-requested-at: %v", err)
	}

	// Conflicts from the report Secret, and a resolution.
	report := "key,field,values,resolved\nmarie@example.fr,firstName,Marie | Marie-Claire,false\nluc@example.be,firstName,Luc | Lucas,true\n"
	if err := p.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-conflicts", Namespace: "tenant-acme"},
		Data: map[string][]byte{"conflicts.csv": []byte(report)}}); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = p.kubectl("conflicts", "acme", "-n", "tenant-acme", "--unresolved")
	if err != nil || !strings.Contains(out, "marie@example.fr") || strings.Contains(out, "luc@example.be") || !strings.Contains(errOut, "kubectl contacts resolve acme KEY FIELD VALUE") {
		t.Errorf("conflicts --unresolved: %v\n%s%s", err, out, errOut)
	}
	if out, _, err = p.kubectl("conflicts", "acme", "-n", "tenant-acme", "-o", "csv"); err != nil || out != report {
		t.Errorf("conflicts -o csv: %v\n%s", err, out)
	}
	for _, value := range []string{"Marie", "Marie-Claire"} {
		if _, _, err := p.kubectl("resolve", "acme", "marie@example.fr", "firstName", value, "-n", "tenant-acme"); err != nil {
			t.Fatal(err)
		}
	}
	want := []ccv1.Resolution{{Key: "marie@example.fr", Field: "firstName", Value: "Marie-Claire"}}
	if got := get().Spec.Conflicts.Resolutions; len(got) != 1 || got[0] != want[0] {
		t.Errorf("resolutions = %+v, want %+v", got, want)
	}
}

// The inventory the Job wrote, as Markdown for a processing register, with
// the preference center that serves the data.
func TestPluginInventory(t *testing.T) {
	p := startPluginCluster(t)
	ctx := context.Background()
	cc := p.create(testwrap.MakeConversion("acme", "tenant-acme").Phase(ccv1.PhaseSucceeded), "kubectl")
	if _, _, err := p.kubectl("inventory", "acme", "-n", "tenant-acme"); err == nil ||
		err.Error() != "no inventory yet: the conversion's first run writes it (kubectl contacts status acme)" {
		t.Errorf("before a run: %v", err)
	}
	doc := inventory.Document{Conversion: "tenant-acme/acme", LastImport: "2026-11-29T10:00:00Z", Database: inventory.Database(&cc.Spec),
		Sources: []inventory.Source{{Name: "salon-x-2018", DisplayName: "Salon X | 2018", Origin: inventory.Origin(&cc.Spec.Sources[0]),
			Segment: "salon-x-2018", RowsRead: 7, RowsRejected: 2, Contacts: 5, FieldsKept: []string{"email", "firstName"}}},
		Segments:  []inventory.Segment{{Name: "salon-x-2018", Subscribed: 4, Unsubscribed: 1}},
		Languages: []inventory.Count{{Value: "nl", Count: 5}}, Contacts: 5, GlobalOptOuts: 1, Erasures: 1,
		ConsentEvents: []inventory.Activity{{Month: "2026-11", Action: "unsubscribe", Count: 1}}}
	data, _ := json.Marshal(doc)
	cm := desired.InventoryConfigMap(cc)
	cm.Data = map[string]string{"inventory.json": string(data)}
	pc := testwrap.MakeCenter("acme", "tenant-acme").SQLite("acme-contacts").Conversion("acme").Languages("nl").
		Topics(ccv1.Topic{Name: "fairs", Segment: "salon-x-2018", Title: map[string]string{"nl": "Beurzen"}}).
		Edit(func(pc *ccv1.PreferenceCenter) { pc.Spec.Organization.ContactEmail = "privacy@acme.example" }).
		Edit(func(pc *ccv1.PreferenceCenter) { pc.Spec.Rights.Erasure = ptr.To(false) }).Obj()
	for _, obj := range []client.Object{cm, pc} {
		if err := p.c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := p.kubectl("inventory", "acme", "-n", "tenant-acme")
	want := `# Contact data inventory: tenant-acme/acme

- Last import: 2026-11-29T10:00:00Z
- Where the data lives: SQLite on PersistentVolumeClaim acme-contacts
- Contacts: 5, of which 1 opted out of everything and 0 undeliverable
- Erased on request: 1 (only a salted hash of each address is kept, so it is never imported again)

## Where the data came from

| Source | Origin | Segment | Rows read | Rejected | Contacts | Fields kept | Opt-outs |
|---|---|---|---:|---:|---:|---|---|
| Salon X \| 2018 | file salon-x-2018.csv in ConfigMap acme-lists | salon-x-2018 | 7 | 2 | 5 | email, firstName | - |

## Segments

| Segment | Subscribed | Unsubscribed |
|---|---:|---:|
| salon-x-2018 | 4 | 1 |

## Languages

| Language | Contacts |
|---|---:|
| nl | 5 |

## Consent evidence by month

| Month | Action | Events |
|---|---|---:|
| 2026-11 | unsubscribe | 1 |

## Preference center

| Name | Address | Links valid for | Rights offered |
|---|---|---|---|
| acme | - | 720h0m0s | access and portability, rectification, objection (unsubscribe from everything, one-click) |
`
	if err != nil || out != want {
		t.Errorf("inventory: %v\n%s", err, cmp.Diff(strings.Split(want, "\n"), strings.Split(out, "\n")))
	}
	if out, _, err := p.kubectl("inventory", "acme", "-n", "tenant-acme", "-o", "json"); err != nil || strings.TrimSpace(out) != string(data) {
		t.Errorf("inventory -o json: %v\n%s", err, out)
	}
}

// The support bundle holds what support needs, and no Secret value and no
// address.
func TestPluginReport(t *testing.T) {
	p := startPluginCluster(t)
	ctx := context.Background()
	w := running("acme", "tenant-acme")
	w.Spec.Sources = append(w.Spec.Sources, ccv1.Source{Name: "shop", SQL: &ccv1.SQLSource{
		SecretRef: ccv1.SecretKeyReference{Name: "shop-db", Key: "uri"}, Query: "SELECT email FROM customers"}})
	w.Spec.Conflicts.Resolutions = []ccv1.Resolution{{Key: "marie.dubois@example.fr", Field: "lastName", Value: "Dubois-Lambert"}}
	cc := p.create(w, "kubectl")
	secretValue := "postgres://app:s3cr3t-pw@shop-db:5432/shop"
	env := []corev1.EnvVar{{Name: "DATABASE_URL", Value: secretValue}, {Name: "LOG_FORMAT", Value: "json"}}
	job := testwrap.MakeJob("acme-run-7c9f", "tenant-acme").Env(env...).Obj()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "acme-run-7c9f-0-x2k4p", Namespace: "tenant-acme", Labels: map[string]string{batchv1.JobNameLabel: "acme-run-7c9f"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "convert", Image: "contact-converter", Env: env}}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-db", Namespace: "tenant-acme"}, Data: map[string][]byte{"uri": []byte(secretValue)}}
	event := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "acme.1", Namespace: "tenant-acme"}, Type: corev1.EventTypeWarning, Reason: "BadRow",
		Message:        "row 12 of salon-x-2018: jan.peeters@example.be looked odd",
		InvolvedObject: corev1.ObjectReference{Kind: "ContactConversion", Name: "acme", Namespace: "tenant-acme", UID: cc.UID}, LastTimestamp: metav1.Now()}
	for _, obj := range []client.Object{job, pod, secret, event} {
		if err := p.c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	zipPath := filepath.Join(t.TempDir(), "acme-report.zip")
	out, _, err := p.kubectl("report", "acme", "-n", "tenant-acme", "-o", zipPath)
	if err != nil || !strings.Contains(out, "Secrets are redacted and addresses masked") {
		t.Fatalf("report: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]string{}
	for _, f := range zr.File {
		r, _ := f.Open()
		data, _ := io.ReadAll(r)
		r.Close()
		files[f.Name] = string(data)
	}
	for _, name := range []string{"contactconversion.yaml", "status.txt", "job.yaml", "pods/acme-run-7c9f-0-x2k4p.yaml",
		"logs/acme-run-7c9f-0-x2k4p_convert.log", "events.txt", "secrets.txt", "operator.log"} {
		if _, ok := files[name]; !ok {
			t.Errorf("the bundle lacks %s; it has %v", name, slices.Collect(maps.Keys(files)))
		}
	}
	for name, text := range files {
		for _, secretOrPersonal := range []string{"s3cr3t-pw", "jan.peeters@example.be", "marie.dubois@example.fr", "Dubois-Lambert"} {
			if strings.Contains(text, secretOrPersonal) {
				t.Errorf("%s holds %q", name, secretOrPersonal)
			}
		}
	}
	if !strings.Contains(files["events.txt"], "j•••@example.be looked odd") || !strings.Contains(files["secrets.txt"], `Secret shop-db, key "uri": value redacted`) ||
		!strings.Contains(files["job.yaml"], "value: REDACTED") || !strings.Contains(files["job.yaml"], "value: json") {
		t.Errorf("events:\n%s\nsecrets:\n%s\njob:\n%s", files["events.txt"], files["secrets.txt"], files["job.yaml"])
	}
}
