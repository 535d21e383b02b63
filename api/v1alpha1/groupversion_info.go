// Package v1alpha1 contains the API of contact-converter: ContactConversion,
// which merges a tenant's contact lists into one deduplicated database, and
// PreferenceCenter, the contact-facing page that serves that database.
//
// +kubebuilder:object:generate=true
// +groupName=contacts.contactconverter.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "contacts.contactconverter.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
