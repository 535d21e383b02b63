package v1alpha1

import corev1 "k8s.io/api/core/v1"

// LanguageCode is a two-letter ISO 639-1 language code, in lower case.
//
// +kubebuilder:validation:MinLength=2
// +kubebuilder:validation:MaxLength=2
// +kubebuilder:validation:XValidation:rule="self in ['aa','ab','ae','af','ak','am','an','ar','as','av','ay','az','ba','be','bg','bi','bm','bn','bo','br','bs','ca','ce','ch','co','cr','cs','cu','cv','cy','da','de','dv','dz','ee','el','en','eo','es','et','eu','fa','ff','fi','fj','fo','fr','fy','ga','gd','gl','gn','gu','gv','ha','he','hi','ho','hr','ht','hu','hy','hz','ia','id','ie','ig','ii','ik','io','is','it','iu','ja','jv','ka','kg','ki','kj','kk','kl','km','kn','ko','kr','ks','ku','kv','kw','ky','la','lb','lg','li','ln','lo','lt','lu','lv','mg','mh','mi','mk','ml','mn','mr','ms','mt','my','na','nb','nd','ne','ng','nl','nn','no','nr','nv','ny','oc','oj','om','or','os','pa','pi','pl','ps','pt','qu','rm','rn','ro','ru','rw','sa','sc','sd','se','sg','si','sk','sl','sm','sn','so','sq','sr','ss','st','su','sv','sw','ta','te','tg','th','ti','tk','tl','tn','to','tr','ts','tt','tw','ty','ug','uk','ur','uz','ve','vi','vo','wa','wo','xh','yi','yo','za','zh','zu']",message="must be a two-letter ISO 639-1 language code in lower case, such as en, fr, nl or de"
type LanguageCode string

// KeySelector names one key of a ConfigMap or Secret in the resource's own
// namespace. There is no namespace field: references across namespaces are
// impossible by construction.
type KeySelector struct {
	// Name of the ConfigMap or Secret, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`

	// Key inside the ConfigMap's data (or binaryData) or the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// SecretKeyReference names a Secret in the resource's own namespace and one of
// its keys, defaulting to `uri` as in CloudNativePG's application secrets.
type SecretKeyReference struct {
	// Name of the Secret, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`

	// Key of the Secret holding a PostgreSQL URI (postgres://...).
	// +kubebuilder:default=uri
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// LocalObjectReference names an object in the resource's own namespace.
type LocalObjectReference struct {
	// Name of the object, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// DatabaseSpec says where the merged contact database lives. Exactly one of
// postgres or sqlite is set.
//
// +kubebuilder:validation:XValidation:rule="has(self.postgres) != has(self.sqlite)",message="set exactly one of database.postgres or database.sqlite"
type DatabaseSpec struct {
	// Postgres stores contacts in PostgreSQL; the URI is read from a Secret.
	// +optional
	Postgres *PostgresDatabase `json:"postgres,omitempty"`

	// SQLite stores contacts in an embedded SQLite file on a
	// PersistentVolumeClaim.
	// +optional
	SQLite *SQLiteDatabase `json:"sqlite,omitempty"`
}

// PostgresDatabase reads a PostgreSQL URI from a Secret.
type PostgresDatabase struct {
	// SecretRef names the Secret and key holding the URI.
	SecretRef SecretKeyReference `json:"secretRef"`
}

// SQLiteDatabase is an SQLite file on a PersistentVolumeClaim.
type SQLiteDatabase struct {
	// PersistentVolumeClaim is the name of a claim in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	PersistentVolumeClaim string `json:"persistentVolumeClaim"`

	// Path of the database file inside the volume.
	// +kubebuilder:default="contacts.db"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="database.sqlite.path must be relative to the volume and must not contain '..'"
	// +optional
	Path string `json:"path,omitempty"`
}

// PodOptions tune the pods the operator runs: resources, scheduling,
// metadata and registry access.
type PodOptions struct {
	// Resources of the container. Empty: the operator's defaults.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// NodeSelector of the pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the pods.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the pods. With an SQLite database shared with a
	// conversion, the operator adds its own pod affinity term.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// TopologySpreadConstraints of the pods.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// PriorityClassName of the pods.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// Annotations added to the pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels added to the pods; the operator's own labels win.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// ImagePullSecrets the pods pull the operator's image with.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
}
