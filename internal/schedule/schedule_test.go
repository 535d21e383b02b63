package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

func at(t *testing.T, tz, s string) time.Time {
	t.Helper()
	if u, ok := strings.CutSuffix(s, " UTC"); ok {
		s, tz = u, "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAt(t *testing.T) {
	const bxl = "Europe/Brussels"
	weeknights := ccv1.Window{Days: []ccv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}, Start: "19:00", End: "07:00"}
	weekend := ccv1.Window{Days: []ccv1.Weekday{"Sat", "Sun"}, Start: "00:00", End: "00:00"}
	tests := []struct {
		name  string
		spec  ccv1.ScheduleSpec
		now   string // in spec's zone
		open  bool
		since string
		// expected times in the spec's zone, "2006-01-02 15:04", or with a
		// " UTC" suffix in UTC; "" is zero
		until, nextStart, nextEnd string
	}{
		{name: "no windows is any time", spec: ccv1.ScheduleSpec{}, now: "2026-11-02 12:00", open: true},
		{name: "no windows waits for notBefore",
			spec: ccv1.ScheduleSpec{NotBefore: &metav1.Time{Time: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}},
			now:  "2026-11-02 12:00", nextStart: "2026-11-03 00:00"},
		{name: "created at 16:00 Brussels waits for 19:00", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights}},
			now: "2026-11-02 16:00", nextStart: "2026-11-02 19:00", nextEnd: "2026-11-03 07:00"},
		{name: "inside a window crossing midnight, before midnight", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights}},
			now: "2026-11-02 23:00", open: true, since: "2026-11-02 19:00", until: "2026-11-03 07:00", nextStart: "2026-11-03 19:00", nextEnd: "2026-11-04 07:00"},
		{name: "inside a window crossing midnight, after midnight", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights}},
			now: "2026-11-03 06:59", open: true, since: "2026-11-02 19:00", until: "2026-11-03 07:00", nextStart: "2026-11-03 19:00", nextEnd: "2026-11-04 07:00"},
		{name: "the end is exclusive", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights}},
			now: "2026-11-03 07:00", nextStart: "2026-11-03 19:00", nextEnd: "2026-11-04 07:00"},
		{name: "the start is inclusive", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights}},
			now: "2026-11-03 19:00", open: true, since: "2026-11-03 19:00", until: "2026-11-04 07:00", nextStart: "2026-11-04 19:00", nextEnd: "2026-11-05 07:00"},
		{name: "friday night runs into saturday morning", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights}},
			now: "2026-11-07 03:00", open: true, since: "2026-11-06 19:00", until: "2026-11-07 07:00", nextStart: "2026-11-09 19:00", nextEnd: "2026-11-10 07:00"},
		{name: "day list skips the weekend", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights}},
			now: "2026-11-07 12:00", nextStart: "2026-11-09 19:00", nextEnd: "2026-11-10 07:00"},
		{name: "several windows merge when they touch or overlap", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{weeknights, weekend}},
			now: "2026-11-06 20:00", open: true, since: "2026-11-06 19:00", until: "2026-11-09 00:00", nextStart: "2026-11-09 19:00", nextEnd: "2026-11-10 07:00"},
		{name: "start equal to end lasts a whole day", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{{Days: []ccv1.Weekday{"Wed"}, Start: "12:00", End: "12:00"}}},
			now: "2026-11-05 11:00", open: true, since: "2026-11-04 12:00", until: "2026-11-05 12:00", nextStart: "2026-11-11 12:00", nextEnd: "2026-11-12 12:00"},
		{name: "windows without days run every day", spec: ccv1.ScheduleSpec{TimeZone: "UTC", Windows: []ccv1.Window{{Start: "01:00", End: "03:00"}}},
			now: "2026-11-07 04:00", nextStart: "2026-11-08 01:00", nextEnd: "2026-11-08 03:00"},
		{name: "notBefore delays an open window", spec: ccv1.ScheduleSpec{TimeZone: "UTC", Windows: []ccv1.Window{{Start: "01:00", End: "03:00"}},
			NotBefore: &metav1.Time{Time: time.Date(2026, 11, 7, 2, 0, 0, 0, time.UTC)}},
			now: "2026-11-07 01:30", nextStart: "2026-11-07 02:00", nextEnd: "2026-11-07 03:00"},
		{name: "notBefore far ahead", spec: ccv1.ScheduleSpec{TimeZone: "UTC", Windows: []ccv1.Window{{Days: []ccv1.Weekday{"Mon"}, Start: "01:00", End: "03:00"}},
			NotBefore: &metav1.Time{Time: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
			now: "2026-11-07 01:30", nextStart: "2027-01-04 01:00", nextEnd: "2027-01-04 03:00"},
		// Brussels springs forward on 2026-03-29 at 02:00 -> 03:00.
		{name: "a window starting inside the spring-forward gap starts at the jump", spec: ccv1.ScheduleSpec{TimeZone: bxl,
			Windows: []ccv1.Window{{Days: []ccv1.Weekday{"Sun"}, Start: "02:30", End: "06:00"}}},
			now: "2026-03-29 01:00", nextStart: "2026-03-29 03:00", nextEnd: "2026-03-29 06:00"},
		{name: "a night window is an hour shorter in March", spec: ccv1.ScheduleSpec{TimeZone: bxl, Windows: []ccv1.Window{{Start: "22:00", End: "06:00"}}},
			now: "2026-03-28 21:00", nextStart: "2026-03-28 22:00", nextEnd: "2026-03-29 06:00"},
		// Brussels falls back on 2026-10-25 at 03:00 -> 02:00.
		{name: "a window starting at an hour shown twice starts the first time", spec: ccv1.ScheduleSpec{TimeZone: bxl,
			Windows: []ccv1.Window{{Days: []ccv1.Weekday{"Sun"}, Start: "02:30", End: "05:00"}}},
			now: "2026-10-25 00:00", nextStart: "2026-10-25 00:30 UTC", nextEnd: "2026-10-25 05:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			tz := tc.spec.TimeZoneOrDefault()
			got := s.At(at(t, tz, tc.now))
			want := State{Open: tc.open}
			if tc.since != "" {
				want.OpenSince = at(t, tz, tc.since)
			}
			if tc.until != "" {
				want.OpenUntil = at(t, tz, tc.until)
			}
			if tc.nextStart != "" {
				want.Next.Start = at(t, tz, tc.nextStart)
			}
			if tc.nextEnd != "" {
				want.Next.End = at(t, tz, tc.nextEnd)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("At(%s) mismatch (-want +got):\n%s", tc.now, diff)
			}
		})
	}
}

func TestDSTDurations(t *testing.T) {
	bxl, _ := time.LoadLocation("Europe/Brussels")
	s, err := Parse(ccv1.ScheduleSpec{TimeZone: "Europe/Brussels", Windows: []ccv1.Window{{Start: "22:00", End: "06:00"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		night time.Time
		want  time.Duration
	}{
		{time.Date(2026, 3, 28, 21, 0, 0, 0, bxl), 7 * time.Hour},  // spring forward
		{time.Date(2026, 10, 24, 21, 0, 0, 0, bxl), 9 * time.Hour}, // fall back
		{time.Date(2026, 11, 14, 21, 0, 0, 0, bxl), 8 * time.Hour}, // ordinary night
	} {
		next := s.At(tc.night).Next
		if got := next.End.Sub(next.Start); got != tc.want {
			t.Errorf("night of %s lasts %v, want %v", tc.night.Format("2006-01-02"), got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		spec ccv1.ScheduleSpec
		want string
	}{
		{ccv1.ScheduleSpec{TimeZone: "Mars/Olympus_Mons"}, `spec.schedule.timeZone: "Mars/Olympus_Mons" is not an IANA time zone`},
		{ccv1.ScheduleSpec{Windows: []ccv1.Window{{Start: "7:00", End: "08:00"}}}, `spec.schedule.windows[0].start: "7:00" is not a time of day as HH:MM`},
		{ccv1.ScheduleSpec{Windows: []ccv1.Window{{Start: "07:00", End: "24:00"}}}, `spec.schedule.windows[0].end: "24:00"`},
		{ccv1.ScheduleSpec{Windows: []ccv1.Window{{Start: "07:00", End: "08:00", Days: []ccv1.Weekday{"Monday"}}}}, `windows[0].days: "Monday"`},
	} {
		_, err := Parse(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%+v) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
}
