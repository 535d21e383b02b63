package inventory

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Origins name where a list comes from, never a credential.
func TestOrigin(t *testing.T) {
	csv := func(c ccv1.CSVSource) *ccv1.Source { return &ccv1.Source{Name: "s", CSV: &c} }
	got := []string{
		Origin(csv(ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "a.csv"}})),
		Origin(csv(ccv1.CSVSource{URL: "https://user:pw@files.example.com/a.csv?token=x"})),
		Origin(csv(ccv1.CSVSource{S3: &ccv1.S3Location{Bucket: "exports", Key: "2024/*.csv", SecretRef: &ccv1.LocalObjectReference{Name: "keys"}}})),
		Origin(csv(ccv1.CSVSource{PersistentVolumeClaim: &ccv1.ClaimFiles{ClaimName: "uploads", Path: "crm.csv.gz"}})),
		Origin(&ccv1.Source{Name: "s", SQL: &ccv1.SQLSource{SecretRef: ccv1.SecretKeyReference{Name: "shop-db"}}}),
	}
	want := []string{
		"file a.csv in ConfigMap lists",
		"download from files.example.com",
		"object store, bucket exports, key 2024/*.csv",
		"file crm.csv.gz on PersistentVolumeClaim uploads",
		"PostgreSQL query, connection in Secret shop-db",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("origins (-want +got):\n%s", d)
	}
}
