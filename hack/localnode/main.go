// Command localnode plays the kubelet of one node against a control plane
// on loopback, for the end-to-end tests and the demo: it binds Pods to
// itself and runs the operator's image as local processes of the
// contact-converter binary.
package main

import (
	"fmt"
	"os"

	"github.com/contactconverter/contact-converter/test/localnode"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == localnode.SandboxArg {
		err := localnode.RunSandbox(os.Args[2])
		fmt.Fprintln(os.Stderr, "localnode sandbox:", err)
		os.Exit(127)
	}
	os.Exit(localnode.Main(os.Args[1:]))
}
