package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/fetch"
	"github.com/contactconverter/contact-converter/internal/inputs"
	"github.com/contactconverter/contact-converter/internal/store"
)

type convertOptions struct {
	file       string
	objects    []string
	database   string
	report     string
	dryRun     bool
	spillDir   string
	claimsDir  string
	reread     bool
	partitions int
	cpuProfile string
	memLimit   string
	// In a cluster.
	namespace     string
	name          string
	generation    int64
	shards        int
	shard         string
	runID         string
	allowURLCIDRs string
	logFormat     string
	erasureSalt   string
}

func newConvertCommand() *cobra.Command {
	var o convertOptions
	cmd := &cobra.Command{
		Use:   "convert (-f conversion.yaml | --namespace NS --name NAME)",
		Short: "Merge the lists of a ContactConversion into one contact database",
		Long: `convert runs a ContactConversion: it reads every source list, normalises keys,
languages and opt-outs, merges the rows of each contact and writes the result.

On a workstation it reads the same manifest you apply: csv.path is relative to
the manifest's folder, and ConfigMaps and Secrets come from --objects files.
The database is --database, or spec.database.postgres, or ./contacts.db.

In a cluster (the operator's Jobs), --namespace and --name read the
ContactConversion, its ConfigMaps and Secrets through the API, and write the
progress into its status.`,
		Example: `  contact-converter convert -f config/samples/tenant/conversion.yaml --database sqlite:./contacts.db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tuneMemory(o.memLimit, true); err != nil {
				return err
			}
			log, err := newRunLog(cmd.ErrOrStderr(), o.logFormat)
			if err != nil {
				return err
			}
			if o.name != "" {
				return log.Failed(runConvertInCluster(cmd.Context(), log, o))
			}
			return log.Failed(runConvert(cmd.Context(), log, o))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "filename", "f", "", "the ContactConversion manifest")
	f.StringArrayVar(&o.objects, "objects", nil, "a manifest file with the ConfigMaps and Secrets the sources name (repeatable)")
	f.StringVar(&o.database, "database", "", "sqlite:PATH or postgres://... (overrides spec.database)")
	f.StringVar(&o.report, "report", "", "write the run's report as JSON to this file")
	f.BoolVar(&o.dryRun, "dry-run", false, "read and merge, but write nothing to the database")
	f.BoolVar(&o.reread, "reread", false, "read the lists even when they, the spec and the program are unchanged since the last run")
	f.StringVar(&o.claimsDir, "claims-dir", "", "folder holding each claim csv.persistentVolumeClaim names, in a folder named after it (the Job mounts them there)")
	f.StringVar(&o.spillDir, "spill-dir", "", "folder for the temporary partition files (default: a new folder under $TMPDIR)")
	f.IntVar(&o.partitions, "partitions", 0, "how many partitions the rows are spread over (0: from the input size)")
	f.StringVar(&o.namespace, "namespace", "", "in a cluster: the ContactConversion's namespace")
	f.StringVar(&o.name, "name", "", "in a cluster: the ContactConversion to run (instead of -f)")
	f.Int64Var(&o.generation, "generation", 0, "in a cluster: the generation the Job was made for (a newer spec is reported)")
	f.IntVar(&o.shards, "shards", 1, "how many shards split the run (PostgreSQL only): each reads its share of the lists and merges its share of the partitions")
	f.StringVar(&o.shard, "shard", os.Getenv("JOB_COMPLETION_INDEX"), "with --shards: which shard this is, from 0 (default: $JOB_COMPLETION_INDEX, as an Indexed Job sets it)")
	f.StringVar(&o.runID, "run-id", os.Getenv("CONTACT_CONVERTER_RUN_ID"), "with --shards: what names this run for its shards, the same for all of them and new for each attempt (default: $CONTACT_CONVERTER_RUN_ID, the Job's uid)")
	f.StringVar(&o.memLimit, "memory-limit", "170Mi", "soft limit of the Go heap: garbage is collected lazily below it (the database cache comes on top)")
	f.StringVar(&o.cpuProfile, "cpu-profile", "", "write a CPU profile to this file")
	f.StringVar(&o.erasureSalt, "erasure-salt-file", "", "a file holding the database's erasure salt (a mounted Secret); default: a salt the database keeps")
	f.StringVar(&o.logFormat, "log-format", logText, "text (lines for a person) or json (a record per event, for a log pipeline)")
	f.StringVar(&o.allowURLCIDRs, "allow-url-cidrs", "", "comma-separated internal networks csv.url may read from (public hosts always may)")
	_ = f.MarkHidden("cpu-profile")
	cmd.MarkFlagsMutuallyExclusive("filename", "name")
	cmd.MarkFlagsOneRequired("filename", "name")
	cmd.MarkFlagsRequiredTogether("name", "namespace")
	return cmd
}

func runConvert(ctx context.Context, log *runLog, o convertOptions) error {
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cc, err := readConversion(o.file)
	if err != nil {
		return err
	}
	opener, err := inputs.NewLocal(filepath.Dir(o.file), o.objects)
	if err != nil {
		return &engine.ConfigError{Err: err}
	}
	var st store.Store
	if !o.dryRun {
		url, err := localDatabase(cc, opener, o.database)
		if err != nil {
			return err
		}
		if st, err = openStore(ctx, url, o.erasureSalt, false); err != nil {
			return err
		}
		defer st.Close()
		log.Infof("%s into %s", cc.Name, url)
	}
	spillDir := o.spillDir
	if spillDir == "" {
		if spillDir, err = os.MkdirTemp("", "contact-converter-spill-"); err != nil {
			return err
		}
		defer os.RemoveAll(spillDir)
	}
	if opener.URLs, err = o.urls(spillDir); err != nil {
		return err
	}
	shard, err := o.shardIndex()
	if err != nil {
		return err
	}
	if o.shards > 1 && st == nil {
		return &engine.ConfigError{Err: errors.New("--shards: a dry run cannot be sharded")}
	}
	rep, err := engine.Run(ctx, engine.Options{
		Spec: &cc.Spec, Opener: opener, Store: st, SpillDir: spillDir, Partitions: o.partitions, Progress: log.Progress,
		Shard: shard, Shards: o.shards, RunID: o.runID, Build: Version, Reread: o.reread,
	})
	log.Done()
	if o.report != "" && rep != nil {
		if werr := writeJSON(o.report, rep); werr != nil {
			return errors.Join(err, werr)
		}
	}
	if err != nil {
		return err
	}
	if o.shards > 1 {
		if rep, err = combineShards(ctx, st, rep, shard, o.shards, o.runID); err != nil || rep == nil {
			if err == nil {
				log.Infof("shard %d of %d done; the last shard to finish reports the whole run", shard, o.shards)
			}
			return err
		}
	}
	log.Summary(rep)
	return nil
}

// shardIndex is this shard's index, checked against --shards.
func (o *convertOptions) shardIndex() (int, error) {
	if o.shards <= 1 {
		return 0, nil
	}
	shard, err := strconv.Atoi(o.shard)
	if err != nil || shard < 0 || shard >= o.shards {
		return 0, &engine.ConfigError{Err: fmt.Errorf("--shard %q is not a shard below --shards %d: give --shard or set $JOB_COMPLETION_INDEX", o.shard, o.shards)}
	}
	if o.runID == "" {
		return 0, &engine.ConfigError{Err: errors.New("--shards needs --run-id (or $CONTACT_CONVERTER_RUN_ID): the same for every shard of the run, new for each attempt")}
	}
	return shard, nil
}

// openStore opens the database, for a run or for the preference center
// (service), with the erasure salt in saltFile when one is given.
func openStore(ctx context.Context, url, saltFile string, service bool) (store.Store, error) {
	var opts []store.Option
	if saltFile != "" {
		salt, err := os.ReadFile(saltFile)
		if err != nil {
			return nil, &engine.ConfigError{Err: fmt.Errorf("--erasure-salt-file: %w", err)}
		}
		opts = append(opts, store.ErasureSalt(salt))
	}
	if service {
		return store.OpenService(ctx, url, opts...)
	}
	return store.Open(ctx, url, opts...)
}

// urls is how csv.url lists are downloaded: into the spill folder, from
// public hosts and the allowed networks.
func (o *convertOptions) urls(spillDir string) (inputs.URLs, error) {
	p, err := fetch.ParsePolicy(o.allowURLCIDRs)
	if err != nil {
		return inputs.URLs{}, &engine.ConfigError{Err: fmt.Errorf("--allow-url-cidrs: %w", err)}
	}
	return inputs.URLs{Policy: p, Dir: spillDir}, nil
}

// tuneMemory keeps the heap under limit. lazy trades the headroom below it
// for less garbage collection (a run); without it, garbage is collected as
// usual (a service). GOGC and GOMEMLIMIT, when set, win.
func tuneMemory(limit string, lazy bool) error {
	q, err := resource.ParseQuantity(limit)
	if err != nil || q.Value() < 32<<20 {
		return &engine.ConfigError{Err: fmt.Errorf("--memory-limit %q: give a size of at least 32Mi, such as 170Mi", limit)}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(q.Value())
	}
	if lazy && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	return nil
}

// readConversion reads a ContactConversion manifest, strictly.
func readConversion(path string) (*ccv1.ContactConversion, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &engine.ConfigError{Err: err}
	}
	var cc ccv1.ContactConversion
	if err := yaml.UnmarshalStrict(data, &cc); err != nil {
		return nil, &engine.ConfigError{Err: fmt.Errorf("%s: %w", path, err)}
	}
	if cc.Kind != "ContactConversion" {
		return nil, &engine.ConfigError{Err: fmt.Errorf("%s: kind is %q, want ContactConversion", path, cc.Kind)}
	}
	if len(cc.Spec.Sources) == 0 {
		return nil, &engine.ConfigError{Err: fmt.Errorf("%s: spec.sources is empty", path)}
	}
	if cc.Spec.DefaultLanguage == "" {
		return nil, &engine.ConfigError{Err: fmt.Errorf("%s: spec.defaultLanguage is required", path)}
	}
	return &cc, nil
}

// localDatabase picks the database of a workstation run.
func localDatabase(cc *ccv1.ContactConversion, l *inputs.Local, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if pg := cc.Spec.Database.Postgres; pg != nil {
		s, ok := l.Secrets[pg.SecretRef.Name]
		if !ok {
			return "", &engine.ConfigError{Err: fmt.Errorf("spec.database.postgres: Secret %q not found: pass its manifest with --objects, or use --database", pg.SecretRef.Name)}
		}
		uri, ok := s.Data[pg.SecretRef.SecretKey()]
		if !ok {
			return "", &engine.ConfigError{Err: fmt.Errorf("spec.database.postgres: Secret %q has no key %q", pg.SecretRef.Name, pg.SecretRef.SecretKey())}
		}
		return string(uri), nil
	}
	return "sqlite:./contacts.db", nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// progressPrinter shows progress: one updating line on a terminal, a line
// per stage and every 10 seconds otherwise.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	last  time.Time
	stage string
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	f, ok := w.(*os.File)
	return &progressPrinter{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progressPrinter) print(pr engine.Progress) {
	now := time.Now()
	every := 10 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if pr.Stage == p.stage && now.Sub(p.last) < every && pr.Percent < 100 {
		return
	}
	p.stage, p.last = pr.Stage, now
	line := fmt.Sprintf("%3d%% %-8s sources %d/%d, rows %d read, %d rejected, %d contacts",
		pr.Percent, pr.Stage, pr.SourcesDone, pr.SourcesTotal, pr.RowsRead, pr.RowsRejected, pr.Contacts)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progressPrinter) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func printSummary(w io.Writer, r *engine.Report) {
	if r.Unchanged {
		fmt.Fprintf(w, "The lists, the spec and the program are unchanged since the run finished at %s: nothing was read or written (--reread reads them again). Its counts:\n", r.FinishedAt)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SOURCE\tREAD\tMERGED\tREJECTED\tSUPPRESSED\tOPT-OUTS\t")
	for _, s := range r.Sources {
		optOuts := ""
		if s.OptOutsImported > 0 {
			optOuts = fmt.Sprintf("%d %s", s.OptOutsImported, s.OptOutScope)
			if s.OptOutKind != string(ccv1.OptOutKindUnsubscribe) {
				optOuts += " " + s.OptOutKind
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", s.Name, s.RowsRead, s.RowsMerged, s.RowsRejected, s.RowsSuppressed, optOuts)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t\t\t\n", r.RowsRead(), r.RowsRead()-r.RowsRejected(), r.RowsRejected())
	_ = tw.Flush()
	for _, s := range r.Sources {
		for _, f := range s.Files {
			fmt.Fprintf(w, "%s: read %s, %d rows, %d bytes, sha256 %s\n", s.Name, f.Name, f.Rows, f.Bytes, f.SHA256)
		}
	}
	fmt.Fprintf(w, "\n%d contacts (%d duplicate rows merged), %d conflicts (%d unresolved), default language given to %d contacts\n",
		r.Contacts, r.DuplicatesMerged, r.Conflicts, r.Unresolved, r.LanguageDefault)
	if len(r.UnknownLanguages) > 0 {
		var vals []string
		for _, v := range r.UnknownLanguages {
			vals = append(vals, fmt.Sprintf("%q x%d", v.Value, v.Count))
		}
		fmt.Fprintf(w, "unrecognised languages: %s\n", strings.Join(vals, ", "))
	}
	if r.UnknownOptOutValues > 0 {
		fmt.Fprintf(w, "%d opt-out cells were not understood and count as opted out (consent is never assumed)\n", r.UnknownOptOutValues)
	}
	if r.UnknownOptOutTimes > 0 {
		fmt.Fprintf(w, "%d opt-out times were in no known format; those opt-outs are dated by this run\n", r.UnknownOptOutTimes)
	}
	if r.NamesFromFullName > 0 {
		fmt.Fprintf(w, "%d rows had an empty first or last name filled from a whole name (\"Jan Peeters\" <jan@...>, or a name column)\n", r.NamesFromFullName)
	}
	if r.PartitionsResumed > 0 {
		fmt.Fprintf(w, "resumed: %d partitions were already written by an interrupted run\n", r.PartitionsResumed)
	}
	fmt.Fprintf(w, "time: %.2fs (read %.2fs, merge %.2fs, write %.2fs)\n", r.Seconds.Total, r.Seconds.Read, r.Seconds.Merge, r.Seconds.Write)
}
