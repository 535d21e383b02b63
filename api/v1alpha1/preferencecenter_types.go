package v1alpha1

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PreferenceCenterSpec declares the contact-facing preference page of a
// tenant's database.
//
// +kubebuilder:validation:XValidation:rule="self.defaultLanguage in self.languages",message="defaultLanguage must be one of languages",fieldPath=".defaultLanguage"
// +kubebuilder:validation:XValidation:rule="!has(self.ingress) || (has(self.trustedProxies) && size(self.trustedProxies) > 0)",message="trustedProxies: list the CIDRs of the Ingress controller's pods (such as 10.0.0.0/8) when ingress is set; otherwise every contact shares the controller's address, in the evidence and the rate limits",fieldPath=".trustedProxies"
// +kubebuilder:validation:XValidation:rule="!has(self.database.sqlite) || !has(self.replicas) || self.replicas <= 1",message="replicas above 1 need database.postgres: an SQLite file on a ReadWriteOnce claim has a single writer",fieldPath=".replicas"
// +kubebuilder:validation:XValidation:rule="self.topics.all(t, self.defaultLanguage in t.title)",message="every topic needs a title in defaultLanguage",fieldPath=".topics"
// +kubebuilder:validation:XValidation:rule="self.topics.all(t, t.title.all(l, l in self.languages) && (!has(t.description) || t.description.all(l, l in self.languages)))",message="topic titles and descriptions may only use the languages listed in languages",fieldPath=".topics"
type PreferenceCenterSpec struct {
	// Database the page reads and writes: the one a ContactConversion filled.
	Database DatabaseSpec `json:"database"`

	// ConversionRef names the ContactConversion that fills the database.
	// While it runs, the page shows a notice and queues changes.
	// +optional
	ConversionRef *LocalObjectReference `json:"conversionRef,omitempty"`

	// Organization is shown on every page.
	Organization Organization `json:"organization"`

	// Languages the pages are offered in.
	// +listType=set
	// +kubebuilder:default={en}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:Enum=de;en;fr;nl
	// +optional
	Languages []string `json:"languages,omitempty"`

	// DefaultLanguage is used when a contact's language is not offered.
	// +kubebuilder:default=en
	// +kubebuilder:validation:Enum=de;en;fr;nl
	// +optional
	DefaultLanguage string `json:"defaultLanguage,omitempty"`

	// Topics are the communications a contact can choose, one per segment.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Topics []Topic `json:"topics"`

	// Rights the page offers; each defaults to true. A disabled right is not
	// shown and its endpoint answers 404.
	// +kubebuilder:default={}
	// +optional
	Rights Rights `json:"rights,omitempty"`

	// SigningKeySecretRef names a Secret whose every data key is accepted to
	// verify links; the key whose name sorts last signs new ones, so keys
	// rotate by adding a newer one. Absent: the operator generates a Secret
	// once and never overwrites it.
	// +optional
	SigningKeySecretRef *LocalObjectReference `json:"signingKeySecretRef,omitempty"`

	// APITokenSecretRef names a Secret key holding the bearer token of the
	// mailing-system API under /api/v1. Absent: the API is disabled.
	// +optional
	APITokenSecretRef *KeySelector `json:"apiTokenSecretRef,omitempty"`

	// LinkTTL is how long a signed link stays valid.
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m') && duration(self) <= duration('8760h')",message="linkTTL must be a duration between 5m and 8760h (one year), such as 720h"
	// +optional
	LinkTTL *metav1.Duration `json:"linkTTL,omitempty"`

	// NetworkPolicy limits who reaches the page's pods.
	// +optional
	NetworkPolicy NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// Pod tunes the page's pods: resources (default 50m CPU and 64Mi
	// requested, 256Mi limit), scheduling, metadata and image pull Secrets.
	// +optional
	Pod PodOptions `json:"pod,omitempty"`

	// Replicas of the page's Deployment.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Ingress exposes the page outside the cluster.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed when
	// recording a client's address as consent evidence.
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="trustedProxies entries must be CIDRs such as 10.0.0.0/8"
	// +optional
	TrustedProxies []string `json:"trustedProxies,omitempty"`
}

// Organization identifies the sender to the contact.
type Organization struct {
	// Name shown on every page.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	Name string `json:"name"`

	// PrivacyPolicyURL is linked from every page.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="organization.privacyPolicyURL must start with https:// or http://"
	PrivacyPolicyURL string `json:"privacyPolicyURL"`

	// ContactEmail for data-protection questions.
	// +kubebuilder:validation:MaxLength=320
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+\.[^@\s]+$`
	// +optional
	ContactEmail string `json:"contactEmail,omitempty"`

	// LogoURL is shown in the page header.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="organization.logoURL must start with https:// or http://"
	// +optional
	LogoURL string `json:"logoURL,omitempty"`
}

// Topic is one kind of communication, backed by a segment.
type Topic struct {
	// Name identifies the topic.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	Name string `json:"name"`

	// Segment whose membership the topic's checkbox sets. Defaults to name.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	// +optional
	Segment string `json:"segment,omitempty"`

	// Title by language code.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=4
	Title map[string]string `json:"title"`

	// Description by language code.
	// +kubebuilder:validation:MaxProperties=4
	// +optional
	Description map[string]string `json:"description,omitempty"`
}

// Rights switches data-subject rights on the page.
type Rights struct {
	// Export lets a contact see and download their data (access and
	// portability).
	// +kubebuilder:default=true
	// +optional
	Export *bool `json:"export,omitempty"`

	// Erasure lets a contact delete their data.
	// +kubebuilder:default=true
	// +optional
	Erasure *bool `json:"erasure,omitempty"`

	// Rectification lets a contact correct their name and language.
	// +kubebuilder:default=true
	// +optional
	Rectification *bool `json:"rectification,omitempty"`
}

// IngressSpec exposes the page.
type IngressSpec struct {
	// Host name of the page.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Host string `json:"host"`

	// ClassName of the Ingress controller.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClassName string `json:"className,omitempty"`

	// TLSSecretName serves the host over TLS with this Secret.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// Annotations of the Ingress, such as cert-manager's
	// cert-manager.io/cluster-issuer or an Ingress controller's settings.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// NetworkPolicySpec limits who reaches the page's pods. Its effect needs a
// CNI that enforces NetworkPolicies.
type NetworkPolicySpec struct {
	// Enabled makes a NetworkPolicy for the page's pods.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// From are the peers that may reach the page's port. Empty: the
	// Ingress controller's namespace (the operator's --ingress-namespace)
	// and the page's own namespace. The metrics port admits only the
	// monitoring namespace (--monitoring-namespace).
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +optional
	From []networkingv1.NetworkPolicyPeer `json:"from,omitempty"`
}

// PreferenceCenterStatus reports the page's state.
type PreferenceCenterStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling and Stalled (kstatus).
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// URL of the page.
	// +optional
	URL string `json:"url,omitempty"`

	// ReadyReplicas of the Deployment.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=prefc,categories=contacts
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// PreferenceCenter runs the page where contacts manage their subscriptions and
// exercise their GDPR rights.
type PreferenceCenter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PreferenceCenterSpec   `json:"spec"`
	Status PreferenceCenterStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PreferenceCenterList is a list of PreferenceCenter.
type PreferenceCenterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PreferenceCenter `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PreferenceCenter{}, &PreferenceCenterList{})
}
