package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/inventory"
	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/testenv"
)

// In a cluster, convert reads the conversion and its lists through the API,
// writes the same database as on a workstation, and reports into the status.
func TestConvertInCluster(t *testing.T) {
	env, cc := clusterTenant(t)
	c, ctx, ns := env.Client, context.Background(), cc.Namespace
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	lists := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-lists"}}

	db := "sqlite:" + filepath.Join(t.TempDir(), "contacts.db")
	if _, err := run(t, "convert", "--namespace", ns, "--name", cc.Name, "--database", db); err != nil {
		t.Fatal(err)
	}
	checkClusterRun(t, c, cc, db)

	// A source whose ConfigMap is gone fails as bad input, naming the source.
	must(c.Delete(ctx, lists))
	_, err := run(t, "convert", "--namespace", ns, "--name", cc.Name, "--database", db)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `spec.sources[0] (salon-x-2018).csv.configMapKeyRef: ConfigMap "acme-lists" not found`) {
		t.Errorf("err %v (exit %d)", err, exitCode(err))
	}
}

// Three shards of an Indexed Job, started at once, each reading its share
// of the lists and merging a third of the partitions into one PostgreSQL
// database. Each reports its own progress; the status shows their sum, and
// the last to finish reports the whole run.
func TestConvertInClusterSharded(t *testing.T) {
	env, cc := clusterTenant(t)
	db := pgtest.NewDatabase(t, pgtest.Start(t), "acme")
	errs := make(chan error, 3)
	for shard := range 3 {
		go func() {
			_, err := run(t, "convert", "--namespace", cc.Namespace, "--name", cc.Name, "--database", db,
				"--shards", "3", "--shard", strconv.Itoa(shard), "--run-id", "job-uid-1")
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	checkClusterRun(t, env.Client, cc, db)
	var read, sources int64
	for _, s := range cc.Status.Progress.Shards {
		if s.Percent != 100 || s.RowsRead >= 21 {
			t.Errorf("shard %d: %d%%, read %d of the 21 rows", s.Index, s.Percent, s.RowsRead)
		}
		read += s.RowsRead
		sources += int64(s.SourcesDone)
	}
	if len(cc.Status.Progress.Shards) != 3 || read != 21 || sources != 5 {
		t.Errorf("the shards read %d rows of 21 and %d sources of 5: %+v", read, sources, cc.Status.Progress.Shards)
	}
}

// clusterTenant starts a control plane holding the sample tenant, its lists in
// a ConfigMap, and points KUBECONFIG at it.
func clusterTenant(t *testing.T) (*testenv.Env, *ccv1.ContactConversion) {
	t.Helper()
	env := testenv.Start(t)
	ctx := context.Background()
	t.Setenv("KUBECONFIG", env.Kubeconfig(t))

	c := env.Client
	ns := "tenant-acme"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	cc, err := readConversion(filepath.Join(tenant, "conversion.yaml"))
	must(err)
	lists := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-lists"}, BinaryData: map[string][]byte{}}
	for i := range cc.Spec.Sources {
		src := &cc.Spec.Sources[i]
		data, err := os.ReadFile(filepath.Join(tenant, src.CSV.Path))
		must(err)
		lists.BinaryData[src.CSV.Path] = data
		src.CSV.ConfigMapKeyRef = &ccv1.KeySelector{Name: "acme-lists", Key: src.CSV.Path}
		src.CSV.Path = ""
	}
	must(c.Create(ctx, lists))
	cc.Namespace, cc.ResourceVersion = ns, ""
	must(c.Create(ctx, cc))
	must(c.Create(ctx, desired.ConflictsSecret(cc))) // the reconciler creates them before the Job
	must(c.Create(ctx, desired.InventoryConfigMap(cc)))
	return env, cc
}

// checkClusterRun checks the database, the status and the conflict report a
// run of the sample tenant leaves.
func checkClusterRun(t *testing.T, c client.Client, cc *ccv1.ContactConversion, db string) {
	t.Helper()
	ctx, ns := context.Background(), cc.Namespace
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The inventory: the lists, where they came from, the counts; no
	// address.
	var cm corev1.ConfigMap
	must(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: cc.InventoryConfigMapName()}, &cm))
	var inv inventory.Document
	must(json.Unmarshal([]byte(cm.Data["inventory.json"]), &inv))
	if inv.Contacts != 10 || len(inv.Sources) != 5 || inv.Sources[0].Origin != "file salon-x-2018.csv in ConfigMap acme-lists" ||
		inv.Sources[4].Contacts != 2 || inv.GlobalOptOuts != 2 || inv.LastImport == "" || strings.Contains(cm.Data["inventory.json"], "@") {
		t.Errorf("inventory:\n%s", cm.Data["inventory.json"])
	}
	got, _ := run(t, "export", "--database", db)
	want, _ := os.ReadFile(filepath.Join(tenant, "expected-export.jsonl"))
	if got != string(want) {
		t.Errorf("the in-cluster export differs from the golden file")
	}

	must(c.Get(ctx, client.ObjectKeyFromObject(cc), cc))
	s := cc.Status
	if s.Progress == nil || s.Progress.Contacts != 10 || s.Progress.RowsRead != 21 || s.Progress.RowsRejected != 3 || s.Progress.Percent != 100 {
		t.Errorf("status.progress = %+v", s.Progress)
	}
	if s.Conflicts == nil || s.Conflicts.Total != 2 || s.Conflicts.Unresolved != 1 || len(s.Conflicts.Sample) != 1 ||
		s.Conflicts.Sample[0].Key != "m•••@example.fr" || s.Conflicts.Sample[0].Values != 2 || s.Conflicts.ReportSecret != "acme-conflicts" {
		t.Errorf("status.conflicts = %+v", s.Conflicts)
	}
	if s.Languages == nil || s.Languages.AssignedDefault != 4 || len(s.Languages.UnknownValues) != 2 {
		t.Errorf("status.languages = %+v", s.Languages)
	}
	owned := false
	for _, mf := range cc.ManagedFields {
		if mf.Manager == "contact-converter-engine" && mf.Subresource == "status" {
			owned = true
		}
	}
	if !owned {
		t.Error("the engine's status fields are not owned by its own field manager")
	}
	var report corev1.Secret
	must(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-conflicts"}, &report))
	if !strings.Contains(string(report.Data["conflicts.csv"]), "marie.dubois@example.fr,firstName,Marie | Marie-Claire,false") ||
		!strings.HasPrefix(string(report.Data["summary"]), "2 conflicts, 1 unresolved") {
		t.Errorf("conflict report: %v", report.Data)
	}
	// No address of the lists, and no value in conflict, is in the status.
	status, _ := json.Marshal(cc.Status)
	for _, line := range strings.Split(string(want), "\n") {
		var e struct{ Key string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Key != "" && strings.Contains(string(status), e.Key) {
			t.Errorf("the status holds the address %s", e.Key)
		}
	}
	if strings.Contains(string(status), "Marie-Claire") {
		t.Error("the status holds a value in conflict")
	}
}
