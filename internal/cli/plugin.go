package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/contactsctl"
	"github.com/contactconverter/contact-converter/internal/csvsafe"
	"github.com/contactconverter/contact-converter/internal/inventory"
	"github.com/contactconverter/contact-converter/internal/kubescheme"
)

// pluginName is the name kubectl finds the plugin by, on the PATH.
const pluginName = "kubectl-contacts"

// isPlugin tells whether the binary runs as `kubectl contacts`: it is
// called kubectl-contacts (a symlink or copy).
func isPlugin(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == pluginName
}

// pluginOptions are the flags every plugin command takes, as kubectl's.
type pluginOptions struct {
	kubeconfig, context, namespace string
	allNamespaces                  bool

	// rest and resolvedNamespace are the kubeconfig's, once read.
	rest              *rest.Config
	resolvedNamespace string
}

// client connects as kubectl would, and returns the namespace to work in.
func (o *pluginOptions) client() (client.Client, string, error) {
	rest, ns, err := o.restConfig()
	if err != nil {
		return nil, "", err
	}
	c, err := client.New(rest, client.Options{Scheme: kubescheme.New()})
	return c, ns, err
}

// restConfig reads the kubeconfig, once per command.
func (o *pluginOptions) restConfig() (*rest.Config, string, error) {
	if o.rest != nil {
		return o.rest, o.resolvedNamespace, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	cfg := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context})
	ns, _, err := cfg.Namespace()
	if err != nil {
		return nil, "", err
	}
	rc, err := cfg.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	o.rest, o.resolvedNamespace = rc, cmp.Or(o.namespace, ns)
	return o.rest, o.resolvedNamespace, nil
}

// newPluginCommand is `kubectl contacts`.
func newPluginCommand() *cobra.Command {
	o := &pluginOptions{}
	root := &cobra.Command{
		Use:         pluginName,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl contacts"},
		Short:       "Inspect and drive contact-converter conversions",
		Long: `kubectl contacts shows what a ContactConversion is doing and drives it: run it
now, pause or resume it, read and settle its conflicts.

Install it by putting the contact-converter binary on the PATH as
kubectl-contacts (make plugin builds bin/kubectl-contacts).`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "path to the kubeconfig file")
	f.StringVar(&o.context, "context", "", "the kubeconfig context to use")
	f.StringVarP(&o.namespace, "namespace", "n", "", "the namespace (default: the context's)")
	root.AddCommand(o.statusCommand(), o.runNowCommand(), o.suspendCommand("pause", true), o.suspendCommand("resume", false),
		o.conflictsCommand(), o.resolveCommand(), o.inventoryCommand(), o.logsCommand(), o.reportCommand(), o.uploadCommand())
	return root
}

// conversion connects and fetches the named conversion of the namespace.
func (o *pluginOptions) conversion(ctx context.Context, name string) (client.Client, string, *ccv1.ContactConversion, error) {
	c, ns, err := o.client()
	if err != nil {
		return nil, "", nil, err
	}
	cc := &ccv1.ContactConversion{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", nil, fmt.Errorf("no ContactConversion %s in namespace %s; kubectl contacts status -A lists them", name, ns)
		}
		return nil, "", nil, err
	}
	return c, ns, cc, nil
}

// clientset is for what the controller-runtime client does not do: logs.
func (o *pluginOptions) clientset() (kubernetes.Interface, error) {
	rc, _, err := o.restConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}

func (o *pluginOptions) statusCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Without NAME, a table of conversions; with NAME, what it is doing in plain words",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			if len(args) == 1 {
				c, _, cc, err := o.conversion(ctx, args[0])
				if err != nil {
					return err
				}
				if output != "table" {
					return printObject(out, output, cc)
				}
				rel, err := related(ctx, c, cc)
				if err != nil {
					return err
				}
				_, err = io.WriteString(out, contactsctl.Describe(cc, rel, time.Now()))
				return err
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			var list ccv1.ContactConversionList
			var opts []client.ListOption
			if !o.allNamespaces {
				opts = append(opts, client.InNamespace(ns))
			}
			if err := c.List(ctx, &list, opts...); err != nil {
				return err
			}
			slices.SortFunc(list.Items, func(a, b ccv1.ContactConversion) int {
				return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
			})
			if output != "table" {
				return printObject(out, output, &list)
			}
			if len(list.Items) == 0 {
				where := "in namespace " + ns
				if o.allNamespaces {
					where = "in any namespace"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "No ContactConversion %s.\n", where)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(contactsctl.StatusHeader(o.allNamespaces), "\t"))
			now := time.Now()
			for i := range list.Items {
				fmt.Fprintln(tw, strings.Join(contactsctl.StatusRow(&list.Items[i], o.allNamespaces, now), "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the conversions of every namespace")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table, json or yaml")
	return cmd
}

// related fetches the Job, its pods and the preference centers a
// description shows.
func related(ctx context.Context, c client.Client, cc *ccv1.ContactConversion) (contactsctl.Related, error) {
	var rel contactsctl.Related
	if cc.Status.JobName != "" {
		job := &batchv1.Job{}
		switch err := c.Get(ctx, types.NamespacedName{Namespace: cc.Namespace, Name: cc.Status.JobName}, job); {
		case err == nil:
			rel.Job = job
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(cc.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
				return rel, err
			}
			rel.Pods = pods.Items
		case !apierrors.IsNotFound(err):
			return rel, err
		}
	}
	cm := &corev1.ConfigMap{}
	switch err := c.Get(ctx, types.NamespacedName{Namespace: cc.Namespace, Name: cc.InventoryConfigMapName()}, cm); {
	case err == nil && cm.Data["inventory.json"] != "":
		var doc inventory.Document
		if json.Unmarshal([]byte(cm.Data["inventory.json"]), &doc) == nil {
			rel.Inventory = &doc
		}
	case err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err):
		return rel, err
	}
	var pcs ccv1.PreferenceCenterList
	if err := c.List(ctx, &pcs, client.InNamespace(cc.Namespace)); err != nil {
		return rel, err
	}
	for _, pc := range pcs.Items {
		if pc.Spec.ConversionRef != nil && pc.Spec.ConversionRef.Name == cc.Name {
			rel.PreferenceCenters = append(rel.PreferenceCenters, pc)
		}
	}
	return rel, nil
}

func (o *pluginOptions) runNowCommand() *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "run-now NAME",
		Short: "Ask for a run now, ignoring the windows (not spec.suspend)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			c, ns, cc, err := o.conversion(ctx, args[0])
			if err != nil {
				return err
			}
			stamp := time.Now().UTC().Format(time.RFC3339Nano)
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{ccv1.RunRequestedAtAnnotation: stamp}}})
			if err := c.Patch(ctx, cc, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return err
			}
			fmt.Fprintf(out, "contactconversion %s/%s: run requested at %s\n", ns, cc.Name, stamp)
			if cc.Spec.Suspend {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: spec.suspend is true, so it runs once resumed (kubectl contacts resume %s)\n", cc.Name)
			}
			if !wait {
				return nil
			}
			deadline := time.Now().Add(timeout)
			for time.Now().Before(deadline) {
				if err := c.Get(ctx, client.ObjectKeyFromObject(cc), cc); err != nil {
					return err
				}
				if cc.Status.LastHandledRunRequest == stamp {
					fmt.Fprintf(out, "handled: phase %s", cmp.Or(cc.Status.Phase, "-"))
					for _, cond := range cc.Status.Conditions {
						if cond.Type == ccv1.ConditionReady {
							fmt.Fprintf(out, ": %s", cond.Message)
						}
					}
					fmt.Fprintln(out)
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
			}
			return fmt.Errorf("the operator did not take the request within %s: is it running? kubectl contacts status %s", timeout, cc.Name)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the operator has taken the request, and show what it did")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long --wait waits")
	return cmd
}

// suspendCommand is pause (suspend true) or resume.
func (o *pluginOptions) suspendCommand(verb string, suspend bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: map[bool]string{true: "Pause a conversion (spec.suspend: true); a running Job stops at a checkpoint", false: "Resume a paused conversion (spec.suspend: false)"}[suspend],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, ns, cc, err := o.conversion(ctx, args[0])
			if err != nil {
				return err
			}
			warnGitOps(cmd.ErrOrStderr(), cc, fmt.Sprintf("set `suspend: %t` under spec in git", suspend))
			patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"suspend": suspend}})
			if err := c.Patch(ctx, cc, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "contactconversion %s/%s: spec.suspend is %t\n", ns, cc.Name, suspend)
			return nil
		},
	}
}

// warnGitOps warns that a GitOps tool will put the spec back.
func warnGitOps(w io.Writer, cc *ccv1.ContactConversion, inGit string) {
	if tool := contactsctl.GitOpsManager(cc); tool != "" {
		fmt.Fprintf(w, "warning: %s applies this ContactConversion from git, and its next sync puts this change back; to keep it, %s.\n", tool, inGit)
	}
}

func (o *pluginOptions) conflictsCommand() *cobra.Command {
	var unresolved bool
	var output string
	cmd := &cobra.Command{
		Use:   "conflicts NAME",
		Short: "List the conflicts of the last run, from its report Secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "csv"); err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			c, ns, cc, err := o.conversion(ctx, args[0])
			if err != nil {
				return err
			}
			if cc.Status.Conflicts == nil || cc.Status.Conflicts.ReportSecret == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "No conflicts reported yet: the conversion has not finished a run (kubectl contacts status %s).\n", cc.Name)
				return nil
			}
			secret := &corev1.Secret{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: cc.Status.Conflicts.ReportSecret}, secret); err != nil {
				return fmt.Errorf("reading the report Secret %s: %w", cc.Status.Conflicts.ReportSecret, err)
			}
			conflicts, err := contactsctl.ReadConflicts(bytes.NewReader(secret.Data["conflicts.csv"]), unresolved)
			if err != nil {
				return fmt.Errorf("Secret %s: conflicts.csv: %w", secret.Name, err)
			}
			if output == "csv" {
				w := csvsafe.NewWriter(out)
				_ = w.Write([]string{"key", "field", "values", "resolved"})
				for _, c := range conflicts {
					_ = w.Write([]string{c.Key, c.Field, c.Values, fmt.Sprint(c.Resolved)})
				}
				w.Flush()
				return w.Error()
			}
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "KEY\tFIELD\tVALUES\tRESOLVED")
			for _, c := range conflicts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", c.Key, c.Field, c.Values, c.Resolved)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if n := cc.Status.Conflicts.Unresolved; n > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "Settle one: kubectl contacts resolve %s KEY FIELD VALUE\n", cc.Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&unresolved, "unresolved", false, "only the unresolved ones")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or csv")
	return cmd
}

func (o *pluginOptions) resolveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resolve NAME KEY FIELD VALUE",
		Short: "Settle one conflict: append a resolution to spec.conflicts.resolutions",
		Args:  cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, ns, cc, err := o.conversion(ctx, args[0])
			if err != nil {
				return err
			}
			res := ccv1.Resolution{Key: args[1], Field: args[2], Value: args[3]}
			line, _ := json.Marshal(res)
			warnGitOps(cmd.ErrOrStderr(), cc, "add "+string(line)+" to spec.conflicts.resolutions in git")
			base := cc.DeepCopy()
			// One resolution per key and field: a new value replaces the old.
			cc.Spec.Conflicts.Resolutions = slices.DeleteFunc(cc.Spec.Conflicts.Resolutions, func(r ccv1.Resolution) bool {
				return r.Key == res.Key && r.Field == res.Field
			})
			cc.Spec.Conflicts.Resolutions = append(cc.Spec.Conflicts.Resolutions, res)
			if err := c.Patch(ctx, cc, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "contactconversion %s/%s: %s of %s resolved; the next run applies it\n", ns, cc.Name, res.Field, res.Key)
			return nil
		},
	}
}

func (o *pluginOptions) inventoryCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "inventory NAME",
		Short: "The record of processing: what the database holds, where it came from, where it lives (no personal data)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "markdown", "json"); err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			c, ns, cc, err := o.conversion(ctx, args[0])
			if err != nil {
				return err
			}
			cm := &corev1.ConfigMap{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: cc.InventoryConfigMapName()}, cm); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			raw := cm.Data["inventory.json"]
			if raw == "" {
				return fmt.Errorf("no inventory yet: the conversion's first run writes it (kubectl contacts status %s)", cc.Name)
			}
			if output == "json" {
				_, err := io.WriteString(out, raw+"\n")
				return err
			}
			var doc inventory.Document
			if err := json.Unmarshal([]byte(raw), &doc); err != nil {
				return fmt.Errorf("ConfigMap %s: inventory.json: %w", cm.Name, err)
			}
			rel, err := related(ctx, c, cc)
			if err != nil {
				return err
			}
			var pcs []inventory.PreferenceCenter
			for _, pc := range rel.PreferenceCenters {
				p := inventory.PreferenceCenter{Name: pc.Name, URL: pc.Status.URL, LinkTTL: "720h (default)"}
				if pc.Spec.LinkTTL != nil {
					p.LinkTTL = pc.Spec.LinkTTL.Duration.String()
				}
				for _, r := range []struct {
					name string
					on   *bool
				}{{"access and portability", pc.Spec.Rights.Export}, {"rectification", pc.Spec.Rights.Rectification}, {"erasure", pc.Spec.Rights.Erasure}} {
					if r.on == nil || *r.on {
						p.Rights = append(p.Rights, r.name)
					}
				}
				p.Rights = append(p.Rights, "objection (unsubscribe from everything, one-click)")
				pcs = append(pcs, p)
			}
			_, err = io.WriteString(out, inventory.Markdown(&doc, pcs))
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "markdown", "markdown or json")
	return cmd
}

func (o *pluginOptions) logsCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "The logs of the current Job's pods, each line prefixed with its shard",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, ns, cc, err := o.conversion(ctx, args[0])
			if err != nil {
				return err
			}
			cs, err := o.clientset()
			if err != nil {
				return err
			}
			if cc.Status.JobName == "" {
				return fmt.Errorf("ContactConversion %s has not started a Job yet (kubectl contacts status %s)", cc.Name, cc.Name)
			}
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: cc.Status.JobName}); err != nil {
				return err
			}
			if len(pods.Items) == 0 {
				return fmt.Errorf("Job %s has no pods left (a finished Job's pods go with it)", cc.Status.JobName)
			}
			slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
			lw := &lineWriter{w: cmd.OutOrStdout()}
			var wg sync.WaitGroup
			errs := make([]error, len(pods.Items))
			for i := range pods.Items {
				pod := &pods.Items[i]
				prefix := "[" + pod.Name + "] "
				if shard, ok := pod.Annotations[batchv1.JobCompletionIndexAnnotation]; ok {
					prefix = "[shard " + shard + "] "
				}
				wg.Go(func() {
					stream, err := cs.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Follow: follow}).Stream(ctx)
					if err != nil {
						errs[i] = fmt.Errorf("pod %s: %w", pod.Name, err)
						return
					}
					defer stream.Close()
					sc := bufio.NewScanner(stream)
					sc.Buffer(make([]byte, 64<<10), 1<<20)
					for sc.Scan() {
						lw.line(prefix + sc.Text())
					}
					errs[i] = sc.Err()
				})
			}
			wg.Wait()
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream the logs until the pods end")
	return cmd
}

// lineWriter writes whole lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, s)
}

func checkOutput(got string, allowed ...string) error {
	if !slices.Contains(allowed, got) {
		return fmt.Errorf("-o %s: use %s", got, strings.Join(allowed, ", "))
	}
	return nil
}

// printObject prints a conversion or a list of them as kubectl -o json or
// -o yaml would, without managedFields.
func printObject(w io.Writer, format string, obj any) error {
	switch o := obj.(type) {
	case *ccv1.ContactConversion:
		o.ManagedFields = nil
		o.APIVersion, o.Kind = ccv1.GroupVersion.String(), "ContactConversion"
	case *ccv1.ContactConversionList:
		o.APIVersion, o.Kind = "v1", "List"
		for i := range o.Items {
			o.Items[i].ManagedFields = nil
			o.Items[i].APIVersion, o.Items[i].Kind = ccv1.GroupVersion.String(), "ContactConversion"
		}
	}
	data, err := json.MarshalIndent(obj, "", "    ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
	} else {
		data = append(data, '\n')
	}
	_, err = w.Write(data)
	return err
}
