package desired

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// conversion is the tenant-a/acme fixture (four sources, SQLite), built with
// the shared wrapper and changed by mut.
func conversion(mut ...func(*ccv1.ContactConversion)) *ccv1.ContactConversion {
	w := tw.MakeConversion("acme", "tenant-a").Generation(3, 0).Sources(
		ccv1.Source{Name: "fair", CSV: &ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "fair.csv"}}},
		ccv1.Source{Name: "vip", CSV: &ccv1.CSVSource{SecretKeyRef: &ccv1.KeySelector{Name: "vip-list", Key: "vip.csv"}}},
		ccv1.Source{Name: "shop", SQL: &ccv1.SQLSource{SecretRef: ccv1.SecretKeyReference{Name: "shop-db"}, Query: "SELECT 1"}},
		ccv1.Source{Name: "more", CSV: &ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "more.csv"}}},
	).SQLite("contacts").Edit(func(c *ccv1.ContactConversion) { c.Spec.Database.SQLite.Path = "acme.db" })
	for _, m := range mut {
		w.Edit(m)
	}
	return w.Obj()
}

func TestConversionJob(t *testing.T) {
	tests := []struct {
		name  string
		cc    *ccv1.ContactConversion
		req   string
		check func(t *testing.T, j *batchv1.Job)
	}{
		{name: "a scheduled run", cc: conversion(), check: func(t *testing.T, j *batchv1.Job) {
			if j.Name != "acme-g3" || j.Labels[LabelGeneration] != "3" || j.Labels[LabelTenant] != "tenant-a" {
				t.Errorf("name %s labels %v", j.Name, j.Labels)
			}
			c := j.Spec.Template.Spec.Containers[0]
			wantArgs := "convert --namespace tenant-a --name acme --generation 3 --spill-dir " + SpillDir +
				" --erasure-salt-file " + ErasureSaltFile + " --log-format json --database sqlite:" + SQLiteDir + "/acme.db"
			if got := strings.Join(c.Args, " "); got != wantArgs {
				t.Errorf("args %q, want %q", got, wantArgs)
			}
			if *j.Spec.BackoffLimit != 3 || j.Spec.CompletionMode != nil || *j.Spec.Suspend {
				t.Errorf("backoffLimit %d completionMode %v suspend %v", *j.Spec.BackoffLimit, j.Spec.CompletionMode, *j.Spec.Suspend)
			}
			if j.Spec.Template.Spec.ServiceAccountName != "acme-converter" {
				t.Errorf("serviceAccountName %q", j.Spec.Template.Spec.ServiceAccountName)
			}
			if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
				t.Errorf("terminationMessagePolicy %q", c.TerminationMessagePolicy)
			}
		}},
		{name: "restricted pod security", cc: conversion(), check: func(t *testing.T, j *batchv1.Job) {
			ps := j.Spec.Template.Spec.SecurityContext
			cs := j.Spec.Template.Spec.Containers[0].SecurityContext
			if !*ps.RunAsNonRoot || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod security %+v", ps)
			}
			if !*cs.ReadOnlyRootFilesystem || *cs.AllowPrivilegeEscalation || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("container security %+v", cs)
			}
			if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Error("podFailurePolicy needs restartPolicy Never")
			}
		}},
		{name: "validation errors fail the Job at once, disruptions are ignored", cc: conversion(), check: func(t *testing.T, j *batchv1.Job) {
			rules := j.Spec.PodFailurePolicy.Rules
			if rules[0].Action != batchv1.PodFailurePolicyActionFailJob || !slices.Equal(rules[0].OnExitCodes.Values, []int32{ExitInvalidInput}) {
				t.Errorf("first rule %+v", rules[0])
			}
			if rules[1].Action != batchv1.PodFailurePolicyActionIgnore || rules[1].OnPodConditions[0].Type != corev1.DisruptionTarget {
				t.Errorf("second rule %+v", rules[1])
			}
		}},
		{name: "spill emptyDir and the SQLite claim are mounted", cc: conversion(), check: func(t *testing.T, j *batchv1.Job) {
			mounts := map[string]string{}
			for _, m := range j.Spec.Template.Spec.Containers[0].VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			if mounts["spill"] != SpillDir || mounts["db"] != SQLiteDir || mounts["tmp"] != TmpDir || mounts["erasure-salt"] != ErasureSaltDir {
				t.Errorf("mounts %v", mounts)
			}
			for _, v := range j.Spec.Template.Spec.Volumes {
				if v.Name == "db" && v.PersistentVolumeClaim.ClaimName != "contacts" {
					t.Errorf("db claim %q", v.PersistentVolumeClaim.ClaimName)
				}
				if v.Name == "erasure-salt" && v.Secret.SecretName != "contacts-erasure-salt" {
					t.Errorf("erasure salt Secret %q", v.Secret.SecretName)
				}
			}
		}},
		{name: "parallelism makes an Indexed Job", cc: conversion(func(c *ccv1.ContactConversion) {
			c.Spec.Parallelism = 4
			c.Spec.Database = ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: "pg"}}}
		}), check: func(t *testing.T, j *batchv1.Job) {
			if *j.Spec.CompletionMode != batchv1.IndexedCompletion || *j.Spec.Completions != 4 || *j.Spec.Parallelism != 4 {
				t.Errorf("indexed %v completions %v parallelism %v", *j.Spec.CompletionMode, *j.Spec.Completions, *j.Spec.Parallelism)
			}
			args := strings.Join(j.Spec.Template.Spec.Containers[0].Args, " ")
			if !strings.HasSuffix(args, "--shards 4") || strings.Contains(args, "--database") {
				t.Errorf("args %q", args)
			}
			// The shards name their exchange after the Job's uid: the same
			// for all, new for the next Job.
			want := corev1.EnvVar{Name: "CONTACT_CONVERTER_RUN_ID", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['batch.kubernetes.io/controller-uid']"}}}
			if diff := cmp.Diff(want, j.Spec.Template.Spec.Containers[0].Env[1]); diff != "" {
				t.Errorf("run id (-want +got):\n%s", diff)
			}
		}},
		{name: "job tuning is passed through", cc: conversion(func(c *ccv1.ContactConversion) {
			c.Spec.Job = ccv1.JobSpec{BackoffLimit: ptr.To[int32](0), ActiveDeadlineSeconds: ptr.To[int64](3600),
				ServiceAccountName: "custom", NodeSelector: map[string]string{"pool": "batch"},
				Tolerations: []corev1.Toleration{{Key: "batch", Operator: corev1.TolerationOpExists}}}
		}), check: func(t *testing.T, j *batchv1.Job) {
			p := j.Spec.Template.Spec
			if *j.Spec.BackoffLimit != 0 || *j.Spec.ActiveDeadlineSeconds != 3600 || p.ServiceAccountName != "custom" ||
				p.NodeSelector["pool"] != "batch" || len(p.Tolerations) != 1 {
				t.Errorf("tuning not passed: %+v", j.Spec)
			}
		}},
		{name: "a run request gets its own name and annotation", cc: conversion(), req: "2026-11-04T12:00:00Z", check: func(t *testing.T, j *batchv1.Job) {
			if !strings.HasPrefix(j.Name, "acme-g3-") || len(j.Name) != len("acme-g3-")+8 || j.Annotations[AnnotationRunRequest] != "2026-11-04T12:00:00Z" {
				t.Errorf("name %q annotations %v", j.Name, j.Annotations)
			}
		}},
		{name: "long names fit in a label", cc: conversion(func(c *ccv1.ContactConversion) { c.Name = strings.Repeat("a", 253) }), req: "x",
			check: func(t *testing.T, j *batchv1.Job) {
				if len(j.Name) > 63 {
					t.Errorf("name %d long", len(j.Name))
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, ConversionJob(tc.cc, JobEnv{Image: "img:1"}, tc.req)) })
	}
}

func TestConverterRoleReadsOnlyWhatTheSpecNames(t *testing.T) {
	role, wanted := ConverterRole(conversion())
	got := map[string][]string{}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			got[res+" "+strings.Join(r.Verbs, ",")] = r.ResourceNames
		}
	}
	want := map[string][]string{
		"contactconversions get":              {"acme"},
		"contactconversions/status get,patch": {"acme"},
		"secrets get,patch,update":            {"acme-conflicts"},
		"configmaps get,patch,update":         {"acme-inventory"},
		"configmaps get":                      {"lists"},
		"secrets get":                         {"shop-db", "vip-list"},
	}
	if len(got) != len(want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s: resourceNames %v, want %v", k, got[k], v)
		}
	}
	if !wanted {
		t.Error("the operator's Role is not wanted")
	}
	if _, wanted := ConverterRole(conversion(func(c *ccv1.ContactConversion) { c.Spec.Job.ServiceAccountName = "custom" })); wanted {
		t.Error("a user-managed ServiceAccount gets no Role")
	}
}

// An object already holding what the operator sets needs no write;
// labels or fields others add do not make it out of place.
func TestConverterObjectsInPlace(t *testing.T) {
	cc := conversion()
	sa, _ := ConverterServiceAccount(cc)
	role, _ := ConverterRole(cc)
	binding, _ := ConverterRoleBinding(cc)
	withLabel := func(o metav1.Object) metav1.Object {
		labels := maps.Clone(o.GetLabels())
		labels["team"] = "mail"
		o.SetLabels(labels)
		o.SetAnnotations(map[string]string{"note": "added by hand"})
		return o
	}
	otherRules := role.DeepCopy()
	otherRules.Rules = otherRules.Rules[1:]
	otherSubject := binding.DeepCopy()
	otherSubject.Subjects[0].Name = "someone-else"
	lostLabel := sa.DeepCopy()
	delete(lostLabel.Labels, LabelConversion)
	tests := []struct {
		name          string
		current, want metav1.Object
		inPlace       bool
	}{
		{"the same ServiceAccount", sa.DeepCopy(), sa, true},
		{"the same Role", role.DeepCopy(), role, true},
		{"the same RoleBinding", binding.DeepCopy(), binding, true},
		{"others' labels and annotations", withLabel(role.DeepCopy()), role, true},
		{"a label of ours lost", lostLabel, sa, false},
		{"a rule removed", otherRules, role, false},
		{"a subject changed", otherSubject, binding, false},
		{"another kind", sa.DeepCopy(), role, false},
	}
	var got, want []string
	for _, tt := range tests {
		got = append(got, fmt.Sprintf("%s: %t", tt.name, InPlace(tt.current, tt.want)))
		want = append(want, fmt.Sprintf("%s: %t", tt.name, tt.inPlace))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InPlace (-want +got):\n%s", diff)
	}
}

func TestRunSpecHashIgnoresPauseAndWindows(t *testing.T) {
	base := conversion().Spec.RunHash()
	same := conversion(func(c *ccv1.ContactConversion) {
		c.Spec.Suspend = true
		c.Spec.Schedule.TimeZone = "Europe/Brussels"
		c.Spec.Job.BackoffLimit = ptr.To[int32](9)
	})
	if same.Spec.RunHash() != base {
		t.Error("suspend, schedule or job tuning changed the run hash")
	}
	changed := conversion(func(c *ccv1.ContactConversion) {
		c.Spec.Conflicts.Resolutions = []ccv1.Resolution{{Key: "a@b.be", Field: "firstName", Value: "A"}}
	})
	if changed.Spec.RunHash() == base {
		t.Error("a resolution did not change the run hash")
	}
}

// One erasure salt per database, named after it, so the conversion Jobs and
// the preference center that share the database share the salt.
func TestErasureSaltSecret(t *testing.T) {
	for _, tc := range []struct {
		db   ccv1.DatabaseSpec
		want string
	}{
		{ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: "contacts"}}, "contacts-erasure-salt"},
		{ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: "acme-app"}}}, "acme-app-erasure-salt"},
	} {
		s := ErasureSaltSecret("tenant-a", &tc.db, []byte("salt"))
		if s.Name != tc.want || s.Namespace != "tenant-a" || string(s.Data[ErasureSaltKey]) != "salt" || s.Labels[LabelManagedBy] != ManagedBy {
			t.Errorf("secret %s/%s data %v labels %v, want %s", s.Namespace, s.Name, s.Data, s.Labels, tc.want)
		}
	}
}

// On a ReadWriteOnce claim, every pod that mounts the SQLite database must
// run on one node: the Job goes where the preference center's pods are.
func TestSQLiteClaimPlacement(t *testing.T) {
	sameNode := &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelSQLiteClaim: "contacts"}},
			TopologyKey:   corev1.LabelHostname,
		}},
	}}
	postgres := conversion(func(c *ccv1.ContactConversion) {
		c.Spec.Database = ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: "pg"}}}
	})
	for _, tc := range []struct {
		name      string
		cc        *ccv1.ContactConversion
		env       JobEnv
		wantLabel string
		want      *corev1.Affinity
	}{
		{name: "no preference center on the claim: placed anywhere", cc: conversion(), env: JobEnv{Image: "img:1"}},
		{name: "a preference center on the claim: its node", cc: conversion(), env: JobEnv{Image: "img:1", PreferenceCenterOnClaim: true},
			wantLabel: "contacts", want: sameNode},
		{name: "PostgreSQL: placed anywhere", cc: postgres, env: JobEnv{Image: "img:1", PreferenceCenterOnClaim: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := ConversionJob(tc.cc, tc.env, "").Spec.Template
			if diff := cmp.Diff(tc.want, pod.Spec.Affinity); diff != "" {
				t.Errorf("affinity (-want +got):\n%s", diff)
			}
			if got := pod.Labels[LabelSQLiteClaim]; got != tc.wantLabel {
				t.Errorf("label %s = %q, want %q", LabelSQLiteClaim, got, tc.wantLabel)
			}
		})
	}
}

func TestSQLiteClaimLabelFitsALabelValue(t *testing.T) {
	long := strings.Repeat("a", 200) + ".b"
	got := SQLiteClaimLabel(long)
	if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
		t.Errorf("label value %q: %v", got, errs)
	}
	if SQLiteClaimLabel(long+"c") == got {
		t.Error("two long claim names share a label value")
	}
	if got := SQLiteClaimLabel("contacts"); got != "contacts" {
		t.Errorf("short name changed: %q", got)
	}
}

// The Job's pod knobs reach its pods; the operator's labels and its
// same-node term win over, and join, the user's.
func TestJobPodKnobs(t *testing.T) {
	zone := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}
	cc := conversion(func(c *ccv1.ContactConversion) {
		c.Spec.Job.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry"}}
		c.Spec.Job.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{zone}}}}
		c.Spec.Job.PodAnnotations = map[string]string{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
		c.Spec.Job.PodLabels = map[string]string{"team": "mail", LabelConversion: "spoofed"}
	})
	pod := ConversionJob(cc, JobEnv{Image: "img:1", PreferenceCenterOnClaim: true}, "").Spec.Template
	want := &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{zone}}},
		PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelSQLiteClaim: "contacts"}}, TopologyKey: corev1.LabelHostname}}},
	}
	if diff := cmp.Diff(want, pod.Spec.Affinity); diff != "" {
		t.Errorf("affinity (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.LocalObjectReference{{Name: "registry"}}, pod.Spec.ImagePullSecrets); diff != "" {
		t.Errorf("imagePullSecrets (-want +got):\n%s", diff)
	}
	if pod.Annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] != "false" || pod.Labels["team"] != "mail" || pod.Labels[LabelConversion] != "acme" {
		t.Errorf("pod metadata: annotations %v labels %v", pod.Annotations, pod.Labels)
	}
	if cc.Spec.Job.Affinity.PodAffinity != nil {
		t.Error("the builder changed the spec's affinity")
	}
}

// Lists on claims are mounted read-only, one volume per claim; the SQLite
// claim is mounted again, read-only, and an S3 source's Secret is readable.
func TestListSourcesOnClaimsAndStores(t *testing.T) {
	cc := conversion(func(c *ccv1.ContactConversion) {
		c.Spec.Sources = append(c.Spec.Sources,
			ccv1.Source{Name: "jan", CSV: &ccv1.CSVSource{PersistentVolumeClaim: &ccv1.ClaimFiles{ClaimName: "exports", Path: "2024/jan.csv"}}},
			ccv1.Source{Name: "feb", CSV: &ccv1.CSVSource{PersistentVolumeClaim: &ccv1.ClaimFiles{ClaimName: "exports", Path: "2024/feb-*.csv.gz"}}},
			ccv1.Source{Name: "old", CSV: &ccv1.CSVSource{PersistentVolumeClaim: &ccv1.ClaimFiles{ClaimName: "contacts", Path: "uploads/old.csv"}}},
			ccv1.Source{Name: "crm", CSV: &ccv1.CSVSource{S3: &ccv1.S3Location{Bucket: "crm-exports", Key: "x.zip", SecretRef: &ccv1.LocalObjectReference{Name: "crm-s3"}}}},
		)
	})
	pod := ConversionJob(cc, JobEnv{Image: "img:1"}, "").Spec.Template.Spec
	wantVolumes := []corev1.Volume{{Name: "lists-1", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "exports", ReadOnly: true}}}}
	if diff := cmp.Diff(wantVolumes, pod.Volumes[len(pod.Volumes)-1:]); diff != "" {
		t.Errorf("the last volumes (-want +got):\n%s", diff)
	}
	wantMounts := []corev1.VolumeMount{
		{Name: "lists-1", MountPath: ClaimsDir + "/exports", ReadOnly: true},
		{Name: "db", MountPath: ClaimsDir + "/contacts", ReadOnly: true},
	}
	c := pod.Containers[0]
	if diff := cmp.Diff(wantMounts, c.VolumeMounts[len(c.VolumeMounts)-2:]); diff != "" {
		t.Errorf("the last mounts (-want +got):\n%s", diff)
	}
	if !slices.Contains(c.Args, "--claims-dir") {
		t.Errorf("args %v lack --claims-dir", c.Args)
	}
	role, _ := ConverterRole(cc)
	var secrets []string
	for _, r := range role.Rules {
		if slices.Equal(r.Resources, []string{"secrets"}) && slices.Equal(r.Verbs, []string{"get"}) {
			secrets = r.ResourceNames
		}
	}
	if diff := cmp.Diff([]string{"crm-s3", "shop-db", "vip-list"}, secrets); diff != "" {
		t.Errorf("readable Secrets (-want +got):\n%s", diff)
	}
	if args := ConversionJob(conversion(), JobEnv{Image: "img:1"}, "").Spec.Template.Spec.Containers[0].Args; slices.Contains(args, "--claims-dir") {
		t.Errorf("no list on a claim, yet args %v", args)
	}
}
