package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// podRun is a Pod this node runs.
type podRun struct {
	n      *Node
	uid    types.UID
	ns     string
	name   string
	ip     string
	dir    string
	policy corev1.RestartPolicy
	start  time.Time
	cancel context.CancelFunc

	mu         sync.Mutex
	containers []*containerRun
	deleting   bool
	// failure is set when the Pod cannot run at all.
	failure, failureMessage string
	terminated              chan struct{}
	once                    sync.Once
}

// containerRun is one container's process and what the API is told of it.
type containerRun struct {
	spec     corev1.Container
	sandbox  string
	logPath  string
	msgPath  string
	pid      int
	running  bool
	done     bool // terminal: will not restart
	started  time.Time
	exited   chan struct{}
	last     *corev1.ContainerStateTerminated
	restarts int32
	ready    bool
	startup  bool // the startup probe passed (or there is none)
	waiting  string
}

func (n *Node) sync(ctx context.Context, key string) error {
	obj, exists, err := n.store.GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		n.forget(key)
		return nil
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		if pod.DeletionTimestamp != nil || len(pod.Spec.SchedulingGates) > 0 {
			return nil
		}
		if !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(n.labels())) {
			return n.unschedulable(ctx, pod, "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.")
		}
		err := n.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: n.Name},
		}, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if pod.Spec.NodeName != n.Name {
		return nil
	}
	n.mu.Lock()
	run := n.pods[pod.UID]
	n.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		if run == nil {
			return n.finalDelete(ctx, pod.Namespace, pod.Name, pod.UID)
		}
		grace := int64(30)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = *pod.DeletionGracePeriodSeconds
		}
		go run.terminate(ctx, time.Duration(grace)*time.Second)
		return nil
	}
	if run != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	return n.startPod(ctx, pod)
}

// unschedulable reports, as the scheduler does, that no node fits the pod.
// The pod stays Pending; the scheduler would retry it, but this node's
// labels never change.
func (n *Node) unschedulable(ctx context.Context, pod *corev1.Pod, message string) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable {
			return nil
		}
	}
	pod = pod.DeepCopy()
	pod.Status.Phase = corev1.PodPending
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: message, LastTransitionTime: metav1.Now()})
	_, err := n.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	n.Log.Warn("pod unschedulable", "pod", pod.Namespace+"/"+pod.Name, "reason", message)
	return err
}

// forget kills what is left of a Pod the API no longer has.
func (n *Node) forget(key string) {
	n.mu.Lock()
	var gone []*podRun
	for uid, r := range n.pods {
		if r.ns+"/"+r.name == key {
			gone = append(gone, r)
			delete(n.pods, uid)
		}
	}
	n.mu.Unlock()
	for _, r := range gone {
		r.stop(0)
		r.cleanup()
	}
}

func (n *Node) finalDelete(ctx context.Context, ns, name string, uid types.UID) error {
	err := n.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func (n *Node) startPod(ctx context.Context, pod *corev1.Pod) error {
	run := &podRun{n: n, uid: pod.UID, ns: pod.Namespace, name: pod.Name, policy: pod.Spec.RestartPolicy,
		dir: filepath.Join(n.DataDir, "pods", string(pod.UID)), start: time.Now(), terminated: make(chan struct{})}
	for _, c := range pod.Spec.Containers {
		run.containers = append(run.containers, &containerRun{spec: c, startup: c.StartupProbe == nil, waiting: "ContainerCreating"})
	}
	if reason, msg := unsupported(pod, n.Image); reason != "" {
		run.failure, run.failureMessage = reason, msg
		n.Log.Warn("pod cannot run here", "pod", pod.Namespace+"/"+pod.Name, "reason", msg)
		return run.report(ctx)
	}
	volumes, err := run.prepareVolumes(ctx, pod)
	if err != nil {
		n.Log.Warn("volumes not ready", "pod", pod.Namespace+"/"+pod.Name, "error", err)
		return err // retried, as the kubelet retries a mount
	}
	run.ip = n.allocateIP(pod.UID)
	pod = pod.DeepCopy()
	pod.Status.PodIP = run.ip
	pctx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	n.mu.Lock()
	n.pods[pod.UID] = run
	n.mu.Unlock()
	for _, c := range run.containers {
		if err := run.prepareContainer(ctx, pod, c, volumes); err != nil {
			run.failure, run.failureMessage = "CreateContainerConfigError", err.Error()
			_ = run.report(ctx)
			return nil
		}
		run.launch(pctx, c)
	}
	n.Log.Info("pod started", "pod", pod.Namespace+"/"+pod.Name, "ip", run.ip)
	return run.report(ctx)
}

// waitsForever are the failures a kubelet keeps a pod Pending for, retrying;
// the others are this node's own limits, and fail the pod.
var waitsForever = map[string]bool{"ErrImageNeverPull": true, "CreateContainerConfigError": true}

// unsupported says why a Pod cannot run on this node, or nothing.
func unsupported(pod *corev1.Pod, image string) (reason, message string) {
	if len(pod.Spec.InitContainers) > 0 {
		return "UnsupportedPod", "localnode does not run init containers"
	}
	for _, c := range pod.Spec.Containers {
		if c.Image != image {
			return "ErrImageNeverPull", fmt.Sprintf("container %s: image %q is not available on localnode, which runs only the operator image %q", c.Name, c.Image, image)
		}
		if len(c.Command) > 0 && !strings.HasSuffix(c.Command[0], "contact-converter") {
			return "UnsupportedCommand", fmt.Sprintf("container %s: command %q: localnode runs only the contact-converter binary", c.Name, c.Command[0])
		}
	}
	return "", ""
}

// launch starts (or restarts) a container's process and watches it.
func (r *podRun) launch(ctx context.Context, c *containerRun) {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.containerFailed(c, err)
		return
	}
	_ = os.WriteFile(c.msgPath, nil, 0o666)
	_ = os.Chmod(c.msgPath, 0o666)
	cmd := exec.Command(r.n.Sandbox, SandboxArg, c.sandbox)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		r.containerFailed(c, err)
		return
	}
	r.mu.Lock()
	c.pid, c.running, c.started, c.waiting, c.ready = cmd.Process.Pid, true, time.Now(), "", false
	c.exited = make(chan struct{})
	exited := c.exited
	r.mu.Unlock()
	probes, stopProbes := context.WithCancel(ctx)
	go r.probe(probes, c)
	go func() {
		err := cmd.Wait()
		logf.Close()
		stopProbes()
		r.exited(c, exitCode(cmd, err))
		close(exited)
	}()
}

func (r *podRun) containerFailed(c *containerRun, err error) {
	r.mu.Lock()
	c.done, c.last = true, &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(),
		StartedAt: metav1.Now(), FinishedAt: metav1.Now()}
	r.mu.Unlock()
}

func exitCode(cmd *exec.Cmd, err error) int32 {
	if cmd.ProcessState == nil {
		return 128
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int32(ws.Signal())
	}
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		return 128
	}
	return int32(cmd.ProcessState.ExitCode())
}

// exited records a container's end and restarts it as the policy says.
func (r *podRun) exited(c *containerRun, code int32) {
	msg := terminationMessage(c, code)
	r.mu.Lock()
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.running, c.ready = false, false
	c.last = &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg,
		StartedAt: metav1.NewTime(c.started), FinishedAt: metav1.Now(), ContainerID: fmt.Sprintf("localnode://%d", c.pid)}
	restart := !r.deleting && (r.policy == corev1.RestartPolicyAlways || (r.policy == corev1.RestartPolicyOnFailure && code != 0))
	if restart {
		c.restarts++
		c.waiting = "CrashLoopBackOff"
	} else {
		c.done = true
	}
	backoff := time.Duration(min(c.restarts, 5)) * 2 * time.Second
	deleting := r.deleting
	r.mu.Unlock()
	r.n.Log.Info("container exited", "pod", r.ns+"/"+r.name, "container", c.spec.Name, "code", code, "restart", restart)
	if deleting {
		return // terminate reports the end
	}
	ctx := context.Background()
	_ = r.report(ctx)
	if restart {
		go func() {
			time.Sleep(backoff)
			r.mu.Lock()
			gone := r.deleting
			r.mu.Unlock()
			if !gone {
				r.launch(ctx, c)
				_ = r.report(ctx)
			}
		}()
	}
}

// terminationMessage is the file the container wrote at its termination
// message path, or, with FallbackToLogsOnError and a failure, its last log
// lines.
func terminationMessage(c *containerRun, code int32) string {
	data, _ := os.ReadFile(c.msgPath)
	msg := strings.TrimSpace(string(data))
	if msg == "" && code != 0 && c.spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		logs, _ := os.ReadFile(c.logPath)
		lines := strings.Split(strings.TrimRight(string(logs), "\n"), "\n")
		msg = strings.Join(lines[max(0, len(lines)-80):], "\n")
		if len(msg) > 2048 {
			msg = msg[len(msg)-2048:]
		}
	}
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	return msg
}

// stop sends SIGTERM to every running process and SIGKILL after grace.
func (r *podRun) stop(grace time.Duration) {
	r.mu.Lock()
	r.deleting = true
	var waits []chan struct{}
	var pids []int
	for _, c := range r.containers {
		if c.running {
			pids = append(pids, c.pid)
			waits = append(waits, c.exited)
		}
	}
	r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
	sig := syscall.SIGTERM
	if grace == 0 {
		sig = syscall.SIGKILL
	}
	for _, pid := range pids {
		_ = syscall.Kill(-pid, sig)
	}
	deadline := time.After(grace)
	for _, w := range waits {
		select {
		case <-w:
		case <-deadline:
			for _, pid := range pids {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
			<-w
		}
	}
}

// terminate ends a deleted Pod: SIGTERM, SIGKILL after the grace period,
// the final status, then the removal from the API.
func (r *podRun) terminate(ctx context.Context, grace time.Duration) {
	r.once.Do(func() {
		r.n.Log.Info("stopping pod", "pod", r.ns+"/"+r.name, "grace", grace)
		r.stop(grace)
		_ = r.report(ctx)
		if err := r.n.finalDelete(ctx, r.ns, r.name, r.uid); err != nil {
			r.n.Log.Warn("deleting pod", "pod", r.ns+"/"+r.name, "error", err)
		}
		r.n.mu.Lock()
		delete(r.n.pods, r.uid)
		r.n.mu.Unlock()
		r.cleanup()
		close(r.terminated)
	})
}

// cleanup frees the Pod's address and removes its volumes; logs stay.
func (r *podRun) cleanup() {
	if r.ip != "" {
		r.n.releaseIP(r.ip)
	}
	_ = os.RemoveAll(filepath.Join(r.dir, "volumes"))
}

// report writes the Pod's status.
func (r *podRun) report(ctx context.Context) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := r.n.Client.CoreV1().Pods(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != r.uid {
			return nil
		}
		pod.Status = r.status(pod)
		_, err = r.n.Client.CoreV1().Pods(r.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (r *podRun) status(pod *corev1.Pod) corev1.PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := metav1.Now()
	st := corev1.PodStatus{HostIP: "127.0.0.1", HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}}, StartTime: ptr.To(metav1.NewTime(r.start)),
		QOSClass: pod.Status.QOSClass}
	if r.ip != "" {
		st.PodIP, st.PodIPs = r.ip, []corev1.PodIP{{IP: r.ip}}
	}
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s, reason = corev1.ConditionTrue, ""
		}
		for _, old := range pod.Status.Conditions {
			if old.Type == t && old.Status == s {
				return old
			}
		}
		return corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now}
	}
	if r.failure != "" {
		st.Phase, st.Reason, st.Message = corev1.PodFailed, r.failure, r.failureMessage
		if waitsForever[r.failure] {
			// As the kubelet: the pod stays Pending and its container
			// waiting, until someone fixes the image or the Secret.
			st.Phase, st.Reason, st.Message = corev1.PodPending, "", ""
		}
		for _, c := range r.containers {
			st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{Name: c.spec.Name, Image: c.spec.Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r.failure, Message: r.failureMessage}}})
		}
		st.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true, ""), cond(corev1.PodReady, false, r.failure)}
		return st
	}
	allReady, allDone, anyFailed, anyRunning := true, true, false, false
	for _, c := range r.containers {
		cs := corev1.ContainerStatus{Name: c.spec.Name, Image: c.spec.Image, ImageID: "localnode://" + c.spec.Image,
			RestartCount: c.restarts, Ready: c.ready, Started: ptr.To(c.running && c.startup)}
		switch {
		case c.running:
			anyRunning = true
			cs.ContainerID = fmt.Sprintf("localnode://%d", c.pid)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.started)}
			if c.last != nil {
				cs.LastTerminationState.Terminated = c.last
			}
		case c.done && c.last != nil:
			cs.State.Terminated = c.last
			cs.ContainerID = c.last.ContainerID
			if c.last.ExitCode != 0 {
				anyFailed = true
			}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waiting}
			if c.last != nil {
				cs.LastTerminationState.Terminated = c.last
			}
		}
		allReady = allReady && c.ready
		allDone = allDone && c.done
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	switch {
	case allDone && anyFailed:
		st.Phase = corev1.PodFailed
	case allDone:
		st.Phase = corev1.PodSucceeded
	case anyRunning || r.deleting:
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	if r.deleting && !anyRunning && !allDone {
		st.Phase = corev1.PodFailed
		if !anyFailed && r.policy == corev1.RestartPolicyNever {
			st.Phase = corev1.PodSucceeded
		}
	}
	ready := allReady && st.Phase == corev1.PodRunning
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodScheduled, true, ""),
		cond(corev1.PodReadyToStartContainers, true, ""),
		cond(corev1.PodInitialized, true, ""),
		cond(corev1.ContainersReady, ready, "ContainersNotReady"),
		cond(corev1.PodReady, ready, "ContainersNotReady"),
	}
	// Keep conditions other components set, such as DisruptionTarget.
	for _, old := range pod.Status.Conditions {
		switch old.Type {
		case corev1.PodScheduled, corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady:
		default:
			st.Conditions = append(st.Conditions, old)
		}
	}
	return st
}
