package cli

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// preferenceCenterFiles converts the sample tenant and writes what the
// service reads: its configuration, a signing key and an API token
// (a-long-enough-api-token). It returns the configuration, the database and
// the address to listen on.
func preferenceCenterFiles(t testing.TB) (config, db, listen string) {
	t.Helper()
	dir := t.TempDir()
	db = "sqlite:" + filepath.Join(dir, "contacts.db")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "signing")
	if err := os.MkdirAll(filepath.Join(keys, "..data"), 0o700); err != nil { // as a mounted Secret has
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "key-20261128"), []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("a-long-enough-api-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen = freeAddr(t)
	cfg := prefconfig.Config{
		Organization: ccv1.Organization{Name: "ACME", PrivacyPolicyURL: "https://acme.example/privacy"},
		Languages:    []string{"nl", "en"}, DefaultLanguage: "nl",
		Topics:  []ccv1.Topic{{Name: "fairs", Segment: "salon-x-2018", Title: map[string]string{"nl": "Beurzen"}}},
		Rights:  prefconfig.Rights{Export: true},
		LinkTTL: "720h", PublicURL: "http://" + listen, KeyIsEmail: true,
		SigningKeysDir: keys, APITokenFile: token,
	}
	data, _ := json.Marshal(cfg)
	config = filepath.Join(dir, "config.json")
	if err := os.WriteFile(config, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return config, db, listen
}

// The command reads its files, serves until its context ends, then shuts
// down cleanly.
func TestPreferenceCenterCommand(t *testing.T) {
	config, db, listen := preferenceCenterFiles(t)
	metrics := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := NewRootCommand()
		cmd.SetArgs([]string{"preference-center", "--config", config, "--database", db, "--listen", listen, "--metrics-listen", metrics})
		done <- cmd.ExecuteContext(ctx)
	}()
	get := func(url string) (int, string) {
		var last error
		for range 100 {
			res, err := http.Get(url)
			if err == nil {
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(body)
			}
			last = err
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: %v", url, last)
		return 0, ""
	}
	if code, _ := get("http://" + listen + "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+listen+"/api/v1/links", strings.NewReader(`{"key":"greta@example.de"}`))
	req.Header.Set("Authorization", "Bearer a-long-enough-api-token")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var links struct{ PreferencesURL string }
	_ = json.NewDecoder(res.Body).Decode(&links)
	res.Body.Close()
	if code, body := get(links.PreferencesURL); code != http.StatusOK || !strings.Contains(body, "Beurzen") {
		t.Errorf("minted link: %d", code)
	}
	if code, body := get("http://" + metrics + "/metrics"); code != http.StatusOK || !strings.Contains(body, "preference_center_requests_total") && !strings.Contains(body, "go_") {
		t.Errorf("/metrics: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}

// A configuration mistake is reported with the field, as bad input (exit 2).
func TestPreferenceCenterCommandBadConfig(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, []byte(`{"organization": {"name": "ACME"}, "languages": ["nl"], "defaultLanguage": "nl"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "preference-center", "--config", config, "--database", "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	if err == nil || !strings.Contains(err.Error(), "privacyPolicyURL") || exitCode(err) != 2 {
		t.Errorf("error %v (exit %d), want one naming privacyPolicyURL with exit 2", err, exitCode(err))
	}
}
