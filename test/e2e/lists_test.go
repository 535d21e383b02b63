package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/s3test"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
	"github.com/contactconverter/contact-converter/test/cluster"
)

// Lists too big for a ConfigMap: `kubectl contacts upload` puts one on a
// claim (through a short-lived pod, checked against its checksum) and one
// in an S3 bucket; the conversion's Job mounts the claim read-only, streams
// the object, and logs the same checksums.
func TestListsFromAClaimAndAnObjectStore(t *testing.T) {
	c := startCluster(t)
	store := s3test.Start(t, "exports")
	ctx := context.Background()
	create(t, c, namespace("lists"), claim("lists", "contacts"), claim("lists", "exports"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "lists", Name: "s3-keys"},
			StringData: map[string]string{"AWS_ACCESS_KEY_ID": store.AccessKeyID, "AWS_SECRET_ACCESS_KEY": store.SecretAccessKey}})
	cc := tw.MakeConversion("big", "lists").SQLite("contacts").Suspend(true).Sources(
		ccv1.Source{Name: "crm", CSV: &ccv1.CSVSource{PersistentVolumeClaim: &ccv1.ClaimFiles{ClaimName: "exports", Path: "crm/*.csv.gz"}}},
		ccv1.Source{Name: "shop", CSV: &ccv1.CSVSource{S3: &ccv1.S3Location{Endpoint: store.Endpoint, Bucket: "exports", Key: "shop.csv",
			PathStyle: true, SecretRef: &ccv1.LocalObjectReference{Name: "s3-keys"}}}},
	).Obj()
	create(t, c, cc)

	dir := t.TempDir()
	var crm bytes.Buffer
	zw := gzip.NewWriter(&crm)
	_, _ = zw.Write([]byte("email;voornaam\nan@example.be;An\nbo@example.be;Bo\n"))
	_ = zw.Close()
	files := map[string][]byte{"crm.csv.gz": crm.Bytes(), "shop.csv": []byte("email,first\nbo@example.be,Bo\ncy@example.be,Cy\n")}
	sums := map[string]string{}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(data)
		sums[name] = hex.EncodeToString(s[:])
	}
	upload := func(args ...string) string {
		t.Helper()
		out, err := c.KubectlPlugin(ctx, append([]string{"-n", "lists", "upload", "--image", cluster.Image}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := upload("big", "crm", filepath.Join(dir, "crm.csv.gz"), "--to", "crm/2024-11.csv.gz"); !strings.Contains(out, "sha256 "+sums["crm.csv.gz"]) {
		t.Errorf("upload to the claim printed %q, want the checksum %s", out, sums["crm.csv.gz"])
	}
	if out := upload("big", "shop", filepath.Join(dir, "shop.csv")); !strings.Contains(out, "sha256 "+sums["shop.csv"]) {
		t.Errorf("upload to the bucket printed %q, want the checksum %s", out, sums["shop.csv"])
	}
	// The upload pod is gone, and a path the source would not read is refused.
	eventually(t, 30*time.Second, "the upload pod deleted", func() string {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods); err != nil {
			return err.Error()
		}
		for _, p := range pods.Items {
			if strings.Contains(p.Name, "-upload-") {
				return "pod " + p.Name + " is left"
			}
		}
		return ""
	})
	if out, err := c.KubectlPlugin(ctx, "-n", "lists", "upload", "big", "crm", filepath.Join(dir, "crm.csv.gz"), "--to", "other/x.csv"); err == nil ||
		!strings.Contains(out, `--to "other/x.csv" does not match csv.persistentVolumeClaim.path "crm/*.csv.gz"`) {
		t.Errorf("an upload the source would not read: %v", err)
	}

	patchMerge(t, c, "lists", "big", `{"spec":{"suspend":false}}`)
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, 2*time.Minute)
	export := exportClaim(t, c, "lists", "contacts")
	for _, key := range []string{"an@example.be", "bo@example.be", "cy@example.be"} {
		if !strings.Contains(export, key) {
			t.Errorf("the export lacks %s:\n%s", key, export)
		}
	}
	logs := strings.Join(convertLogs(t, c), "\n")
	for name, sum := range sums {
		if !strings.Contains(logs, sum) {
			t.Errorf("the Job's log does not show %s's checksum %s", name, sum)
		}
	}
}
