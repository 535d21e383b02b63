package cli

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/contactconverter/contact-converter/internal/csvsafe"
	"github.com/contactconverter/contact-converter/internal/store"
)

func newConflictsCommand() *cobra.Command {
	var database string
	var all bool
	cmd := &cobra.Command{
		Use:   "conflicts --database URL",
		Short: "List the conflicting values found by the last conversion, as CSV",
		Long: `conflicts lists, for each contact and field, the different values the lists
hold. Unresolved ones (policy Manual) wait for an entry in
spec.conflicts.resolutions: {key, field, value}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store.Open(cmd.Context(), database)
			if err != nil {
				return err
			}
			defer st.Close()
			w := csvsafe.NewWriter(cmd.OutOrStdout())
			_ = w.Write([]string{"key", "field", "values", "resolved"})
			err = st.Conflicts(cmd.Context(), func(c store.ConflictRow) error {
				if c.Resolved && !all {
					return nil
				}
				return w.Write([]string{c.Key, c.Field, strings.Join(c.Values, " | "), strconv.FormatBool(c.Resolved)})
			})
			w.Flush()
			if err != nil {
				return err
			}
			return w.Error()
		},
	}
	cmd.Flags().StringVar(&database, "database", "sqlite:./contacts.db", "sqlite:PATH or postgres://...")
	cmd.Flags().BoolVar(&all, "all", false, "include the conflicts a policy or resolution settled")
	return cmd
}
