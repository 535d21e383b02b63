package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

// Until the cache shows a conversion's last status write, the memo says it
// is behind; once the cache moves on, after a write the API server found
// unchanged, or once the conversion is forgotten, it does not.
func TestStatusMemo(t *testing.T) {
	key := types.NamespacedName{Namespace: "tenant-a", Name: "acme"}
	other := types.NamespacedName{Namespace: "tenant-a", Name: "other"}
	at := time.Date(2026, 11, 2, 19, 0, 0, 0, time.UTC)
	var m statusMemo
	m.record(key, "41", "42", at)
	m.record(other, "50", "50", at)
	tests := []struct {
		name   string
		key    types.NamespacedName
		rv     string
		now    time.Time
		behind bool
	}{
		{"the cache shows the object the write started from", key, "41", at.Add(time.Second), true},
		{"the cache shows the write", key, "42", at.Add(time.Second), false},
		{"the cache shows a later change", key, "43", at.Add(time.Second), false},
		{"the cache still behind after the timeout", key, "41", at.Add(statusWriteTimeout), false},
		{"a write that changed nothing", other, "50", at.Add(time.Second), false},
		{"a conversion never written", types.NamespacedName{Namespace: "tenant-b", Name: "acme"}, "41", at.Add(time.Second), false},
	}
	var got, want []string
	for _, tt := range tests {
		got = append(got, fmt.Sprintf("%s: %t", tt.name, m.behind(tt.key, tt.rv, tt.now)))
		want = append(want, fmt.Sprintf("%s: %t", tt.name, tt.behind))
	}
	m.forget(key)
	got = append(got, fmt.Sprintf("forgotten: %t", m.behind(key, "41", at)))
	want = append(want, "forgotten: false")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("behind (-want +got):\n%s", diff)
	}
}
