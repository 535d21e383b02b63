package desired

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Paths inside the converter container.
const (
	SpillDir = "/var/lib/contact-converter/spill"
	// ErasureSaltDir holds the database's erasure salt (ErasureSaltKey).
	ErasureSaltDir  = "/etc/contact-converter/erasure-salt"
	ErasureSaltKey  = "salt"
	ErasureSaltFile = ErasureSaltDir + "/" + ErasureSaltKey
	SQLiteDir       = "/var/lib/contact-converter/db"
	// ClaimsDir holds each claim csv.persistentVolumeClaim names, mounted
	// read-only at ClaimsDir/<claim>.
	ClaimsDir = "/var/lib/contact-converter/lists"
	TmpDir    = "/tmp"
)

// ExitInvalidInput is the converter's exit code for input that a retry cannot
// fix (a validation error); the Job's podFailurePolicy fails the Job at once.
const ExitInvalidInput = 2

// DefaultJobResources apply when spec.job.resources is empty.
var DefaultJobResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("250m"),
		corev1.ResourceMemory: resource.MustParse("256Mi"),
	},
	Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
}

// JobEnv is what a conversion Job depends on beyond its conversion: the
// operator's flags, and the objects around it.
type JobEnv struct {
	// Image runs the Job: the operator's own.
	Image string
	// AllowURLCIDRs lists internal networks csv.url may read from
	// (comma-separated); public hosts are always allowed.
	AllowURLCIDRs string
	// PreferenceCenterOnClaim tells that a PreferenceCenter mounts the
	// conversion's SQLite claim: the Job's pods then run on its node.
	PreferenceCenterOnClaim bool
}

// ConversionJob is the Job that runs one merge of cc. runRequest is the
// run-requested-at value it serves, or "" for a scheduled run.
func ConversionJob(cc *ccv1.ContactConversion, env JobEnv, runRequest string) *batchv1.Job {
	spec := &cc.Spec
	labels := ConversionLabels(cc)
	labels[LabelGeneration] = strconv.FormatInt(cc.Generation, 10)
	labels[LabelSpecHash] = cc.Spec.RunHash()
	annotations := map[string]string{}
	if runRequest != "" {
		annotations[AnnotationRunRequest] = runRequest
	}

	args := []string{"convert", "--namespace", cc.Namespace, "--name", cc.Name,
		"--generation", strconv.FormatInt(cc.Generation, 10), "--spill-dir", SpillDir, "--erasure-salt-file", ErasureSaltFile, "--log-format", "json"}
	if env.AllowURLCIDRs != "" {
		args = append(args, "--allow-url-cidrs", env.AllowURLCIDRs)
	}
	volumes := []corev1.Volume{
		{Name: "spill", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("64Mi"))}}},
		erasureSaltVolume(&spec.Database),
	}
	mounts := []corev1.VolumeMount{{Name: "spill", MountPath: SpillDir}, {Name: "tmp", MountPath: TmpDir}, erasureSaltMount}
	if db := spec.Database.SQLite; db != nil {
		volumes = append(volumes, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: db.PersistentVolumeClaim}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "db", MountPath: SQLiteDir})
		args = append(args, "--database", "sqlite:"+SQLiteDir+"/"+db.SQLitePath())
	}
	if claimVolumes, claimMounts := listClaims(spec); len(claimMounts) > 0 {
		volumes = append(volumes, claimVolumes...)
		mounts = append(mounts, claimMounts...)
		args = append(args, "--claims-dir", ClaimsDir)
	}

	parallelism := max(spec.Parallelism, 1)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: JobName(cc, runRequest), Namespace: cc.Namespace,
			Labels: labels, Annotations: annotations,
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To(ptr.Deref(spec.Job.BackoffLimit, 3)),
			ActiveDeadlineSeconds: spec.Job.ActiveDeadlineSeconds,
			Suspend:               ptr.To(false),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{
					// Bad input: retrying cannot help.
					Action: batchv1.PodFailurePolicyActionFailJob,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						ContainerName: ptr.To("convert"),
						Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
						Values:        []int32{ExitInvalidInput},
					},
				},
				{
					// Suspension, eviction or preemption: not the run's fault.
					Action: batchv1.PodFailurePolicyActionIgnore,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
						{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
					},
				},
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMetadata(spec.Job.PodLabels, spec.Job.PodAnnotations, labels, nil),
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					ImagePullSecrets:              spec.Job.ImagePullSecrets,
					Affinity:                      spec.Job.Affinity.DeepCopy(),
					ServiceAccountName:            jobServiceAccount(cc),
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					SecurityContext:               RestrictedPodSecurity(),
					NodeSelector:                  spec.Job.NodeSelector,
					Tolerations:                   spec.Job.Tolerations,
					Volumes:                       volumes,
					Containers: []corev1.Container{{
						Name:                     "convert",
						Image:                    env.Image,
						Args:                     args,
						Env:                      []corev1.EnvVar{{Name: "TMPDIR", Value: TmpDir}},
						Resources:                jobResources(spec),
						SecurityContext:          RestrictedContainerSecurity(),
						VolumeMounts:             mounts,
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					}},
				},
			},
		},
	}
	if db := spec.Database.SQLite; db != nil && env.PreferenceCenterOnClaim {
		SameNodeAsClaim(&job.Spec.Template, db.PersistentVolumeClaim)
	}
	if parallelism > 1 {
		job.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		job.Spec.Completions = ptr.To(parallelism)
		job.Spec.Parallelism = ptr.To(parallelism)
		c := &job.Spec.Template.Spec.Containers[0]
		c.Args = append(c.Args, "--shards", strconv.Itoa(int(parallelism)))
		// The shards hand each other rows through an exchange named after
		// the Job's uid: the same for every shard, new for the next Job.
		c.Env = append(c.Env, corev1.EnvVar{Name: "CONTACT_CONVERTER_RUN_ID", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['" + batchv1.ControllerUidLabel + "']"}}})
	}
	return job
}

// listClaims mounts, read-only, each claim the sources read files from: one
// volume per claim however many sources use it. The SQLite claim, already a
// volume, is mounted a second time, read-only.
func listClaims(spec *ccv1.ContactConversionSpec) ([]corev1.Volume, []corev1.VolumeMount) {
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	seen := map[string]bool{}
	for _, src := range spec.Sources {
		if src.CSV == nil || src.CSV.PersistentVolumeClaim == nil || seen[src.CSV.PersistentVolumeClaim.ClaimName] {
			continue
		}
		claim := src.CSV.PersistentVolumeClaim.ClaimName
		seen[claim] = true
		name := "lists-" + strconv.Itoa(len(seen))
		if db := spec.Database.SQLite; db != nil && db.PersistentVolumeClaim == claim {
			name = "db"
		} else {
			volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: true}}})
		}
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: ClaimsDir + "/" + claim, ReadOnly: true})
	}
	return volumes, mounts
}

func jobServiceAccount(cc *ccv1.ContactConversion) string {
	if cc.Spec.Job.ServiceAccountName != "" {
		return cc.Spec.Job.ServiceAccountName
	}
	return ConverterName(cc)
}

func jobResources(spec *ccv1.ContactConversionSpec) corev1.ResourceRequirements {
	if r := spec.Job.Resources; r != nil && (len(r.Requests) > 0 || len(r.Limits) > 0) {
		return *r.DeepCopy()
	}
	return *DefaultJobResources.DeepCopy()
}

// RestrictedPodSecurity meets the "restricted" Pod Security Standard.
func RestrictedPodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		RunAsGroup:     ptr.To[int64](65532),
		FSGroup:        ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// RestrictedContainerSecurity meets the "restricted" Pod Security Standard
// with a read-only root filesystem.
func RestrictedContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// ErasureSaltSecretName names the Secret holding a database's erasure salt:
// one per database, named after its claim or its Secret, so the conversion
// Jobs and the preference center sharing the database share the salt.
func ErasureSaltSecretName(db *ccv1.DatabaseSpec) string {
	if db.Postgres != nil {
		return db.Postgres.SecretRef.Name + "-erasure-salt"
	}
	if db.SQLite != nil {
		return db.SQLite.PersistentVolumeClaim + "-erasure-salt"
	}
	return ""
}

// ErasureSaltSecret keeps a database's erasure salt apart from the
// database, so a copy of the database alone cannot tell whether an address
// was erased. It is made once and never changed: the hashes depend on it.
func ErasureSaltSecret(namespace string, db *ccv1.DatabaseSpec, salt []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ErasureSaltSecretName(db), Namespace: namespace,
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelTenant: namespace}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{ErasureSaltKey: salt},
	}
}

func erasureSaltVolume(db *ccv1.DatabaseSpec) corev1.Volume {
	return corev1.Volume{Name: "erasure-salt", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: ErasureSaltSecretName(db), DefaultMode: ptr.To[int32](0o440)}}}
}

var erasureSaltMount = corev1.VolumeMount{Name: "erasure-salt", MountPath: ErasureSaltDir, ReadOnly: true}
