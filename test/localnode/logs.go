package localnode

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// serveLogs answers the API server's requests for container logs
// (`kubectl logs`), as the kubelet does on its port: GET
// /containerLogs/NAMESPACE/POD/CONTAINER, ?follow=true streams until the
// container ends; and for `kubectl exec` (serveExec). It returns the port.
func (n *Node) serveLogs(ctx context.Context) (int, error) {
	cert, err := selfSigned()
	if err != nil {
		return 0, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return 0, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/", n.containerLogs)
	mux.HandleFunc("/exec/", n.serveExec)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (n *Node) containerLogs(w http.ResponseWriter, r *http.Request) {
	pod, container, ok := n.podAt(w, r, "/containerLogs/")
	if !ok {
		return
	}
	path := filepath.Join(n.DataDir, "pods", string(pod.UID), "containers", filepath.Base(container), "log")
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "no log yet for container "+container, http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain")
	follow := r.URL.Query().Get("follow") == "true"
	for {
		if _, err := io.Copy(w, f); err != nil {
			return
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if !follow || !n.containerRunning(pod, container) {
			_, _ = io.Copy(w, f)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// podAt finds the pod and container a kubelet path names after prefix
// (NAMESPACE/POD/CONTAINER), or answers 404.
func (n *Node) podAt(w http.ResponseWriter, r *http.Request, prefix string) (*corev1.Pod, string, bool) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, prefix), "/")
	if len(parts) != 3 {
		http.NotFound(w, r)
		return nil, "", false
	}
	obj, exists, err := n.store.GetByKey(parts[0] + "/" + parts[1])
	if err != nil || !exists {
		http.Error(w, "pod not found", http.StatusNotFound)
		return nil, "", false
	}
	return obj.(*corev1.Pod), parts[2], true
}

// containerRunning tells whether a container of the Pod runs or may run
// again.
func (n *Node) containerRunning(pod *corev1.Pod, name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.pods[pod.UID]
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.containers {
		if c.spec.Name == name {
			return c.running || !c.done
		}
	}
	return false
}

// selfSigned is the serving certificate: the API server does not check
// the kubelet's unless told to.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localnode"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if der == nil {
		return tls.Certificate{}, errors.New("no certificate")
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
