package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/testenv"
	"github.com/contactconverter/contact-converter/test/cluster"
)

func kubectl(t *testing.T, c *cluster.Cluster, args ...string) string {
	t.Helper()
	out, err := c.Kubectl(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// applyDemo applies config/samples/demo, as a user would.
func applyDemo(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	kubectl(t, c, "apply", "-k", filepath.Join(testenv.RepoRoot(), "config", "samples", "demo"))
}

func conversion(ns, name string) *ccv1.ContactConversion {
	return &ccv1.ContactConversion{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// waitPhase waits for a conversion's phase.
func waitPhase(t *testing.T, c *cluster.Cluster, cc *ccv1.ContactConversion, phase ccv1.Phase, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, cc.Name+" "+string(phase), func() string {
		if err := get(t, c.Client, cc); err != nil {
			return err.Error()
		}
		if cc.Status.Phase != phase {
			msg := ""
			if cond := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionReady); cond != nil {
				msg = cond.Message
			}
			return "phase " + string(cc.Status.Phase) + ": " + msg
		}
		return ""
	})
}

// runNow asks for a run at once, ignoring windows.
func runNow(t *testing.T, c *cluster.Cluster, ns, name string) {
	t.Helper()
	kubectl(t, c, "-n", ns, "annotate", "--overwrite", "contactconversion", name,
		ccv1.RunRequestedAtAnnotation+"="+time.Now().UTC().Format(time.RFC3339))
}

// exportClaim exports the SQLite database on a claim, from a copy, so the
// test never changes the files the Pods use.
func exportClaim(t *testing.T, c *cluster.Cluster, ns, claim string) string {
	t.Helper()
	src := filepath.Join(c.NodeDataDir(), "claims", ns, claim)
	dst := t.TempDir()
	for _, f := range []string{"contacts.db", "contacts.db-wal"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			if f == "contacts.db-wal" {
				continue
			}
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(c.Binary, "export", "--database", "sqlite:"+filepath.Join(dst, "contacts.db")).Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return string(out)
}

func golden(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "tenant", "expected-export.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// signer reads a preference center's generated signing key.
func signer(t *testing.T, c *cluster.Cluster, pc *ccv1.PreferenceCenter) *linktoken.Signer {
	t.Helper()
	var s corev1.Secret
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: pc.Namespace, Name: desired.SigningSecretName(pc)}, &s); err != nil {
		t.Fatal(err)
	}
	sg, err := linktoken.NewSigner(s.Data)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

// pageAddress is the address of a ready preference-center Pod.
func pageAddress(t *testing.T, c *cluster.Cluster, pc *ccv1.PreferenceCenter) string {
	t.Helper()
	var addr string
	eventually(t, 90*time.Second, "a ready preference-center pod", func() string {
		var pods corev1.PodList
		if err := c.Client.List(context.Background(), &pods, client.InNamespace(pc.Namespace),
			client.MatchingLabels{desired.LabelPreferenceCenter: pc.Name}); err != nil {
			return err.Error()
		}
		for _, p := range pods.Items {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					addr = "http://" + p.Status.PodIP + ":8080"
					return ""
				}
			}
		}
		return "none ready"
	})
	return addr
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func oneClick(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func execOutput(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).Output()
	return string(out), err
}
