package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// newCheckInstallCommand is what the chart's `helm test` runs: are the CRDs
// served, and does the operator answer its health check?
func newCheckInstallCommand() *cobra.Command {
	var namespace, deployment string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check-install --namespace NS --deployment NAME",
		Short: "Check an installation: the CRDs are served and the operator is ready (the chart's helm test)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("no Kubernetes configuration: %w", err)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			return checkInstall(cmd.Context(), cmd.OutOrStdout(), cs, namespace, deployment, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&namespace, "namespace", "", "namespace of the operator's Deployment")
	f.StringVar(&deployment, "deployment", "", "name of the operator's Deployment")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the operator to be ready")
	_ = cmd.MarkFlagRequired("namespace")
	_ = cmd.MarkFlagRequired("deployment")
	return cmd
}

func checkInstall(ctx context.Context, out io.Writer, cs kubernetes.Interface, namespace, deployment string, timeout time.Duration) error {
	gv := ccv1.GroupVersion.String()
	list, err := cs.Discovery().ServerResourcesForGroupVersion(gv)
	if err != nil {
		return fmt.Errorf("the API server does not serve %s: install the CRDs (the chart's crds.enabled): %w", gv, err)
	}
	var served []string
	for _, r := range list.APIResources {
		served = append(served, r.Name)
	}
	for _, want := range []string{"contactconversions", "preferencecenters"} {
		if !slices.Contains(served, want) {
			return fmt.Errorf("the API server serves %s without %s: upgrade the CRDs", gv, want)
		}
	}
	fmt.Fprintf(out, "ok: %s serves contactconversions and preferencecenters\n", gv)
	// The Deployment is available once the operator's readiness probe
	// (/readyz) answers.
	var ready, want int32
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, deployment, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Errorf("reading Deployment %s/%s: %w", namespace, deployment, err)
		}
		ready, want = d.Status.AvailableReplicas, max(ptr.Deref(d.Spec.Replicas, 1), 1)
		return ready >= 1, nil
	})
	if err != nil {
		return fmt.Errorf("the operator (Deployment %s/%s) has %d of %d replicas ready after %s: see kubectl describe deployment -n %s %s: %w",
			namespace, deployment, ready, want, timeout, namespace, deployment, err)
	}
	fmt.Fprintf(out, "ok: the operator answers its health check (%d of %d replicas ready)\n", ready, want)
	return nil
}
