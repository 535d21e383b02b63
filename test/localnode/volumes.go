package localnode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// tokenDir is where a Pod finds its service account's token, as in-cluster
// clients expect.
const tokenDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// volume is a prepared volume: a host folder to bind-mount.
type volume struct {
	path string
}

// prepareVolumes fills a folder per volume: ConfigMap and Secret files,
// empty folders, persistent folders for claims, and the service account
// token.
func (r *podRun) prepareVolumes(ctx context.Context, pod *corev1.Pod) (map[string]volume, error) {
	base := filepath.Join(r.dir, "volumes")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	gid := fsGroup(pod)
	out := map[string]volume{}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(base, v.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var err error
		switch src := v.VolumeSource; {
		case src.EmptyDir != nil:
			err = os.Chmod(dir, 0o777)
		case src.ConfigMap != nil:
			err = r.writeConfigMap(ctx, dir, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.DefaultMode, src.ConfigMap.Optional, gid)
		case src.Secret != nil:
			err = r.writeSecret(ctx, dir, src.Secret.SecretName, src.Secret.Items, src.Secret.DefaultMode, src.Secret.Optional, gid)
		case src.PersistentVolumeClaim != nil:
			dir, err = r.claimDir(ctx, src.PersistentVolumeClaim.ClaimName)
		case src.Projected != nil:
			err = r.writeProjected(ctx, pod, dir, src.Projected, gid)
		default:
			err = fmt.Errorf("volume %s: localnode supports configMap, secret, emptyDir, persistentVolumeClaim and projected volumes", v.Name)
		}
		if err != nil {
			return nil, err
		}
		out[v.Name] = volume{path: dir}
	}
	if automount(ctx, r, pod) {
		dir := filepath.Join(base, "kube-api-access")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := r.writeToken(ctx, pod, dir, "token", "", 3600, gid); err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(dir, "ca.crt"), r.n.Config.CAData, 0o644, gid); err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(dir, "namespace"), []byte(pod.Namespace), 0o644, gid); err != nil {
			return nil, err
		}
		out["kube-api-access"] = volume{path: dir}
	}
	return out, nil
}

// automount tells whether the service account token is mounted, as the
// ServiceAccount admission plugin would have arranged.
func automount(ctx context.Context, r *podRun, pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if m.MountPath == tokenDir {
				return false
			}
		}
	}
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	sa, err := r.n.Client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, serviceAccount(pod), metav1.GetOptions{})
	return err != nil || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken
}

func serviceAccount(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

func fsGroup(pod *corev1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.FSGroup
	}
	return nil
}

// writeFile writes a volume file owned by root and the Pod's fsGroup.
func writeFile(path string, data []byte, mode os.FileMode, gid *int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	if gid != nil {
		return os.Chown(path, 0, int(*gid))
	}
	return nil
}

func fileMode(item *int32, def *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return 0o644
}

func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, gid *int64, what string) error {
	if len(items) == 0 {
		for k, v := range data {
			if err := writeFile(filepath.Join(dir, k), v, fileMode(nil, defaultMode), gid); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("%s has no key %q", what, it.Key)
		}
		if err := writeFile(filepath.Join(dir, it.Path), v, fileMode(it.Mode, defaultMode), gid); err != nil {
			return err
		}
	}
	return nil
}

func (r *podRun) writeConfigMap(ctx context.Context, dir, name string, items []corev1.KeyToPath, mode *int32, optional *bool, gid *int64) error {
	cm, err := r.n.Client.CoreV1().ConfigMaps(r.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && ptr.Deref(optional, false) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ConfigMap %s: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return writeKeys(dir, data, items, mode, gid, "ConfigMap "+name)
}

func (r *podRun) writeSecret(ctx context.Context, dir, name string, items []corev1.KeyToPath, mode *int32, optional *bool, gid *int64) error {
	s, err := r.n.Client.CoreV1().Secrets(r.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && ptr.Deref(optional, false) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("Secret %s: %w", name, err)
	}
	return writeKeys(dir, s.Data, items, mode, gid, "Secret "+name)
}

// claimDir is a claim's folder on the node: it outlives the Pods.
func (r *podRun) claimDir(ctx context.Context, claim string) (string, error) {
	if _, err := r.n.Client.CoreV1().PersistentVolumeClaims(r.ns).Get(ctx, claim, metav1.GetOptions{}); err != nil {
		return "", fmt.Errorf("PersistentVolumeClaim %s: %w", claim, err)
	}
	dir := filepath.Join(r.n.DataDir, "claims", r.ns, claim)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o777)
}

func (r *podRun) writeToken(ctx context.Context, pod *corev1.Pod, dir, path, audience string, seconds int64, gid *int64) error {
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(max(seconds, 3600))}}
	if pod.Spec.ServiceAccountName != "" {
		// Bound to the Pod, as the kubelet does; a Pod that names no
		// account (no admission plugin filled it in) gets an unbound one.
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	if audience != "" {
		req.Spec.Audiences = []string{audience}
	}
	tok, err := r.n.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, serviceAccount(pod), req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token of ServiceAccount %s: %w", serviceAccount(pod), err)
	}
	return writeFile(filepath.Join(dir, path), []byte(tok.Status.Token), 0o644, gid)
}

func (r *podRun) writeProjected(ctx context.Context, pod *corev1.Pod, dir string, p *corev1.ProjectedVolumeSource, gid *int64) error {
	for _, s := range p.Sources {
		var err error
		switch {
		case s.ServiceAccountToken != nil:
			err = r.writeToken(ctx, pod, dir, s.ServiceAccountToken.Path, s.ServiceAccountToken.Audience, ptr.Deref(s.ServiceAccountToken.ExpirationSeconds, 3600), gid)
		case s.ConfigMap != nil:
			err = r.writeConfigMap(ctx, dir, s.ConfigMap.Name, s.ConfigMap.Items, p.DefaultMode, s.ConfigMap.Optional, gid)
		case s.Secret != nil:
			err = r.writeSecret(ctx, dir, s.Secret.Name, s.Secret.Items, p.DefaultMode, s.Secret.Optional, gid)
		case s.DownwardAPI != nil:
			for _, it := range s.DownwardAPI.Items {
				if it.FieldRef == nil {
					return fmt.Errorf("downwardAPI %s: only fieldRef is supported", it.Path)
				}
				v, ferr := fieldValue(pod, it.FieldRef.FieldPath)
				if ferr != nil {
					return ferr
				}
				if err = writeFile(filepath.Join(dir, it.Path), []byte(v), fileMode(it.Mode, p.DefaultMode), gid); err != nil {
					return err
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prepareContainer resolves a container's environment and writes its
// sandbox file.
func (r *podRun) prepareContainer(ctx context.Context, pod *corev1.Pod, c *containerRun, volumes map[string]volume) error {
	dir := filepath.Join(r.dir, "containers", c.spec.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c.logPath = filepath.Join(dir, "log")
	c.msgPath = filepath.Join(dir, "termination-log")
	env, err := r.environment(ctx, pod, &c.spec)
	if err != nil {
		return err
	}
	vars := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars[k] = v
	}
	args := append(expandAll(c.spec.Command[min(1, len(c.spec.Command)):], vars), expandAll(c.spec.Args, vars)...)
	sb := sandbox{Binary: r.n.Binary, Args: args, Env: env, Dir: c.spec.WorkingDir}
	msgTarget := c.spec.TerminationMessagePath
	if msgTarget == "" {
		msgTarget = corev1.TerminationMessagePathDefault
	}
	sb.Mounts = append(sb.Mounts, mount{Source: c.msgPath, Target: msgTarget, File: true})
	for _, m := range c.spec.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			return fmt.Errorf("container %s mounts volume %q, which the Pod does not declare", c.spec.Name, m.Name)
		}
		src := v.path
		if m.SubPath != "" {
			src = filepath.Join(src, m.SubPath)
		}
		info, err := os.Stat(src)
		if err != nil {
			return err
		}
		sb.Mounts = append(sb.Mounts, mount{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly, File: !info.IsDir()})
	}
	if v, ok := volumes["kube-api-access"]; ok {
		sb.Mounts = append(sb.Mounts, mount{Source: v.path, Target: tokenDir, ReadOnly: true})
	}
	uid, gid, groups := identity(pod, &c.spec)
	sb.UID, sb.GID, sb.Groups = uid, gid, groups
	if sc := c.spec.SecurityContext; sc != nil && ptr.Deref(sc.ReadOnlyRootFilesystem, false) {
		sb.ReadOnlyRoot = true
	}
	data, err := json.Marshal(&sb)
	if err != nil {
		return err
	}
	c.sandbox = filepath.Join(dir, "sandbox.json")
	return os.WriteFile(c.sandbox, data, 0o600)
}

// nonRootUser is the image's user: distroless "nonroot".
const nonRootUser = 65532

// identity is the user, group and supplementary groups a container runs
// as; an image user is assumed to be the distroless nonroot user.
func identity(pod *corev1.Pod, c *corev1.Container) (uid, gid *int64, groups []int64) {
	uid, gid = ptr.To[int64](nonRootUser), ptr.To[int64](nonRootUser)
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
		if sc.FSGroup != nil {
			groups = append(groups, *sc.FSGroup)
		}
		groups = append(groups, sc.SupplementalGroups...)
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
	}
	if len(groups) == 0 {
		groups = []int64{*gid}
	}
	return uid, gid, groups
}
