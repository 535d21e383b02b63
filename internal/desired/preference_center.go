package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
)

// Labels of a preference center's objects, and where its pod finds things.
const (
	LabelPreferenceCenter = "contacts.contactconverter.io/preference-center"
	LabelName             = "app.kubernetes.io/name"
	LabelInstance         = "app.kubernetes.io/instance"
	// AnnotationConfigHash changes when the configuration or a mounted
	// Secret does, so the Deployment rolls its pods.
	AnnotationConfigHash = "contacts.contactconverter.io/config-hash"

	configDir     = "/etc/contact-converter/config"
	signingDir    = "/etc/contact-converter/signing"
	apiTokenDir   = "/etc/contact-converter/api"
	ConfigKey     = "config.json"
	httpPort      = 8080
	metricsPort   = 9090
	componentName = "preference-center"
)

// PreferenceCenterName names the Deployment, Service, ConfigMap and the
// other objects of a preference center.
func PreferenceCenterName(pc *ccv1.PreferenceCenter) string {
	return ccv1.TruncateName(pc.Name, 63-len("-preference-center")) + "-preference-center"
}

// SigningSecretName is the Secret whose keys sign links: the one the spec
// names, or the one the operator generates.
func SigningSecretName(pc *ccv1.PreferenceCenter) string {
	if ref := pc.Spec.SigningKeySecretRef; ref != nil {
		return ref.Name
	}
	return PreferenceCenterName(pc) + "-signing"
}

// PreferenceCenterLabels are the labels of everything made for pc.
func PreferenceCenterLabels(pc *ccv1.PreferenceCenter) map[string]string {
	l := preferenceCenterSelector(pc)
	l[LabelManagedBy] = ManagedBy
	l[LabelTenant] = pc.Namespace
	l[LabelInstance] = pc.Name
	return l
}

func preferenceCenterSelector(pc *ccv1.PreferenceCenter) map[string]string {
	return map[string]string{LabelName: componentName, LabelPreferenceCenter: pc.Name}
}

func preferenceCenterMeta(pc *ccv1.PreferenceCenter, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: pc.Namespace, Labels: PreferenceCenterLabels(pc)}
}

// SigningSecret is a generated signing key, named after its creation day so
// that a key added later, with a later name, takes over signing.
func SigningSecret(pc *ccv1.PreferenceCenter, key []byte, now time.Time) *corev1.Secret {
	id := "key-" + now.UTC().Format("20060102")
	return &corev1.Secret{
		ObjectMeta: preferenceCenterMeta(pc, SigningSecretName(pc)),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{id: key, linktoken.ActiveKeyEntry: []byte(id)},
	}
}

// PreferenceCenterURL is where contacts reach the page.
func PreferenceCenterURL(pc *ccv1.PreferenceCenter) string {
	if in := pc.Spec.Ingress; in != nil {
		if in.TLSSecretName != "" {
			return "https://" + in.Host
		}
		return "http://" + in.Host
	}
	return fmt.Sprintf("http://%s.%s.svc", PreferenceCenterName(pc), pc.Namespace)
}

// PreferenceCenterConfig is the service's configuration. cc is the
// referenced conversion, or nil when there is none (yet).
func PreferenceCenterConfig(pc *ccv1.PreferenceCenter, cc *ccv1.ContactConversion) *prefconfig.Config {
	spec := &pc.Spec
	cfg := &prefconfig.Config{
		Organization:    spec.Organization,
		Languages:       spec.Languages,
		DefaultLanguage: spec.DefaultLanguage,
		Topics:          spec.Topics,
		Rights: prefconfig.Rights{
			Export:        ptr.Deref(spec.Rights.Export, true),
			Erasure:       ptr.Deref(spec.Rights.Erasure, true),
			Rectification: ptr.Deref(spec.Rights.Rectification, true),
		},
		LinkTTL:        "720h",
		PublicURL:      PreferenceCenterURL(pc),
		KeyIsEmail:     cc == nil || cc.Spec.KeyField() == "email",
		HSTS:           spec.Ingress != nil && spec.Ingress.TLSSecretName != "",
		TrustedProxies: spec.TrustedProxies,
		SigningKeysDir: signingDir,
	}
	if len(cfg.Languages) == 0 {
		cfg.Languages = []string{"en"}
	}
	if cfg.DefaultLanguage == "" {
		cfg.DefaultLanguage = "en"
	}
	if spec.LinkTTL != nil {
		cfg.LinkTTL = spec.LinkTTL.Duration.String()
	}
	if spec.APITokenSecretRef != nil {
		cfg.APITokenFile = apiTokenDir + "/token"
	}
	return cfg
}

// PreferenceCenterConfigMap holds the rendered configuration.
func PreferenceCenterConfigMap(pc *ccv1.PreferenceCenter, cfg *prefconfig.Config) (*corev1.ConfigMap, error) {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		ObjectMeta: preferenceCenterMeta(pc, PreferenceCenterName(pc)),
		Data:       map[string]string{ConfigKey: string(data)},
	}, nil
}

// ConfigHash digests the configuration and the versions of the Secrets the
// pods mount, so any change rolls them.
func ConfigHash(cm *corev1.ConfigMap, secretVersions ...string) string {
	h := sha256.New()
	h.Write([]byte(cm.Data[ConfigKey]))
	for _, v := range secretVersions {
		h.Write([]byte{0})
		h.Write([]byte(v))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// PreferenceCenterDeployment runs the service with the operator's image.
func PreferenceCenterDeployment(pc *ccv1.PreferenceCenter, image, configHash string) *appsv1.Deployment {
	name := PreferenceCenterName(pc)
	// The pod listens on its own address only.
	args := []string{"preference-center", "--config", configDir + "/" + ConfigKey, "--erasure-salt-file", ErasureSaltFile,
		"--listen", fmt.Sprintf("$(POD_IP):%d", httpPort), "--metrics-listen", fmt.Sprintf("$(POD_IP):%d", metricsPort)}
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
		{Name: "signing", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: SigningSecretName(pc), DefaultMode: ptr.To[int32](0o440)}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("16Mi"))}}},
		erasureSaltVolume(&pc.Spec.Database),
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: configDir, ReadOnly: true},
		{Name: "signing", MountPath: signingDir, ReadOnly: true},
		{Name: "tmp", MountPath: TmpDir},
		erasureSaltMount,
	}
	env := []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	switch db := &pc.Spec.Database; {
	case db.Postgres != nil:
		ref := db.Postgres.SecretRef
		env = append(env, corev1.EnvVar{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.SecretKey()}}})
	case db.SQLite != nil:
		volumes = append(volumes, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: db.SQLite.PersistentVolumeClaim}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "db", MountPath: SQLiteDir})
		args = append(args, "--database", "sqlite:"+SQLiteDir+"/"+db.SQLite.SQLitePath())
	}
	if ref := pc.Spec.APITokenSecretRef; ref != nil {
		volumes = append(volumes, corev1.Volume{Name: "api-token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: ref.Name, Items: []corev1.KeyToPath{{Key: ref.Key, Path: "token"}}, DefaultMode: ptr.To[int32](0o440)}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "api-token", MountPath: apiTokenDir, ReadOnly: true})
	}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds: period, TimeoutSeconds: 3, FailureThreshold: 3,
		}
	}
	podLabels := PreferenceCenterLabels(pc)
	opts := &pc.Spec.Pod
	d := &appsv1.Deployment{
		ObjectMeta: preferenceCenterMeta(pc, name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(ptr.Deref(pc.Spec.Replicas, 1)),
			Selector: &metav1.LabelSelector{MatchLabels: preferenceCenterSelector(pc)},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMetadata(opts.Labels, opts.Annotations, podLabels, map[string]string{AnnotationConfigHash: configHash}),
				Spec: corev1.PodSpec{
					NodeSelector:                  opts.NodeSelector,
					Tolerations:                   opts.Tolerations,
					Affinity:                      opts.Affinity.DeepCopy(),
					TopologySpreadConstraints:     opts.TopologySpreadConstraints,
					PriorityClassName:             opts.PriorityClassName,
					ImagePullSecrets:              opts.ImagePullSecrets,
					ServiceAccountName:            name,
					AutomountServiceAccountToken:  ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					SecurityContext:               RestrictedPodSecurity(),
					Volumes:                       volumes,
					Containers: []corev1.Container{{
						Name:  componentName,
						Image: image,
						Args:  args,
						Env:   env,
						Ports: []corev1.ContainerPort{
							{Name: "http", ContainerPort: httpPort, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP},
						},
						ReadinessProbe:           probe("/readyz", 5),
						LivenessProbe:            probe("/healthz", 10),
						StartupProbe:             &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}, PeriodSeconds: 2, FailureThreshold: 30},
						Resources:                preferenceCenterResources(opts.Resources),
						SecurityContext:          RestrictedContainerSecurity(),
						VolumeMounts:             mounts,
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					}},
				},
			},
		},
	}
	if db := pc.Spec.Database.SQLite; db != nil {
		SameNodeAsClaim(&d.Spec.Template, db.PersistentVolumeClaim)
	}
	return d
}

// DefaultPreferenceCenterResources apply when spec.pod.resources is empty.
var DefaultPreferenceCenterResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
}

func preferenceCenterResources(r *corev1.ResourceRequirements) corev1.ResourceRequirements {
	if r != nil && (len(r.Requests) > 0 || len(r.Limits) > 0) {
		return *r.DeepCopy()
	}
	return *DefaultPreferenceCenterResources.DeepCopy()
}

// PreferenceCenterService exposes the pods on port 80.
func PreferenceCenterService(pc *ccv1.PreferenceCenter) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: preferenceCenterMeta(pc, PreferenceCenterName(pc)),
		Spec: corev1.ServiceSpec{
			Selector: preferenceCenterSelector(pc),
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
				{Name: "metrics", Port: metricsPort, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

// PreferenceCenterIngress exposes the page on its host; wanted with
// spec.ingress.
func PreferenceCenterIngress(pc *ccv1.PreferenceCenter) (*networkingv1.Ingress, bool) {
	name := PreferenceCenterName(pc)
	meta := preferenceCenterMeta(pc, name)
	in := pc.Spec.Ingress
	if in == nil {
		return &networkingv1.Ingress{ObjectMeta: meta}, false
	}
	meta.Annotations = maps.Clone(in.Annotations)
	ing := &networkingv1.Ingress{
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: in.Host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: name, Port: networkingv1.ServiceBackendPort{Name: "http"}}},
			}}}},
		}}},
	}
	if in.ClassName != "" {
		ing.Spec.IngressClassName = ptr.To(in.ClassName)
	}
	if in.TLSSecretName != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{in.Host}, SecretName: in.TLSSecretName}}
	}
	return ing, true
}

// NetworkEnv is what the operator's flags say about the cluster's network.
type NetworkEnv struct {
	// IngressNamespace runs the Ingress controller.
	IngressNamespace string
	// MonitoringNamespace runs Prometheus.
	MonitoringNamespace string
}

// PreferenceCenterNetworkPolicy admits the page's port from the peers the
// spec names (default: the Ingress controller's namespace and the page's
// own) and its metrics port from the monitoring namespace; not wanted when
// spec.networkPolicy.enabled is false.
func PreferenceCenterNetworkPolicy(pc *ccv1.PreferenceCenter, env NetworkEnv) (*networkingv1.NetworkPolicy, bool) {
	spec := &pc.Spec.NetworkPolicy
	if !ptr.Deref(spec.Enabled, true) {
		return &networkingv1.NetworkPolicy{ObjectMeta: preferenceCenterMeta(pc, PreferenceCenterName(pc))}, false
	}
	inNamespace := func(ns string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}}
	}
	port := func(name string) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString(name))}}
	}
	from := spec.From
	if len(from) == 0 {
		if env.IngressNamespace != "" {
			from = append(from, inNamespace(env.IngressNamespace))
		}
		from = append(from, inNamespace(pc.Namespace))
	}
	rules := []networkingv1.NetworkPolicyIngressRule{{Ports: port("http"), From: from}}
	if env.MonitoringNamespace != "" {
		rules = append(rules, networkingv1.NetworkPolicyIngressRule{Ports: port("metrics"), From: []networkingv1.NetworkPolicyPeer{inNamespace(env.MonitoringNamespace)}})
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: preferenceCenterMeta(pc, PreferenceCenterName(pc)),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: preferenceCenterSelector(pc)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}, true
}

// PreferenceCenterPDB keeps one pod up through voluntary disruptions when
// there are several.
func PreferenceCenterPDB(pc *ccv1.PreferenceCenter) (*policyv1.PodDisruptionBudget, bool) {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: preferenceCenterMeta(pc, PreferenceCenterName(pc)),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: preferenceCenterSelector(pc)},
		},
	}, ptr.Deref(pc.Spec.Replicas, 1) >= 2
}

// PreferenceCenterServiceAccount is the pods' identity.
func PreferenceCenterServiceAccount(pc *ccv1.PreferenceCenter) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: preferenceCenterMeta(pc, PreferenceCenterName(pc)), AutomountServiceAccountToken: ptr.To(false)}
}
