package localnode

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeState is where one probe stands.
type probeState struct {
	probe             *corev1.Probe
	next              time.Time
	success, failures int32
}

// probe runs a container's startup, readiness and liveness probes until
// ctx ends. Readiness changes are reported; a failed liveness probe kills
// the process, which then restarts as the policy says.
func (r *podRun) probe(ctx context.Context, c *containerRun) {
	spec := c.spec
	start := time.Now()
	states := map[string]*probeState{}
	for kind, p := range map[string]*corev1.Probe{"startup": spec.StartupProbe, "readiness": spec.ReadinessProbe, "liveness": spec.LivenessProbe} {
		if p != nil {
			states[kind] = &probeState{probe: p, next: start.Add(time.Duration(p.InitialDelaySeconds) * time.Second)}
		}
	}
	if spec.ReadinessProbe == nil {
		r.setReady(c, true) // ready once started, as without a probe
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			r.mu.Lock()
			started := c.startup
			r.mu.Unlock()
			for _, kind := range []string{"startup", "readiness", "liveness"} {
				s := states[kind]
				if s == nil || now.Before(s.next) || (kind == "startup") == started {
					continue
				}
				if !r.probeOnce(ctx, c, kind, s, now) {
					return
				}
			}
		}
	}
}

// probeOnce runs one probe and acts on its outcome; false means the
// container was killed.
func (r *podRun) probeOnce(ctx context.Context, c *containerRun, kind string, s *probeState, now time.Time) bool {
	s.next = now.Add(time.Duration(max(s.probe.PeriodSeconds, 1)) * time.Second)
	ok := r.check(ctx, c, s.probe)
	if ok {
		s.success, s.failures = s.success+1, 0
	} else {
		s.success, s.failures = 0, s.failures+1
	}
	passed := ok && s.success >= max(s.probe.SuccessThreshold, 1)
	failed := !ok && s.failures >= max(s.probe.FailureThreshold, 1)
	switch {
	case kind == "startup" && passed:
		r.mu.Lock()
		c.startup = true
		r.mu.Unlock()
		if c.spec.ReadinessProbe == nil {
			r.setReady(c, true)
		}
	case kind == "readiness" && (passed || failed):
		r.setReady(c, passed)
	case kind != "readiness" && failed:
		r.kill(c, kind+" probe failed")
		return false
	}
	return true
}

func (r *podRun) setReady(c *containerRun, ready bool) {
	r.mu.Lock()
	changed := c.ready != ready && c.running && c.startup
	if changed {
		c.ready = ready
	}
	r.mu.Unlock()
	if changed {
		_ = r.report(context.Background())
	}
}

func (r *podRun) kill(c *containerRun, why string) {
	r.mu.Lock()
	pid, running := c.pid, c.running
	r.mu.Unlock()
	if running {
		r.n.Log.Info("killing container", "pod", r.ns+"/"+r.name, "container", c.spec.Name, "why", why)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// check runs one probe against the Pod's address.
func (r *podRun) check(ctx context.Context, c *containerRun, p *corev1.Probe) bool {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		port, err := resolvePort(p.HTTPGet.Port, &c.spec)
		if err != nil {
			return false
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s%s", net.JoinHostPort(r.ip, strconv.Itoa(port)), p.HTTPGet.Path), nil)
		if err != nil {
			return false
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode >= 200 && res.StatusCode < 400
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, &c.spec)
		if err != nil {
			return false
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(r.ip, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		conn.Close()
		return true
	}
	return true // exec and gRPC probes are not run here
}

func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
}
