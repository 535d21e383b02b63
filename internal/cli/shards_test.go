package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/store/storetest"
)

// shardRun is the processes of one sharded run, as an Indexed Job's pods.
type shardRun struct {
	t              *testing.T
	tenant, db, id string
	reports        string
	cmds           []*exec.Cmd
	stderr         []*bytes.Buffer
}

func startShards(t *testing.T, tenant, db, id string, shards int) *shardRun {
	r := &shardRun{t: t, tenant: tenant, db: db, id: id, reports: t.TempDir(),
		cmds: make([]*exec.Cmd, shards), stderr: make([]*bytes.Buffer, shards)}
	for i := range shards {
		r.start(i)
	}
	return r
}

// start starts shard i, anew after it stopped.
func (r *shardRun) start(i int) {
	r.cmds[i], r.stderr[i] = converter(r.t, r.tenant, r.db, "--shards", strconv.Itoa(len(r.cmds)), "--shard", strconv.Itoa(i),
		"--run-id", r.id, "--report", r.report(i))
}

func (r *shardRun) report(i int) string {
	return filepath.Join(r.reports, fmt.Sprintf("shard-%d.json", i))
}

// wait waits for shard i; it must succeed.
func (r *shardRun) wait(i int) *engine.Report {
	r.t.Helper()
	if err := r.cmds[i].Wait(); err != nil {
		r.t.Fatalf("shard %d: %v\n%s", i, err, r.stderr[i])
	}
	var rep engine.Report
	data, err := os.ReadFile(r.report(i))
	if err == nil {
		err = json.Unmarshal(data, &rep)
	}
	if err != nil {
		r.t.Fatalf("shard %d's report: %v", i, err)
	}
	return &rep
}

// stop signals shard i and waits for it to end.
func (r *shardRun) stop(i int, sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmds[i].Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
	if err := r.cmds[i].Wait(); err == nil {
		r.t.Fatalf("shard %d finished before %v took effect; make the tenant larger", i, sig)
	}
}

// Sharded runs end in the database an unsharded run leaves, byte for byte in
// the export, whether they run through, lose a shard to kill -9 while it
// reads or while it writes, or are all stopped (a suspended Job) and resumed.
// Each shard reads only its share of the lists.
func TestShardedRunsEndAsOne(t *testing.T) {
	tenant := generatedTenant(t, 100_000)
	server := pgtest.Start(t)
	ref := pgtest.NewDatabase(t, server, "ref")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", ref); err != nil {
		t.Fatal(err)
	}
	want, err := run(t, "export", "--database", ref)
	if err != nil || len(want) < 1000 {
		t.Fatalf("reference export: %d bytes, %v", len(want), err)
	}
	n := 0
	for _, tc := range []struct {
		name string
		// interrupt stops shards of a started run and starts them again.
		interrupt func(t *testing.T, r *shardRun)
		// resumed is whether a restarted shard finds written partitions,
		// and fromExchange whether every shard was restarted after handing
		// out its rows, so takes them from the exchange and reads nothing.
		resumed, fromExchange bool
	}{
		{name: "uninterrupted", interrupt: func(*testing.T, *shardRun) {}},
		{name: "kill -9 while reading", interrupt: func(t *testing.T, r *shardRun) {
			// Once the database is migrated, the shards are reading.
			sql, rebind := storetest.Open(t, r.db)
			for sql.QueryRow(rebind(`SELECT count(*) FROM exchange_shards`)).Scan(new(int)) != nil {
				time.Sleep(10 * time.Millisecond)
			}
			r.stop(2, syscall.SIGKILL)
			if handedOut(t, r.db, 2) {
				t.Fatal("shard 2 had handed out its rows before it was killed; kill it sooner")
			}
			r.start(2)
		}},
		{name: "kill -9 while writing", resumed: true, interrupt: func(t *testing.T, r *shardRun) {
			waitShardCheckpoints(t, r.db, 1, 4, r.cmds[1])
			r.stop(1, syscall.SIGKILL)
			r.start(1)
		}},
		{name: "all stopped and resumed", resumed: true, fromExchange: true, interrupt: func(t *testing.T, r *shardRun) {
			waitCheckpoints(t, r.db, 12, r.cmds[0])
			for i := range r.cmds {
				r.stop(i, syscall.SIGTERM)
			}
			for i := range r.cmds {
				r.start(i)
			}
		}},
	} {
		n++
		t.Run(tc.name, func(t *testing.T) {
			db := pgtest.NewDatabase(t, server, fmt.Sprintf("sharded%d", n))
			r := startShards(t, tenant, db, "job-uid-1", 3)
			tc.interrupt(t, r)
			var read, resumed int64
			seen := map[int]bool{}
			for i := range r.cmds {
				rep := r.wait(i)
				if rep.Shard == nil || rep.Shard.Index != i || rep.Shard.RowsRead >= rep.RowsRead() {
					t.Errorf("shard %d read %+v of the %d rows", i, rep.Shard, rep.RowsRead())
					continue
				}
				read += rep.Shard.RowsRead
				resumed += int64(rep.PartitionsResumed)
				if tc.fromExchange && rep.Seconds.Read != 0 {
					t.Errorf("shard %d read its lists again after handing out their rows", i)
				}
				for _, s := range rep.Shard.Sources {
					if seen[s] {
						t.Errorf("source %d read by two shards", s)
					}
					seen[s] = true
				}
			}
			if total := countRows(t, tenant); read != total || len(seen) != 6 {
				t.Errorf("the shards read %d rows of %d, and %d sources of 6", read, total, len(seen))
			}
			if tc.resumed && resumed == 0 {
				t.Error("no restarted shard resumed the partitions written before the interruption")
			}
			got, err := run(t, "export", "--database", db)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("the sharded export differs from the unsharded one (%d vs %d bytes)", len(got), len(want))
			}
			sql, rebind := storetest.Open(t, db)
			var parcels int
			if err := sql.QueryRow(rebind(`SELECT count(*) FROM exchange_parcels`)).Scan(&parcels); err != nil || parcels != 0 {
				t.Errorf("%d parcels left after the run (%v)", parcels, err)
			}
		})
	}
}

// waitShardCheckpoints waits until shard has written n partitions of its
// own: which shard merges a partition is decided once all have read.
func waitShardCheckpoints(t *testing.T, url string, shard, n int, cmd *exec.Cmd) {
	t.Helper()
	waitCount(t, url, `SELECT count(*) FROM checkpoints WHERE (stats::jsonb->>'shard')::int = ?`, n, cmd, shard)
}

// handedOut tells whether shard has handed out its rows in the database.
func handedOut(t *testing.T, db string, shard int) bool {
	t.Helper()
	sql, rebind := storetest.Open(t, db)
	var n int
	if err := sql.QueryRow(rebind(`SELECT count(*) FROM exchange_shards WHERE shard = ?`), shard).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// countRows counts the data rows of a generated tenant's lists.
func countRows(t *testing.T, tenant string) int64 {
	t.Helper()
	rep := filepath.Join(t.TempDir(), "report.json")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--dry-run", "--report", rep); err != nil {
		t.Fatal(err)
	}
	var r engine.Report
	data, _ := os.ReadFile(rep)
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r.RowsRead()
}

// A shard that stops on bad input stops the others too: they do not wait
// for rows that will never come, and every shard exits as bad input.
func TestAShardsBadInputStopsEveryShard(t *testing.T) {
	tenant := generatedTenant(t, 2_000)
	manifest := filepath.Join(tenant, "conversion.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	// The last list maps a header it does not have; only its shard finds out.
	data = bytes.Replace(data, []byte("csv: {path: crm-export.csv}"), []byte("csv: {path: crm-export.csv}, columns: {company: Bedrijf}"), 1)
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db := pgtest.NewDatabase(t, pgtest.Start(t), "bad")
	r := startShards(t, tenant, db, "job-uid-1", 3)
	for i, cmd := range r.cmds {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("shard %d succeeded", i)
			}
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("shard %d still waits 2 minutes after another stopped on bad input", i)
		}
		if code := cmd.ProcessState.ExitCode(); code != desired.ExitInvalidInput {
			t.Errorf("shard %d exited with %d, want %d (bad input)\n%s", i, code, desired.ExitInvalidInput, r.stderr[i])
		}
	}
}
