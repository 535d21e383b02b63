package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SourceDisplayName is the provenance label recorded for the source's
// contacts: displayName, or name when empty.
func (s *Source) SourceDisplayName() string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return s.Name
}

// SegmentName is the segment the source's contacts join: segment, or name
// when empty.
func (s *Source) SegmentName() string {
	if s.Segment != "" {
		return s.Segment
	}
	return s.Name
}

// OptOutKind is why the source's opt-outs were made: Unsubscribe unless
// set.
func (s *Source) OptOutKind() OptOutKind {
	if s.OptOuts != nil && s.OptOuts.Kind != "" {
		return s.OptOuts.Kind
	}
	return OptOutKindUnsubscribe
}

// OptOutScope is how far the source's opt-outs reach: Segment unless set.
func (s *Source) OptOutScope() OptOutScope {
	if s.OptOuts != nil && s.OptOuts.Scope != "" {
		return s.OptOuts.Scope
	}
	return OptOutScopeSegment
}

// KeyField is the unique key field, `email` when unset.
func (s *ContactConversionSpec) KeyField() string {
	if s.UniqueKey == "" {
		return "email"
	}
	return s.UniqueKey
}

// ConflictPolicyOrDefault is the conflict policy, Manual when unset.
func (s *ContactConversionSpec) ConflictPolicyOrDefault() ConflictPolicy {
	if s.Conflicts.Policy == "" {
		return ConflictPolicyManual
	}
	return s.Conflicts.Policy
}

// TimeZoneOrDefault is the schedule's time zone, UTC when unset.
func (s *ScheduleSpec) TimeZoneOrDefault() string {
	if s.TimeZone == "" {
		return "UTC"
	}
	return s.TimeZone
}

// PausesOutsideWindow tells whether a running Job is suspended when its
// window closes (true when unset).
func (s *ScheduleSpec) PausesOutsideWindow() bool {
	return s.PauseOutsideWindow == nil || *s.PauseOutsideWindow
}

// SecretKey is the key to read, `uri` when unset.
func (r *SecretKeyReference) SecretKey() string {
	if r.Key == "" {
		return "uri"
	}
	return r.Key
}

// SQLitePath is the database file inside the volume, contacts.db when unset.
func (d *SQLiteDatabase) SQLitePath() string {
	if d.Path == "" {
		return "contacts.db"
	}
	return d.Path
}

// Reference kinds.
const (
	KindSecret    = "Secret"
	KindConfigMap = "ConfigMap"
	KindPVC       = "PersistentVolumeClaim"
)

// +kubebuilder:object:generate=false

// Reference is an object in the resource's namespace that its spec needs.
type Reference struct {
	// Kind is Secret, ConfigMap or PersistentVolumeClaim.
	Kind string
	// Name of the object.
	Name string
	// Key that must exist in its data; empty for a claim.
	Key string
	// Field is the spec path that names it, for error messages.
	Field string
}

// References lists what the database spec needs.
func (d *DatabaseSpec) References(field string) []Reference {
	switch {
	case d.Postgres != nil:
		r := d.Postgres.SecretRef
		return []Reference{{Kind: KindSecret, Name: r.Name, Key: r.SecretKey(), Field: field + ".postgres.secretRef"}}
	case d.SQLite != nil:
		return []Reference{{Kind: KindPVC, Name: d.SQLite.PersistentVolumeClaim, Field: field + ".sqlite.persistentVolumeClaim"}}
	}
	return nil
}

// S3AccessKeyIDKey is the key a csv.s3.secretRef Secret must hold, beside
// AWS_SECRET_ACCESS_KEY, as AWS tools name them.
const S3AccessKeyIDKey = "AWS_ACCESS_KEY_ID"

// References lists the Secrets, ConfigMaps and claims the conversion reads,
// in spec order.
func (s *ContactConversionSpec) References() []Reference {
	var refs []Reference
	for i, src := range s.Sources {
		field := fmt.Sprintf("spec.sources[%d]", i)
		switch {
		case src.CSV != nil && src.CSV.ConfigMapKeyRef != nil:
			r := src.CSV.ConfigMapKeyRef
			refs = append(refs, Reference{Kind: KindConfigMap, Name: r.Name, Key: r.Key, Field: field + ".csv.configMapKeyRef"})
		case src.CSV != nil && src.CSV.SecretKeyRef != nil:
			r := src.CSV.SecretKeyRef
			refs = append(refs, Reference{Kind: KindSecret, Name: r.Name, Key: r.Key, Field: field + ".csv.secretKeyRef"})
		case src.CSV != nil && src.CSV.S3 != nil && src.CSV.S3.SecretRef != nil:
			refs = append(refs, Reference{Kind: KindSecret, Name: src.CSV.S3.SecretRef.Name, Key: S3AccessKeyIDKey, Field: field + ".csv.s3.secretRef"})
		case src.CSV != nil && src.CSV.PersistentVolumeClaim != nil:
			refs = append(refs, Reference{Kind: KindPVC, Name: src.CSV.PersistentVolumeClaim.ClaimName, Field: field + ".csv.persistentVolumeClaim.claimName"})
		case src.SQL != nil:
			r := src.SQL.SecretRef
			refs = append(refs, Reference{Kind: KindSecret, Name: r.Name, Key: r.SecretKey(), Field: field + ".sql.secretRef"})
		}
	}
	return append(refs, s.Database.References("spec.database")...)
}

// DefaultPodStartTimeout applies when spec.job.podStartTimeout is unset.
const DefaultPodStartTimeout = 10 * time.Minute

// PodStartTimeoutOrDefault is how long a Job's pod may stay Pending before the
// conversion says why.
func (s *JobSpec) PodStartTimeoutOrDefault() time.Duration {
	if s.PodStartTimeout == nil {
		return DefaultPodStartTimeout
	}
	return s.PodStartTimeout.Duration
}

// ValidatePodMetadata checks pod labels and annotations as the API server
// will on the pods the operator makes from them, naming the field at fault.
func ValidatePodMetadata(labels, annotations map[string]string, labelsPath, annotationsPath *field.Path) error {
	errs := metav1validation.ValidateLabels(labels, labelsPath)
	errs = append(errs, apivalidation.ValidateAnnotations(annotations, annotationsPath)...)
	return errs.ToAggregate()
}

// ConflictsSecretName names the Secret holding the conflict report
// (conflicts.csv): it holds personal data, so it is a Secret.
func (cc *ContactConversion) ConflictsSecretName() string {
	return TruncateName(cc.Name, 253-len("-conflicts")) + "-conflicts"
}

// InventoryConfigMapName names the ConfigMap holding the inventory: counts
// and names, no personal data.
func (cc *ContactConversion) InventoryConfigMapName() string {
	return TruncateName(cc.Name, 253-len("-inventory")) + "-inventory"
}

// TruncateName cuts a name to n bytes, without a trailing '-' or '.', so a
// suffix can follow it in a name of limited length.
func TruncateName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimRight(s[:n], "-.")
}

// RunHash identifies the parts of a spec that change a merge's result.
// Pausing, windows and Job tuning are left out, so changing them never
// replaces a running Job.
func (s *ContactConversionSpec) RunHash() string {
	relevant := s.DeepCopy()
	relevant.Suspend = false
	relevant.Schedule = ScheduleSpec{}
	relevant.Job = JobSpec{}
	data, err := json.Marshal(relevant)
	if err != nil {
		panic(err) // a spec always marshals
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}
