package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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

// checkReferences verifies that every referenced object exists in namespace
// and holds its key. It returns the first problem, or nil. Only ns is read:
// the API offers no way to name another namespace.
func checkReferences(ctx context.Context, r client.Reader, ns string, refs []ccv1.Reference) (*referenceProblem, error) {
	for _, ref := range refs {
		key := client.ObjectKey{Namespace: ns, Name: ref.Name}
		var (
			err     error
			hasKey  bool
			reason  string
			dataSet string
		)
		switch ref.Kind {
		case ccv1.KindSecret:
			var s corev1.Secret
			err = r.Get(ctx, key, &s)
			_, hasKey = s.Data[ref.Key]
			reason, dataSet = ccv1.ReasonSecretNotFound, "data"
		case ccv1.KindConfigMap:
			var cm corev1.ConfigMap
			err = r.Get(ctx, key, &cm)
			_, inData := cm.Data[ref.Key]
			_, inBinary := cm.BinaryData[ref.Key]
			hasKey = inData || inBinary
			reason, dataSet = ccv1.ReasonConfigMapNotFound, "data or binaryData"
		case ccv1.KindPVC:
			var pvc corev1.PersistentVolumeClaim
			err = r.Get(ctx, key, &pvc)
			hasKey, reason = true, ccv1.ReasonClaimNotFound
		default:
			return nil, fmt.Errorf("unknown reference kind %q", ref.Kind)
		}
		switch {
		case apierrors.IsNotFound(err):
			return &referenceProblem{Reason: reason, Message: fmt.Sprintf(
				"%s: %s %q not found in namespace %q; create it or fix the name", ref.Field, ref.Kind, ref.Name, ns)}, nil
		case err != nil:
			return nil, err
		case ref.Key != "" && !hasKey:
			return &referenceProblem{Reason: reason, Message: fmt.Sprintf(
				"%s: %s %q has no key %q in its %s; add the key or fix the reference", ref.Field, ref.Kind, ref.Name, ref.Key, dataSet)}, nil
		}
	}
	return nil, nil
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
