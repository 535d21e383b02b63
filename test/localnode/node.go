// Package localnode is a single-node kubelet for tests and the demo. It
// registers a Ready Node, binds unscheduled Pods to it, and runs each
// container whose image is the operator's image as a local process of the
// contact-converter binary, in its own mount namespace with the Pod's
// volumes, environment, user and 127.0.0.x address. It reports phases,
// container states, exit codes and termination messages, honours probes,
// and stops processes with SIGTERM then SIGKILL when a Pod is deleted.
package localnode

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
)

// Node runs Pods as local processes.
type Node struct {
	Name string
	// Client talks to the API server as an administrator.
	Client kubernetes.Interface
	// Config is the API server's address and CA, given to Pods.
	Config *rest.Config
	// DataDir holds the Pods' volumes, logs and the persistent volumes.
	DataDir string
	// Binary is the contact-converter binary that plays Image.
	Binary string
	Image  string
	// Sandbox is this program, which sets up each container's mounts.
	Sandbox string
	Log     *slog.Logger

	mu    sync.Mutex
	pods  map[types.UID]*podRun
	ips   map[string]types.UID
	queue workqueue.TypedRateLimitingInterface[string]
	store cache.Store
	// logsPort serves container logs to the API server.
	logsPort int
}

// Main runs the node until SIGTERM or SIGINT.
func Main(args []string) int {
	fs := flag.NewFlagSet("localnode", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of an administrator")
	name := fs.String("name", "localnode", "the Node's name")
	dataDir := fs.String("data-dir", "", "folder for volumes and logs (default: a new temporary folder)")
	binary := fs.String("binary", "bin/contact-converter", "the contact-converter binary")
	image := fs.String("image", "", "the image the binary plays")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "localnode")
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Error("kubeconfig", "error", err)
		return 2
	}
	if *image == "" {
		log.Error("--image is required")
		return 2
	}
	if *dataDir == "" {
		if *dataDir, err = os.MkdirTemp("", "localnode-"); err != nil {
			log.Error("data dir", "error", err)
			return 1
		}
	}
	self, err := os.Executable()
	if err != nil {
		log.Error("executable", "error", err)
		return 1
	}
	n := &Node{Name: *name, Client: kubernetes.NewForConfigOrDie(cfg), Config: cfg, DataDir: *dataDir,
		Binary: *binary, Image: *image, Sandbox: self, Log: log}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := n.Run(ctx); err != nil {
		log.Error("node stopped", "error", err)
		return 1
	}
	return 0
}

// Run registers the Node and runs its Pods until ctx ends; then it kills
// what it started.
func (n *Node) Run(ctx context.Context) error {
	n.pods, n.ips = map[types.UID]*podRun{}, map[string]types.UID{}
	if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(n.DataDir, 0o755); err != nil {
		return err
	}
	// The binary is copied where any Pod user can run it.
	bin := filepath.Join(n.DataDir, "bin", "contact-converter")
	if err := copyFile(n.Binary, bin, 0o755); err != nil {
		return fmt.Errorf("copying the binary: %w", err)
	}
	n.Binary = bin
	port, err := n.serveLogs(ctx)
	if err != nil {
		return fmt.Errorf("serving logs: %w", err)
	}
	n.logsPort = port
	if err := n.register(ctx); err != nil {
		return err
	}
	n.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	factory := informers.NewSharedInformerFactory(n.Client, 0)
	inf := factory.Core().V1().Pods().Informer()
	n.store = inf.GetStore()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			n.queue.Add(key)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for n.next(ctx) {
			}
		})
	}
	go n.heartbeat(ctx)
	n.Log.Info("node ready", "name", n.Name, "dataDir", n.DataDir)
	<-ctx.Done()
	n.queue.ShutDown()
	wg.Wait()
	n.killAll()
	return nil
}

func (n *Node) next(ctx context.Context) bool {
	key, quit := n.queue.Get()
	if quit {
		return false
	}
	defer n.queue.Done(key)
	if err := n.sync(ctx, key); err != nil && ctx.Err() == nil {
		n.Log.Warn("sync", "pod", key, "error", err)
		n.queue.AddRateLimited(key)
		return true
	}
	n.queue.Forget(key)
	return true
}

// labels are the Node's labels.
func (n *Node) labels() map[string]string {
	return map[string]string{corev1.LabelHostname: n.Name, corev1.LabelOSStable: "linux"}
}

// register creates or refreshes the Node, Ready.
func (n *Node) register(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.labels()}}
	if _, err := n.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering the node: %w", err)
	}
	return n.updateNodeStatus(ctx)
}

func (n *Node) updateNodeStatus(ctx context.Context) error {
	node, err := n.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	node.Status = corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "localnode is running Pods as local processes", LastHeartbeatTime: now, LastTransitionTime: now}},
		// The API server reaches the node by its first address for logs:
		// loopback, since the node's name resolves to nothing.
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(n.logsPort)}},
		NodeInfo:        corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "localnode"},
	}
	_, err = n.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}

func (n *Node) heartbeat(ctx context.Context) {
	t := time.NewTicker(20 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
				n.Log.Warn("node heartbeat", "error", err)
			}
		}
	}
}

// apiServer is the API server's host and port, as Pods see them.
func (n *Node) apiServer() (host, port string) {
	u, err := url.Parse(n.Config.Host)
	if err != nil {
		return "127.0.0.1", "443"
	}
	host, port, err = net.SplitHostPort(u.Host)
	if err != nil {
		return u.Host, "443"
	}
	return host, port
}

// allocateIP gives a Pod its own loopback address.
func (n *Node) allocateIP(uid types.UID) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := 2; i < 1<<16; i++ {
		ip := fmt.Sprintf("127.0.%d.%d", i/254, i%254+1)
		if i%254+1 == 255 || i%254 == 0 {
			continue
		}
		if _, used := n.ips[ip]; !used {
			n.ips[ip] = uid
			return ip
		}
	}
	return "127.0.0.1"
}

func (n *Node) releaseIP(ip string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.ips, ip)
}

func (n *Node) killAll() {
	n.mu.Lock()
	runs := make([]*podRun, 0, len(n.pods))
	for _, r := range n.pods {
		runs = append(runs, r)
	}
	n.mu.Unlock()
	for _, r := range runs {
		r.stop(0)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
