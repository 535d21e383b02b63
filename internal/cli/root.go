// Package cli holds the contact-converter command line: one binary whose
// subcommands are the operator and the programs it runs in Jobs and
// Deployments.
package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// NewRootCommand builds the command tree.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "contact-converter",
		Short: "Merge a tenant's contact lists into one deduplicated, GDPR-ready database",
		Long: `contact-converter merges every contact list of a tenant into one deduplicated
database with segments, sources and normalised languages, and serves a
preference center where contacts manage their consent.

It is one binary: "manager" runs the Kubernetes operator, and the operator runs
the other subcommands in Jobs and Deployments with the same image.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newUploadReceiverCommand(), newReceiveFileCommand())
	root.AddCommand(newManagerCommand(), newConvertCommand(), newExportCommand(), newConflictsCommand(),
		newPreferenceCenterCommand(), newCheckInstallCommand())
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute() int {
	// The first SIGTERM or SIGINT cancels the context, so a suspended Job's
	// pod checkpoints and stops; a second one exits at once.
	root := NewRootCommand()
	if isPlugin(os.Args[0]) {
		root = newPluginCommand()
	}
	if err := root.ExecuteContext(ctrl.SetupSignalHandler()); err != nil {
		if !isLogged(err) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		return exitCode(err)
	}
	return 0
}
