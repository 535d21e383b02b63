package cli

import (
	"os"
	"testing"
)

// TestMain lets tests run this test binary as the contact-converter command:
// with CONTACT_CONVERTER_RUN_CLI=1 it executes the command line instead of
// the tests, so signals can be sent to a real process.
func TestMain(m *testing.M) {
	if os.Getenv("CONTACT_CONVERTER_RUN_CLI") == "1" {
		os.Args = append([]string{"contact-converter"}, os.Args[1:]...)
		os.Exit(Execute())
	}
	os.Exit(m.Run())
}
