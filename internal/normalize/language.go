package normalize

import (
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// ISO6391 lists every two-letter ISO 639-1 code. The CRD's LanguageCode
// validation carries the same list; a test keeps them equal.
var ISO6391 = strings.Fields(`aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr
cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz
ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg
mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa
sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi
vo wa wo xh yi yo za zh zu`)

// synonyms are names the display tables lack: regional and colloquial ones.
var synonyms = map[string]string{
	"vlaams": "nl", "flamand": "nl", "flemish": "nl", "flamisch": "nl", "belgisch nederlands": "nl",
	"hollands": "nl", "neerlandais": "nl", "nederlands": "nl", "dutch": "nl",
	"francais": "fr", "frans": "fr", "french": "fr", "franzosisch": "fr", "waals": "fr",
	"english": "en", "engels": "en", "anglais": "en", "englisch": "en",
	"deutsch": "de", "duits": "de", "allemand": "de", "german": "de",
}

// names maps a folded language name in nl, fr, en or de (and each language's
// own name) to its ISO 639-1 code, built once from x/text's display tables.
var names = func() map[string]string {
	m := map[string]string{}
	namers := []display.Namer{display.Self}
	for _, in := range []string{"nl", "fr", "en", "de"} {
		namers = append(namers, display.Languages(language.MustParse(in)))
	}
	for _, code := range ISO6391 {
		tag := language.MustParse(code)
		for _, n := range namers {
			if name := n.Name(tag); name != "" {
				if _, taken := m[fold(name)]; !taken {
					m[fold(name)] = code
				}
			}
		}
	}
	for k, v := range synonyms {
		m[fold(k)] = v
	}
	return m
}()

var isISO = func() map[string]bool {
	m := make(map[string]bool, len(ISO6391))
	for _, c := range ISO6391 {
		m[c] = true
	}
	return m
}()

// Outcome says how a language value was settled.
type Outcome int

// Outcomes of Language.Match.
const (
	// Recognised: the value named a language that is offered.
	Recognised Outcome = iota
	// Empty: no value; the default was assigned.
	Empty
	// Unknown: the value named no language; the default was assigned.
	Unknown
	// NotOffered: a language outside the tenant's list; the default was
	// assigned.
	NotOffered
)

// Languages maps free text to the tenant's ISO 639-1 codes.
type Languages struct {
	aliases map[string]string
	offered map[string]bool // empty: any code
	def     string
	cache   map[string]result
}

type result struct {
	code    string
	outcome Outcome
}

// NewLanguages builds a matcher. Aliases win over recognition; offered, when
// not empty, limits the codes kept; def is assigned otherwise.
func NewLanguages(aliases map[string]string, offered []string, def string) *Languages {
	l := &Languages{aliases: map[string]string{}, offered: map[string]bool{}, def: def, cache: map[string]result{}}
	for k, v := range aliases {
		l.aliases[fold(k)] = v
	}
	for _, c := range offered {
		l.offered[c] = true
	}
	return l
}

// Match returns the code for raw, and how it was settled. Results are
// memoised: lists repeat the same few values millions of times. Not safe for
// concurrent use.
func (l *Languages) Match(raw string) (string, Outcome) {
	if r, ok := l.cache[raw]; ok {
		return r.code, r.outcome
	}
	code, outcome := l.match(raw)
	if len(l.cache) < 10000 {
		l.cache[raw] = result{code, outcome}
	}
	return code, outcome
}

func (l *Languages) match(raw string) (string, Outcome) {
	key := fold(raw)
	if key == "" {
		return l.def, Empty
	}
	code, ok := l.aliases[key]
	if !ok {
		code = Recognise(raw)
	}
	switch {
	case code == "":
		return l.def, Unknown
	case len(l.offered) > 0 && !l.offered[code]:
		return l.def, NotOffered
	}
	return code, Recognised
}

// Recognise returns the ISO 639-1 code raw names, or "": a code in any case
// and form ("FR", "nl_BE", "fra", "de-CH") or a language's name in nl, fr, en
// or de, or in itself ("Français", "Nederlands", "vlaams").
func Recognise(raw string) string {
	key := fold(raw)
	if code, ok := names[key]; ok {
		return code
	}
	tag := strings.ReplaceAll(strings.TrimSpace(raw), "_", "-")
	if tag == "" || len(tag) > 35 {
		return ""
	}
	if _, err := language.Parse(tag); err != nil {
		return ""
	}
	primary, _, _ := strings.Cut(tag, "-")
	base, err := language.ParseBase(primary)
	if err != nil || !isISO[base.String()] {
		return ""
	}
	return base.String()
}
