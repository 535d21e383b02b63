package normalize

import (
	"strings"
	"time"
)

// optOutTimeLayouts are the time formats exporters write: Mailchimp's
// "2024-03-02 10:15:00", ISO 8601 with or without a zone, Go's time.String
// (listmonk: "2024-03-02 11:15:00.123 +0100 CET"), a date alone, and
// day-first European dates (Brevo: "02-03-2024 10:15"). Fractional seconds
// are read after the seconds of any layout.
var optOutTimeLayouts = []string{
	"2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700 MST", "2006-01-02 15:04", "2006-01-02",
	"02/01/2006 15:04:05", "02/01/2006 15:04", "02/01/2006", "02-01-2006 15:04:05", "02-01-2006 15:04", "02-01-2006", "02.01.2006",
}

// OptOutTime reads an exported opt-out's time, as UTC when the export gives
// no zone. ok is false for an empty or unreadable cell.
func OptOutTime(raw string) (t time.Time, ok bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return time.Time{}, false
	}
	for _, layout := range optOutTimeLayouts {
		if t, err := time.Parse(layout, raw); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
