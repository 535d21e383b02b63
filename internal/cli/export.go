package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/contactconverter/contact-converter/internal/csvsafe"
	"github.com/contactconverter/contact-converter/internal/store"
)

func newExportCommand() *cobra.Command {
	var database, format, output string
	cmd := &cobra.Command{
		Use:   "export --database URL",
		Short: "Write every merged contact, sorted by key, as JSON lines or CSV",
		Long: `export writes the merged contacts, one per line, sorted by key. The JSON lines
format is also the GDPR portability format:

  {"key", "email", "firstName", "lastName", "language", "fields", "sources",
   "segments": {"<segment>": "subscribed"|"unsubscribed"}, "globalOptOut", "conflicts",
   "undeliverable"}

globalOptOut: the contact is opted out of everything; no segment may be
mailed. undeliverable: an old platform reported a hard bounce for the
address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jsonl" && format != "csv" {
				return fmt.Errorf("--format %q: use jsonl or csv", format)
			}
			st, err := store.Open(cmd.Context(), database)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			bw := bufio.NewWriterSize(out, 64<<10)
			if format == "csv" {
				err = exportCSV(cmd, st, bw)
			} else {
				enc := json.NewEncoder(bw)
				enc.SetEscapeHTML(false)
				err = st.Export(cmd.Context(), func(e *store.Exported) error { return enc.Encode(e) })
			}
			if err != nil {
				return err
			}
			return bw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&database, "database", "sqlite:./contacts.db", "sqlite:PATH or postgres://...")
	f.StringVar(&format, "format", "jsonl", "jsonl or csv")
	f.StringVarP(&output, "output", "o", "-", "file to write (- for standard output)")
	return cmd
}

func exportCSV(cmd *cobra.Command, st store.Store, w io.Writer) error {
	cw := csvsafe.NewWriter(w)
	_ = cw.Write([]string{"key", "email", "firstName", "lastName", "language", "globalOptOut", "undeliverable", "sources", "segments", "fields", "unresolvedConflicts"})
	err := st.Export(cmd.Context(), func(e *store.Exported) error {
		segs := make([]string, 0, len(e.Segments))
		for name, status := range e.Segments {
			segs = append(segs, name+"="+status)
		}
		slices.Sort(segs)
		fields, _ := json.Marshal(e.Fields)
		unresolved := 0
		for _, c := range e.Conflicts {
			if !c.Resolved {
				unresolved++
			}
		}
		return cw.Write([]string{e.Key, e.Email, e.FirstName, e.LastName, e.Language, strconv.FormatBool(e.GlobalOptOut),
			strconv.FormatBool(e.Undeliverable), strings.Join(e.Sources, "; "), strings.Join(segs, "; "), string(fields), strconv.Itoa(unresolved)})
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}
