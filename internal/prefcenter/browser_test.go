package prefcenter

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/store"
)

// chromium finds Debian's Chromium, or fails saying how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("the browser test needs Chromium: apt-get install -y chromium (or set CHROMIUM to its path)")
	return ""
}

// artifacts is where screenshots go: $ARTIFACTS_DIR, else _artifacts/ at
// the top of the repository.
func artifacts(t *testing.T) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "_artifacts")
	}
	dir = filepath.Join(dir, "preference-center")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A contact's visit in a real browser: the page, a save, the data
// download, the erasure.
func TestBrowserJourney(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, sqliteStore(t), nil)
	shots := artifacts(t)
	downloads := t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(900, 1100))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	eval := func(expr string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	heading := func() string {
		t.Helper()
		h, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	prefs := f.http.URL + f.link(greta, linktoken.PurposePreferences)

	do("open the signed link",
		chromedp.Navigate(prefs),
		chromedp.WaitVisible(chromedp.ID("topic-fairs")),
		shot("1-preferences"))
	shop, fairs, newsletter := eval(`document.getElementById("topic-shop").checked`),
		eval(`document.getElementById("topic-fairs").checked`), eval(`document.getElementById("topic-newsletter").checked`)
	if shop || !fairs || !newsletter {
		t.Fatalf("ticks: shop %v (never consented: must be unticked), fairs %v, newsletter %v", shop, fairs, newsletter)
	}

	do("untick the newsletter and save",
		chromedp.Click(chromedp.ID("topic-newsletter")),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.ID("topic-fairs")),
		chromedp.WaitVisible(chromedp.CSS("footer")),
		shot("2-saved"))
	if h := heading(); h != "Uw keuzes zijn bewaard" {
		t.Errorf("after saving: %q", h)
	}
	if f.contact(greta).Segments["newsletter-2017"] != "unsubscribed" {
		t.Error("the save did not reach the database")
	}

	progress := chromedp.Events(ctx, browser.DownloadProgress)
	do("see my data and download it",
		chromedp.Navigate(prefs+"/data?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("table")),
		shot("3-my-data"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: new(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(`a[href$="data.json"]`)))
	var guid string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("the data download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
	}
	data, err := os.ReadFile(filepath.Join(downloads, guid))
	if err != nil {
		t.Fatal(err)
	}
	var doc portable
	if err := json.Unmarshal(data, &doc); err != nil || doc.Exported == nil {
		t.Fatalf("downloaded data: %v\n%s", err, data)
	}
	if doc.Email != greta || strings.Join(doc.Sources, ",") != "Salon X 2018,Newsletter 2017" ||
		len(doc.ConsentHistory) != 1 || doc.ConsentHistory[0].Action != store.ActionUnsubscribe {
		t.Errorf("downloaded data = %s", data)
	}

	do("the other pages",
		chromedp.Navigate(prefs+"/rectify?lang=fr"), chromedp.WaitVisible(chromedp.ID("firstName")), shot("4-rectify"),
		chromedp.Navigate(prefs+"/unsubscribe?lang=de"), chromedp.WaitVisible(chromedp.CSS("button")), shot("5-unsubscribe"),
		chromedp.Navigate(f.http.URL+"/p/tampered"), chromedp.WaitVisible(chromedp.CSS("h1")), shot("6-invalid-link"))

	do("erase, after confirming",
		chromedp.Navigate(prefs+"/erase"),
		chromedp.WaitVisible(chromedp.CSS("button.danger")),
		shot("7-erase"),
		chromedp.Click(chromedp.CSS("button.danger")),
		chromedp.WaitNotPresent(chromedp.CSS("button.danger")),
		chromedp.WaitVisible(chromedp.CSS("footer")),
		shot("8-erased"))
	if h := heading(); h != "Uw gegevens zijn gewist" {
		t.Errorf("after erasing: %q", h)
	}
	if _, err := f.store.Contact(ctx, greta); err == nil {
		t.Error("the contact is still in the database")
	}
	sup, err := f.store.Suppressions(ctx)
	if err != nil || !sup.Contains(greta) {
		t.Errorf("the erased address is not suppressed (%v)", err)
	}
	t.Logf("screenshots in %s", shots)
}
