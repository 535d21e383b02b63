// Package kubescheme builds the runtime scheme shared by the manager, the
// in-cluster commands and the tests: the built-in kinds plus ours.
package kubescheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// New returns a scheme with the built-in kinds and ours.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(ccv1.AddToScheme(s))
	return s
}
