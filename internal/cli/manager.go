package cli

import (
	"cmp"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/contactconverter/contact-converter/controllers"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/fetch"
	"github.com/contactconverter/contact-converter/internal/kubescheme"
	"github.com/contactconverter/contact-converter/internal/objectmetrics"
)

// DefaultImage is the operator image when neither --image nor
// $OPERATOR_IMAGE names one.
var DefaultImage = "ghcr.io/contactconverter/contact-converter:" + Version

type managerOptions struct {
	metricsAddr    string
	metricsSecure  bool
	metricsCertDir string
	probeAddr      string
	pprofAddr      string
	leaderElect    bool
	leaderElectNS  string
	maxConversions int
	maxPerNS       int
	// watchNamespaces limits the operator to these namespaces; empty: all.
	watchNamespaces []string
	image           string
	qps             float32
	burst           int
	zap             zap.Options
	allowURLCIDRs   string
	network         desired.NetworkEnv
}

func newManagerCommand() *cobra.Command {
	o := managerOptions{zap: zap.Options{Development: false}}
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run the operator (reconciles ContactConversion and PreferenceCenter)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runManager(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.metricsAddr, "metrics-bind-address", "", "address of the Prometheus metrics endpoint (default :8443, or :8080 with --metrics-secure=false); 0 disables it")
	f.BoolVar(&o.metricsSecure, "metrics-secure", true, "serve metrics over HTTPS to callers the API server authenticates and allows to get /metrics (the metrics-reader ClusterRole); false serves plain HTTP, for local use")
	f.StringVar(&o.metricsCertDir, "metrics-cert-dir", "", "directory holding tls.crt and tls.key for the metrics endpoint, such as a cert-manager Secret (default: a self-signed certificate made at start)")
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	f.StringVar(&o.pprofAddr, "pprof-bind-address", "", "address of Go's /debug/pprof endpoints, for profiling (empty: off); bind it to localhost and port-forward")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader, so only one replica reconciles at a time")
	f.StringVar(&o.leaderElectNS, "leader-election-namespace", "", "namespace of the leader-election Lease (default: the pod's namespace)")
	f.IntVar(&o.maxConversions, "max-concurrent-conversions", 4, "how many conversions may run at once across the cluster")
	f.StringSliceVar(&o.watchNamespaces, "watch-namespaces", nil, "comma-separated namespaces to watch and manage (empty: all); with namespaced RBAC, the operator needs rights in these only")
	f.IntVar(&o.maxPerNS, "max-concurrent-conversions-per-namespace", 0, "how many may run at once in one namespace (0: no cap but the cluster's); namespaces take turns either way")
	f.Float32Var(&o.qps, "kube-api-qps", 100, "requests per second to the API server (API Priority and Fairness still protects it)")
	f.IntVar(&o.burst, "kube-api-burst", 200, "burst of requests to the API server")
	f.StringVar(&o.image, "image", "", "image of the Jobs and Deployments the operator creates (default: $OPERATOR_IMAGE)")
	f.StringVar(&o.allowURLCIDRs, "allow-url-cidrs", "", "comma-separated internal networks csv.url may read from (public hosts always may), such as a file server's 10.20.0.0/16")
	f.StringVar(&o.network.IngressNamespace, "ingress-namespace", "ingress-nginx", "namespace of the Ingress controller, which the preference centers' NetworkPolicies admit by default (empty: none)")
	f.StringVar(&o.network.MonitoringNamespace, "monitoring-namespace", "monitoring", "namespace of Prometheus, which the preference centers' NetworkPolicies admit to the metrics port (empty: none)")
	zfs := flag.NewFlagSet("zap", flag.ContinueOnError)
	o.zap.BindFlags(zfs)
	f.AddGoFlagSet(zfs)
	return cmd
}

func runManager(cmd *cobra.Command, o managerOptions) error {
	for _, ns := range o.watchNamespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
	}
	if o.maxPerNS < 0 {
		return fmt.Errorf("--max-concurrent-conversions-per-namespace must be 0 (no cap) or more, got %d", o.maxPerNS)
	}
	if o.maxConversions < 1 {
		return fmt.Errorf("--max-concurrent-conversions must be at least 1, got %d", o.maxConversions)
	}
	if _, err := fetch.ParsePolicy(o.allowURLCIDRs); err != nil {
		return fmt.Errorf("--allow-url-cidrs: %w", err)
	}
	if o.image == "" {
		o.image = os.Getenv("OPERATOR_IMAGE")
	}
	if o.image == "" {
		o.image = DefaultImage
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	log := ctrl.Log.WithName("setup")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no Kubernetes configuration (set KUBECONFIG or run in a cluster): %w", err)
	}
	cfg.QPS, cfg.Burst = o.qps, o.burst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  kubescheme.New(),
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "contact-converter.contacts.contactconverter.io",
		LeaderElectionNamespace: o.leaderElectNS,
		Cache:                   controllers.CacheOptions(o.watchNamespaces...),
		Client:                  controllers.ClientOptions(),
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	clk := clock.RealClock{}
	if err := controllers.Setup(cmd.Context(), mgr, controllers.Options{
		Clock: clk, Image: o.image, AllowURLCIDRs: o.allowURLCIDRs, MaxConcurrent: o.maxConversions, MaxConcurrentPerNamespace: o.maxPerNS, Network: o.network,
	}); err != nil {
		return err
	}
	if err := metrics.Registry.Register(objectmetrics.NewCollector(controllers.ObjectLister{Reader: mgr.GetCache()}, clk.Now)); err != nil {
		return fmt.Errorf("registering the conversion metrics: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("starting the manager", "version", Version, "image", o.image, "maxConcurrentConversions", o.maxConversions)
	return mgr.Start(cmd.Context())
}

// metricsOptions serves metrics as kubebuilder's secure scaffold does: HTTPS,
// HTTP/1.1 only, and only to callers the API server authenticates and
// authorises for GET /metrics.
func metricsOptions(o managerOptions) metricsserver.Options {
	if !o.metricsSecure {
		return metricsserver.Options{BindAddress: cmp.Or(o.metricsAddr, ":8080")}
	}
	return metricsserver.Options{
		BindAddress:    cmp.Or(o.metricsAddr, ":8443"),
		SecureServing:  true,
		FilterProvider: filters.WithAuthenticationAndAuthorization,
		CertDir:        o.metricsCertDir,
		CertName:       "tls.crt",
		KeyName:        "tls.key",
		// HTTP/2 stream resets (CVE-2023-44487, CVE-2023-39325).
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
}
