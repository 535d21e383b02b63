package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"
	"sigs.k8s.io/yaml"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/listgen"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// bigContacts sizes the generated tenant: long enough a run to interrupt.
const bigContacts = 300_000

var big struct {
	once     sync.Once
	dir      string
	base     string
	server   *http.Server
	err      error
	refOnce  sync.Once
	ref      string
	refErr   error
	slowRate atomic.Int64 // bytes per second per list; 0 serves at full speed
}

// bigTenant generates the six lists once and serves them over HTTP on
// loopback, which the Pods reach.
func bigTenant(t *testing.T) string {
	t.Helper()
	big.once.Do(func() {
		big.dir, big.err = os.MkdirTemp("", "e2e-tenant-")
		if big.err != nil {
			return
		}
		tn := listgen.Tenant{Seed: 7, Contacts: bigContacts, Lists: listgen.DefaultLists}
		for _, l := range tn.Lists {
			f, err := os.Create(filepath.Join(big.dir, l.Name+".csv"))
			if err != nil {
				big.err = err
				return
			}
			_, err = tn.Write(f, l)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				big.err = err
				return
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			big.err = err
			return
		}
		big.base = "http://" + ln.Addr().String()
		big.server = &http.Server{Handler: http.HandlerFunc(serveList), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = big.server.Serve(ln) }()
	})
	if big.err != nil {
		t.Fatal(big.err)
	}
	return big.base
}

// serveList sends a list, throttled when slowRate is set.
func serveList(w http.ResponseWriter, r *http.Request) {
	f, err := os.Open(filepath.Join(big.dir, filepath.Base(r.URL.Path)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/csv")
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
		if rate := big.slowRate.Load(); rate > 0 {
			time.Sleep(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
		}
	}
}

func stopServer() {
	if big.server != nil {
		_ = big.server.Close()
	}
	if big.dir != "" {
		_ = os.RemoveAll(big.dir)
	}
}

// bigConversion reads the generated lists by URL into db.
func bigConversion(t *testing.T, ns, name string, db ccv1.DatabaseSpec) *ccv1.ContactConversion {
	base := bigTenant(t)
	var sources []ccv1.Source
	for _, l := range listgen.DefaultLists {
		sources = append(sources, ccv1.Source{Name: l.Name, CSV: &ccv1.CSVSource{URL: base + "/" + l.Name + ".csv"}})
	}
	return tw.MakeConversion(name, ns).Sources(sources...).Edit(func(cc *ccv1.ContactConversion) {
		cc.Spec.Languages = []ccv1.LanguageCode{"nl", "fr", "en", "de"}
		cc.Spec.LanguageAliases = map[string]ccv1.LanguageCode{"vlaams": "nl"}
		cc.Spec.Conflicts.Policy = ccv1.ConflictPolicyFirstSource
		cc.Spec.Database = db
	}).Obj()
}

// referenceExport is the export of an uninterrupted run of the same lists,
// on this machine, without a cluster.
func referenceExport(t *testing.T, binary string) string {
	t.Helper()
	big.refOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-ref-")
		if err != nil {
			big.refErr = err
			return
		}
		defer os.RemoveAll(dir)
		cc := bigConversion(t, "", "reference", ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: "unused"}})
		data, _ := yaml.Marshal(cc)
		manifest := filepath.Join(dir, "conversion.yaml")
		if big.refErr = os.WriteFile(manifest, data, 0o644); big.refErr != nil {
			return
		}
		db := "sqlite:" + filepath.Join(dir, "contacts.db")
		// The lists are served on loopback, which csv.url refuses unless allowed.
		if out, err := exec.Command(binary, "convert", "-f", manifest, "--database", db, "--allow-url-cidrs", "127.0.0.0/8").CombinedOutput(); err != nil {
			big.refErr = fmt.Errorf("reference run: %v\n%s", err, out)
			return
		}
		out, err := exec.Command(binary, "export", "--database", db).Output()
		big.ref, big.refErr = string(out), err
	})
	if big.refErr != nil {
		t.Fatal(big.refErr)
	}
	return big.ref
}

// sqliteCheckpoints counts the partitions a run has written, reading the
// live database on a claim read-only.
func sqliteCheckpoints(path string) int {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = db.QueryRowContext(ctx, `SELECT count(*) FROM checkpoints`).Scan(&n)
	return n
}
