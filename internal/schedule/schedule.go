// Package schedule answers when a conversion may run: whether a time is inside
// one of its off-peak windows, when that window closes, and when the next one
// opens. It is pure: the time is always an argument.
package schedule

import (
	"fmt"
	"sort"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Window is a daily time range, read in the schedule's time zone.
type Window struct {
	// Days the window starts on; empty means every day.
	Days map[time.Weekday]bool
	// Start and End are minutes after midnight. End <= Start crosses
	// midnight; End == Start lasts 24 hours.
	Start, End int
}

// Schedule is a parsed ScheduleSpec.
type Schedule struct {
	Windows   []Window
	Location  *time.Location
	NotBefore time.Time
}

// Interval is a half-open time range [Start, End). A zero End means no end.
type Interval struct {
	Start, End time.Time
}

// State is the schedule seen at one instant.
type State struct {
	// Open tells whether a run may proceed now.
	Open bool
	// OpenSince is when the current window opened; zero when the schedule
	// has no windows and no notBefore.
	OpenSince time.Time
	// OpenUntil is when the current window closes; zero when Open and the
	// schedule has no windows (any time).
	OpenUntil time.Time
	// Next is the next window to open after now; its Start is zero when the
	// schedule is always open.
	Next Interval
}

var weekdays = map[ccv1.Weekday]time.Weekday{
	"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday,
	"Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday,
}

// Parse reads a ScheduleSpec, naming the field at fault in its error.
func Parse(spec ccv1.ScheduleSpec) (*Schedule, error) {
	tz := spec.TimeZoneOrDefault()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("spec.schedule.timeZone: %q is not an IANA time zone; use a name such as Europe/Brussels or UTC", tz)
	}
	s := &Schedule{Location: loc}
	if spec.NotBefore != nil {
		s.NotBefore = spec.NotBefore.Time
	}
	for i, w := range spec.Windows {
		start, err := parseClock(w.Start)
		if err != nil {
			return nil, fmt.Errorf("spec.schedule.windows[%d].start: %w", i, err)
		}
		end, err := parseClock(w.End)
		if err != nil {
			return nil, fmt.Errorf("spec.schedule.windows[%d].end: %w", i, err)
		}
		win := Window{Start: start, End: end}
		for _, d := range w.Days {
			wd, ok := weekdays[d]
			if !ok {
				return nil, fmt.Errorf("spec.schedule.windows[%d].days: %q is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun", i, d)
			}
			if win.Days == nil {
				win.Days = map[time.Weekday]bool{}
			}
			win.Days[wd] = true
		}
		s.Windows = append(s.Windows, win)
	}
	return s, nil
}

func parseClock(hhmm string) (int, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil || len(hhmm) != 5 {
		return 0, fmt.Errorf("%q is not a time of day as HH:MM", hhmm)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// At returns the schedule's state at now.
func (s *Schedule) At(now time.Time) State {
	if len(s.Windows) == 0 {
		if now.Before(s.NotBefore) {
			return State{Next: Interval{Start: s.NotBefore}}
		}
		return State{Open: true, OpenSince: s.NotBefore}
	}
	from := now
	if from.Before(s.NotBefore) {
		from = s.NotBefore
	}
	var st State
	for _, iv := range s.intervals(from) {
		if !iv.End.After(now) {
			continue
		}
		if !iv.Start.After(now) {
			st.Open, st.OpenSince, st.OpenUntil = true, iv.Start, iv.End
			continue
		}
		st.Next = iv
		break
	}
	return st
}

// intervals lists the merged window occurrences around from, clipped to
// NotBefore, in order. Every window repeats weekly, so nine days after from
// always hold the next occurrence.
func (s *Schedule) intervals(from time.Time) []Interval {
	local := from.In(s.Location)
	day0 := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, s.Location)
	var occ []Interval
	for d := -2; d <= 9; d++ {
		day := day0.AddDate(0, 0, d)
		for _, w := range s.Windows {
			if len(w.Days) > 0 && !w.Days[day.Weekday()] {
				continue
			}
			start := wallClock(day, w.Start, s.Location)
			endDay := day
			if w.End <= w.Start {
				endDay = day.AddDate(0, 0, 1)
			}
			end := wallClock(endDay, w.End, s.Location)
			if end.Before(s.NotBefore) || end.Equal(s.NotBefore) {
				continue
			}
			if start.Before(s.NotBefore) {
				start = s.NotBefore
			}
			occ = append(occ, Interval{Start: start, End: end})
		}
	}
	sort.Slice(occ, func(i, j int) bool { return occ[i].Start.Before(occ[j].Start) })
	var merged []Interval
	for _, iv := range occ {
		if n := len(merged); n > 0 && !iv.Start.After(merged[n-1].End) {
			if iv.End.After(merged[n-1].End) {
				merged[n-1].End = iv.End
			}
			continue
		}
		merged = append(merged, iv)
	}
	return merged
}

// wallClock is the first instant the clock in loc shows minutes after
// midnight on day. A time skipped by a spring-forward change maps to the
// instant the clock jumps; a time shown twice in autumn maps to the first.
func wallClock(day time.Time, minutes int, loc *time.Location) time.Time {
	h, m := minutes/60, minutes%60
	t := time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc)
	if t.Hour() != h || t.Minute() != m {
		// Skipped: Go moved it past the gap. Find the jump: the first instant
		// with t's offset.
		_, off := t.Zone()
		lo, hi := t.Add(-6*time.Hour), t
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, o := mid.Zone(); o == off {
				hi = mid
			} else {
				lo = mid
			}
		}
		return hi.Truncate(time.Second)
	}
	// Shown twice: an earlier instant with the offset in force before the
	// change shows the same wall clock.
	_, off := t.Zone()
	_, offBefore := t.Add(-6 * time.Hour).Zone()
	if offBefore != off {
		alt := t.Add(time.Duration(off-offBefore) * time.Second)
		if alt.Before(t) && alt.Hour() == h && alt.Minute() == m {
			return alt
		}
	}
	return t
}
