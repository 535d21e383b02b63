package e2e

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// A run with conflicts, unknown languages and invalid rows, and a run on a
// list without a header row: no address or cell of the input is then in any
// ConfigMap, Event, status or Pod of the namespace, nor in the Jobs' and the
// operator's logs. (The conflict report is a Secret, which holds them.)
func TestNoPersonalDataInKubernetesObjects(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	ctx := context.Background()
	lists := map[string]string{
		"a.csv": "E-mail,First Name,Language\nzelda.mertens@example.be,Zelda,nl\nyannick.claes@example.be,Yannick,vulcan\nno-address-here,Xavier,fr\nwout@example.be,Wout,wout@example.be\n",
		"b.csv": "E-mail,First Name\nzelda.mertens@example.be,Zeldaline\nyannick.claes@example.be,Yannick\n",
		"c.csv": "victor.peeters@example.be;Victor;Peeters\nursula@example.be;Ursula;Janssens\n",
	}
	create(t, c, namespace("pii"), claim("pii", "contacts"), claim("pii", "other"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "pii", Name: "lists"}, Data: lists})
	// "vulcan", an unknown language, is meant to be listed (it tells which
	// languageAliases to add); the address in wout's language cell is not.
	cells := []string{"zelda.mertens", "yannick.claes", "no-address-here", "wout@example.be", "Zeldaline", "victor.peeters", "ursula@", "Ursula", "Janssens"}

	cc := csvConversion("pii", "merge", ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "a.csv"}})
	cc.Spec.Sources = append(cc.Spec.Sources, ccv1.Source{Name: "second", CSV: &ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "b.csv"}}})
	headerless := csvConversion("pii", "headerless", ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "c.csv"}})
	headerless.Spec.Database = sqliteOn("other")
	headerless.Spec.Sources[0].Columns = map[string]string{"email": "E-mail"}
	create(t, c, cc, headerless)
	waitPhase(t, c, cc, ccv1.PhaseConflictsPending, 90*time.Second)
	waitPhase(t, c, headerless, ccv1.PhaseFailed, 90*time.Second)
	waitEvent(t, c, "pii", "headerless", ccv1.ReasonJobFailed)
	if cc.Status.Conflicts == nil || cc.Status.Conflicts.Unresolved == 0 || cc.Status.Languages == nil || len(cc.Status.Languages.UnknownValues) == 0 {
		t.Fatalf("the run did not produce conflicts and unknown languages to check: %+v", cc.Status)
	}

	var texts = map[string]string{}
	add := func(what string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		texts[what] = string(data)
	}
	var cms corev1.ConfigMapList
	var events eventsv1.EventList
	var ccs ccv1.ContactConversionList
	var pods corev1.PodList
	for _, l := range []client.ObjectList{&cms, &events, &ccs, &pods} {
		if err := c.Client.List(ctx, l, client.InNamespace("pii")); err != nil {
			t.Fatal(err)
		}
	}
	for _, cm := range cms.Items {
		if cm.Name != "lists" { // the input itself
			add("ConfigMap "+cm.Name, cm.Data)
		}
	}
	for _, e := range events.Items {
		add("Event "+e.Name, []string{e.Note, e.Reason})
	}
	for _, x := range ccs.Items {
		add("status of "+x.Name, x.Status)
	}
	for _, p := range pods.Items {
		add("Pod "+p.Name, p.Status)
		add("labels of Pod "+p.Name, p.Labels)
	}
	_ = filepath.WalkDir(c.NodeDataDir(), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (d.Name() == "log" || d.Name() == "termination-log") {
			data, _ := os.ReadFile(path)
			texts[path] = string(data)
		}
		return nil
	})
	if data, err := os.ReadFile(c.LogPath("operator")); err == nil {
		texts["operator log"] = string(data)
	}
	if len(texts) < 6 {
		t.Fatalf("only %d objects and logs to scan", len(texts))
	}
	for what, text := range texts {
		for _, cell := range cells {
			if strings.Contains(text, cell) {
				t.Errorf("%s holds %q", what, cell)
			}
		}
	}
	if !strings.Contains(texts["status of merge"], "vulcan") {
		t.Error("the unknown language vulcan is not listed for languageAliases")
	}
	t.Logf("scanned %d objects and logs; sample %+v; in %s", len(texts), cc.Status.Conflicts.Sample, time.Since(start).Round(time.Second))
}
