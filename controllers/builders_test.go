package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// conversionBuilder makes ContactConversions for tests:
// makeConversion(ns, name).csvFromConfigMap("fair", "lists", "fair.csv").obj().
type conversionBuilder struct{ cc ccv1.ContactConversion }

func makeConversion(ns, name string) *conversionBuilder {
	return &conversionBuilder{cc: ccv1.ContactConversion{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: ccv1.ContactConversionSpec{
			DefaultLanguage: "nl",
			Database:        ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: "contacts"}},
		},
	}}
}

func (b *conversionBuilder) csvFromConfigMap(source, configMap, key string) *conversionBuilder {
	b.cc.Spec.Sources = append(b.cc.Spec.Sources, ccv1.Source{Name: source,
		CSV: &ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: configMap, Key: key}}})
	return b
}

func (b *conversionBuilder) postgres(secret string) *conversionBuilder {
	b.cc.Spec.Database = ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: secret}}}
	return b
}

func (b *conversionBuilder) timeZone(tz string) *conversionBuilder {
	b.cc.Spec.Schedule.TimeZone = tz
	return b
}

func (b *conversionBuilder) obj() *ccv1.ContactConversion { return b.cc.DeepCopy() }

// centerBuilder makes PreferenceCenters for tests.
type centerBuilder struct{ pc ccv1.PreferenceCenter }

func makeCenter(ns, name string) *centerBuilder {
	return &centerBuilder{pc: ccv1.PreferenceCenter{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: ccv1.PreferenceCenterSpec{
			Database:     ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: "contacts"}},
			Organization: ccv1.Organization{Name: "ACME", PrivacyPolicyURL: "https://acme.example/privacy"},
			Languages:    []string{"en"},
			Topics:       []ccv1.Topic{{Name: "news", Title: map[string]string{"en": "News"}}},
		},
	}}
}

func (b *centerBuilder) ingressTLS(host, secret string) *centerBuilder {
	b.pc.Spec.Ingress = &ccv1.IngressSpec{Host: host, TLSSecretName: secret}
	b.pc.Spec.TrustedProxies = []string{"10.0.0.0/8"}
	return b
}

func (b *centerBuilder) obj() *ccv1.PreferenceCenter { return b.pc.DeepCopy() }

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func claim(ns, name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}
}

func (b *conversionBuilder) window(days []ccv1.Weekday, start, end string) *conversionBuilder {
	b.cc.Spec.Schedule.Windows = append(b.cc.Spec.Schedule.Windows, ccv1.Window{Days: days, Start: start, End: end})
	return b
}

func (b *conversionBuilder) sqlite(claim string) *conversionBuilder {
	b.cc.Spec.Database = ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: claim}}
	return b
}
