package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A received file replaces the old one only when its checksum matches.
func TestReceiveFileIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	to := filepath.Join(dir, "crm", "list.csv")
	body := "email\nan@example.be\n"
	s := sha256.Sum256([]byte(body))
	want := hex.EncodeToString(s[:])
	if got, err := receiveFile(strings.NewReader(body), to, want); err != nil || got != want {
		t.Fatalf("receiveFile = %q, %v", got, err)
	}
	if _, err := receiveFile(strings.NewReader("email\ntruncat"), to, want); err == nil || !strings.Contains(err.Error(), "the file was not written") {
		t.Errorf("a damaged transfer: %v", err)
	}
	if data, _ := os.ReadFile(to); string(data) != body {
		t.Errorf("the file holds %q after a damaged transfer, want the old one", data)
	}
	if left, _ := os.ReadDir(filepath.Dir(to)); len(left) != 1 {
		t.Errorf("temporary files are left: %v", left)
	}
}

func TestUploadTargets(t *testing.T) {
	for _, tc := range []struct{ to, pattern, want, err string }{
		{"", "crm.csv", "crm.csv", ""},
		{"", "crm/*.csv", "", `csv.s3.key is the glob "crm/*.csv": name the file with --to`},
		{"crm/2024.csv", "crm/*.csv", "crm/2024.csv", ""},
		{"shop/2024.csv", "crm/*.csv", "", `--to "shop/2024.csv" does not match csv.s3.key "crm/*.csv"`},
		{"crm/*.csv", "crm/*.csv", "", `--to "crm/*.csv" is a glob: name one file`},
		{"..", "*", "", `--to ".." must be relative to the bucket or claim and may not contain '..'`},
	} {
		got, err := (&uploadOptions{to: tc.to}).target("csv.s3.key", tc.pattern)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("target(%q, %q) = %q, %v; want %q, %q", tc.to, tc.pattern, got, err, tc.want, tc.err)
		}
	}
}
