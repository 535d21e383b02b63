package cli

import (
	"context"
	"errors"

	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/engine"
)

// Exit codes.
const (
	exitFailure     = 1
	exitInterrupted = 130
)

// exitCode maps an error to the process exit code: bad input gets the code
// the Job's podFailurePolicy treats as final.
func exitCode(err error) int {
	var ce *engine.ConfigError
	switch {
	case errors.As(err, &ce):
		return desired.ExitInvalidInput
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}
