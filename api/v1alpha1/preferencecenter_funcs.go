package v1alpha1

// References lists the Secrets and claims the preference center needs. The
// generated signing-key Secret is not listed: the operator creates it.
func (s *PreferenceCenterSpec) References() []Reference {
	refs := s.Database.References("spec.database")
	if s.SigningKeySecretRef != nil {
		refs = append(refs, Reference{Kind: KindSecret, Name: s.SigningKeySecretRef.Name, Field: "spec.signingKeySecretRef"})
	}
	if s.APITokenSecretRef != nil {
		refs = append(refs, Reference{Kind: KindSecret, Name: s.APITokenSecretRef.Name, Key: s.APITokenSecretRef.Key, Field: "spec.apiTokenSecretRef"})
	}
	if s.Ingress != nil && s.Ingress.TLSSecretName != "" {
		refs = append(refs, Reference{Kind: KindSecret, Name: s.Ingress.TLSSecretName, Key: "tls.crt", Field: "spec.ingress.tlsSecretName"})
	}
	return refs
}

// Reasons of a PreferenceCenter's conditions (ReasonInvalidSpec and the
// reference reasons are shared with ContactConversion).
const (
	// ReasonAvailable: every replica is updated and ready.
	ReasonAvailable = "Available"
	// ReasonRollingOut: the Deployment is rolling out or scaling.
	ReasonRollingOut = "RollingOut"
)
