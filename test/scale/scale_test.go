// Package scale measures the operator with many tenants: run with `make bench`.
package scale

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/kubescheme"
	"github.com/contactconverter/contact-converter/internal/schedule"
	"github.com/contactconverter/contact-converter/internal/testenv"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

const idleWatchTime = 15 * time.Second

// BenchmarkConversions creates ContactConversions (1,000 in 100 namespaces,
// or as SCALE_NAMESPACES and SCALE_PER_NAMESPACE say) against a real API
// server and a manager process, and reports the time until all are Waiting
// with the right nextWindowStart, the API requests per reconcile, the
// writes while idle, and the manager's RSS.
func BenchmarkConversions(b *testing.B) {
	bin := operatorBinary(b)
	for b.Loop() {
		runScale(b, bin)
	}
}

// operatorBinary is the operator `make bench` builds.
func operatorBinary(b *testing.B) string {
	bin := filepath.Join(testenv.RepoRoot(), "bin", "contact-converter")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%s is missing: run `make bench`, which builds it first", bin)
	}
	return bin
}

// manager starts the operator as its own process against env, with args
// added, and returns it and its metrics address.
func manager(b *testing.B, env *testenv.Env, bin string, args ...string) (*exec.Cmd, string) {
	user, err := env.Env.ControlPlane.AddUser(envtest.User{Name: "manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		b.Fatal(err)
	}
	metricsAddr := freeAddr(b)
	// SCALE_LOG_LEVEL (debug shows every status write) and SCALE_LOG keep
	// the manager's log for a look; SCALE_HEAP_PROFILE saves its heap once
	// settled.
	level := cmp.Or(os.Getenv("SCALE_LOG_LEVEL"), "error")
	pprofAddr = freeAddr(b)
	mgr := exec.Command(bin, append([]string{"manager", "--metrics-secure=false", "--metrics-bind-address=" + metricsAddr,
		"--health-probe-bind-address=0", "--pprof-bind-address=" + pprofAddr, "--zap-log-level=" + level}, args...)...)
	mgr.Env = append(os.Environ(), "KUBECONFIG="+kcPath)
	logFile, err := os.Create(cmp.Or(os.Getenv("SCALE_LOG"), filepath.Join(dir, "manager.log")))
	if err != nil {
		b.Fatal(err)
	}
	mgr.Stderr = logFile
	b.Cleanup(func() {
		if b.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			if len(data) > 4000 {
				data = data[len(data)-4000:]
			}
			b.Logf("manager log (end):\n%s", data)
		}
	})
	if err := mgr.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mgr.Process.Kill(); _ = mgr.Wait() })
	return mgr, metricsAddr
}

// pprofAddr is the running manager's profiling address.
var pprofAddr string

// saveHeapProfile writes the manager's heap profile to SCALE_HEAP_PROFILE,
// when set, for `go tool pprof`.
func saveHeapProfile(b *testing.B) {
	path := os.Getenv("SCALE_HEAP_PROFILE")
	if path == "" {
		return
	}
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatalf("reading the manager's heap profile: %v", err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("scale: the manager's heap profile is in %s\n", path)
}

// profileAPIServer saves 30 s of the API server's CPU profile to
// SCALE_APISERVER_PROFILE, when set, from now on; the channel closes when
// it is saved.
func profileAPIServer(b *testing.B, env *testenv.Env) <-chan struct{} {
	done := make(chan struct{})
	path := os.Getenv("SCALE_APISERVER_PROFILE")
	if path == "" {
		close(done)
		return done
	}
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer close(done)
		resp, err := hc.Get(strings.TrimSuffix(env.Config.Host, "/") + "/debug/pprof/profile?seconds=30")
		if err != nil {
			b.Errorf("profiling the API server: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			b.Error(err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			b.Error(err)
		}
	}()
	return done
}

// fastClient writes as fast as the API server takes it.
func fastClient(b *testing.B, env *testenv.Env) client.Client {
	fast := rest.CopyConfig(env.Config)
	fast.QPS, fast.Burst = 1000, 2000
	c, err := client.New(fast, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// sizes are the benchmark's namespaces and conversions per namespace:
// SCALE_NAMESPACES and SCALE_PER_NAMESPACE, or 100 and 10.
func sizes() (namespaces, perNamespace int) {
	namespaces, perNamespace = 100, 10
	if n, err := strconv.Atoi(os.Getenv("SCALE_NAMESPACES")); err == nil && n > 0 {
		namespaces = n
	}
	if n, err := strconv.Atoi(os.Getenv("SCALE_PER_NAMESPACE")); err == nil && n > 0 {
		perNamespace = n
	}
	return namespaces, perNamespace
}

func runScale(b *testing.B, bin string) {
	env := testenv.Start(b)
	ctx := testenv.Context(b)
	namespaces, perNamespace := sizes()
	conversions := namespaces * perNamespace
	mgr, metricsAddr := manager(b, env, bin)

	// A daily window opening 12 hours from now: every conversion waits.
	now := time.Now().UTC()
	start := now.Add(12 * time.Hour).Truncate(time.Minute)
	win := ccv1.Window{Start: start.Format("15:04"), End: start.Add(2 * time.Hour).Format("15:04")}
	sched, _ := schedule.Parse(ccv1.ScheduleSpec{Windows: []ccv1.Window{win}})
	want := sched.At(now).Next.Start

	c := fastClient(b, env)
	created := time.Now()
	profiled := profileAPIServer(b, env)
	createTenants(b, c, namespaces, perNamespace, win)
	if b.Failed() {
		b.FailNow()
	}
	createdIn := time.Since(created)

	deadline := time.Now().Add(10 * time.Minute)
	var waiting int
	for time.Now().Before(deadline) {
		var list ccv1.ContactConversionList
		if err := c.List(ctx, &list); err != nil {
			b.Fatal(err)
		}
		waiting = 0
		for _, cc := range list.Items {
			if cc.Status.Phase == ccv1.PhaseWaiting && cc.Status.NextWindowStart != nil && cc.Status.NextWindowStart.Time.Equal(want) {
				waiting++
			}
		}
		if waiting == conversions {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	allWaiting := time.Since(created)
	<-profiled
	if waiting != conversions {
		b.Fatalf("only %d of %d conversions Waiting with nextWindowStart %s after %v", waiting, conversions, want, allWaiting)
	}

	settled := scrape(b, metricsAddr)
	time.Sleep(idleWatchTime)
	idle := scrape(b, metricsAddr)
	requests := sumPrefix(settled, "rest_client_requests_total{")
	reconciles := sumPrefix(settled, `controller_runtime_reconcile_total{controller="contactconversion"`)
	idleWrites := writes(idle) - writes(settled)
	idleReconciles := sumPrefix(idle, `controller_runtime_reconcile_total{controller="contactconversion"`) - reconciles
	rss, hwm := rssOf(b, mgr.Process.Pid)
	saveHeapProfile(b)

	b.ReportMetric(allWaiting.Seconds(), "s-until-all-waiting")
	b.ReportMetric(requests/reconciles, "api-requests/reconcile")
	b.ReportMetric(idleWrites, "writes-while-idle")
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
	fmt.Printf("\nscale: %d conversions in %d namespaces created in %v; all Waiting with nextWindowStart %s after %v\n",
		conversions, namespaces, createdIn.Round(time.Millisecond), want.Format(time.RFC3339), allWaiting.Round(time.Millisecond))
	fmt.Printf("scale: %.0f API requests for %.0f reconciles (%.2f per reconcile); in %v idle: %.0f writes, %.0f reconciles\n",
		requests, reconciles, requests/reconciles, idleWatchTime, idleWrites, idleReconciles)
	var waitingSeries float64
	for k, v := range settled {
		if strings.HasPrefix(k, "contact_converter_conversion_phase{") && strings.Contains(k, `phase="Waiting"`) {
			waitingSeries += v
		}
	}
	fmt.Printf("scale: manager RSS %.1f MiB now, %.1f MiB peak; conversions Waiting by the phase series: %.0f\n",
		float64(rss)/1024, float64(hwm)/1024, waitingSeries)
	for k, v := range settled {
		if strings.HasPrefix(k, "rest_client_requests_total{") {
			fmt.Printf("scale:   %s %.0f\n", k[strings.Index(k, "method="):], v)
		}
	}
	if idleWrites != 0 {
		b.Errorf("%.0f API writes while every conversion was idle, want 0", idleWrites)
	}
}

// createTenants creates the namespaces with their conversions, eight
// namespaces at a time.
func createTenants(b *testing.B, c client.Client, namespaces, perNamespace int, win ccv1.Window) {
	var wg sync.WaitGroup
	for n := range namespaces {
		wg.Go(func() { createTenant(b, c, n, perNamespace, win) })
		if n%8 == 7 {
			wg.Wait()
		}
	}
	wg.Wait()
}

// createTenant creates one namespace with its ConfigMap, claim and
// conversions.
func createTenant(b *testing.B, c client.Client, n, perNamespace int, win ccv1.Window) {
	ns := fmt.Sprintf("tenant-%04d", n)
	mustCreate(b, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	mustCreate(b, c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lists"}, Data: map[string]string{"a.csv": "email\n"}})
	mustCreate(b, c, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "contacts"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}}}})
	for i := range perNamespace {
		mustCreate(b, c, tw.MakeConversion(fmt.Sprintf("conversion-%d", i), ns).CSVFromConfigMap("a", "lists", "a.csv").SQLite("contacts").
			DailyWindow(win.Days, win.Start, win.End).Obj())
	}
}

// mustCreate records a failure without stopping, as it runs in goroutines.
func mustCreate(b *testing.B, c client.Client, obj client.Object) {
	if err := c.Create(context.Background(), obj); err != nil {
		b.Errorf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape reads the manager's Prometheus metrics as "name{labels}" -> value.
func scrape(b *testing.B, addr string) map[string]float64 {
	var resp *http.Response
	var err error
	for range 50 {
		if resp, err = http.Get("http://" + addr + "/metrics"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.Fatalf("scraping the manager's metrics: %v", err)
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body)
}

// apiServerWrites reads the API server's write requests by verb, resource
// and subresource, as "POST jobs" or "PATCH contactconversions/status".
func apiServerWrites(b *testing.B, env *testenv.Env) map[string]float64 {
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimSuffix(env.Config.Host, "/") + "/metrics")
	if err != nil {
		b.Fatalf("scraping the API server's metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	for k, v := range parseMetrics(resp.Body) {
		labels, ok := strings.CutPrefix(k, "apiserver_request_total{")
		if !ok {
			continue
		}
		l := map[string]string{}
		for kv := range strings.SplitSeq(strings.TrimSuffix(labels, "}"), ",") {
			if name, value, ok := strings.Cut(kv, "="); ok {
				l[name] = strings.Trim(value, `"`)
			}
		}
		switch l["verb"] {
		case "POST", "PUT", "PATCH", "APPLY", "DELETE":
			res := l["resource"]
			if l["subresource"] != "" {
				res += "/" + l["subresource"]
			}
			out[l["verb"]+" "+res] += v
		}
	}
	return out
}

// parseMetrics reads Prometheus text as "name{labels}" -> value.
func parseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// writes counts the write requests the manager made (POST, PUT, PATCH),
// whatever their answers.
func writes(m map[string]float64) float64 {
	var n float64
	for k, v := range m {
		if strings.HasPrefix(k, "rest_client_requests_total{") && strings.Contains(k, `method="P`) {
			n += v
		}
	}
	return n
}

func sumPrefix(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

// rssOf reads a process's resident and peak resident memory in KiB.
func rssOf(b *testing.B, pid int) (rss, hwm int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
