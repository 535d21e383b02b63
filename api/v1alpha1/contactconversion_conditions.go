package v1alpha1

// Phase summarises a ContactConversion's state for `kubectl get`.
// +kubebuilder:validation:Enum=Pending;Waiting;Running;Paused;ConflictsPending;Succeeded;Failed
type Phase string

// Phases of a ContactConversion.
const (
	PhasePending          Phase = "Pending"
	PhaseWaiting          Phase = "Waiting"
	PhaseRunning          Phase = "Running"
	PhasePaused           Phase = "Paused"
	PhaseConflictsPending Phase = "ConflictsPending"
	PhaseSucceeded        Phase = "Succeeded"
	PhaseFailed           Phase = "Failed"
)

// Condition types. Ready, Reconciling and Stalled follow kstatus: Reconciling
// and Stalled are present only while true.
const (
	ConditionReady             = "Ready"
	ConditionReconciling       = "Reconciling"
	ConditionStalled           = "Stalled"
	ConditionRunning           = "Running"
	ConditionSuspended         = "Suspended"
	ConditionConflictsResolved = "ConflictsResolved"
	ConditionComplete          = "Complete"
)

// Condition reasons.
const (
	ReasonScheduled         = "Scheduled"
	ReasonQueuedForCapacity = "QueuedForCapacity"
	ReasonJobRunning        = "JobRunning"
	ReasonOutsideWindow     = "OutsideWindow"
	ReasonSuspendedByUser   = "SuspendedByUser"
	ReasonNotSuspended      = "NotSuspended"
	ReasonConflictsPending  = "ConflictsPending"
	ReasonResolved          = "Resolved"
	ReasonSucceeded         = "Succeeded"
	ReasonJobFailed         = "JobFailed"
	ReasonInvalidSchedule   = "InvalidSchedule"
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonSecretNotFound    = "SecretNotFound"
	ReasonConfigMapNotFound = "ConfigMapNotFound"
	ReasonClaimNotFound     = "PersistentVolumeClaimNotFound"
	// ReasonClaimNotShareable: the SQLite claim is ReadWriteOncePod, yet a
	// PreferenceCenter mounts it too.
	ReasonClaimNotShareable = "ClaimNotShareable"
)

// Reasons a conversion's pod has not started within spec.job.podStartTimeout.
const (
	ReasonPodUnschedulable = "PodUnschedulable"
	ReasonImagePullFailed  = "ImagePullFailed"
	ReasonVolumeNotReady   = "VolumeNotReady"
	ReasonPodConfigError   = "PodConfigError"
	ReasonPodNotStarting   = "PodNotStarting"
)

// RunRequestedAtAnnotation asks for an immediate run, ignoring windows but not
// spec.suspend. Its value (an RFC 3339 time) is echoed in
// status.lastHandledRunRequest once acted upon.
const RunRequestedAtAnnotation = "contacts.contactconverter.io/run-requested-at"
