package push

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/callrep/callrep/labels"
)

// The texts of warnings live in i18n/<locale>.json, next to the category
// names of labels/i18n: one file per locale, the same locales.
//
//go:embed i18n/*.json
var textFiles embed.FS

// DefaultLocale is the locale of devices that name none or one callrep has
// no texts in.
const DefaultLocale = "en"

var texts, locales = loadTexts(textFiles)

func loadTexts(fsys fs.FS) (map[string]map[string]string, []string) {
	files, err := fs.Glob(fsys, "i18n/*.json")
	if err != nil {
		panic(err)
	}
	out := map[string]map[string]string{}
	var langs []string
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			panic(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("push: %s: %v", f, err))
		}
		lang := strings.TrimSuffix(path.Base(f), ".json")
		out[lang] = m
		langs = append(langs, lang)
	}
	return out, langs
}

// Locales returns the locales warnings are written in, sorted.
func Locales() []string { return slices.Clone(locales) }

var localeMatcher = func() language.Matcher {
	tags := []language.Tag{language.Make(DefaultLocale)}
	for _, l := range locales {
		if l != DefaultLocale {
			tags = append(tags, language.Make(l))
		}
	}
	return language.NewMatcher(tags)
}()

// MatchLocale returns the supported locale closest to tag: zh-TW and zh-HK
// get zh-Hant, zh and zh-CN zh-Hans, anything unsupported DefaultLocale.
func MatchLocale(tag string) string {
	t, err := language.Parse(tag)
	if tag == "" || err != nil {
		return DefaultLocale
	}
	_, i, conf := localeMatcher.Match(t)
	if conf == language.No {
		return DefaultLocale
	}
	if i == 0 {
		return DefaultLocale
	}
	rest := slices.DeleteFunc(slices.Clone(locales), func(l string) bool { return l == DefaultLocale })
	return rest[i-1]
}

// text fills the template key of locale with vars ({name} → vars["name"]).
func text(locale, key string, vars map[string]string) string {
	t := texts[locale][key]
	if t == "" {
		t = texts[DefaultLocale][key]
	}
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(t)
}

// dateIn formats t as a day of the year in locale, in the time zone of
// the number's country when known ("26 Nov", "11月26日").
func dateIn(locale string, t time.Time) string {
	return t.Format(text(locale, "date", nil))
}

// verdictIn names a verdict in locale.
func verdictIn(locale, verdict string) string {
	if s := texts[locale]["verdict_"+verdict]; s != "" {
		return s
	}
	return verdict
}

// categoryIn names a category in locale.
func categoryIn(locale, id string) string {
	c, ok := labels.LookupCategory(id)
	if !ok {
		return id
	}
	if n := c.Names[locale]; n != "" {
		return n
	}
	return c.Names[DefaultLocale]
}
