package desired

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// samplePC is the tenant-a/acme preference center on PostgreSQL.
func samplePC() *ccv1.PreferenceCenter {
	return tw.MakeCenter("acme", "tenant-a").Postgres("acme-db").Edit(func(pc *ccv1.PreferenceCenter) {
		pc.Generation = 3
		pc.Spec.Languages, pc.Spec.DefaultLanguage = []string{"nl", "fr"}, "nl"
		pc.Spec.Topics = []ccv1.Topic{{Name: "fairs", Title: map[string]string{"nl": "Beurzen"}}}
		pc.Spec.LinkTTL = &metav1.Duration{Duration: 48 * time.Hour}
	}).Obj()
}

func TestPreferenceCenterObjects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*ccv1.PreferenceCenter)
		check func(t *testing.T, pc *ccv1.PreferenceCenter)
	}{
		{"postgres, one replica, no ingress", nil, func(t *testing.T, pc *ccv1.PreferenceCenter) {
			d := PreferenceCenterDeployment(pc, "img:1", "abc")
			c := d.Spec.Template.Spec.Containers[0]
			if c.Env[1].Name != "DATABASE_URL" || c.Env[1].ValueFrom.SecretKeyRef.Name != "acme-db" || c.Env[1].ValueFrom.SecretKeyRef.Key != "uri" {
				t.Errorf("database env = %+v", c.Env)
			}
			_, withPDB := PreferenceCenterPDB(pc)
			_, withIngress := PreferenceCenterIngress(pc)
			if withPDB || withIngress {
				t.Error("a PDB or Ingress for one replica without ingress")
			}
			if got := PreferenceCenterURL(pc); got != "http://acme-preference-center.tenant-a.svc" {
				t.Errorf("URL = %s", got)
			}
			if *d.Spec.Template.Spec.AutomountServiceAccountToken {
				t.Error("a token is mounted though the pod reads nothing from the API")
			}
		}},
		{"sqlite, three replicas, TLS ingress, conversion", func(pc *ccv1.PreferenceCenter) {
			pc.Spec.Database = ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: "acme-contacts"}}
			pc.Spec.Replicas = ptr.To[int32](3)
			pc.Spec.Ingress = &ccv1.IngressSpec{Host: "prefs.acme.example", ClassName: "nginx", TLSSecretName: "prefs-tls"}
			pc.Spec.ConversionRef = &ccv1.LocalObjectReference{Name: "acme"}
			pc.Spec.APITokenSecretRef = &ccv1.KeySelector{Name: "api", Key: "token"}
		}, func(t *testing.T, pc *ccv1.PreferenceCenter) {
			d := PreferenceCenterDeployment(pc, "img:1", "abc")
			c := d.Spec.Template.Spec.Containers[0]
			if !slices.Contains(c.Args, "sqlite:"+SQLiteDir+"/contacts.db") || *d.Spec.Replicas != 3 {
				t.Errorf("args %v replicas %d", c.Args, *d.Spec.Replicas)
			}
			if pdb, wanted := PreferenceCenterPDB(pc); !wanted || pdb.Spec.MinAvailable.IntValue() != 1 {
				t.Error("no PDB for three replicas")
			}
			ing, wanted := PreferenceCenterIngress(pc)
			if !wanted || *ing.Spec.IngressClassName != "nginx" || ing.Spec.TLS[0].SecretName != "prefs-tls" {
				t.Errorf("ingress = %+v", ing)
			}
			if got := PreferenceCenterURL(pc); got != "https://prefs.acme.example" {
				t.Errorf("URL = %s", got)
			}
			if *d.Spec.Template.Spec.AutomountServiceAccountToken {
				t.Error("a token is mounted though the pod reads nothing from the API")
			}
			cfg := PreferenceCenterConfig(pc, nil)
			if !cfg.HSTS || cfg.APITokenFile == "" || cfg.PublicURL != "https://prefs.acme.example" {
				t.Errorf("config = %+v", cfg)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := samplePC()
			if tc.edit != nil {
				tc.edit(pc)
			}
			d := PreferenceCenterDeployment(pc, "img:1", "abc")
			spec := d.Spec.Template.Spec
			c := spec.Containers[0]
			sc := c.SecurityContext
			if !*spec.SecurityContext.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" {
				t.Error("the pod is not restricted")
			}
			if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Error("probes missing")
			}
			if d.Spec.Template.Annotations[AnnotationConfigHash] != "abc" || c.Image != "img:1" || c.Args[0] != "preference-center" {
				t.Errorf("template = %+v", d.Spec.Template)
			}
			cm, err := PreferenceCenterConfigMap(pc, PreferenceCenterConfig(pc, nil))
			if err != nil {
				t.Fatal(err)
			}
			var cfg prefconfig.Config
			if err := json.Unmarshal([]byte(cm.Data[ConfigKey]), &cfg); err != nil {
				t.Fatal(err)
			}
			// The operator renders what the service accepts.
			if err := cfg.Validate(); err != nil {
				t.Errorf("rendered configuration is invalid: %v", err)
			}
			if !cfg.Rights.Export || !cfg.Rights.Erasure || !cfg.Rights.Rectification || cfg.LinkTTL != "48h0m0s" {
				t.Errorf("defaults: %+v", cfg)
			}
			if ConfigHash(cm, "1") == ConfigHash(cm, "2") {
				t.Error("a Secret's new version does not change the hash")
			}
		})
	}
}

// The generated Secret holds one key, named by its day, and names it as the
// one that signs: a key added later verifies, and signs once named.
func TestSigningSecretNamesItsKey(t *testing.T) {
	pc := samplePC()
	got := SigningSecret(pc, []byte("k"), time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	want := map[string][]byte{"key-20261128": []byte("k"), linktoken.ActiveKeyEntry: []byte("key-20261128")}
	if diff := cmp.Diff(want, got.Data); diff != "" || got.Name != "acme-preference-center-signing" {
		t.Errorf("name %s, data (-want +got):\n%s", got.Name, diff)
	}
}

func TestPreferenceCenterOnSQLiteSharesTheClaimsNode(t *testing.T) {
	pc := samplePC()
	if d := PreferenceCenterDeployment(pc, "img:1", "abc"); d.Spec.Template.Spec.Affinity != nil || d.Spec.Template.Labels[LabelSQLiteClaim] != "" {
		t.Errorf("PostgreSQL: affinity %+v, labels %v", d.Spec.Template.Spec.Affinity, d.Spec.Template.Labels)
	}
	pc.Spec.Database = ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: "acme-contacts"}}
	d := PreferenceCenterDeployment(pc, "img:1", "abc")
	want := &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelSQLiteClaim: "acme-contacts"}},
			TopologyKey:   corev1.LabelHostname,
		}},
	}}
	if diff := cmp.Diff(want, d.Spec.Template.Spec.Affinity); diff != "" {
		t.Errorf("affinity (-want +got):\n%s", diff)
	}
	if got := d.Spec.Template.Labels[LabelSQLiteClaim]; got != "acme-contacts" {
		t.Errorf("pod label %q", got)
	}
	if _, ok := d.Spec.Selector.MatchLabels[LabelSQLiteClaim]; ok {
		t.Error("the claim label is in the Deployment's selector, which cannot change")
	}
}

// spec.pod reaches the page's pods; without it, the defaults hold.
func TestPreferenceCenterPodKnobs(t *testing.T) {
	pc := samplePC()
	d := PreferenceCenterDeployment(pc, "img:1", "abc")
	if got := d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().String(); got != "50m" {
		t.Errorf("default CPU request %s", got)
	}
	pc.Spec.Pod = ccv1.PodOptions{
		Resources:                 &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}},
		NodeSelector:              map[string]string{"pool": "web"},
		Tolerations:               []corev1.Toleration{{Key: "web", Operator: corev1.TolerationOpExists}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}},
		PriorityClassName:         "tenant-high",
		Annotations:               map[string]string{"a": "1", AnnotationConfigHash: "spoofed"},
		Labels:                    map[string]string{"team": "mail", LabelPreferenceCenter: "spoofed"},
		ImagePullSecrets:          []corev1.LocalObjectReference{{Name: "registry"}},
	}
	pc.Spec.Ingress = &ccv1.IngressSpec{Host: "prefs.acme.example", Annotations: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt"}}
	spec := PreferenceCenterDeployment(pc, "img:1", "abc").Spec.Template
	want := corev1.PodSpec{
		NodeSelector: pc.Spec.Pod.NodeSelector, Tolerations: pc.Spec.Pod.Tolerations, TopologySpreadConstraints: pc.Spec.Pod.TopologySpreadConstraints,
		PriorityClassName: "tenant-high", ImagePullSecrets: pc.Spec.Pod.ImagePullSecrets,
	}
	got := corev1.PodSpec{NodeSelector: spec.Spec.NodeSelector, Tolerations: spec.Spec.Tolerations, TopologySpreadConstraints: spec.Spec.TopologySpreadConstraints,
		PriorityClassName: spec.Spec.PriorityClassName, ImagePullSecrets: spec.Spec.ImagePullSecrets}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pod scheduling (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(*pc.Spec.Pod.Resources, spec.Spec.Containers[0].Resources); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if spec.Annotations["a"] != "1" || spec.Annotations[AnnotationConfigHash] != "abc" || spec.Labels["team"] != "mail" || spec.Labels[LabelPreferenceCenter] != "acme" {
		t.Errorf("pod metadata: annotations %v labels %v", spec.Annotations, spec.Labels)
	}
	if ing, _ := PreferenceCenterIngress(pc); ing.Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt" {
		t.Errorf("ingress annotations %v", ing.Annotations)
	}
}

// The page's port admits only the peers the spec names (by default the
// Ingress controller's namespace and the page's own), its metrics port only
// the monitoring namespace; spec.networkPolicy.enabled: false drops it.
func TestPreferenceCenterNetworkPolicy(t *testing.T) {
	env := NetworkEnv{IngressNamespace: "ingress-nginx", MonitoringNamespace: "monitoring"}
	inNamespace := func(ns string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}}
	}
	port := func(name string) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString(name))}}
	}
	pc := samplePC()
	want := networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelName: "preference-center", LabelPreferenceCenter: "acme"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{
			{Ports: port("http"), From: []networkingv1.NetworkPolicyPeer{inNamespace("ingress-nginx"), inNamespace("tenant-a")}},
			{Ports: port("metrics"), From: []networkingv1.NetworkPolicyPeer{inNamespace("monitoring")}},
		},
	}
	np, wanted := PreferenceCenterNetworkPolicy(pc, env)
	if !wanted {
		t.Fatal("no NetworkPolicy by default")
	}
	if diff := cmp.Diff(want, np.Spec); diff != "" {
		t.Errorf("default policy (-want +got):\n%s", diff)
	}
	mailer := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mailer"}}}
	pc.Spec.NetworkPolicy.From = []networkingv1.NetworkPolicyPeer{mailer}
	want.Ingress[0].From = []networkingv1.NetworkPolicyPeer{mailer}
	if np, _ = PreferenceCenterNetworkPolicy(pc, env); !cmp.Equal(want, np.Spec) {
		diff := cmp.Diff(want, np.Spec)
		t.Errorf("named peers (-want +got):\n%s", diff)
	}
	pc.Spec.NetworkPolicy.Enabled = ptr.To(false)
	if np, wanted := PreferenceCenterNetworkPolicy(pc, env); wanted || np.Name != "acme-preference-center" {
		t.Error("a NetworkPolicy though spec.networkPolicy.enabled is false")
	}
}
