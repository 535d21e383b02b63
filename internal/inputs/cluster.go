package inputs

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/objectstore"
	"github.com/contactconverter/contact-converter/internal/source"
)

// Cluster opens sources through the Kubernetes API, reading ConfigMaps and
// Secrets of the conversion's own namespace only.
type Cluster struct {
	Client    client.Reader
	Namespace string
	URLs      URLs
	// ClaimsDir holds each csv.persistentVolumeClaim claim, mounted
	// read-only in a folder named after it.
	ClaimsDir string
}

// NewCluster returns an opener for namespace.
func NewCluster(c client.Reader, namespace string) *Cluster {
	return &Cluster{Client: c, Namespace: namespace}
}

// Open implements engine.Opener.
func (c *Cluster) Open(ctx context.Context, i int, src *ccv1.Source) (source.Table, int64, error) {
	where := fmt.Sprintf("spec.sources[%d] (%s)", i, src.Name)
	if src.SQL != nil {
		uri, err := c.SecretValue(ctx, where+".sql.secretRef", src.SQL.SecretRef.Name, src.SQL.SecretRef.SecretKey())
		if err != nil {
			return nil, 0, err
		}
		return OpenSQL(ctx, uri, SQLTimeout, src.SQL.Query)
	}
	csv := src.CSV
	opts := CSVOptions(csv)
	opts.SpoolDir = c.URLs.Dir
	switch {
	case csv.ConfigMapKeyRef != nil:
		var cm corev1.ConfigMap
		if err := c.get(ctx, where+".csv.configMapKeyRef", csv.ConfigMapKeyRef.Name, &cm); err != nil {
			return nil, 0, err
		}
		return OpenConfigMapKey(where, &cm, csv.ConfigMapKeyRef.Key, opts)
	case csv.SecretKeyRef != nil:
		var s corev1.Secret
		if err := c.get(ctx, where+".csv.secretKeyRef", csv.SecretKeyRef.Name, &s); err != nil {
			return nil, 0, err
		}
		return OpenSecretKey(where, &s, csv.SecretKeyRef.Key, opts)
	case csv.URL != "":
		return c.URLs.Open(ctx, where, csv, opts)
	case csv.S3 != nil:
		var keys *objectstore.Keys
		if ref := csv.S3.SecretRef; ref != nil {
			var s corev1.Secret
			if err := c.get(ctx, where+".csv.s3.secretRef", ref.Name, &s); err != nil {
				return nil, 0, err
			}
			var err error
			if keys, err = S3Keys(where+": csv.s3.secretRef", &s); err != nil {
				return nil, 0, err
			}
		}
		return c.URLs.openS3(ctx, where, csv, keys, opts)
	case csv.PersistentVolumeClaim != nil:
		if c.ClaimsDir == "" {
			return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: csv.persistentVolumeClaim is read by the conversion's Job, which mounts the claim", where)}
		}
		claim := csv.PersistentVolumeClaim
		return openPaths(where, "csv.persistentVolumeClaim.path", filepath.Join(c.ClaimsDir, claim.ClaimName), claim.Path, opts)
	}
	return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: csv.path is only read on a workstation; in a cluster use configMapKeyRef, secretKeyRef, url, s3 or persistentVolumeClaim", where)}
}

// SecretValue reads one key of a Secret in the namespace.
func (c *Cluster) SecretValue(ctx context.Context, field, name, key string) (string, error) {
	var s corev1.Secret
	if err := c.get(ctx, field, name, &s); err != nil {
		return "", err
	}
	v, ok := s.Data[key]
	if !ok {
		return "", &engine.ConfigError{Err: fmt.Errorf("%s: Secret %q has no key %q", field, name, key)}
	}
	return string(v), nil
}

func (c *Cluster) get(ctx context.Context, field, name string, obj client.Object) error {
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return &engine.ConfigError{Err: fmt.Errorf("%s: %s %q not found in namespace %q", field, kindOf(obj), name, c.Namespace)}
	}
	if err != nil {
		return fmt.Errorf("%s: reading %q: %w", field, name, err)
	}
	return nil
}

func kindOf(obj client.Object) string {
	if _, ok := obj.(*corev1.Secret); ok {
		return "Secret"
	}
	return "ConfigMap"
}
