package controllers

import (
	"context"
	"crypto/rand"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
)

// ensureErasureSalt makes the database's erasure-salt Secret once, whichever
// of the conversion and the preference center sharing the database comes
// first. It has no owner: deleting either must not lose the salt the
// database's erasure hashes depend on. An existing one is never changed.
func ensureErasureSalt(ctx context.Context, cache client.Reader, c client.Client, namespace string, db *ccv1.DatabaseSpec) error {
	name := desired.ErasureSaltSecretName(db)
	err := cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secretMetadata())
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	if err := c.Create(ctx, desired.ErasureSaltSecret(namespace, db, salt)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the erasure salt Secret %s: %w", name, err)
	}
	return nil
}
