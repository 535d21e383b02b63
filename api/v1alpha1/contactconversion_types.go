package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContactConversionSpec declares how a tenant's contact lists merge into one
// deduplicated database, and when the merge may run.
//
// +kubebuilder:validation:XValidation:rule="self.uniqueKey == 'email' || self.sources.all(s, has(s.columns) && self.uniqueKey in s.columns)",message="uniqueKey must be 'email' or a field that every source maps in its columns",fieldPath=".uniqueKey"
// +kubebuilder:validation:XValidation:rule="!has(self.languages) || self.defaultLanguage in self.languages",message="defaultLanguage must be one of languages",fieldPath=".defaultLanguage"
// +kubebuilder:validation:XValidation:rule="!has(self.languageAliases) || !has(self.languages) || self.languageAliases.all(k, self.languageAliases[k] in self.languages)",message="every languageAliases value must be one of languages",fieldPath=".languageAliases"
// +kubebuilder:validation:XValidation:rule="!has(self.segments) || self.segments.all(r, !self.sources.exists(s, (has(s.segment) ? s.segment : s.name) == r.name))",message="a rule segment's name must differ from every source's segment name",fieldPath=".segments"
// +kubebuilder:validation:XValidation:rule="!has(self.segments) || self.segments.all(r, !has(r.match.sources) || r.match.sources.all(n, self.sources.exists(s, s.name == n)))",message="segments[].match.sources must name sources declared in sources[].name",fieldPath=".segments"
// +kubebuilder:validation:XValidation:rule="!has(self.conflicts.resolutions) || self.conflicts.resolutions.all(r, r.field in ['email', 'firstName', 'lastName', 'language'] || self.sources.exists(s, has(s.columns) && r.field in s.columns))",message="conflicts.resolutions[].field must be email, firstName, lastName, language or a field mapped in some source's columns",fieldPath=".conflicts.resolutions"
// +kubebuilder:validation:XValidation:rule="!has(self.database.sqlite) || self.parallelism <= 1",message="parallelism above 1 needs database.postgres: an SQLite file has a single writer",fieldPath=".parallelism"
type ContactConversionSpec struct {
	// UniqueKey is the contact field that identifies a person across lists:
	// `email` (the default) or any field mapped in every source's columns,
	// such as a customer number.
	// +kubebuilder:default=email
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_]*$`
	// +optional
	UniqueKey string `json:"uniqueKey,omitempty"`

	// DefaultLanguage is given to every contact whose language is missing,
	// unknown or outside languages. Each such assignment is counted.
	DefaultLanguage LanguageCode `json:"defaultLanguage"`

	// Languages lists the ISO 639-1 codes the tenant offers. Empty means any
	// valid code is kept.
	// +listType=set
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Languages []LanguageCode `json:"languages,omitempty"`

	// LanguageAliases maps free text found in the lists to a code, and wins
	// over the built-in recognition, e.g. {"vlaams": "nl", "Brussels": "fr"}.
	// Keys are matched case- and whitespace-insensitively.
	// +kubebuilder:validation:MaxProperties=500
	// +optional
	LanguageAliases map[string]LanguageCode `json:"languageAliases,omitempty"`

	// Sources are the old lists. Each becomes a segment of the merged
	// database, and its displayName is recorded as a contact's source.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Sources []Source `json:"sources"`

	// Segments are extra segments computed after the merge from rules.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Segments []RuleSegment `json:"segments,omitempty"`

	// Conflicts says how different values for the same contact and field are
	// settled.
	// +kubebuilder:default={}
	// +optional
	Conflicts ConflictsSpec `json:"conflicts,omitempty"`

	// Database is where the merged contacts are written.
	Database DatabaseSpec `json:"database"`

	// Schedule restricts runs to off-peak windows.
	// +kubebuilder:default={}
	// +optional
	Schedule ScheduleSpec `json:"schedule,omitempty"`

	// Suspend pauses the conversion: a running Job is suspended (its pods
	// stop after checkpointing) and nothing starts until it is false again.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Parallelism is the number of shards, each run by one index of an
	// Indexed Job.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Parallelism int32 `json:"parallelism,omitempty"`

	// Job tunes the Kubernetes Job that runs the merge.
	// +optional
	Job JobSpec `json:"job,omitempty"`
}

// Source is one old contact list.
//
// +kubebuilder:validation:XValidation:rule="has(self.csv) != has(self.sql)",message="set exactly one of csv or sql in each source"
// +kubebuilder:validation:XValidation:rule="!has(self.optOuts) || !self.optOuts.allRows || !has(self.columns) || !('optOut' in self.columns)",message="optOuts.allRows makes every row an opt-out: remove columns.optOut, or set allRows to false to read that column",fieldPath=".optOuts.allRows"
type Source struct {
	// Name identifies the source; it is the default segment name, so it must
	// be a DNS label (lower-case letters, digits and '-').
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	Name string `json:"name"`

	// DisplayName is the provenance label stored in each contact's sources,
	// e.g. "Salon X 2018". Defaults to name.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// Segment overrides the segment the source's contacts join. Several
	// sources may share one segment.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	// +optional
	Segment string `json:"segment,omitempty"`

	// CSV reads a delimited text file (or an .xlsx workbook's first sheet).
	// +optional
	CSV *CSVSource `json:"csv,omitempty"`

	// SQL reads rows from a PostgreSQL query.
	// +optional
	SQL *SQLSource `json:"sql,omitempty"`

	// Columns maps a contact field to the source's column header, e.g.
	// {email: "E-mail", firstName: "Voornaam"}. Known fields are email,
	// firstName, lastName, language and optOut; any other name is a custom
	// field. Without columns, well-known headers in nl, fr, en and de are
	// recognised.
	// +kubebuilder:validation:MaxProperties=100
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[A-Za-z][A-Za-z0-9_]{0,62}$'))",message="columns keys are field names: a letter, then letters, digits or '_', at most 63 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) > 0 && size(self[k]) <= 256)",message="columns values are header names of 1 to 256 characters"
	// +optional
	Columns map[string]string `json:"columns,omitempty"`

	// OptOuts says how the opt-outs this source carries apply: from its
	// optOut column, or from every row (allRows) for an old platform's
	// unsubscribe, bounce or complaint export.
	// +optional
	OptOuts *OptOuts `json:"optOuts,omitempty"`
}

// OptOutScope is how far an imported opt-out reaches.
// +kubebuilder:validation:Enum=Segment;Global
type OptOutScope string

// Opt-out scopes.
const (
	// OptOutScopeSegment unsubscribes the source's segment only.
	OptOutScopeSegment OptOutScope = "Segment"
	// OptOutScopeGlobal sets the contact's global opt-out: every segment
	// reads as unsubscribed.
	OptOutScopeGlobal OptOutScope = "Global"
)

// OptOutKind is why an old platform stopped mailing an address.
// +kubebuilder:validation:Enum=Unsubscribe;Bounce;Complaint
type OptOutKind string

// Opt-out kinds.
const (
	// OptOutKindUnsubscribe: the contact unsubscribed.
	OptOutKindUnsubscribe OptOutKind = "Unsubscribe"
	// OptOutKindBounce: mail to the address bounced hard (Mailchimp's
	// "cleaned"); the address is also marked undeliverable.
	OptOutKindBounce OptOutKind = "Bounce"
	// OptOutKindComplaint: the contact reported a mail as spam.
	OptOutKindComplaint OptOutKind = "Complaint"
)

// OptOuts configures a source's opt-outs.
type OptOuts struct {
	// AllRows makes every row of the source an opt-out, as in an old
	// platform's unsubscribed, cleaned or blocklist export. Such a source
	// never subscribes anyone to anything; its contacts are kept, opted out.
	// +optional
	AllRows bool `json:"allRows,omitempty"`
	// Scope of the opt-outs: Segment (the default) unsubscribes the
	// source's segment; Global sets the global opt-out. An audience-wide
	// unsubscribe is Global.
	// +kubebuilder:default=Segment
	// +optional
	Scope OptOutScope `json:"scope,omitempty"`
	// Kind of the opt-outs, kept on their consent evidence: Unsubscribe
	// (the default), Bounce (a hard bounce, which also marks the address
	// undeliverable) or Complaint (a spam report).
	// +kubebuilder:default=Unsubscribe
	// +optional
	Kind OptOutKind `json:"kind,omitempty"`
}

// CSVSource reads a delimited file from exactly one place.
//
// +kubebuilder:validation:XValidation:rule="[has(self.configMapKeyRef), has(self.secretKeyRef), has(self.url), has(self.s3), has(self.persistentVolumeClaim), has(self.path)].filter(x, x).size() == 1",message="set exactly one of csv.configMapKeyRef, csv.secretKeyRef, csv.url, csv.s3, csv.persistentVolumeClaim or csv.path"
type CSVSource struct {
	// ConfigMapKeyRef reads the file from a ConfigMap key (data or binaryData).
	// +optional
	ConfigMapKeyRef *KeySelector `json:"configMapKeyRef,omitempty"`

	// SecretKeyRef reads the file from a Secret key.
	// +optional
	SecretKeyRef *KeySelector `json:"secretKeyRef,omitempty"`

	// URL downloads the file over HTTP(S).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="csv.url must start with https:// or http://"
	// +optional
	URL string `json:"url,omitempty"`

	// S3 reads the file, or several files, from an S3-compatible object
	// store (AWS S3, GCS with HMAC keys, MinIO, Ceph RGW, SeaweedFS),
	// streamed.
	// +optional
	S3 *S3Location `json:"s3,omitempty"`

	// PersistentVolumeClaim reads the file, or several files, from a claim
	// of the conversion's namespace, mounted read-only into its Job.
	// +optional
	PersistentVolumeClaim *ClaimFiles `json:"persistentVolumeClaim,omitempty"`

	// MaxSize caps the download of url (default 2Gi): a larger file fails
	// the run as bad input.
	// +optional
	MaxSize *resource.Quantity `json:"maxSize,omitempty"`

	// Member picks the file to read when the list is a zip archive (a
	// Mailchimp export holds several CSVs): a name, or a glob such as
	// "*/unsubscribed_*.csv". Empty: the archive's only file. Archives and
	// gzip are recognised by their first bytes, whatever the name.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Member string `json:"member,omitempty"`

	// MaxUncompressedSize caps what a gzip-compressed list or the archive's
	// member may expand to (default 16Gi), against zip bombs: a larger one
	// fails the run as bad input.
	// +optional
	MaxUncompressedSize *resource.Quantity `json:"maxUncompressedSize,omitempty"`

	// Path reads a local file; used by `contact-converter convert -f`, where
	// it is relative to the manifest's folder. It may be a glob, as
	// s3.key.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Path string `json:"path,omitempty"`

	// Delimiter is one of "," ";" "|" or a tab; empty detects it.
	// +kubebuilder:validation:Enum=",";";";"|";"\t"
	// +optional
	Delimiter string `json:"delimiter,omitempty"`

	// Encoding of the file; empty detects it (byte-order mark, then UTF-8,
	// then Mac Roman for lines ending in a lone CR, otherwise Windows-1252).
	// ibm850 is Excel's "CSV (MS-DOS)" in Western Europe; macintosh is Excel
	// for Mac's "CSV (Macintosh)".
	// +kubebuilder:validation:Enum=utf-8;windows-1252;iso-8859-1;macintosh;ibm850;utf-16;utf-16le;utf-16be
	// +optional
	Encoding string `json:"encoding,omitempty"`
}

// S3Location is an object, or the objects a glob matches, in a bucket.
type S3Location struct {
	// Endpoint of the store, such as https://storage.googleapis.com or
	// http://minio.storage.svc:9000. Empty: AWS S3 in region. An internal
	// address is refused unless the operator allows its network
	// (--allow-url-cidrs), as for csv.url.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="csv.s3.endpoint must start with https:// or http://"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Region of the bucket (default us-east-1).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9-]*$`
	// +optional
	Region string `json:"region,omitempty"`

	// Bucket holding the list.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Key of the object, or a glob such as "exports/2024-*.csv": the objects
	// it matches are read in name order as one list with the same columns.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Key string `json:"key"`

	// PathStyle addresses the bucket in the path (endpoint/bucket/key), as
	// MinIO and most self-hosted stores need, instead of a host name.
	// +optional
	PathStyle bool `json:"pathStyle,omitempty"`

	// SecretRef names a Secret of the namespace holding AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and, optionally, AWS_SESSION_TOKEN. Absent:
	// the pod's own identity (IRSA web identity, ECS or EC2 roles, or the
	// same variables in its environment).
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
}

// ClaimFiles is a file, or the files a glob matches, on a
// PersistentVolumeClaim.
type ClaimFiles struct {
	// ClaimName of a PersistentVolumeClaim in the same namespace. Several
	// sources may read from one claim.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ClaimName string `json:"claimName"`

	// Path of the file inside the claim, or a glob such as
	// "exports/2024-*.csv" (files read in name order as one list).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="csv.persistentVolumeClaim.path is relative to the claim's root and may not contain '..'"
	Path string `json:"path"`
}

// SQLSource reads contacts from a PostgreSQL query.
type SQLSource struct {
	// SecretRef names the Secret and key holding the PostgreSQL URI.
	SecretRef SecretKeyReference `json:"secretRef"`

	// Query returns one row per contact; column names are matched like CSV
	// headers.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16384
	Query string `json:"query"`
}

// RuleSegment is a segment computed after the merge.
type RuleSegment struct {
	// Name of the segment, a DNS label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	Name string `json:"name"`

	// Match selects the contacts; every criterion given must hold.
	Match SegmentMatch `json:"match"`
}

// SegmentMatch selects contacts. Every criterion given must hold.
//
// +kubebuilder:validation:XValidation:rule="has(self.language) || has(self.sources) || has(self.fields)",message="segments[].match needs at least one of language, sources or fields"
type SegmentMatch struct {
	// Language selects contacts with this language.
	// +optional
	Language LanguageCode `json:"language,omitempty"`

	// Sources selects contacts found in any of these sources (by name).
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:MaxLength=63
	// +optional
	Sources []string `json:"sources,omitempty"`

	// Fields selects contacts whose fields equal these values, compared
	// case-insensitively after trimming.
	// +kubebuilder:validation:MaxProperties=20
	// +optional
	Fields map[string]string `json:"fields,omitempty"`
}

// ConflictPolicy settles different values for the same contact and field.
// +kubebuilder:validation:Enum=Manual;FirstSource;LastSource
type ConflictPolicy string

const (
	// ConflictPolicyManual keeps the first value provisionally and reports
	// the conflict until a resolution names the value.
	ConflictPolicyManual ConflictPolicy = "Manual"
	// ConflictPolicyFirstSource takes the value of the earliest source.
	ConflictPolicyFirstSource ConflictPolicy = "FirstSource"
	// ConflictPolicyLastSource takes the value of the latest source.
	ConflictPolicyLastSource ConflictPolicy = "LastSource"
)

// ConflictsSpec settles conflicting values.
type ConflictsSpec struct {
	// Policy is Manual (the default), FirstSource or LastSource, by the
	// order of sources.
	// +kubebuilder:default=Manual
	// +optional
	Policy ConflictPolicy `json:"policy,omitempty"`

	// Resolutions settle single conflicts: for the contact with this key,
	// the field takes this value. They win over the policy.
	// +listType=map
	// +listMapKey=key
	// +listMapKey=field
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Resolutions []Resolution `json:"resolutions,omitempty"`
}

// Resolution settles one conflict.
type Resolution struct {
	// Key of the contact, as normalised (for email: lower case).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=320
	Key string `json:"key"`

	// Field in conflict.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Field string `json:"field"`

	// Value to keep. It may be empty.
	// +kubebuilder:validation:MaxLength=1024
	Value string `json:"value"`
}

// Weekday is a day of the week, in its three-letter English form.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// ScheduleSpec restricts runs to off-peak windows.
type ScheduleSpec struct {
	// Windows when the conversion may run. None means any time.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=21
	// +optional
	Windows []Window `json:"windows,omitempty"`

	// TimeZone is the IANA zone the windows are read in, e.g.
	// Europe/Brussels.
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$')",message="must be an IANA time zone name such as Europe/Brussels or UTC"
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// NotBefore holds every run until this time (RFC 3339).
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`

	// PauseOutsideWindow suspends a running Job when its window closes, and
	// resumes it at the next window. False lets a started run finish.
	// +kubebuilder:default=true
	// +optional
	PauseOutsideWindow *bool `json:"pauseOutsideWindow,omitempty"`
}

// Window is a daily time range. When end is before start the window crosses
// midnight and days name the day it starts on; when end equals start the
// window lasts 24 hours.
type Window struct {
	// Days the window starts on. Empty means every day.
	// +listType=set
	// +kubebuilder:validation:MaxItems=7
	// +optional
	Days []Weekday `json:"days,omitempty"`

	// Start time, HH:MM in 24-hour form.
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="must be a time of day as HH:MM in 24-hour form, such as 07:00 or 19:30"
	Start string `json:"start"`

	// End time, HH:MM in 24-hour form.
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="must be a time of day as HH:MM in 24-hour form, such as 07:00 or 19:30"
	End string `json:"end"`
}

// JobSpec tunes the Job that runs the merge.
type JobSpec struct {
	// Resources of the converter container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// BackoffLimit is the number of retries before the run is Failed.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`

	// ActiveDeadlineSeconds bounds the run's total time, pauses excluded.
	// +kubebuilder:validation:Minimum=60
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// ServiceAccountName runs the Job under an existing ServiceAccount. Empty
	// means the operator creates one limited to this conversion. An existing
	// one needs what that one gets: get this conversion, get and patch its
	// status, get, patch and update the Secret NAME-conflicts and the
	// ConfigMap NAME-inventory, and get the Secrets and ConfigMaps the spec
	// names.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// NodeSelector of the Job's pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the Job's pods.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// ImagePullSecrets the Job's pods pull the operator's image with.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Affinity of the Job's pods. With an SQLite database shared with a
	// PreferenceCenter, the operator adds its own pod affinity term.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// PodAnnotations are added to the Job's pods.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`

	// PodLabels are added to the Job's pods; the operator's own labels win.
	// +optional
	PodLabels map[string]string `json:"podLabels,omitempty"`

	// PodStartTimeout is how long a Job's pod may stay Pending (not
	// scheduled, pulling its image, waiting for its volume) before the
	// conversion reports why: in the Ready condition, in an Event, and as
	// Stalled when waiting cannot help.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="job.podStartTimeout must be a duration between 10s and 24h, such as 10m"
	// +optional
	PodStartTimeout *metav1.Duration `json:"podStartTimeout,omitempty"`
}

// QueueReason says which cap a queued conversion waits on.
// +kubebuilder:validation:Enum=ClusterCap;NamespaceCap
type QueueReason string

const (
	// QueueReasonClusterCap: the cluster-wide cap on running conversions
	// (--max-concurrent-conversions).
	QueueReasonClusterCap QueueReason = "ClusterCap"
	// QueueReasonNamespaceCap: the cap per namespace
	// (--max-concurrent-conversions-per-namespace).
	QueueReasonNamespaceCap QueueReason = "NamespaceCap"
)

// QueueStatus tells why and since when a conversion waits for a slot, and
// its place in the queue when it was last looked at.
type QueueStatus struct {
	// Reason names the cap it waits on.
	Reason QueueReason `json:"reason"`
	// Since is when it started waiting.
	Since metav1.Time `json:"since"`
	// Position in the queue, 1 being next, when the conversion was last
	// looked at: a freed slot goes to the first.
	// +optional
	Position int32 `json:"position,omitempty"`
}

// ContactConversionStatus is what the operator and the running merge report.
type ContactConversionStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase summarises the state: Pending, Waiting, Running, Paused,
	// ConflictsPending, Succeeded or Failed.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// Conditions: Ready, Reconciling and Stalled (kstatus), plus Running,
	// Suspended, ConflictsResolved and Complete.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// NextWindowStart is when the next run may start (or resume).
	// +optional
	NextWindowStart *metav1.Time `json:"nextWindowStart,omitempty"`

	// NextWindowEnd is when that window closes.
	// +optional
	NextWindowEnd *metav1.Time `json:"nextWindowEnd,omitempty"`

	// StartTime is when the current run's Job was created.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the last run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// LastSuccessTime is when a run last succeeded (its conflicts resolved or
	// not). It stays while later runs start or fail.
	// +optional
	LastSuccessTime *metav1.Time `json:"lastSuccessTime,omitempty"`

	// Queue is set while the conversion waits for a free slot.
	// +optional
	Queue *QueueStatus `json:"queue,omitempty"`

	// JobName is the Job of the current or last run.
	// +optional
	JobName string `json:"jobName,omitempty"`

	// Progress of the current or last run, written by the merge itself.
	// +optional
	Progress *Progress `json:"progress,omitempty"`

	// Conflicts found by the last run.
	// +optional
	Conflicts *ConflictsStatus `json:"conflicts,omitempty"`

	// Languages reports default-language assignments and unrecognised values.
	// +optional
	Languages *LanguagesStatus `json:"languages,omitempty"`

	// LastHandledRunRequest echoes the last run-requested-at annotation
	// value acted upon, so one request never runs twice.
	// +optional
	LastHandledRunRequest string `json:"lastHandledRunRequest,omitempty"`
}

// Progress counts the work of a run.
type Progress struct {
	// SourcesTotal is the number of sources.
	SourcesTotal int32 `json:"sourcesTotal"`
	// SourcesDone is the number of sources fully read.
	SourcesDone int32 `json:"sourcesDone"`
	// RowsRead is the number of data rows read from all sources.
	RowsRead int64 `json:"rowsRead"`
	// RowsRejected is the number of rows without a valid key.
	RowsRejected int64 `json:"rowsRejected"`
	// Contacts is the number of distinct contacts.
	Contacts int64 `json:"contacts"`
	// DuplicatesMerged is the number of rows merged into an existing contact.
	DuplicatesMerged int64 `json:"duplicatesMerged"`
	// Percent is the run's progress, 0 to 100.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Percent int32 `json:"percent"`
	// OptOutsImported counts the rows that carried an opt-out, by scope.
	// +optional
	OptOutsImported *OptOutCounts `json:"optOutsImported,omitempty"`
	// Shards are the progress of each shard of a sharded run (spec.parallelism
	// above 1); the counts above are their sum.
	// +listType=map
	// +listMapKey=index
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Shards []ShardProgress `json:"shards,omitempty"`
}

// ShardProgress is one shard's progress.
type ShardProgress struct {
	// Index of the shard, from 0.
	Index int32 `json:"index"`
	// Job is the run's Job: entries of an earlier run's shards do not count.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Job string `json:"job,omitempty"`
	// Percent of the shard's work done.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Percent int32 `json:"percent"`
	// SourcesDone, RowsRead, RowsRejected and OptOutsImported count what
	// this shard read itself: each shard reads its share of the lists.
	// +optional
	SourcesDone  int32 `json:"sourcesDone,omitempty"`
	RowsRead     int64 `json:"rowsRead"`
	RowsRejected int64 `json:"rowsRejected"`
	// +optional
	OptOutsImported *OptOutCounts `json:"optOutsImported,omitempty"`
	// Contacts and DuplicatesMerged of the shard's partitions.
	Contacts         int64 `json:"contacts"`
	DuplicatesMerged int64 `json:"duplicatesMerged"`
}

// OptOutCounts counts imported opt-outs by scope.
type OptOutCounts struct {
	Segment int64 `json:"segment"`
	Global  int64 `json:"global"`
}

// ConflictsStatus summarises conflicting values.
type ConflictsStatus struct {
	// Total is the number of conflicts found.
	Total int64 `json:"total"`
	// Unresolved is the number still awaiting a resolution.
	Unresolved int64 `json:"unresolved"`
	// Sample shows a few unresolved conflicts, with masked keys and no
	// values: a status is no place for personal data.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Sample []ConflictSample `json:"sample,omitempty"`
	// ReportSecret names the Secret holding the full list as CSV
	// (conflicts.csv), keys and values included.
	// +optional
	ReportSecret string `json:"reportSecret,omitempty"`
}

// ConflictSample is one conflict, without its values.
type ConflictSample struct {
	// Key of the contact, masked (m•••@example.fr).
	Key string `json:"key"`
	// Field in conflict.
	Field string `json:"field"`
	// Values is how many different values the lists hold.
	Values int32 `json:"values"`
}

// LanguagesStatus reports language normalisation.
type LanguagesStatus struct {
	// AssignedDefault counts contacts given defaultLanguage.
	AssignedDefault int64 `json:"assignedDefault"`
	// UnknownValues lists the most frequent unrecognised raw values.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +optional
	UnknownValues []ValueCount `json:"unknownValues,omitempty"`
}

// ValueCount is a raw value and how often it was seen.
type ValueCount struct {
	// Value as found in a list.
	Value string `json:"value"`
	// Count of rows with that value.
	Count int64 `json:"count"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cconv;ccv,categories=contacts
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.progress.percent`
// +kubebuilder:printcolumn:name="Contacts",type=integer,JSONPath=`.status.progress.contacts`
// +kubebuilder:printcolumn:name="Conflicts",type=integer,JSONPath=`.status.conflicts.unresolved`
// +kubebuilder:printcolumn:name="Next Window",type=string,JSONPath=`.status.nextWindowStart`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Job",type=string,JSONPath=`.status.jobName`,priority=1
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Global Opt-outs",type=integer,JSONPath=`.status.progress.optOutsImported.global`,priority=1
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// ContactConversion merges a tenant's contact lists into one deduplicated
// database with segments, inside off-peak windows.
type ContactConversion struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ContactConversionSpec   `json:"spec"`
	Status ContactConversionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ContactConversionList is a list of ContactConversion.
type ContactConversionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ContactConversion `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ContactConversion{}, &ContactConversionList{})
}
