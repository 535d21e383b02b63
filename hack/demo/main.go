// Command demo runs the whole system on loopback, the way a user sees it:
// a control plane, the local node running real Pods, and the operator; it
// applies config/samples/demo and walks through a conversion and the
// preference page. It leaves everything up until Ctrl-C, then cleans up.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/test/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

func run() error {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return fmt.Errorf("KUBEBUILDER_ASSETS is not set: run `make demo`, which builds the control plane first")
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "contact-converter-demo-")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("Starting a local cluster on loopback (work folder %s)", work)
	c, err := cluster.Start(ctx, cluster.Options{RepoRoot: root, AssetsDir: assets, WorkDir: work, Progress: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the cluster and removing %s", work)
		c.Stop()
		_ = os.RemoveAll(work)
	}()
	if err := c.StartOperator(); err != nil {
		return err
	}
	kubectl := func(args ...string) (string, error) { return c.Kubectl(ctx, args...) }
	show := func(args ...string) error {
		out, err := kubectl(args...)
		fmt.Print(indent(out))
		return err
	}

	step("kubectl apply -k config/samples/demo  (namespace acme: 4 messy lists and an unsubscribe export, a conversion on SQLite, a preference center)")
	if err := show("apply", "-k", filepath.Join(root, "config", "samples", "demo")); err != nil {
		return err
	}

	cc := &ccv1.ContactConversion{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"}}
	watch := &phaseWatch{c: c, cc: cc, kubectl: kubectl}
	step("kubectl get contactconversions -n acme -w")
	if err := watch.until(ctx, 60*time.Second, ccv1.PhaseWaiting, ccv1.PhaseRunning, ccv1.PhaseConflictsPending); err != nil {
		return err
	}
	runNow := func() error {
		if cc.Status.Phase != ccv1.PhaseWaiting {
			return nil
		}
		fmt.Printf("   (outside its evening window: kubectl annotate contactconversion acme %s=<now>)\n", ccv1.RunRequestedAtAnnotation)
		_, err := kubectl("-n", "acme", "annotate", "--overwrite", "contactconversion", "acme",
			ccv1.RunRequestedAtAnnotation+"="+time.Now().UTC().Format(time.RFC3339Nano))
		return err
	}
	if err := runNow(); err != nil {
		return err
	}
	if err := watch.until(ctx, 3*time.Minute, ccv1.PhaseConflictsPending, ccv1.PhaseSucceeded); err != nil {
		return err
	}

	step("kubectl contacts status acme -n acme  (the kubectl plugin: the operator's binary on the PATH as kubectl-contacts)")
	status, err := c.KubectlPlugin(ctx, "status", "acme", "-n", "acme")
	if err != nil {
		return err
	}
	fmt.Print(indent(status))

	step("The status shows counts and masked keys; the conflicts themselves are in Secret acme-conflicts, filled by the Job")
	if err := show("-n", "acme", "get", "contactconversion", "acme", "-o", `jsonpath={.status.conflicts}{"\n"}`); err != nil {
		return err
	}
	if err := show("-n", "acme", "get", "secret", "acme-conflicts", "-o", `go-template={{index .data "conflicts.csv" | base64decode}}`); err != nil {
		return err
	}

	step("Settling Marie's first name: kubectl patch contactconversion acme --type json ...")
	patch := `[{"op":"add","path":"/spec/conflicts/resolutions/-","value":{"key":"marie.dubois@example.fr","field":"firstName","value":"Marie-Claire"}}]`
	fmt.Printf("   %s\n", patch)
	if err := show("-n", "acme", "patch", "contactconversion", "acme", "--type", "json", "-p", patch); err != nil {
		return err
	}
	if err := watch.until(ctx, 30*time.Second, ccv1.PhaseWaiting, ccv1.PhaseRunning, ccv1.PhaseSucceeded); err != nil {
		return err
	}
	if err := runNow(); err != nil {
		return err
	}
	if err := watch.until(ctx, 3*time.Minute, ccv1.PhaseSucceeded); err != nil {
		return err
	}

	step("The counts: kubectl get contactconversion acme -o wide, and its status")
	if err := show("-n", "acme", "get", "contactconversion", "acme", "-o", "wide"); err != nil {
		return err
	}
	if err := show("-n", "acme", "get", "contactconversion", "acme", "-o",
		`jsonpath=rows read {.status.progress.rowsRead}, contacts {.status.progress.contacts}, rejected {.status.progress.rowsRejected}, conflicts {.status.conflicts.total} ({.status.conflicts.unresolved} unresolved), given the default language {.status.languages.assignedDefault}{"\n"}`); err != nil {
		return err
	}

	step("The old platform's unsubscribes (mailchimp-unsubscribed.csv: every row an audience-wide opt-out) beat every list")
	if err := show("-n", "acme", "get", "contactconversion", "acme", "-o",
		`jsonpath=opt-outs imported: {.status.progress.optOutsImported.global} global, {.status.progress.optOutsImported.segment} per list{"\n"}`); err != nil {
		return err
	}

	step("A list too big for a ConfigMap goes onto a claim: pause, add the source, upload, resume")
	stamp, err := uploadFairList(ctx, c, kubectl, show, work)
	if err != nil {
		return err
	}
	for watch.cc.Status.LastHandledRunRequest != stamp || watch.cc.Status.Phase != ccv1.PhaseSucceeded {
		if err := watch.until(ctx, 3*time.Minute, ccv1.PhaseSucceeded); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err := show("-n", "acme", "get", "contactconversion", "acme", "-o",
		`jsonpath=rows read {.status.progress.rowsRead}, contacts {.status.progress.contacts}{"\n"}`); err != nil {
		return err
	}
	logs, err := c.KubectlPlugin(ctx, "logs", "acme", "-n", "acme")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"file"`) && strings.Contains(line, "fairs/") {
			fmt.Printf("   the Job read it, with the same checksum:\n   %s\n", line)
		}
	}

	step("The preference center (a Deployment run by the local node)")
	links, err := preferenceLinks(ctx, c, "greta@example.de", "luc.janssens@example.be")
	if err != nil {
		return err
	}
	if err := show("-n", "acme", "get", "preferencecenters", "-o", "wide"); err != nil {
		return err
	}
	url := links[0]
	fmt.Printf("   A signed link for greta@example.de (valid one hour), answering on loopback:\n   %s\n", url)
	ticked, err := tickedTopics(links[1])
	if err != nil {
		return err
	}
	fmt.Printf("   luc.janssens@example.be is in two lists and in the unsubscribe export: his page ticks %d topics\n   %s\n", ticked, links[1])

	step("Explore further (the cluster stays up until Ctrl-C)")
	kubectlPath := filepath.Join(assets, "kubectl")
	fmt.Printf(`   export KUBECONFIG=%s PATH=%s:$PATH
   %s get contactconversions,preferencecenters,jobs,pods -A
   %s contacts status acme -n acme; %s contacts inventory acme -n acme; %s contacts --help
   open or curl the link above; POST it to /u/... for a one-click unsubscribe
   logs: %s
`, c.Kubeconfig, filepath.Join(work, "plugins"), kubectlPath, kubectlPath, kubectlPath, kubectlPath, filepath.Join(work, "logs"))
	<-ctx.Done()
	return nil
}

// uploadFairList adds a source read from the acme-uploads claim and puts
// a gzipped list there with kubectl contacts upload, while the conversion is
// paused, so no run finds the source without its file.
func uploadFairList(ctx context.Context, c *cluster.Cluster, kubectl func(...string) (string, error), show func(...string) error, work string) (string, error) {
	plugin := func(args ...string) error {
		fmt.Printf("   kubectl contacts %s\n", strings.Join(args, " "))
		out, err := c.KubectlPlugin(ctx, args...)
		fmt.Print(indent(out))
		return err
	}
	if err := plugin("pause", "acme", "-n", "acme"); err != nil {
		return "", err
	}
	source := `[{"op":"add","path":"/spec/sources/-","value":{"name":"fair-2024","displayName":"Fair 2024","csv":{"persistentVolumeClaim":{"claimName":"acme-uploads","path":"fairs/*.csv.gz"}}}}]`
	fmt.Printf("   kubectl patch contactconversion acme --type json -p '%s'\n", source)
	if err := show("-n", "acme", "patch", "contactconversion", "acme", "--type", "json", "-p", source); err != nil {
		return "", err
	}
	var list bytes.Buffer
	zw := gzip.NewWriter(&list)
	_, _ = zw.Write([]byte("E-mail;Voornaam;Naam;Taal\ngreta@example.de;Greta;Schmidt;de\nnina.peeters@example.be;Nina;Peeters;nl\nomar.haddad@example.be;Omar;Haddad;fr\n"))
	if err := zw.Close(); err != nil {
		return "", err
	}
	file := filepath.Join(work, "fair-2024.csv.gz")
	if err := os.WriteFile(file, list.Bytes(), 0o644); err != nil {
		return "", err
	}
	if err := plugin("upload", "acme", "fair-2024", file, "--to", "fairs/2024.csv.gz", "-n", "acme", "--image", cluster.Image); err != nil {
		return "", err
	}
	if err := plugin("resume", "acme", "-n", "acme"); err != nil {
		return "", err
	}
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	_, err := kubectl("-n", "acme", "annotate", "--overwrite", "contactconversion", "acme", ccv1.RunRequestedAtAnnotation+"="+stamp)
	return stamp, err
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "   " + strings.ReplaceAll(s, "\n", "\n   ") + "\n"
}

// phaseWatch prints the conversion's row whenever its phase changes, as
// kubectl get -w does.
type phaseWatch struct {
	c       *cluster.Cluster
	cc      *ccv1.ContactConversion
	kubectl func(...string) (string, error)
	last    string
	header  bool
}

func (w *phaseWatch) until(ctx context.Context, timeout time.Duration, phases ...ccv1.Phase) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := w.c.Client.Get(ctx, client.ObjectKeyFromObject(w.cc), w.cc); err == nil {
			row := string(w.cc.Status.Phase) + "/" + fmt.Sprint(w.cc.Status.ObservedGeneration)
			if row != w.last && w.cc.Status.Phase != "" {
				w.last = row
				args := []string{"-n", "acme", "get", "contactconversion", "acme"}
				if w.header {
					args = append(args, "--no-headers")
				}
				w.header = true
				if out, err := w.kubectl(args...); err == nil {
					fmt.Print(indent(out))
				}
			}
			for _, p := range phases {
				if w.cc.Status.Phase == p {
					return nil
				}
			}
			if w.cc.Status.Phase == ccv1.PhaseFailed {
				return fmt.Errorf("the conversion failed: see kubectl -n acme describe contactconversion acme")
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("the conversion did not reach %v within %s", phases, timeout)
}

// preferenceLinks mints a preference link for each key with the generated
// signing key, once the ready Pod's address answers the first.
func preferenceLinks(ctx context.Context, c *cluster.Cluster, keys ...string) ([]string, error) {
	pc := &ccv1.PreferenceCenter{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"}}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var s corev1.Secret
		var pods corev1.PodList
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "acme", Name: desired.SigningSecretName(pc)}, &s); err == nil &&
			c.Client.List(ctx, &pods, client.InNamespace("acme"), client.MatchingLabels{desired.LabelPreferenceCenter: "acme"}) == nil {
			for _, p := range pods.Items {
				if !podReady(&p) {
					continue
				}
				signer, err := linktoken.NewSigner(s.Data)
				if err != nil {
					return nil, err
				}
				var links []string
				for _, key := range keys {
					tok, err := signer.Mint(key, linktoken.PurposePreferences, time.Now().Add(time.Hour))
					if err != nil {
						return nil, err
					}
					links = append(links, "http://"+p.Status.PodIP+":8080/p/"+tok)
				}
				if res, err := http.Get(links[0]); err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						return links, nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("the preference page did not answer within 2 minutes")
}

// tickedTopics counts the ticked topics on a preference page.
func tickedTopics(url string) (int, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("preference page: %d %v", res.StatusCode, err)
	}
	return strings.Count(string(body), `" checked`), nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil
		}
	}
	return false
}
