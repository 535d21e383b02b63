package localnode

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"POD_IP": "127.0.0.7", "A": "x"}
	for in, want := range map[string]string{
		"$(POD_IP):8080":   "127.0.0.7:8080",
		"$(A)$(A)":         "xx",
		"$$(A)":            "$(A)", // escaped
		"$(MISSING)":       "$(MISSING)",
		"plain":            "plain",
		"$(A":              "$(A",
		"cost: 5$":         "cost: 5$",
		"--listen=$(A)/$A": "--listen=x/$A",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFieldValue(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1", Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{NodeName: "localnode", ServiceAccountName: "sa"},
		Status:     corev1.PodStatus{PodIP: "127.0.0.9"},
	}
	for path, want := range map[string]string{
		"metadata.name": "p", "metadata.namespace": "ns", "metadata.uid": "u1", "metadata.labels['app']": "x",
		"spec.nodeName": "localnode", "spec.serviceAccountName": "sa", "status.podIP": "127.0.0.9", "status.hostIP": "127.0.0.1",
	} {
		if got, err := fieldValue(pod, path); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := fieldValue(pod, "spec.containers"); err == nil {
		t.Error("an unsupported field path was accepted")
	}
}

func TestResourceValue(t *testing.T) {
	c := &corev1.Container{Resources: corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
	}}
	for _, tc := range []struct {
		ref  corev1.ResourceFieldSelector
		want string
	}{
		{corev1.ResourceFieldSelector{Resource: "limits.memory"}, "1073741824"},
		{corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, "1024"},
		{corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}, "250"},
		{corev1.ResourceFieldSelector{Resource: "requests.cpu"}, "1"}, // rounded up
		{corev1.ResourceFieldSelector{Resource: "limits.cpu"}, "2"},   // no limit: the node's
	} {
		if got, err := resourceValue(c, &tc.ref); err != nil || got != tc.want {
			t.Errorf("%s / %s = %q, %v; want %s", tc.ref.Resource, tc.ref.Divisor.String(), got, err, tc.want)
		}
	}
}

func TestIdentity(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{
		RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](2000), FSGroup: ptr.To[int64](3000)}}}
	c := &corev1.Container{SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1001)}}
	uid, gid, groups := identity(pod, c)
	if *uid != 1001 || *gid != 2000 || len(groups) != 1 || groups[0] != 3000 {
		t.Errorf("identity = %d %d %v", *uid, *gid, groups)
	}
	uid, gid, groups = identity(&corev1.Pod{}, &corev1.Container{})
	if *uid != nonRootUser || *gid != nonRootUser || groups[0] != nonRootUser {
		t.Errorf("image user = %d %d %v, want the distroless nonroot user", *uid, *gid, groups)
	}
}

func TestUnsupported(t *testing.T) {
	img := "ghcr.io/x/contact-converter:local"
	ok := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: img, Args: []string{"convert"}}}}}
	if r, _ := unsupported(ok, img); r != "" {
		t.Errorf("the operator image was refused: %s", r)
	}
	for name, pod := range map[string]*corev1.Pod{
		"foreign image": {Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}},
		"init":          {Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i", Image: img}}, Containers: []corev1.Container{{Name: "c", Image: img}}}},
		"command":       {Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: img, Command: []string{"/bin/sh"}}}}},
	} {
		if r, msg := unsupported(pod, img); r == "" || msg == "" {
			t.Errorf("%s: accepted", name)
		}
	}
}
