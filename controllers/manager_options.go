package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contactconverter/contact-converter/internal/desired"
)

// The metrics endpoint asks the API server who calls it and whether they may
// get /metrics.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// CacheOptions keeps the manager's memory small: of the kinds it creates, only
// its own objects are cached, and managed fields are dropped.
func CacheOptions(namespaces ...string) cache.Options {
	own := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{desired.LabelManagedBy: desired.ManagedBy})}
	var only map[string]cache.Config
	for _, ns := range namespaces {
		if only == nil {
			only = map[string]cache.Config{}
		}
		only[ns] = cache.Config{}
	}
	return cache.Options{
		// Empty: every namespace.
		DefaultNamespaces: only,
		DefaultTransform:  cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}:                  own,
			&corev1.Pod{}:                   own,
			&corev1.ServiceAccount{}:        own,
			&rbacv1.Role{}:                  own,
			&rbacv1.RoleBinding{}:           own,
			&corev1.Service{}:               own,
			&appsv1.Deployment{}:            own,
			&networkingv1.Ingress{}:         own,
			&networkingv1.NetworkPolicy{}:   own,
			&policyv1.PodDisruptionBudget{}: own,
		},
	}
}

// ClientOptions reads Secrets and ConfigMaps directly instead of caching
// every one of the cluster.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{
		DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}},
	}}
}
