package controllers

import (
	"fmt"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// validateSpec checks what CEL cannot: the IANA time zone, and sources that
// only make sense outside a cluster.
func validateSpec(spec *ccv1.ContactConversionSpec) *referenceProblem {
	tz := spec.Schedule.TimeZoneOrDefault()
	if _, err := time.LoadLocation(tz); err != nil {
		return &referenceProblem{Reason: ccv1.ReasonInvalidSchedule, Message: fmt.Sprintf(
			"spec.schedule.timeZone: %q is not an IANA time zone; use a name such as Europe/Brussels or UTC", tz)}
	}
	for i, src := range spec.Sources {
		if src.CSV != nil && src.CSV.Path != "" {
			return &referenceProblem{Reason: ccv1.ReasonInvalidSpec, Message: fmt.Sprintf(
				"spec.sources[%d].csv.path is only read by `contact-converter convert -f` on a workstation; in a cluster use configMapKeyRef, secretKeyRef or url", i)}
		}
	}
	return nil
}
