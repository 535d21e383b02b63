// Package desired builds the Kubernetes objects the operator wants to exist
// (Jobs, RBAC, and later Deployments), as pure functions of a custom resource.
package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Labels and annotations the operator sets on what it creates.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBy       = "contact-converter"
	LabelConversion = "contacts.contactconverter.io/conversion"
	LabelTenant     = "contacts.contactconverter.io/tenant"
	LabelGeneration = "contacts.contactconverter.io/generation"
	// AnnotationRunRequest holds the run-requested-at value a Job serves;
	// such a Job ignores windows.
	AnnotationRunRequest = "contacts.contactconverter.io/run-request"
)

// ConversionLabels are the labels of everything made for a conversion.
func ConversionLabels(cc *ccv1.ContactConversion) map[string]string {
	return map[string]string{
		LabelManagedBy:  ManagedBy,
		LabelConversion: cc.Name,
		LabelTenant:     cc.Namespace,
	}
}

// JobName names the Job of a run: the conversion and its generation, plus a
// hash of the run request for requested re-runs. It fits in a label value.
func JobName(cc *ccv1.ContactConversion, runRequest string) string {
	suffix := "-g" + strconv.FormatInt(cc.Generation, 10)
	if runRequest != "" {
		sum := sha256.Sum256([]byte(runRequest))
		suffix += "-" + hex.EncodeToString(sum[:])[:8]
	}
	return ccv1.TruncateName(cc.Name, 63-len(suffix)) + suffix
}

// ConverterName names the ServiceAccount, Role and RoleBinding of a
// conversion's Jobs.
func ConverterName(cc *ccv1.ContactConversion) string {
	return ccv1.TruncateName(cc.Name, 63-len("-converter")) + "-converter"
}

// LabelSpecHash marks a Job with the merge-relevant spec it runs.
const LabelSpecHash = "contacts.contactconverter.io/spec-hash"
