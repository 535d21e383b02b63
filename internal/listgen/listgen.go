// Package listgen generates messy, overlapping contact lists for tests and
// benchmarks, deterministically: the same seed gives the same bytes.
package listgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// List describes one generated list.
type List struct {
	Name      string
	Encoding  string // utf-8, utf-8-bom, windows-1252, utf-16le
	Delimiter rune
	// Headers for email, first name, last name, language and opt-out.
	Headers [5]string
	// Share is the fraction of the population this list holds.
	Share float64
}

// Tenant is a population of contacts spread over lists.
type Tenant struct {
	Seed     uint64
	Contacts int
	Lists    []List
}

// DefaultLists are six lists as real customers have them: Excel exports in
// Windows-1252 with semicolons, a UTF-8 form export with a BOM, a UTF-16
// tab-separated CRM dump, and so on. Together they hold about 1.9 rows per
// contact.
var DefaultLists = []List{
	{Name: "salon-2018", Encoding: "windows-1252", Delimiter: ';', Headers: [5]string{"E-mail", "Voornaam", "Naam", "Taal", "Uitgeschreven"}, Share: 0.45},
	{Name: "homepage-optin", Encoding: "utf-8-bom", Delimiter: ',', Headers: [5]string{"Email Address", "First Name", "Last Name", "Language", "Unsubscribed"}, Share: 0.40},
	{Name: "webshop", Encoding: "utf-16le", Delimiter: '\t', Headers: [5]string{"Courriel", "Prénom", "Nom", "Langue", "Désabonné"}, Share: 0.35},
	{Name: "newsletter-2017", Encoding: "utf-8", Delimiter: '|', Headers: [5]string{"mail", "voornaam", "achternaam", "taal", "afgemeld"}, Share: 0.30},
	{Name: "fair-antwerp", Encoding: "windows-1252", Delimiter: ';', Headers: [5]string{"Adresse e-mail", "Prénom", "Nom", "Langue", "Désabonné"}, Share: 0.25},
	{Name: "crm-export", Encoding: "utf-8", Delimiter: ',', Headers: [5]string{"E-Mail-Adresse", "Vorname", "Nachname", "Sprache", "Abgemeldet"}, Share: 0.15},
}

var (
	firstNames = []string{"Jan", "Marie", "Luc", "Sophie", "Els", "Pieter", "Chloé", "Noah", "Léa", "Lars", "Inès", "Bram", "Zoë", "Hélène", "Jürgen", "Anaïs"}
	lastNames  = []string{"Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Martin", "De Smet", "Claes", "Müller", "Lefèvre", "Willems", "Goossens"}
	languages  = []string{"nl", "NL", "fr", "Français", "vlaams", "nl_BE", "en", "English", "de", "Deutsch", "", "", "fra", "néerlandais", "??"}
	optOuts    = []string{"", "no", "nee", "non", "0", "", "", "", "", "yes", "ja", "oui"}
	domains    = []string{"example.be", "example.fr", "example.com", "voorbeeld.be", "exemple.fr", "café.be"}
)

// contactEmail is contact i's address, in the case and spacing a list shows.
func contactEmail(i int, rng *rand.Rand) string {
	e := fmt.Sprintf("%s.%s%d@%s", strings.ToLower(firstNames[i%len(firstNames)]), strings.ToLower(strings.ReplaceAll(lastNames[i%len(lastNames)], " ", "")), i, domains[i%len(domains)])
	switch rng.IntN(20) {
	case 0:
		e = strings.ToUpper(e)
	case 1:
		e = " " + e + " "
	case 2:
		e = "not-an-email-" + fmt.Sprint(i) // rejected
	}
	return e
}

// Write generates list l of the tenant into w and returns its row count.
func (t Tenant) Write(w io.Writer, l List) (int, error) {
	enc := w
	var closer io.Closer
	switch l.Encoding {
	case "utf-8-bom":
		if _, err := w.Write([]byte{0xEF, 0xBB, 0xBF}); err != nil {
			return 0, err
		}
	case "windows-1252":
		tw := transform.NewWriter(w, charmap.Windows1252.NewEncoder())
		enc, closer = tw, tw
	case "utf-16le":
		tw := transform.NewWriter(w, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder())
		enc, closer = tw, tw
	}
	bw := bufio.NewWriterSize(enc, 256<<10)
	d := string(l.Delimiter)
	fmt.Fprintln(bw, strings.Join(l.Headers[:], d)+"\r")
	// Every list draws from the same population with its own stream.
	seed := t.Seed
	for _, c := range l.Name {
		seed = seed*31 + uint64(c)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rows := 0
	for i := range t.Contacts {
		if rng.Float64() >= l.Share {
			continue
		}
		first := firstNames[i%len(firstNames)]
		if rng.IntN(40) == 0 {
			first = firstNames[(i+1)%len(firstNames)] // now and then another first name: a conflict
		}
		fields := []string{contactEmail(i, rng), first, lastNames[i%len(lastNames)], languages[rng.IntN(len(languages))], optOuts[rng.IntN(len(optOuts))]}
		for j, f := range fields {
			if strings.ContainsRune(f, l.Delimiter) || strings.ContainsAny(f, "\"\n") {
				fields[j] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
			}
		}
		// bufio keeps the first error; Flush below returns it.
		_, _ = bw.WriteString(strings.Join(fields, d))
		_, _ = bw.WriteString("\r\n")
		rows++
	}
	if err := bw.Flush(); err != nil {
		return rows, err
	}
	if closer != nil {
		return rows, closer.Close()
	}
	return rows, nil
}
