package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/contactconverter/contact-converter/internal/engine"
)

// Log formats of convert.
const (
	logText = "text"
	logJSON = "json"
)

// runLog is where a run says what it does: lines for a person (text), or one
// JSON record per event for a log pipeline (json, the Job's default). It
// logs counts and names of sources, never a value from a list.
type runLog struct {
	w        io.Writer
	json     *slog.Logger // nil: text
	progress *progressPrinter
	last     time.Time
	stage    string
}

func newRunLog(w io.Writer, format string) (*runLog, error) {
	switch format {
	case logText, "":
		return &runLog{w: w, progress: newProgressPrinter(w)}, nil
	case logJSON:
		return &runLog{w: w, json: slog.New(slog.NewJSONHandler(w, nil))}, nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// Infof tells what the run does.
func (l *runLog) Infof(format string, args ...any) { l.logf(slog.LevelInfo, format, args...) }

// Warnf tells of something that went wrong without stopping the run.
func (l *runLog) Warnf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }

func (l *runLog) logf(level slog.Level, format string, args ...any) {
	if l.json != nil {
		l.json.Log(context.Background(), level, fmt.Sprintf(format, args...))
		return
	}
	fmt.Fprintf(l.w, "convert: "+format+"\n", args...)
}

// Progress reports progress: at each stage, and every 10 seconds.
func (l *runLog) Progress(p engine.Progress) {
	if l.json == nil {
		l.progress.print(p)
		return
	}
	now := time.Now()
	if p.Stage == l.stage && now.Sub(l.last) < 10*time.Second && p.Percent < 100 {
		return
	}
	l.stage, l.last = p.Stage, now
	l.json.Info("progress", "stage", p.Stage, "percent", p.Percent, "sourcesDone", p.SourcesDone, "sourcesTotal", p.SourcesTotal,
		"rowsRead", p.RowsRead, "rowsRejected", p.RowsRejected, "contacts", p.Contacts)
}

// Done ends the progress line.
func (l *runLog) Done() {
	if l.json == nil {
		l.progress.done()
	}
}

// Summary reports the finished run.
func (l *runLog) Summary(r *engine.Report) {
	if l.json == nil {
		printSummary(l.w, r)
		return
	}
	for _, s := range r.Sources {
		l.json.Info("source", "source", s.Name, "rowsRead", s.RowsRead, "rowsMerged", s.RowsMerged, "rowsRejected", s.RowsRejected,
			"rowsSuppressed", s.RowsSuppressed, "optOutsImported", s.OptOutsImported)
		for _, f := range s.Files {
			l.json.Info("file", "source", s.Name, "file", f.Name, "rows", f.Rows, "bytes", f.Bytes, "sha256", f.SHA256)
		}
	}
	l.json.Info("finished", "unchanged", r.Unchanged, "contacts", r.Contacts, "duplicatesMerged", r.DuplicatesMerged, "conflicts", r.Conflicts,
		"unresolvedConflicts", r.Unresolved, "languageDefaultAssigned", r.LanguageDefault, "partitionsResumed", r.PartitionsResumed,
		"seconds", r.Seconds.Total, "readSeconds", r.Seconds.Read, "mergeSeconds", r.Seconds.Merge, "writeSeconds", r.Seconds.Write)
}

// Failed logs the error that ends the run. In JSON it also writes the
// error, as plain text, to the container's termination message, which the
// operator shows in the conversion's status; the returned error is then
// not printed again.
func (l *runLog) Failed(err error) error {
	if l.json == nil || err == nil {
		return err
	}
	l.json.Error("failed", "error", err.Error())
	if f, ferr := os.OpenFile(terminationLog, os.O_WRONLY|os.O_TRUNC, 0); ferr == nil {
		_, _ = f.WriteString(err.Error())
		_ = f.Close()
	}
	return &loggedError{err}
}

// terminationLog is the kubelet's default terminationMessagePath.
var terminationLog = "/dev/termination-log"

// loggedError is an error already logged: Execute only sets the exit code.
type loggedError struct{ error }

func (e *loggedError) Unwrap() error { return e.error }

func isLogged(err error) bool {
	var l *loggedError
	return errors.As(err, &l)
}
