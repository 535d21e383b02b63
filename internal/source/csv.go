package source

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Delimiters that are detected, in order of preference on a tie.
var Delimiters = []rune{',', ';', '\t', '|'}

// sniffSize is how much of a file the detection looks at.
const sniffSize = 64 << 10

// CSVOptions override detection; zero values detect.
type CSVOptions struct {
	Delimiter rune
	Encoding  string // utf-8, windows-1252, iso-8859-1, macintosh, ibm850, utf-16, utf-16le, utf-16be
	// Member picks the file to read in a zip archive: a name or a glob;
	// empty: the archive's only file.
	Member string
	// MaxUncompressed caps what a compressed list or an archive member may
	// expand to; 0: DefaultMaxUncompressed.
	MaxUncompressed int64
	// SpoolDir receives a copy of a zip read from a stream, which needs
	// random access; empty: memory.
	SpoolDir string
}

// CSV reads delimited text.
type CSV struct {
	r        *csv.Reader
	closer   io.Closer
	header   []string
	encoding string
	delim    rune
	// text and raw are the decoded and the raw length of the sample the
	// detection read: how much text the file's bytes hold.
	text, raw int
}

// OpenCSV starts reading delimited text, detecting the encoding (byte-order
// mark, else valid UTF-8, else Windows-1252) and the delimiter unless opts
// name them. The header's BOM is removed.
func OpenCSV(in io.Reader, opts CSVOptions) (*CSV, error) {
	br := bufioReader(in)
	sample, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	encName, bomLen := detectEncoding(sample, len(sample) < sniffSize)
	if opts.Encoding != "" {
		encName = opts.Encoding
	}
	enc, err := lookupEncoding(encName, bomLen > 0)
	if err != nil {
		return nil, err
	}
	var text io.Reader = br
	if bomLen > 0 && strings.HasPrefix(encName, "utf-8") {
		_, _ = br.Discard(bomLen)
	}
	if enc != nil {
		text = transform.NewReader(br, enc.NewDecoder())
	}
	decoded := sample
	if enc != nil {
		decoded, _, _ = transform.Bytes(enc.NewDecoder(), sample)
	}
	// Excel for Mac's "CSV (Macintosh)" ends lines with a lone CR.
	if crLines(decoded) {
		text = crToLF{text}
		decoded = bytes.ReplaceAll(decoded, []byte("\r"), []byte("\n"))
	}
	sep, hasSep := sepLine(decoded)
	delim := opts.Delimiter
	switch {
	case delim != 0:
	case hasSep:
		delim = sep
	default:
		delim = sniffDelimiter(decoded)
	}
	r := csv.NewReader(text)
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	c := &CSV{r: r, encoding: encName, delim: delim, text: len(decoded), raw: len(sample)}
	if cl, ok := in.(io.Closer); ok {
		c.closer = cl
	}
	if hasSep {
		if _, err := r.Read(); err != nil {
			return nil, fmt.Errorf("reading the sep= line: %w", err)
		}
	}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the file is empty: a header row is needed")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	c.header = make([]string, len(header))
	for i, h := range header {
		c.header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	return c, nil
}

// sepLine reads the "sep=;" line Excel writes first (and reads back) to
// name a file's delimiter: it is not the header.
func sepLine(decoded []byte) (rune, bool) {
	line, _, _ := bytes.Cut(bytes.TrimPrefix(decoded, []byte("\ufeff")), []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) < 5 || !strings.EqualFold(string(line[:4]), "sep=") {
		return 0, false
	}
	d, size := utf8.DecodeRune(line[4:])
	if 4+size != len(line) || d == utf8.RuneError || d == '"' || d == '\r' || d == '\n' {
		return 0, false
	}
	return d, true
}

// detectEncoding names the encoding of a file's first bytes and the length
// of its byte-order mark. complete tells whether the sample is the whole
// file; otherwise a multi-byte character may be cut at its end.
func detectEncoding(b []byte, complete bool) (string, int) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return "utf-8", 3
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return "utf-16le", 2
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return "utf-16be", 2
	}
	cuts := utf8.UTFMax - 1
	if complete {
		cuts = 0
	}
	for cut := 0; cut <= cuts && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return "utf-8", 0
		}
	}
	// Only Excel for Mac's "CSV (Macintosh)" still ends lines with a lone
	// CR, and it writes Mac Roman.
	if crLines(b) {
		return "macintosh", 0
	}
	return "windows-1252", 0
}

// crLines tells whether lines end with a lone CR: there is a CR and no LF.
func crLines(b []byte) bool {
	return bytes.IndexByte(b, '\r') >= 0 && bytes.IndexByte(b, '\n') < 0
}

// crToLF reads text whose lines end with a lone CR as LF-ended lines (a CR
// inside a quoted cell becomes a line feed too).
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// lookupEncoding returns the decoder for a name; nil means the bytes are
// read as they are (UTF-8).
func lookupEncoding(name string, hasBOM bool) (encoding.Encoding, error) {
	switch name {
	case "utf-8":
		return nil, nil
	case "windows-1252":
		return charmap.Windows1252, nil
	case "iso-8859-1":
		return charmap.ISO8859_1, nil
	case "macintosh":
		return charmap.Macintosh, nil
	case "ibm850":
		return charmap.CodePage850, nil
	case "utf-16", "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), nil
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM), nil
	}
	return nil, fmt.Errorf("encoding %q is not supported; use utf-8, windows-1252, iso-8859-1, macintosh, ibm850, utf-16, utf-16le or utf-16be", name)
}

// sniffDelimiter picks the delimiter that splits the sample's first lines
// into the same, largest number of fields. Quoted text is skipped.
func sniffDelimiter(sample []byte) rune {
	lines := sampleLines(sample, 20)
	best, bestScore := Delimiters[0], -1
	for _, d := range Delimiters {
		counts := map[int]int{}
		for _, l := range lines {
			counts[countOutsideQuotes(l, d)]++
		}
		// The most frequent non-zero count, weighted by how many lines agree.
		score := 0
		for n, lines := range counts {
			if n > 0 && lines*100+n > score {
				score = lines*100 + n
			}
		}
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	return best
}

// sampleLines splits the sample into logical lines (newlines inside quotes
// do not count), dropping the last, possibly cut, one unless it is alone.
func sampleLines(sample []byte, n int) []string {
	var lines []string
	inQuotes, start := false, 0
	for i := 0; i < len(sample) && len(lines) < n; i++ {
		switch sample[i] {
		case '"':
			inQuotes = !inQuotes
		case '\n':
			if !inQuotes {
				lines = append(lines, strings.TrimSuffix(string(sample[start:i]), "\r"))
				start = i + 1
			}
		}
	}
	if len(lines) == 0 && start < len(sample) {
		lines = append(lines, string(sample[start:]))
	}
	return lines
}

func countOutsideQuotes(line string, d rune) int {
	n, inQuotes := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			inQuotes = !inQuotes
		case r == d && !inQuotes:
			n++
		}
	}
	return n
}

// Header implements Table.
func (c *CSV) Header() []string { return c.header }

// Describe implements Table.
func (c *CSV) Describe() string {
	return fmt.Sprintf("CSV, %s, delimiter %s", c.encoding, delimiterName(c.delim))
}

func delimiterName(d rune) string {
	if d == '\t' {
		return "tab"
	}
	return fmt.Sprintf("%q", d)
}

// Next implements Table.
func (c *CSV) Next() ([]string, int, error) {
	rec, err := c.r.Read()
	if err == nil {
		line, _ := c.r.FieldPos(0)
		return rec, line, nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if pe.Line > pe.StartLine {
			// A valid quoted field may span lines; an error that does means
			// a quote is missing, and the rows after it cannot be trusted.
			return nil, pe.StartLine, &FatalError{Line: pe.StartLine, Err: fmt.Errorf(
				"broken quoting: a quoted field opened on this line is not closed properly (error on line %d: %v)", pe.Line, pe.Err)}
		}
		return nil, pe.StartLine, &RowError{Line: pe.StartLine, Err: pe.Err}
	}
	return nil, 0, err
}

// Close implements Table.
func (c *CSV) Close() error {
	if c.closer != nil {
		return c.closer.Close()
	}
	return nil
}

func bufioReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok && br.Size() >= sniffSize {
		return br
	}
	return bufio.NewReaderSize(r, sniffSize)
}
