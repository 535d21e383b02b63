package store

import (
	"slices"
	"unicode/utf8"

	"github.com/contactconverter/contact-converter/internal/merge"
)

// contactColumns are the contacts table's columns, in contactRow's order.
var contactColumns = []string{"bucket", "key", "email", "first_name", "last_name", "language", "language_defaulted",
	"fields", "sources", "segments", "global_opt_out", "conflicts", "undeliverable"}

// contactRow appends a contact's values for contactColumns to dst. buf is
// scratch space, returned for reuse.
func contactRow(dst []any, c *merge.Contact, buf []byte) ([]any, []byte) {
	buf = buf[:0]
	fields := appendJSONMap(buf, c.Fields)
	sources := appendJSONList(fields, c.Sources)
	segments := appendJSONMap(sources, c.Segments)
	conflicts := appendConflicts(segments, c.Conflicts)
	return append(dst, Bucket(c.Key), c.Key, c.Email, c.FirstName, c.LastName, c.Language, c.LanguageDefaulted,
		string(fields), string(sources[len(fields):]), string(segments[len(sources):]), c.GlobalOptOut,
		string(conflicts[len(segments):]), c.Undeliverable), conflicts
}

// The contact's small JSON values are written by hand: encoding/json's
// reflection costs more than the database insert.

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func appendJSONList(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONMap writes a map with sorted keys, as encoding/json does.
func appendJSONMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

func appendConflicts(b []byte, cs []merge.Conflict) []byte {
	b = append(b, '[')
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = appendJSONString(b, c.Field)
		b = append(b, `,"values":`...)
		b = appendJSONList(b, c.Values)
		if c.Resolved {
			b = append(b, `,"resolved":true}`...)
		} else {
			b = append(b, `,"resolved":false}`...)
		}
	}
	return append(b, ']')
}
