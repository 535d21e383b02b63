package controllers

import (
	"context"
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/contactconverter/contact-converter/internal/admission"
	"github.com/contactconverter/contact-converter/internal/desired"
)

// Options configure the reconcilers: the operator's flags, and the clock.
type Options struct {
	Clock clock.PassiveClock
	// Image runs the Jobs and the preference centers: the operator's own.
	Image string
	// AllowURLCIDRs lists the internal networks csv.url may read from.
	AllowURLCIDRs string
	// MaxConcurrent caps the conversions running at once, cluster-wide.
	MaxConcurrent int
	// MaxConcurrentPerNamespace caps them in each namespace; 0: no cap.
	MaxConcurrentPerNamespace int
	// Network names the namespaces the pages' NetworkPolicies admit.
	Network desired.NetworkEnv
}

// Setup registers the ContactConversion and PreferenceCenter reconcilers
// with mgr: the one wiring the operator and the tests share.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if err := (&ContactConversionReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Metadata:      mgr.GetCache(),
		Recorder:      mgr.GetEventRecorder("contactconversion-controller"),
		Clock:         o.Clock,
		Image:         o.Image,
		AllowURLCIDRs: o.AllowURLCIDRs,
		Caps:          admission.Caps{Cluster: o.MaxConcurrent, PerNamespace: o.MaxConcurrentPerNamespace},
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the ContactConversion controller: %w", err)
	}
	if err := (&PreferenceCenterReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Metadata:  mgr.GetCache(),
		Recorder:  mgr.GetEventRecorder("preferencecenter-controller"),
		Clock:     o.Clock,
		Image:     o.Image,
		Network:   o.Network,
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the PreferenceCenter controller: %w", err)
	}
	return nil
}
