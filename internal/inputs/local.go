// Package inputs finds the bytes of a conversion's sources: on a workstation
// from files and manifests, in a cluster through the API, and from URLs.
package inputs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/fetch"
	"github.com/contactconverter/contact-converter/internal/objectstore"
	"github.com/contactconverter/contact-converter/internal/source"
)

// Local opens sources on a workstation: csv.path relative to the manifest's
// folder, ConfigMaps and Secrets from manifest files, and URLs.
type Local struct {
	// Dir is the manifest's folder.
	Dir        string
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
	URLs       URLs
}

// NewLocal loads the ConfigMaps and Secrets of the given manifest files.
func NewLocal(dir string, objectFiles []string) (*Local, error) {
	l := &Local{Dir: dir, ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}}
	for _, f := range objectFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range bytes.Split(data, []byte("\n---")) {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			switch meta.Kind {
			case "ConfigMap":
				var cm corev1.ConfigMap
				if err := yaml.UnmarshalStrict(doc, &cm); err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				l.ConfigMaps[cm.Name] = &cm
			case "Secret":
				var s corev1.Secret
				if err := yaml.UnmarshalStrict(doc, &s); err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				for k, v := range s.StringData {
					if s.Data == nil {
						s.Data = map[string][]byte{}
					}
					s.Data[k] = []byte(v)
				}
				l.Secrets[s.Name] = &s
			}
		}
	}
	return l, nil
}

// Open implements engine.Opener.
func (l *Local) Open(ctx context.Context, i int, src *ccv1.Source) (source.Table, int64, error) {
	where := fmt.Sprintf("spec.sources[%d] (%s)", i, src.Name)
	if src.SQL != nil {
		s, ok := l.Secrets[src.SQL.SecretRef.Name]
		if !ok {
			return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: Secret %q not found: pass its manifest with --objects", where, src.SQL.SecretRef.Name)}
		}
		uri, ok := s.Data[src.SQL.SecretRef.SecretKey()]
		if !ok {
			return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: Secret %q has no key %q", where, s.Name, src.SQL.SecretRef.SecretKey())}
		}
		return OpenSQL(ctx, string(uri), SQLTimeout, src.SQL.Query)
	}
	c := src.CSV
	opts := CSVOptions(c)
	opts.SpoolDir = l.URLs.Dir
	switch {
	case c.Path != "":
		full := c.Path
		if !filepath.IsAbs(full) {
			full = filepath.Join(l.Dir, full)
		}
		full, err := filepath.Abs(full)
		if err != nil {
			return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: csv.path: %w", where, err)}
		}
		return openPaths(where, "csv.path", "/", strings.TrimPrefix(full, "/"), opts)
	case c.S3 != nil:
		var keys *objectstore.Keys
		if ref := c.S3.SecretRef; ref != nil {
			s, ok := l.Secrets[ref.Name]
			if !ok {
				return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: csv.s3.secretRef: Secret %q not found: pass its manifest with --objects", where, ref.Name)}
			}
			var err error
			if keys, err = S3Keys(where+": csv.s3.secretRef", s); err != nil {
				return nil, 0, err
			}
		}
		return l.URLs.openS3(ctx, where, c, keys, opts)
	case c.PersistentVolumeClaim != nil:
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: csv.persistentVolumeClaim is read in a cluster, by the conversion's Job; on a workstation use csv.path", where)}
	case c.ConfigMapKeyRef != nil:
		cm, ok := l.ConfigMaps[c.ConfigMapKeyRef.Name]
		if !ok {
			return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: ConfigMap %q not found: pass its manifest with --objects", where, c.ConfigMapKeyRef.Name)}
		}
		return OpenConfigMapKey(where, cm, c.ConfigMapKeyRef.Key, opts)
	case c.SecretKeyRef != nil:
		s, ok := l.Secrets[c.SecretKeyRef.Name]
		if !ok {
			return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: Secret %q not found: pass its manifest with --objects", where, c.SecretKeyRef.Name)}
		}
		return OpenSecretKey(where, s, c.SecretKeyRef.Key, opts)
	case c.URL != "":
		return l.URLs.Open(ctx, where, c, opts)
	}
	return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: no data location", where)}
}

// CSVOptions reads a source's delimiter, encoding and archive settings.
func CSVOptions(c *ccv1.CSVSource) source.CSVOptions {
	o := source.CSVOptions{Encoding: c.Encoding, Member: c.Member}
	if c.Delimiter != "" {
		o.Delimiter = []rune(c.Delimiter)[0]
	}
	if c.MaxUncompressedSize != nil {
		o.MaxUncompressed = c.MaxUncompressedSize.Value()
	}
	return o
}

// OpenConfigMapKey reads a ConfigMap key, text or binary.
func OpenConfigMapKey(where string, cm *corev1.ConfigMap, key string, opts source.CSVOptions) (source.Table, int64, error) {
	var data []byte
	if v, ok := cm.Data[key]; ok {
		data = []byte(v)
	} else if v, ok := cm.BinaryData[key]; ok {
		data = v
	} else {
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: ConfigMap %q has no key %q", where, cm.Name, key)}
	}
	return openBytes(where, data, opts)
}

// OpenSecretKey reads a Secret key.
func OpenSecretKey(where string, s *corev1.Secret, key string, opts source.CSVOptions) (source.Table, int64, error) {
	data, ok := s.Data[key]
	if !ok {
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: Secret %q has no key %q", where, s.Name, key)}
	}
	return openBytes(where, data, opts)
}

func openBytes(where string, data []byte, opts source.CSVOptions) (source.Table, int64, error) {
	t, err := source.Open(bytes.NewReader(data), opts)
	if err != nil {
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: %w", where, err)}
	}
	sum := sha256.Sum256(data)
	return &source.Fingerprinted{Table: t, Print: hex.EncodeToString(sum[:])}, int64(len(data)), nil
}

// URLs is how lists from the network (csv.url, csv.s3) are read.
type URLs struct {
	// Policy lists the internal networks allowed besides public hosts.
	Policy fetch.Policy
	// Dir receives the downloads and spooled archives: the spill volume,
	// not an in-memory tmp.
	Dir string
}

// DefaultMaxSize caps a download when csv.maxSize is not set.
var DefaultMaxSize = resource.MustParse("2Gi")

// Open downloads a list into an unlinked file (a workbook needs random
// access) and opens it. A refused address or a file over csv.maxSize is bad
// input; network failures are tried again, then reported.
func (u URLs) Open(ctx context.Context, where string, c *ccv1.CSVSource, opts source.CSVOptions) (source.Table, int64, error) {
	limit := DefaultMaxSize
	if c.MaxSize != nil {
		limit = *c.MaxSize
	}
	f, n, err := fetch.Download(ctx, u.Policy, c.URL, u.Dir, limit.Value())
	var refused *fetch.RefusedError
	var tooBig *fetch.TooLargeError
	switch {
	case errors.As(err, &refused):
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: csv.url: %w", where, err)}
	case errors.As(err, &tooBig):
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: csv.url: %w (csv.maxSize is %s)", where, err, limit.String())}
	case err != nil:
		return nil, 0, fmt.Errorf("%s: downloading %s: %w", where, c.URL, err)
	}
	t, err := source.Open(f, opts)
	if err != nil {
		_ = f.Close()
		return nil, 0, &engine.ConfigError{Err: fmt.Errorf("%s: %s: %w", where, c.URL, err)}
	}
	return t, n, nil
}
