package prefcenter

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/contactconverter/contact-converter/internal/prefconfig"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

//go:embed translations/*.json
var translationFiles embed.FS

// catalog holds every page text, by language then key.
type catalog map[string]map[string]string

func loadCatalog() (catalog, error) {
	c := catalog{}
	for _, lang := range prefconfig.Translated {
		data, err := translationFiles.ReadFile("translations/" + lang + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("translations/%s.json: %w", lang, err)
		}
		c[lang] = m
	}
	return c, nil
}

// text is the key's text in lang, formatted with args.
func (c catalog) text(lang, key string, args ...any) string {
	s, ok := c[lang][key]
	if !ok {
		s = c["en"][key]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// pageLanguage picks a page's language: an explicit ?lang= choice, else the
// contact's language, else what the browser asks for, else the default.
func pageLanguage(r *http.Request, offered []string, contactLanguage, fallback string) string {
	if l := r.URL.Query().Get("lang"); slices.Contains(offered, l) {
		return l
	}
	if slices.Contains(offered, contactLanguage) {
		return contactLanguage
	}
	if accept := r.Header.Get("Accept-Language"); accept != "" {
		tags := make([]language.Tag, 0, len(offered)+1)
		tags = append(tags, language.Make(fallback))
		for _, l := range offered {
			tags = append(tags, language.Make(l))
		}
		if want, _, err := language.ParseAcceptLanguage(accept); err == nil && len(want) > 0 {
			_, i, conf := language.NewMatcher(tags).Match(want...)
			if conf != language.No {
				base, _ := tags[i].Base()
				return base.String()
			}
		}
	}
	return fallback
}

// languageName is a language's name as written in lang ("néerlandais").
func languageName(code, lang string) string {
	name := display.Tags(language.Make(lang)).Name(language.Make(code))
	if name == "" {
		return code
	}
	return name
}

// selfName is a language's name in itself ("Nederlands").
func selfName(code string) string {
	return display.Self.Name(language.Make(code))
}
