package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/prefcenter"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
)

type preferenceCenterOptions struct {
	config, listen, metricsListen, database, memLimit, erasureSalt, logLevel string
}

func newPreferenceCenterCommand() *cobra.Command {
	var o preferenceCenterOptions
	cmd := &cobra.Command{
		Use:   "preference-center",
		Short: "Serve the preference center of a tenant's contact database",
		Long: `preference-center serves the pages where contacts choose what they receive and
exercise their GDPR rights, the RFC 8058 one-click unsubscribe, and the
mailing system's API under /api/v1. The operator runs it in a Deployment
with a configuration file rendered from a PreferenceCenter.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPreferenceCenter(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "/etc/contact-converter/config/config.json", "the configuration file")
	f.StringVar(&o.listen, "listen", ":8080", "address of the pages, the API, /healthz and /readyz")
	f.StringVar(&o.metricsListen, "metrics-listen", ":9090", "address of /metrics (empty: off)")
	f.StringVar(&o.database, "database", "", "database URL, sqlite:PATH or postgres://... (default $DATABASE_URL)")
	f.StringVar(&o.erasureSalt, "erasure-salt-file", "", "a file holding the database's erasure salt (a mounted Secret); default: a salt the database keeps")
	f.StringVar(&o.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	f.StringVar(&o.memLimit, "memory-limit", "48Mi", "soft limit of the Go heap, well under the container's limit (the database cache comes on top)")
	return cmd
}

func runPreferenceCenter(ctx context.Context, o preferenceCenterOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := tuneMemory(o.memLimit, false); err != nil {
		return err
	}
	cfg, err := prefconfig.LoadConfig(o.config)
	if err != nil {
		return &engine.ConfigError{Err: err}
	}
	keys, err := readSigningKeys(cfg.SigningKeysDir)
	if err != nil {
		return &engine.ConfigError{Err: err}
	}
	signer, err := linktoken.NewSigner(keys)
	if err != nil {
		return &engine.ConfigError{Err: fmt.Errorf("%s: %w", cfg.SigningKeysDir, err)}
	}
	var apiToken string
	if cfg.APITokenFile != "" {
		data, err := os.ReadFile(cfg.APITokenFile)
		if err != nil {
			return &engine.ConfigError{Err: fmt.Errorf("apiTokenFile: %w", err)}
		}
		if apiToken = strings.TrimSpace(string(data)); len(apiToken) < 16 {
			return &engine.ConfigError{Err: fmt.Errorf("apiTokenFile %s: the API token needs at least 16 characters", cfg.APITokenFile)}
		}
	}
	url := o.database
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		return &engine.ConfigError{Err: errors.New("no database: pass --database or set DATABASE_URL")}
	}
	st, err := openStore(ctx, url, o.erasureSalt, true)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := prefcenter.New(prefcenter.Options{Config: cfg, Store: st, Signer: signer, APIToken: apiToken, Registerer: reg, Logger: log})
	if err != nil {
		return &engine.ConfigError{Err: err}
	}
	// Changes are applied at once; an earlier version queued them during
	// conversions. Apply what it left, safely in any order: the newest
	// change per contact and topic wins.
	if n, err := st.ApplyPending(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("applied changes an earlier version queued", "count", n)
	}

	servers := []*http.Server{{Addr: o.listen, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10}}
	if o.metricsListen != "" {
		servers = append(servers, &http.Server{Addr: o.metricsListen, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
			ReadHeaderTimeout: 10 * time.Second})
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return err
		}
		log.Info("listening", "address", ln.Addr().String())
		go func() { errc <- s.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: finish the requests in flight.
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdown); err != nil {
			return err
		}
	}
	return nil
}

// readSigningKeys reads a mounted Secret's folder: one file per key.
func readSigningKeys(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	keys := map[string][]byte{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue // a mounted Secret's ..data links
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		keys[e.Name()] = data
	}
	return keys, nil
}
