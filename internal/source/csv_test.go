package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

func utf16(order unicode.Endianness, s string) []byte {
	b, _ := unicode.UTF16(order, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
	return b
}

func macRoman(s string) []byte {
	b, _ := charmap.Macintosh.NewEncoder().Bytes([]byte(s))
	return b
}

func cp850(s string) []byte {
	b, _ := charmap.CodePage850.NewEncoder().Bytes([]byte(s))
	return b
}

func latin(s string) []byte {
	b, _ := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
	return b
}

// readAll reads a table into "line:field|field" strings and row errors.
func readAll(t *testing.T, tb Table) (rows []string, rowErrs []int, fatal error) {
	t.Helper()
	for {
		rec, line, err := tb.Next()
		var re *RowError
		switch {
		case errors.Is(err, io.EOF):
			return
		case errors.As(err, &re):
			rowErrs = append(rowErrs, re.Line)
			continue
		case err != nil:
			return rows, rowErrs, err
		}
		rows = append(rows, itoa(line)+":"+strings.Join(rec, "|"))
	}
}

func itoa(i int) string { return fmt.Sprintf("%02d", i) }

func TestOpenCSV(t *testing.T) {
	const body = "E-mail;Prénom;Taal\r\njan@example.be;Jan;NL\r\nélise@example.fr;Élise;Français\r\n"
	tests := []struct {
		name       string
		data       []byte
		opts       CSVOptions
		wantEnc    string
		wantDelim  rune
		wantHeader string
		wantRows   []string
	}{
		{name: "utf-8 with BOM, semicolons, CRLF", data: append([]byte{0xEF, 0xBB, 0xBF}, body...),
			wantEnc: "utf-8", wantDelim: ';', wantHeader: "E-mail|Prénom|Taal",
			wantRows: []string{"02:jan@example.be|Jan|NL", "03:élise@example.fr|Élise|Français"}},
		{name: "utf-8 without BOM", data: []byte(body), wantEnc: "utf-8", wantDelim: ';', wantHeader: "E-mail|Prénom|Taal",
			wantRows: []string{"02:jan@example.be|Jan|NL", "03:élise@example.fr|Élise|Français"}},
		{name: "windows-1252 from Excel", data: latin(body), wantEnc: "windows-1252", wantDelim: ';', wantHeader: "E-mail|Prénom|Taal",
			wantRows: []string{"02:jan@example.be|Jan|NL", "03:élise@example.fr|Élise|Français"}},
		{name: "utf-16 little endian", data: utf16(unicode.LittleEndian, strings.ReplaceAll(body, ";", "\t")), wantEnc: "utf-16le", wantDelim: '\t',
			wantHeader: "E-mail|Prénom|Taal", wantRows: []string{"02:jan@example.be|Jan|NL", "03:élise@example.fr|Élise|Français"}},
		{name: "utf-16 big endian", data: utf16(unicode.BigEndian, strings.ReplaceAll(body, ";", ",")), wantEnc: "utf-16be", wantDelim: ',',
			wantHeader: "E-mail|Prénom|Taal", wantRows: []string{"02:jan@example.be|Jan|NL", "03:élise@example.fr|Élise|Français"}},
		{name: "explicit encoding wins", data: latin(body), opts: CSVOptions{Encoding: "iso-8859-1"}, wantEnc: "iso-8859-1", wantDelim: ';',
			wantHeader: "E-mail|Prénom|Taal", wantRows: []string{"02:jan@example.be|Jan|NL", "03:élise@example.fr|Élise|Français"}},
		{name: "pipes", data: []byte("email|name\na@b.be|A\n"), wantEnc: "utf-8", wantDelim: '|', wantHeader: "email|name",
			wantRows: []string{"02:a@b.be|A"}},
		{name: "quoted delimiters and embedded newlines", data: []byte("email,note\n\"a@b.be\",\"x, y\nz\"\nc@d.be,\"say \"\"hi\"\"\"\n"),
			wantEnc: "utf-8", wantDelim: ',', wantHeader: "email|note", wantRows: []string{"02:a@b.be|x, y\nz", "04:c@d.be|say \"hi\""}},
		{name: "commas inside a semicolon file", data: []byte("email;note\na@b.be;x,y,z\nc@d.be;w\n"), wantEnc: "utf-8", wantDelim: ';',
			wantHeader: "email|note", wantRows: []string{"02:a@b.be|x,y,z", "03:c@d.be|w"}},
		{name: "explicit delimiter wins", data: []byte("a;b,c\n1;2,3\n"), opts: CSVOptions{Delimiter: ','}, wantEnc: "utf-8", wantDelim: ',',
			wantHeader: "a;b|c", wantRows: []string{"02:1;2|3"}},
		{name: "header only", data: []byte("email\n"), wantEnc: "utf-8", wantDelim: ',', wantHeader: "email"},
		{name: "Excel for Mac's CSV (Macintosh): Mac Roman, CR line endings", data: macRoman("email;voornaam\rnoel@example.be;Noël\ramelie@example.fr;Amélie\r"),
			wantEnc: "macintosh", wantDelim: ';', wantHeader: "email|voornaam", wantRows: []string{"02:noel@example.be|Noël", "03:amelie@example.fr|Amélie"}},
		{name: "CR line endings in UTF-8", data: []byte("email,name\ra@b.be,\"A\rB\"\rc@d.be,C"),
			wantEnc: "utf-8", wantDelim: ',', wantHeader: "email|name", wantRows: []string{"02:a@b.be|A\nB", "04:c@d.be|C"}},
		{name: "Excel's CSV (MS-DOS), named", data: cp850("email;voornaam\r\nnoel@example.be;Noël\r\n"), opts: CSVOptions{Encoding: "ibm850"},
			wantEnc: "ibm850", wantDelim: ';', wantHeader: "email|voornaam", wantRows: []string{"02:noel@example.be|Noël"}},
		{name: "Excel's sep= line sets the delimiter and is no header", data: latin("sep=;\r\nBedrijf;E-mail;;;\r\nCafé Noir;jan@example.be;;;\r\n"),
			wantEnc: "windows-1252", wantDelim: ';', wantHeader: "Bedrijf|E-mail|||", wantRows: []string{"03:Café Noir|jan@example.be|||"}},
		{name: "a sep= line after a BOM, with a tab", data: []byte("\ufeffsep=\t\nemail\tname\na@b.be\tA\n"),
			wantEnc: "utf-8", wantDelim: '\t', wantHeader: "email|name", wantRows: []string{"03:a@b.be|A"}},
		{name: "an explicit delimiter still drops the sep= line", data: []byte("sep=;\nemail;name\na@b.be;A\n"), opts: CSVOptions{Delimiter: ';'},
			wantEnc: "utf-8", wantDelim: ';', wantHeader: "email|name", wantRows: []string{"03:a@b.be|A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := OpenCSV(bytes.NewReader(tc.data), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.encoding != tc.wantEnc || c.delim != tc.wantDelim {
				t.Errorf("detected %s %q, want %s %q", c.encoding, c.delim, tc.wantEnc, tc.wantDelim)
			}
			if got := strings.Join(c.Header(), "|"); got != tc.wantHeader {
				t.Errorf("header %q, want %q", got, tc.wantHeader)
			}
			rows, rowErrs, fatal := readAll(t, c)
			if fatal != nil || len(rowErrs) > 0 {
				t.Fatalf("errors: %v %v", fatal, rowErrs)
			}
			if strings.Join(rows, "\n") != strings.Join(tc.wantRows, "\n") {
				t.Errorf("rows\n%q\nwant\n%q", rows, tc.wantRows)
			}
		})
	}
}

func TestMalformedRows(t *testing.T) {
	// A bare quote spoils one row; reading goes on.
	c, err := OpenCSV(strings.NewReader("email,name\na@b.be,A\nb@c.be,5\" screen\nc@d.be,C\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows, rowErrs, fatal := readAll(t, c)
	if fatal != nil || len(rows) != 2 || len(rowErrs) != 1 || rowErrs[0] != 3 {
		t.Errorf("rows %q, row errors %v, fatal %v; want 2 rows and an error on line 3", rows, rowErrs, fatal)
	}

	// An unclosed quote would swallow the rest: the table stops, naming the line.
	c, err = OpenCSV(strings.NewReader("email,name\na@b.be,A\nb@c.be,\"B\nc@d.be,C\nd@e.be,D\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, fatal = readAll(t, c)
	var fe *FatalError
	if !errors.As(fatal, &fe) || fe.Line != 3 || !strings.Contains(fe.Error(), "broken quoting") {
		t.Errorf("fatal = %v, want broken quoting on line 3", fatal)
	}

	if _, err := OpenCSV(strings.NewReader(""), CSVOptions{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := OpenCSV(strings.NewReader("a\n"), CSVOptions{Encoding: "ebcdic"}); err == nil || !strings.Contains(err.Error(), `"ebcdic" is not supported`) {
		t.Errorf("unknown encoding: %v", err)
	}
}

// A multi-byte character cut by the detection sample's end is still UTF-8.
func TestDetectEncodingAtSampleEdge(t *testing.T) {
	b := append(bytes.Repeat([]byte("a"), 10), "é"[0])
	if enc, _ := detectEncoding(b, false); enc != "utf-8" {
		t.Errorf("cut sample detected as %s", enc)
	}
	if enc, _ := detectEncoding(b, true); enc != "windows-1252" {
		t.Errorf("complete file ending in a lone lead byte detected as %s", enc)
	}
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{"email\na@b.be\n", "a;b\n\"x;y\";z\n", "a,b\n\"unclosed\n", "\xef\xbb\xbfa\tb\n1\t2", "\xff\xfea\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := OpenCSV(bytes.NewReader(data), CSVOptions{})
		if err != nil {
			return
		}
		lastLine := 1
		for {
			_, line, err := c.Next()
			var re *RowError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				return
			}
			if line <= lastLine {
				t.Fatalf("line %d after line %d", line, lastLine)
			}
			lastLine = line
		}
	})
}
