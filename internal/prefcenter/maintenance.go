package prefcenter

import (
	"context"
	"time"
)

// MaintenanceFunc tells whether the conversion filling the database is
// running or paused.
type MaintenanceFunc func(ctx context.Context) (bool, error)

// WatchMaintenance polls check every interval until ctx ends. While it says
// yes, changes are queued; once it says no, queued changes are applied in
// order. An error keeps the last state: a lost answer never applies changes
// in the middle of a run.
func (s *Server) WatchMaintenance(ctx context.Context, check MaintenanceFunc, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		s.pollMaintenance(ctx, check)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Server) pollMaintenance(ctx context.Context, check MaintenanceFunc) {
	on, err := check(ctx)
	if err != nil {
		s.log.Warn("cannot tell whether the conversion runs; keeping the last state", "error", err)
		return
	}
	if on != s.maintenance.Swap(on) {
		s.log.Info("maintenance mode", "on", on)
	}
	if on {
		return
	}
	if _, err := s.DrainPending(ctx); err != nil {
		s.log.Error("applying queued changes", "error", err)
	}
}

// DrainPending applies the queued changes in order.
func (s *Server) DrainPending(ctx context.Context) (int, error) {
	n, err := s.store.ApplyPending(ctx)
	if n > 0 {
		s.log.Info("applied queued changes", "count", n)
	}
	if left, cerr := s.store.PendingChanges(ctx); cerr == nil {
		s.metrics.pending.Set(float64(left))
	}
	return n, err
}
