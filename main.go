/*
Copyright 2026 The contact-converter Authors.

Licensed under the Apache License, Version 2.0.
*/

// Command contact-converter is the operator and every program it runs: the
// manager, the conversion engine and the preference center share one image.
package main

import (
	"os"

	// Time zones for schedule windows, even in images without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/contactconverter/contact-converter/internal/cli"
)

func main() {
	os.Exit(cli.Execute())
}
