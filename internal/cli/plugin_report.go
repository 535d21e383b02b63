package cli

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/contactsctl"
	"github.com/contactconverter/contact-converter/internal/mask"
)

// operatorTailLines is how much of the operator's log a report holds.
const operatorTailLines = 500

func (o *pluginOptions) reportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "report NAME -o FILE.zip",
		Short: "A support bundle: the conversion, its Events, Job, pods, logs and the operator's log tail; Secrets redacted, personal data masked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.HasSuffix(output, ".zip") {
				return fmt.Errorf("-o %q: name the zip file to write, e.g. -o %s-report.zip", output, args[0])
			}
			ctx := cmd.Context()
			c, _, cc, err := o.conversion(ctx, args[0])
			if err != nil {
				return err
			}
			cs, err := o.clientset()
			if err != nil {
				return err
			}
			f, err := os.Create(output)
			if err != nil {
				return err
			}
			zw := zip.NewWriter(f)
			files, err := bundle(ctx, c, cs, cc)
			for _, file := range files {
				w, zerr := zw.Create(file.name)
				if zerr == nil {
					_, zerr = io.WriteString(w, mask.Text(file.text))
				}
				err = errors.Join(err, zerr)
			}
			err = errors.Join(err, zw.Close(), f.Close())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d files; Secrets are redacted and addresses masked\n", output, len(files))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the zip file to write")
	return cmd
}

type bundleFile struct{ name, text string }

// bundle gathers a conversion's support bundle. What cannot be read is
// noted in its place; the bundle is written anyway.
func bundle(ctx context.Context, c client.Client, cs kubernetes.Interface, cc *ccv1.ContactConversion) ([]bundleFile, error) {
	var files []bundleFile
	add := func(name string, obj any) {
		data, err := yaml.Marshal(obj)
		if err != nil {
			data = []byte("(not readable: " + err.Error() + ")\n")
		}
		files = append(files, bundleFile{name, string(data)})
	}
	note := func(name, format string, args ...any) {
		files = append(files, bundleFile{name, fmt.Sprintf(format, args...) + "\n"})
	}

	redacted := cc.DeepCopy()
	contactsctl.RedactConversion(redacted)
	redacted.APIVersion, redacted.Kind = ccv1.GroupVersion.String(), "ContactConversion"
	add("contactconversion.yaml", redacted)
	rel, err := related(ctx, c, cc)
	if err != nil {
		return nil, err
	}
	note("status.txt", "%s", contactsctl.Describe(cc, rel, time.Now()))
	involved := map[string]bool{cc.Name: true}
	if rel.Job != nil {
		job := rel.Job.DeepCopy()
		contactsctl.RedactPodSpec(&job.Spec.Template.Spec)
		job.ManagedFields = nil
		add("job.yaml", job)
		involved[job.Name] = true
	}
	for _, p := range rel.Pods {
		pod := p.DeepCopy()
		contactsctl.RedactPodSpec(&pod.Spec)
		pod.ManagedFields = nil
		add("pods/"+pod.Name+".yaml", pod)
		involved[pod.Name] = true
		for _, ctr := range pod.Spec.Containers {
			files = append(files, bundleFile{"logs/" + pod.Name + "_" + ctr.Name + ".log", podLog(ctx, cs, pod.Namespace, pod.Name, ctr.Name, nil)})
		}
	}
	for _, pc := range rel.PreferenceCenters {
		pc.ManagedFields = nil
		pc.APIVersion, pc.Kind = ccv1.GroupVersion.String(), "PreferenceCenter"
		add("preferencecenters/"+pc.Name+".yaml", &pc)
		involved[pc.Name] = true
	}
	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace(cc.Namespace)); err != nil {
		note("events.txt", "(not readable: %v)", err)
	} else {
		slices.SortFunc(events.Items, func(a, b corev1.Event) int { return a.LastTimestamp.Compare(b.LastTimestamp.Time) })
		var b strings.Builder
		for _, e := range events.Items {
			if involved[e.InvolvedObject.Name] {
				fmt.Fprintf(&b, "%s  %-7s %-24s %s/%s: %s\n", e.LastTimestamp.UTC().Format(time.RFC3339), e.Type, e.Reason,
					e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
			}
		}
		note("events.txt", "%s", strings.TrimRight(b.String(), "\n"))
	}
	// The Secrets the conversion names, by name and key only.
	var refs []string
	for _, r := range cc.Spec.References() {
		if r.Kind == ccv1.KindSecret {
			refs = append(refs, fmt.Sprintf("Secret %s, key %q: value redacted", r.Name, r.Key))
		}
	}
	if len(refs) == 0 {
		refs = []string{"(the conversion names no Secret)"}
	}
	note("secrets.txt", "%s", strings.Join(refs, "\n"))
	files = append(files, operatorLog(ctx, c, cs))
	return files, nil
}

func podLog(ctx context.Context, cs kubernetes.Interface, ns, pod, container string, tail *int64) string {
	data, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: tail}).DoRaw(ctx)
	if err != nil {
		return "(logs not readable: " + err.Error() + ")\n"
	}
	return string(data)
}

// operatorLog is the tail of the operator's log, from its pods.
func operatorLog(ctx context.Context, c client.Client, cs kubernetes.Interface) bundleFile {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.MatchingLabels{"app.kubernetes.io/name": "contact-converter"}); err != nil {
		return bundleFile{"operator.log", "(operator pods not listable: " + err.Error() + ")\n"}
	}
	if len(pods.Items) == 0 {
		return bundleFile{"operator.log", "(no operator pod found with the label app.kubernetes.io/name=contact-converter: it may run outside the cluster)\n"}
	}
	var b strings.Builder
	tail := int64(operatorTailLines)
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "== %s/%s (last %d lines)\n", p.Namespace, p.Name, tail)
		b.WriteString(podLog(ctx, cs, p.Namespace, p.Name, "", &tail))
	}
	return bundleFile{"operator.log", b.String()}
}
