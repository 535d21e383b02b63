package cli

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/inputs"
	"github.com/contactconverter/contact-converter/internal/objectstore"
)

// uploadMount is where the upload pod mounts the claim.
const uploadMount = "/data"

// LabelUpload marks an upload pod with its conversion.
const LabelUpload = "contacts.contactconverter.io/upload"

type uploadOptions struct {
	*pluginOptions
	to         string
	image      string
	useEnv     bool
	podTimeout time.Duration
}

func (o *pluginOptions) uploadCommand() *cobra.Command {
	u := &uploadOptions{pluginOptions: o}
	cmd := &cobra.Command{
		Use:   "upload NAME SOURCE FILE",
		Short: "Put a list where a source reads it: its S3 bucket, or its PersistentVolumeClaim",
		Long: `upload puts FILE where the source SOURCE of the conversion NAME reads it, and
prints its SHA-256; the conversion's report shows the same checksum for the
file it read.

  csv.s3                     uploaded with the keys of csv.s3.secretRef (or,
                             with --env-credentials, the AWS_* variables and
                             your profile's role), in parts when large
  csv.persistentVolumeClaim  streamed into a short-lived pod that mounts the
                             claim (restricted profile), checked against the
                             checksum, and moved in place only if it matches

When the source's key or path is a glob, --to names the file (it must match).`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return u.run(cmd, args[0], args[1], args[2])
		},
	}
	f := cmd.Flags()
	f.StringVar(&u.to, "to", "", "the key or path to write (default: the source's, when it is not a glob)")
	f.StringVar(&u.image, "image", cmp.Or(os.Getenv("OPERATOR_IMAGE"), DefaultImage), "the image of the upload pod (a claim): the operator's ($OPERATOR_IMAGE)")
	f.BoolVar(&u.useEnv, "env-credentials", false, "S3: use the AWS_* variables or your role instead of csv.s3.secretRef")
	f.DurationVar(&u.podTimeout, "pod-timeout", 5*time.Minute, "how long to wait for the upload pod to start")
	return cmd
}

func (u *uploadOptions) run(cmd *cobra.Command, name, sourceName, file string) error {
	ctx := cmd.Context()
	c, ns, cc, err := u.conversion(ctx, name)
	if err != nil {
		return err
	}
	var src *ccv1.Source
	var names []string
	for i := range cc.Spec.Sources {
		names = append(names, cc.Spec.Sources[i].Name)
		if cc.Spec.Sources[i].Name == sourceName {
			src = &cc.Spec.Sources[i]
		}
	}
	if src == nil {
		return fmt.Errorf("conversion %s has no source %q; its sources are %s", name, sourceName, strings.Join(names, ", "))
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	switch {
	case src.CSV != nil && src.CSV.S3 != nil:
		return u.toS3(ctx, cmd, c, ns, src, f, st.Size())
	case src.CSV != nil && src.CSV.PersistentVolumeClaim != nil:
		return u.toClaim(ctx, cmd, c, cc, src, f, st.Size())
	}
	return fmt.Errorf("source %s is not read from csv.s3 or csv.persistentVolumeClaim: upload has nowhere to put the file", sourceName)
}

// target is where the file goes: --to, or the source's own key or path.
func (u *uploadOptions) target(field, pattern string) (string, error) {
	to := u.to
	if to == "" {
		if objectstore.IsGlob(pattern) {
			return "", fmt.Errorf("%s is the glob %q: name the file with --to", field, pattern)
		}
		return pattern, nil
	}
	if objectstore.IsGlob(to) {
		return "", fmt.Errorf("--to %q is a glob: name one file", to)
	}
	if path.IsAbs(to) || slices.Contains(strings.Split(to, "/"), "..") {
		return "", fmt.Errorf("--to %q must be relative to the bucket or claim and may not contain '..'", to)
	}
	if ok, _ := path.Match(pattern, to); !ok && to != pattern {
		return "", fmt.Errorf("--to %q does not match %s %q, so the conversion would not read it", to, field, pattern)
	}
	return to, nil
}

func (u *uploadOptions) toS3(ctx context.Context, cmd *cobra.Command, c client.Client, ns string, src *ccv1.Source, f *os.File, size int64) error {
	s3 := src.CSV.S3
	key, err := u.target("csv.s3.key", s3.Key)
	if err != nil {
		return err
	}
	var keys *objectstore.Keys
	if s3.SecretRef != nil && !u.useEnv {
		var secret corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: s3.SecretRef.Name}, &secret); err != nil {
			return fmt.Errorf("reading csv.s3.secretRef %s (or pass --env-credentials): %w", s3.SecretRef.Name, err)
		}
		if keys, err = inputs.S3Keys("csv.s3.secretRef", &secret); err != nil {
			return err
		}
	}
	store, err := objectstore.New(objectstore.Location{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, PathStyle: s3.PathStyle}, keys, nil)
	if err != nil {
		return err
	}
	h := sha256.New()
	in := io.TeeReader(withProgress(f, size, cmd.ErrOrStderr()), h)
	etag, err := store.Upload(ctx, key, in, size)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "uploaded %s to s3://%s/%s: %d bytes, sha256 %s, etag %s\n", f.Name(), s3.Bucket, key, size, hex.EncodeToString(h.Sum(nil)), etag)
	return nil
}

func (u *uploadOptions) toClaim(ctx context.Context, cmd *cobra.Command, c client.Client, cc *ccv1.ContactConversion, src *ccv1.Source, f *os.File, size int64) error {
	claim := src.CSV.PersistentVolumeClaim
	to, err := u.target("csv.persistentVolumeClaim.path", claim.Path)
	if err != nil {
		return err
	}
	// The checksum first: the pod moves the file in place only if the
	// bytes it received have it.
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	pod := uploadPod(cc, claim.ClaimName, u.image)
	if err := c.Create(ctx, pod); err != nil {
		return fmt.Errorf("creating the upload pod (you need to create pods and pods/exec in %s): %w", cc.Namespace, err)
	}
	defer func() {
		del, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = c.Delete(del, pod, client.PropagationPolicy(metav1.DeletePropagationBackground), client.GracePeriodSeconds(0))
	}()
	fmt.Fprintf(cmd.ErrOrStderr(), "waiting for pod %s to mount claim %s\n", pod.Name, claim.ClaimName)
	if err := waitRunning(ctx, c, pod, u.podTimeout); err != nil {
		return err
	}
	var stdout, stderr bytes.Buffer
	if err := u.exec(ctx, pod, []string{"/contact-converter", "receive-file", "--to", uploadMount + "/" + to, "--sha256", sum},
		withProgress(f, size, cmd.ErrOrStderr()), &stdout, &stderr); err != nil {
		return fmt.Errorf("streaming into the pod: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if got := strings.TrimSpace(stdout.String()); got != sum {
		return fmt.Errorf("the pod received a file with sha256 %q, not %s; nothing was kept", got, sum)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "uploaded %s to claim %s, path %s: %d bytes, sha256 %s\n", f.Name(), claim.ClaimName, to, size, sum)
	return nil
}

// uploadPod mounts the claim, read-write, in the restricted profile, and
// waits for the file: receive-file runs in it through exec. It goes away
// by itself within the hour if the upload is abandoned.
func uploadPod(cc *ccv1.ContactConversion, claim, image string) *corev1.Pod {
	pod := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{GenerateName: ccv1.TruncateName(cc.Name, 40) + "-upload-", Namespace: cc.Namespace,
			Labels: map[string]string{LabelUpload: cc.Name}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To[int64](3600),
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			SecurityContext:               desired.RestrictedPodSecurity(),
			Volumes: []corev1.Volume{{Name: "claim", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
			Containers: []corev1.Container{{
				Name: "receive", Image: image, Args: []string{"upload-receiver", "--idle-timeout", "55m"},
				SecurityContext: desired.RestrictedContainerSecurity(),
				VolumeMounts:    []corev1.VolumeMount{{Name: "claim", MountPath: uploadMount}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: desired.DefaultJobResources.Requests[corev1.ResourceCPU], corev1.ResourceMemory: desired.DefaultJobResources.Requests[corev1.ResourceMemory]}},
			}},
		},
	}
	// On the database's own claim, it joins the pods that mount it.
	if db := cc.Spec.Database.SQLite; db != nil && db.PersistentVolumeClaim == claim {
		desired.SameNodeAsClaim(pod, claim)
	}
	return &corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
}

// waitRunning waits for the pod to run, or says why it does not.
func waitRunning(ctx context.Context, c client.Client, pod *corev1.Pod, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		switch pod.Status.Phase {
		case corev1.PodRunning:
			return nil
		case corev1.PodFailed, corev1.PodSucceeded:
			return fmt.Errorf("the upload pod %s ended (%s): %s", pod.Name, pod.Status.Phase, pod.Status.Message)
		}
		if time.Now().After(deadline) {
			why := pod.Status.Message
			for _, cs := range pod.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil {
					why = w.Reason + ": " + w.Message
				}
			}
			for _, cond := range pod.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue {
					why = cond.Reason + ": " + cond.Message
				}
			}
			return fmt.Errorf("the upload pod %s did not start within %s (%s); kubectl describe pod %s -n %s tells more",
				pod.Name, timeout, strings.TrimSpace(why), pod.Name, pod.Namespace)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// exec runs command in the pod's container, as kubectl exec does:
// WebSocket first, SPDY when the server does not take it.
func (u *uploadOptions) exec(ctx context.Context, pod *corev1.Pod, command []string, in io.Reader, out, errOut io.Writer) error {
	rc, _, err := u.restConfig()
	if err != nil {
		return err
	}
	cs, err := u.clientset()
	if err != nil {
		return err
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: pod.Spec.Containers[0].Name, Command: command, Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(rc, "GET", req.URL().String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(rc, "POST", req.URL())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool { return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err) })
	if err != nil {
		return err
	}
	return exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: in, Stdout: out, Stderr: errOut})
}

// withProgress reports on w how much of r (size bytes) was read, every 5%
// for a file over 16 MiB.
func withProgress(r io.Reader, size int64, w io.Writer) io.Reader {
	if size < 16<<20 {
		return r
	}
	return &progressReader{r: r, size: size, w: w}
}

type progressReader struct {
	r         io.Reader
	size, n   int64
	lastShown int64
	w         io.Writer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if pct := p.n * 100 / p.size; pct >= p.lastShown+5 || errors.Is(err, io.EOF) && pct > p.lastShown {
		p.lastShown = pct
		fmt.Fprintf(p.w, "  %3d%%  %d of %d MiB\n", pct, p.n>>20, p.size>>20)
	}
	return n, err
}

// newUploadReceiverCommand is the upload pod's process: it waits for
// receive-file, run through exec, and ends by itself if nobody comes.
func newUploadReceiverCommand() *cobra.Command {
	var idle time.Duration
	cmd := &cobra.Command{
		Use:    "upload-receiver",
		Short:  "The upload pod's process (kubectl contacts upload)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			select {
			case <-cmd.Context().Done():
			case <-time.After(idle):
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&idle, "idle-timeout", time.Hour, "end after this long")
	return cmd
}

// newReceiveFileCommand writes standard input to --to, atomically, if its
// SHA-256 is --sha256, and prints the checksum.
func newReceiveFileCommand() *cobra.Command {
	var to, want string
	cmd := &cobra.Command{
		Use:    "receive-file --to PATH --sha256 HEX",
		Short:  "Write standard input to a file if its checksum matches (kubectl contacts upload)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sum, err := receiveFile(cmd.InOrStdin(), to, want)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), sum)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the file to write")
	cmd.Flags().StringVar(&want, "sha256", "", "the checksum the bytes must have")
	_ = cmd.MarkFlagRequired("to")
	_ = cmd.MarkFlagRequired("sha256")
	return cmd
}

// receiveFile writes in to a temporary file beside to, and moves it in place
// only if its checksum is want: a broken transfer leaves the old file.
func receiveFile(in io.Reader, to, want string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(to), 0o775); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".upload-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), in); err != nil {
		_ = tmp.Close()
		return "", err
	}
	if err := errors.Join(tmp.Chmod(0o664), tmp.Sync(), tmp.Close()); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != want {
		return "", fmt.Errorf("received bytes with sha256 %s, not %s: the file was not written", sum, want)
	}
	return sum, os.Rename(tmp.Name(), to)
}
