package controllers

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/schedule"
)

// validateSpec checks what CEL cannot: the IANA time zone, and sources that
// only make sense outside a cluster. It returns the parsed schedule.
func validateSpec(spec *ccv1.ContactConversionSpec) (*schedule.Schedule, *referenceProblem) {
	sched, err := schedule.Parse(spec.Schedule)
	if err != nil {
		return nil, &referenceProblem{Reason: ccv1.ReasonInvalidSchedule, Message: err.Error()}
	}
	for i, src := range spec.Sources {
		if src.CSV != nil && src.CSV.Path != "" {
			return nil, &referenceProblem{Reason: ccv1.ReasonInvalidSpec, Message: fmt.Sprintf(
				"spec.sources[%d].csv.path is only read by `contact-converter convert -f` on a workstation; in a cluster use configMapKeyRef, secretKeyRef, url, s3 or persistentVolumeClaim", i)}
		}
	}
	job := field.NewPath("spec", "job")
	if err := ccv1.ValidatePodMetadata(spec.Job.PodLabels, spec.Job.PodAnnotations, job.Child("podLabels"), job.Child("podAnnotations")); err != nil {
		return nil, &referenceProblem{Reason: ccv1.ReasonInvalidSpec, Message: err.Error()}
	}
	return sched, nil
}
