package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// referenceProblem says why a referenced object cannot be used.
type referenceProblem struct {
	Reason  string
	Message string
}

// checkReferencesExist verifies, from the cached metadata the reconcilers
// watch anyway, that every referenced object exists in namespace. It costs
// no API request. Only ns is read: the API offers no way to name another.
func checkReferencesExist(ctx context.Context, cached client.Reader, ns string, refs []ccv1.Reference) (*referenceProblem, error) {
	for _, ref := range refs {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(ref.Kind))
		err := cached.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, obj)
		switch {
		case apierrors.IsNotFound(err):
			return notFound(ref, ns), nil
		case err != nil:
			return nil, err
		}
	}
	return nil, nil
}

// checkReferenceKeys reads each referenced Secret and ConfigMap to verify it
// holds its key. It is called before a Job starts, not on every reconcile.
func checkReferenceKeys(ctx context.Context, r client.Reader, ns string, refs []ccv1.Reference) (*referenceProblem, error) {
	for _, ref := range refs {
		if ref.Key == "" {
			continue
		}
		key := client.ObjectKey{Namespace: ns, Name: ref.Name}
		var (
			err     error
			hasKey  bool
			dataSet = "data"
		)
		switch ref.Kind {
		case ccv1.KindSecret:
			var s corev1.Secret
			err = r.Get(ctx, key, &s)
			_, hasKey = s.Data[ref.Key]
		case ccv1.KindConfigMap:
			var cm corev1.ConfigMap
			err = r.Get(ctx, key, &cm)
			_, inData := cm.Data[ref.Key]
			_, inBinary := cm.BinaryData[ref.Key]
			hasKey, dataSet = inData || inBinary, "data or binaryData"
		default:
			continue
		}
		switch {
		case apierrors.IsNotFound(err):
			return notFound(ref, ns), nil
		case err != nil:
			return nil, err
		case !hasKey:
			return &referenceProblem{Reason: notFoundReason(ref.Kind), Message: fmt.Sprintf(
				"%s: %s %q has no key %q in its %s; add the key or fix the reference", ref.Field, ref.Kind, ref.Name, ref.Key, dataSet)}, nil
		}
	}
	return nil, nil
}

// checkReferences verifies existence and keys.
func checkReferences(ctx context.Context, cached, direct client.Reader, ns string, refs []ccv1.Reference) (*referenceProblem, error) {
	if p, err := checkReferencesExist(ctx, cached, ns, refs); p != nil || err != nil {
		return p, err
	}
	return checkReferenceKeys(ctx, direct, ns, refs)
}

func notFound(ref ccv1.Reference, ns string) *referenceProblem {
	return &referenceProblem{Reason: notFoundReason(ref.Kind), Message: fmt.Sprintf(
		"%s: %s %q not found in namespace %q; create it or fix the name", ref.Field, ref.Kind, ref.Name, ns)}
}

func notFoundReason(kind string) string {
	switch kind {
	case ccv1.KindSecret:
		return ccv1.ReasonSecretNotFound
	case ccv1.KindConfigMap:
		return ccv1.ReasonConfigMapNotFound
	}
	return ccv1.ReasonClaimNotFound
}

// referenceIndex indexes custom resources by the objects they reference, as
// "Kind/name", so a Secret, ConfigMap or claim appearing wakes them up.
const referenceIndex = "spec.references"

func referenceKeys(refs []ccv1.Reference) []string {
	keys := make([]string, 0, len(refs))
	for _, r := range refs {
		keys = append(keys, r.Kind+"/"+r.Name)
	}
	return keys
}

// enqueueReferencing maps a Secret, ConfigMap or claim to the resources of
// its namespace that reference it.
func enqueueReferencing(c client.Reader, newList func() client.ObjectList, kind string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := newList()
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace()),
			client.MatchingFields{referenceIndex: kind + "/" + obj.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing resources that reference an object", "kind", kind, "name", obj.GetName())
			return nil
		}
		var reqs []reconcile.Request
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			m := o.(client.Object)
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(m)})
			return nil
		})
		return reqs
	}
}

// watchReferences makes a controller watch the metadata of Secrets,
// ConfigMaps and claims, waking the resources that reference them.
func watchReferences(b *builder.Builder, c client.Reader, newList func() client.ObjectList) *builder.Builder {
	for kind, obj := range map[string]client.Object{
		ccv1.KindSecret:    &corev1.Secret{},
		ccv1.KindConfigMap: &corev1.ConfigMap{},
		ccv1.KindPVC:       &corev1.PersistentVolumeClaim{},
	} {
		b = b.Watches(obj, handler.EnqueueRequestsFromMapFunc(enqueueReferencing(c, newList, kind)), builder.OnlyMetadata)
	}
	return b
}
