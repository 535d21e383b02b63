// Package enginetest gives tests the sample tenant to convert.
package enginetest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"sigs.k8s.io/yaml"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/inputs"
)

// tenantDir is config/samples/tenant, the sample tenant's folder.
func tenantDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "config", "samples", "tenant")
}

// SampleTenant is the sample tenant's conversion spec, and an opener for
// its lists.
func SampleTenant(t testing.TB) (*ccv1.ContactConversionSpec, *inputs.Local) {
	t.Helper()
	dir := tenantDir()
	data, err := os.ReadFile(filepath.Join(dir, "conversion.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cc ccv1.ContactConversion
	if err := yaml.Unmarshal(data, &cc); err != nil {
		t.Fatal(err)
	}
	opener, err := inputs.NewLocal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &cc.Spec, opener
}
