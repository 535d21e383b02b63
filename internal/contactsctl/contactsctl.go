// Package contactsctl decides what the kubectl plugin shows: the status
// table, a conversion's plain-words description, the GitOps manager that
// would undo a change, and the conflicts of a report. It is pure: the
// command fetches the objects and prints what this returns.
package contactsctl

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/inventory"
	"github.com/contactconverter/contact-converter/internal/mask"
)

// StatusHeader names the status table's columns; withNamespace adds the
// first.
func StatusHeader(withNamespace bool) []string {
	h := []string{"NAME", "PHASE", "NEXT WINDOW", "NEXT WINDOW (UTC)", "PROGRESS", "CONTACTS", "UNRESOLVED", "JOB", "AGE"}
	if withNamespace {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

// StatusRow is one conversion's line of the status table.
func StatusRow(cc *ccv1.ContactConversion, withNamespace bool, now time.Time) []string {
	st := cc.Status
	next, nextUTC := "-", "-"
	if st.NextWindowStart != nil {
		next, nextUTC = inZone(st.NextWindowStart.Time, zone(cc)), st.NextWindowStart.UTC().Format("2006-01-02 15:04 MST")
	}
	progress, contacts, unresolved := "-", "-", "-"
	if p := st.Progress; p != nil {
		progress, contacts = fmt.Sprintf("%d%%", p.Percent), strconv.FormatInt(p.Contacts, 10)
	}
	if c := st.Conflicts; c != nil {
		unresolved = strconv.FormatInt(c.Unresolved, 10)
	}
	row := []string{cc.Name, string(cmp.Or(st.Phase, "-")), next, nextUTC, progress, contacts, unresolved, cmp.Or(st.JobName, "-"),
		duration.HumanDuration(now.Sub(cc.CreationTimestamp.Time))}
	if withNamespace {
		row = append([]string{cc.Namespace}, row...)
	}
	return row
}

func zone(cc *ccv1.ContactConversion) string {
	if cc.Spec.Schedule.TimeZone != "" {
		return cc.Spec.Schedule.TimeZone
	}
	return "UTC"
}

// inZone shows t in the tenant's zone, or in UTC when the zone is unknown
// here.
func inZone(t time.Time, name string) string {
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// Related are the objects a description shows beside the conversion.
type Related struct {
	Job  *batchv1.Job
	Pods []corev1.Pod
	// PreferenceCenters are those whose conversionRef names it.
	PreferenceCenters []ccv1.PreferenceCenter
	// Inventory is what the last run recorded, when it did.
	Inventory *inventory.Document
}

// Describe tells a conversion's state in plain words.
func Describe(cc *ccv1.ContactConversion, rel Related, now time.Time) string {
	var b strings.Builder
	st := cc.Status
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-18s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	line("ContactConversion", "%s/%s (generation %d, status of generation %d)", cc.Namespace, cc.Name, cc.Generation, st.ObservedGeneration)
	phase := string(cmp.Or(st.Phase, "not reported yet"))
	if p := st.Progress; p != nil {
		line("Phase", "%s %s %d%%", phase, bar(int(p.Percent), 20), p.Percent)
	} else {
		line("Phase", "%s", phase)
	}
	if cc.Spec.Suspend {
		line("Suspended", "yes, by spec.suspend (kubectl contacts resume %s)", cc.Name)
	}
	b.WriteString("Conditions:\n")
	conds := slices.Clone(st.Conditions)
	slices.SortStableFunc(conds, func(a, b metav1.Condition) int {
		return strings.Compare(conditionOrder(a.Type), conditionOrder(b.Type))
	})
	for _, c := range conds {
		fmt.Fprintf(&b, "  %-18s %-6s %s: %s (%s ago)\n", c.Type, c.Status, c.Reason, c.Message, duration.HumanDuration(now.Sub(c.LastTransitionTime.Time)))
	}
	if len(conds) == 0 {
		b.WriteString("  none yet: the operator has not reported on it\n")
	}
	if q := st.Queue; q != nil {
		line("Queue", "%s", queueLine(q, now))
	}
	line("Schedule", "%s", schedule(cc))
	if st.NextWindowStart != nil {
		until := ""
		if st.NextWindowEnd != nil {
			until = ", until " + inZone(st.NextWindowEnd.Time, zone(cc))
		}
		line("Next window", "%s (%s)%s", inZone(st.NextWindowStart.Time, zone(cc)), st.NextWindowStart.UTC().Format("15:04 MST"), until)
	}
	if p := st.Progress; p != nil {
		line("Last run", "sources %d/%d, %d rows read, %d rejected, %d contacts, %d duplicate rows merged",
			p.SourcesDone, p.SourcesTotal, p.RowsRead, p.RowsRejected, p.Contacts, p.DuplicatesMerged)
		if o := p.OptOutsImported; o != nil {
			line("Opt-outs imported", "%d for one list, %d for every list", o.Segment, o.Global)
		}
	}
	if inv := rel.Inventory; inv != nil && len(inv.Sources) > 0 {
		fmt.Fprintf(&b, "  %-24s %10s %10s %10s  %s\n", "SOURCE", "READ", "REJECTED", "CONTACTS", "OPT-OUTS")
		for _, s := range inv.Sources {
			fmt.Fprintf(&b, "  %-24s %10d %10d %10d  %s\n", s.Name, s.RowsRead, s.RowsRejected, s.Contacts, cmp.Or(s.OptOuts, "-"))
		}
	}
	if c := st.Conflicts; c != nil {
		line("Conflicts", "%d, %d unresolved; all of them: kubectl contacts conflicts %s", c.Total, c.Unresolved, cc.Name)
		for _, s := range c.Sample {
			fmt.Fprintf(&b, "  %-30s %-12s %d values\n", s.Key, s.Field, s.Values)
		}
	}
	if rel.Job != nil {
		line("Job", "%s: %s", rel.Job.Name, jobState(rel.Job))
		for _, p := range rel.Pods {
			fmt.Fprintf(&b, "  pod %s: %s\n", p.Name, podState(&p))
		}
	} else if st.JobName != "" {
		line("Job", "%s (gone)", st.JobName)
	}
	for _, pc := range rel.PreferenceCenters {
		ready := "not ready"
		for _, c := range pc.Status.Conditions {
			if c.Type == ccv1.ConditionReady {
				ready = c.Message
				if c.Status != metav1.ConditionTrue {
					ready = "not ready: " + c.Message
				}
			}
		}
		line("PreferenceCenter", "%s (%s)", pc.Name, ready)
	}
	return b.String()
}

func conditionOrder(t string) string {
	if i := slices.Index([]string{ccv1.ConditionReady, ccv1.ConditionStalled, ccv1.ConditionReconciling}, t); i >= 0 {
		return strconv.Itoa(i)
	}
	return "9" + t
}

// bar draws percent as a bar of width cells.
func bar(percent, width int) string {
	n := min(max(percent, 0), 100) * width / 100
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}

func schedule(cc *ccv1.ContactConversion) string {
	s := cc.Spec.Schedule
	if len(s.Windows) == 0 {
		return "any time"
	}
	var ws []string
	for _, w := range s.Windows {
		days := "every day"
		if len(w.Days) > 0 {
			var d []string
			for _, x := range w.Days {
				d = append(d, string(x))
			}
			days = strings.Join(d, ",")
		}
		ws = append(ws, fmt.Sprintf("%s %s-%s", days, w.Start, w.End))
	}
	return strings.Join(ws, "; ") + " (" + zone(cc) + ")"
}

func jobState(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed || c.Type == batchv1.JobSuspended) {
			return string(c.Type)
		}
	}
	return fmt.Sprintf("%d active, %d succeeded, %d failed", j.Status.Active, j.Status.Succeeded, j.Status.Failed)
}

func podState(p *corev1.Pod) string {
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			return string(p.Status.Phase) + ", waiting: " + c.State.Waiting.Reason
		case c.State.Terminated != nil:
			return fmt.Sprintf("%s, exited %d (%s)", p.Status.Phase, c.State.Terminated.ExitCode, c.State.Terminated.Reason)
		}
	}
	return string(cmp.Or(p.Status.Phase, "Pending"))
}

// gitOpsManagers are the field managers of GitOps tools, by the tool's name.
var gitOpsManagers = []struct{ prefix, tool string }{
	{"argocd", "Argo CD"}, {"kustomize-controller", "Flux"}, {"helm-controller", "Flux"},
}

// GitOpsManager names the GitOps tool that applies the object's spec, or
// "": a change made by hand is then put back at its next sync.
func GitOpsManager(obj metav1.Object) string {
	for _, mf := range obj.GetManagedFields() {
		for _, g := range gitOpsManagers {
			if strings.HasPrefix(mf.Manager, g.prefix) && mf.Subresource == "" {
				return g.tool
			}
		}
	}
	return ""
}

// Conflict is one line of a run's conflicts report.
type Conflict struct {
	Key, Field, Values string
	Resolved           bool
}

// ReadConflicts reads the conflicts.csv of a report Secret.
func ReadConflicts(r io.Reader, unresolvedOnly bool) ([]Conflict, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	var out []Conflict
	for i, row := range rows {
		if i == 0 || len(row) < 4 {
			continue
		}
		c := Conflict{Key: row[0], Field: row[1], Values: row[2], Resolved: row[3] == "true"}
		if unresolvedOnly && c.Resolved {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// secretLike names environment variables whose values may hold a
// credential.
var secretLike = []string{"PASSWORD", "SECRET", "TOKEN", "KEY", "URL", "URI", "DSN", "SALT", "DATABASE"}

// RedactPodSpec blanks the values of environment variables that may hold a
// credential; references to Secrets stay, they name no value.
func RedactPodSpec(spec *corev1.PodSpec) {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			for j := range cs[i].Env {
				e := &cs[i].Env[j]
				upper := strings.ToUpper(e.Name)
				if e.Value != "" && slices.ContainsFunc(secretLike, func(s string) bool { return strings.Contains(upper, s) }) {
					e.Value = "REDACTED"
				}
			}
		}
	}
}

// RedactConversion hides the personal data a spec can hold: the keys and
// values of conflict resolutions.
func RedactConversion(cc *ccv1.ContactConversion) {
	for i := range cc.Spec.Conflicts.Resolutions {
		r := &cc.Spec.Conflicts.Resolutions[i]
		r.Key, r.Value = mask.Key(r.Key), "REDACTED"
	}
	cc.ManagedFields = nil
}

// queueLine says why a conversion waits for a slot and what frees one.
func queueLine(q *ccv1.QueueStatus, now time.Time) string {
	place := ""
	if q.Position > 0 {
		place = fmt.Sprintf("number %d, ", q.Position)
	}
	waited := duration.HumanDuration(now.Sub(q.Since.Time))
	if q.Reason == ccv1.QueueReasonNamespaceCap {
		return place + "waiting " + waited + ": this namespace's cap on running conversions is reached (the operator's --max-concurrent-conversions-per-namespace, " +
			"chart value maxConcurrentConversionsPerNamespace); a slot frees when one of this namespace's running conversions ends or is suspended"
	}
	return place + "waiting " + waited + ": the cluster-wide cap on running conversions is reached (the operator's --max-concurrent-conversions, " +
		"chart value maxConcurrentConversions); a slot frees when a running conversion ends or is suspended"
}
