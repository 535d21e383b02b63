// Package testwrap builds the objects tests need with fluent wrappers:
// MakeConversion("acme", "tenant").Phase(ccv1.PhaseRunning).Obj().
package testwrap

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// ConversionWrapper wraps a ContactConversion under construction.
type ConversionWrapper struct {
	ccv1.ContactConversion
	// ownSources: a source was added, which replaced the default one.
	ownSources bool
}

// MakeConversion is a valid conversion of one CSV list into SQLite.
func MakeConversion(name, namespace string) *ConversionWrapper {
	return &ConversionWrapper{ContactConversion: ccv1.ContactConversion{
		TypeMeta:   metav1.TypeMeta{APIVersion: ccv1.GroupVersion.String(), Kind: "ContactConversion"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Generation: 1},
		Spec: ccv1.ContactConversionSpec{
			DefaultLanguage: "nl",
			Sources: []ccv1.Source{{Name: "salon-x-2018", CSV: &ccv1.CSVSource{
				ConfigMapKeyRef: &ccv1.KeySelector{Name: name + "-lists", Key: "salon-x-2018.csv"}}}},
			Database: sqlite(name + "-contacts"),
		},
	}}
}

// Obj returns the conversion.
func (w *ConversionWrapper) Obj() *ccv1.ContactConversion { return &w.ContactConversion }

// Created sets the creation time.
func (w *ConversionWrapper) Created(t time.Time) *ConversionWrapper {
	w.CreationTimestamp = metav1.NewTime(t)
	return w
}

// Generation sets the generation and the one the status describes.
func (w *ConversionWrapper) Generation(generation, observed int64) *ConversionWrapper {
	w.ObjectMeta.Generation, w.Status.ObservedGeneration = generation, observed
	return w
}

// Window adds a daily window in the zone.
func (w *ConversionWrapper) Window(zone, start, end string) *ConversionWrapper {
	w.Spec.Schedule.TimeZone = zone
	w.Spec.Schedule.Windows = append(w.Spec.Schedule.Windows, ccv1.Window{Start: start, End: end})
	return w
}

// Suspend sets spec.suspend.
func (w *ConversionWrapper) Suspend(s bool) *ConversionWrapper {
	w.Spec.Suspend = s
	return w
}

// Phase sets the status phase.
func (w *ConversionWrapper) Phase(p ccv1.Phase) *ConversionWrapper {
	w.Status.Phase = p
	return w
}

// Condition sets a status condition.
func (w *ConversionWrapper) Condition(typ string, status metav1.ConditionStatus, reason, message string, at time.Time) *ConversionWrapper {
	w.Status.Conditions = append(w.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message,
		LastTransitionTime: metav1.NewTime(at), ObservedGeneration: w.ObjectMeta.Generation})
	return w
}

// NextWindow sets the next window's start and end.
func (w *ConversionWrapper) NextWindow(start, end time.Time) *ConversionWrapper {
	w.Status.NextWindowStart, w.Status.NextWindowEnd = &metav1.Time{Time: start}, &metav1.Time{Time: end}
	return w
}

// Progress sets the run's counts.
func (w *ConversionWrapper) Progress(p ccv1.Progress) *ConversionWrapper {
	w.Status.Progress = &p
	return w
}

// Conflicts sets the conflicts found.
func (w *ConversionWrapper) Conflicts(total, unresolved int64, sample ...ccv1.ConflictSample) *ConversionWrapper {
	w.Status.Conflicts = &ccv1.ConflictsStatus{Total: total, Unresolved: unresolved, Sample: sample, ReportSecret: w.Name + "-conflicts"}
	return w
}

// Job sets the current Job's name.
func (w *ConversionWrapper) Job(name string) *ConversionWrapper {
	w.Status.JobName = name
	return w
}

// ManagedBy adds a managedFields entry for the spec, as a GitOps tool's
// server-side apply leaves.
func (w *ConversionWrapper) ManagedBy(manager string) *ConversionWrapper {
	w.ManagedFields = append(w.ManagedFields, metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationApply,
		APIVersion: ccv1.GroupVersion.String(), FieldsType: "FieldsV1"})
	return w
}

// LastSuccess sets when a run last succeeded.
func (w *ConversionWrapper) LastSuccess(t time.Time) *ConversionWrapper {
	w.Status.LastSuccessTime = &metav1.Time{Time: t}
	return w
}

// Queued sets the status of a conversion waiting for a slot since t.
func (w *ConversionWrapper) Queued(since time.Time) *ConversionWrapper {
	w.Status.Queue = &ccv1.QueueStatus{Reason: ccv1.QueueReasonClusterCap, Since: metav1.NewTime(since)}
	return w.Phase(ccv1.PhaseWaiting).Condition(ccv1.ConditionReady, metav1.ConditionTrue, ccv1.ReasonQueuedForCapacity, "Waiting for a free slot.", since)
}

// CSVFromConfigMap adds a CSV source read from a ConfigMap key; the first
// source added replaces the default one.
func (w *ConversionWrapper) CSVFromConfigMap(source, configMap, key string) *ConversionWrapper {
	src := ccv1.Source{Name: source, CSV: &ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: configMap, Key: key}}}
	if !w.ownSources {
		w.Spec.Sources, w.ownSources = nil, true
	}
	w.Spec.Sources = append(w.Spec.Sources, src)
	return w
}

// Sources replaces the sources.
func (w *ConversionWrapper) Sources(sources ...ccv1.Source) *ConversionWrapper {
	w.Spec.Sources, w.ownSources = sources, true
	return w
}

// SQLite stores the contacts in SQLite on claim.
func (w *ConversionWrapper) SQLite(claim string) *ConversionWrapper {
	w.Spec.Database = sqlite(claim)
	return w
}

// Postgres stores the contacts in the PostgreSQL whose URI secret holds.
func (w *ConversionWrapper) Postgres(secret string) *ConversionWrapper {
	w.Spec.Database = postgres(secret)
	return w
}

func sqlite(claim string) ccv1.DatabaseSpec {
	return ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: claim}}
}

func postgres(secret string) ccv1.DatabaseSpec {
	return ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: secret}}}
}

// TimeZone sets the schedule's time zone.
func (w *ConversionWrapper) TimeZone(tz string) *ConversionWrapper {
	w.Spec.Schedule.TimeZone = tz
	return w
}

// DailyWindow adds a window on days (every day when empty).
func (w *ConversionWrapper) DailyWindow(days []ccv1.Weekday, start, end string) *ConversionWrapper {
	w.Spec.Schedule.Windows = append(w.Spec.Schedule.Windows, ccv1.Window{Days: days, Start: start, End: end})
	return w
}

// Edit changes what no other method does.
func (w *ConversionWrapper) Edit(edit func(*ccv1.ContactConversion)) *ConversionWrapper {
	edit(&w.ContactConversion)
	return w
}

// CenterWrapper wraps a PreferenceCenter under construction.
type CenterWrapper struct{ ccv1.PreferenceCenter }

// MakeCenter is a valid preference center with one topic, on SQLite claim
// NAME-contacts.
func MakeCenter(name, namespace string) *CenterWrapper {
	return &CenterWrapper{ccv1.PreferenceCenter{
		TypeMeta:   metav1.TypeMeta{APIVersion: ccv1.GroupVersion.String(), Kind: "PreferenceCenter"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: ccv1.PreferenceCenterSpec{
			Database:     sqlite(name + "-contacts"),
			Organization: ccv1.Organization{Name: "ACME", PrivacyPolicyURL: "https://acme.example/privacy"},
			Languages:    []string{"en"},
			Topics:       []ccv1.Topic{{Name: "news", Title: map[string]string{"en": "News"}}},
		},
	}}
}

// Obj returns the preference center.
func (w *CenterWrapper) Obj() *ccv1.PreferenceCenter { return &w.PreferenceCenter }

// SQLite serves the SQLite database on claim.
func (w *CenterWrapper) SQLite(claim string) *CenterWrapper {
	w.Spec.Database = sqlite(claim)
	return w
}

// Postgres serves the PostgreSQL database whose URI secret holds.
func (w *CenterWrapper) Postgres(secret string) *CenterWrapper {
	w.Spec.Database = postgres(secret)
	return w
}

// IngressTLS exposes the page on host over TLS, behind a 10.0.0.0/8 proxy.
func (w *CenterWrapper) IngressTLS(host, secret string) *CenterWrapper {
	w.Spec.Ingress = &ccv1.IngressSpec{Host: host, TLSSecretName: secret}
	w.Spec.TrustedProxies = []string{"10.0.0.0/8"}
	return w
}

// Edit changes what no other method does.
func (w *CenterWrapper) Edit(edit func(*ccv1.PreferenceCenter)) *CenterWrapper {
	edit(&w.PreferenceCenter)
	return w
}

// Conversion names the ContactConversion filling the database.
func (w *CenterWrapper) Conversion(name string) *CenterWrapper {
	w.Spec.ConversionRef = &ccv1.LocalObjectReference{Name: name}
	return w
}

// Topics replaces the topics; languages are those of their titles' first.
func (w *CenterWrapper) Topics(topics ...ccv1.Topic) *CenterWrapper {
	w.Spec.Topics = topics
	return w
}

// Languages sets the page's languages, the first being the default.
func (w *CenterWrapper) Languages(langs ...string) *CenterWrapper {
	w.Spec.Languages, w.Spec.DefaultLanguage = langs, langs[0]
	return w
}

// Condition sets a status condition.
func (w *CenterWrapper) Condition(typ string, status metav1.ConditionStatus, reason, message string) *CenterWrapper {
	w.Status.Conditions = append(w.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message})
	return w
}
