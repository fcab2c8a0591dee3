package labels

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"strings"
)

// Risk says how bad a category is for the person called. Scores and
// warnings weigh reports by it.
type Risk string

// The risks, from worst to best.
const (
	RiskDangerous Risk = "dangerous" // the caller means harm: answer with care or not at all
	RiskNuisance  Risk = "nuisance"  // unwanted but harmless
	RiskBenign    Risk = "benign"    // a call one usually expects, such as a courier
	RiskSafe      Risk = "safe"      // the reporter knows and trusts the caller
)

// Category is one kind of caller users can tag a number with. ID is stable
// lowercase snake_case and is what clients and storage use; Names and
// Description map a language tag ("en", "zh-Hans") to display text.
type Category struct {
	ID          string
	Risk        Risk
	Names       map[string]string
	Description map[string]string
}

// taxonomy fixes the order and risk of the categories; their texts live in
// i18n/<lang>.json so that adding a language is adding one file.
var taxonomy = []struct {
	id   string
	risk Risk
}{
	{"fraud", RiskDangerous},
	{"harassment", RiskNuisance},
	{"promotion", RiskNuisance},
	{"real_estate", RiskNuisance},
	{"financial", RiskNuisance},
	{"recruitment", RiskNuisance},
	{"survey", RiskNuisance},
	{"robocall", RiskNuisance},
	{"one_ring", RiskNuisance},
	{"debt_collection", RiskNuisance},
	{"unwanted", RiskNuisance},
	{"delivery", RiskBenign},
	{"ride", RiskBenign},
	{"customer_service", RiskBenign},
	{"safe", RiskSafe},
}

//go:embed i18n/*.json
var i18nFiles embed.FS

var categories, languages = loadTaxonomy(i18nFiles)

// loadTaxonomy joins taxonomy with the embedded texts. A malformed file is a
// build mistake, so it panics; coverage of every category in every language
// is checked by the tests.
func loadTaxonomy(fsys fs.FS) ([]Category, []string) {
	files, err := fs.Glob(fsys, "i18n/*.json")
	if err != nil {
		panic(err)
	}
	cats := make([]Category, len(taxonomy))
	for i, t := range taxonomy {
		cats[i] = Category{ID: t.id, Risk: t.risk, Names: map[string]string{}, Description: map[string]string{}}
	}
	var langs []string // fs.Glob returns sorted names
	for _, file := range files {
		lang := strings.TrimSuffix(path.Base(file), ".json")
		texts, err := readTexts(fsys, file)
		if err != nil {
			panic(fmt.Sprintf("labels: %s: %v", file, err))
		}
		for i := range cats {
			if t, ok := texts[cats[i].ID]; ok {
				cats[i].Names[lang] = t.Name
				cats[i].Description[lang] = t.Description
			}
		}
		langs = append(langs, lang)
	}
	return cats, langs
}

// categoryText is one entry of an i18n file.
type categoryText struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func readTexts(fsys fs.FS, file string) (map[string]categoryText, error) {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var texts map[string]categoryText
	if err := dec.Decode(&texts); err != nil {
		return nil, err
	}
	return texts, nil
}

// Categories returns every category in a stable order: the dangerous one
// first, then nuisances, then benign callers, then safe. The result is the
// caller's to modify.
func Categories() []Category {
	out := make([]Category, len(categories))
	for i, c := range categories {
		out[i] = c.clone()
	}
	return out
}

// LookupCategory returns the category with the given ID and whether it
// exists. IDs are matched exactly.
func LookupCategory(id string) (Category, bool) {
	for _, c := range categories {
		if c.ID == id {
			return c.clone(), true
		}
	}
	return Category{}, false
}

// Languages returns the language tags that category texts exist in, sorted.
func Languages() []string {
	return append([]string(nil), languages...)
}

func (c Category) clone() Category {
	c.Names = maps.Clone(c.Names)
	c.Description = maps.Clone(c.Description)
	return c
}

// RiskOf returns the risk class of category id without copying its texts;
// ok is false for unknown ids. It is the hot path of every lookup.
func RiskOf(id string) (risk Risk, ok bool) {
	r, ok := riskByID[id]
	return r, ok
}

var riskByID = func() map[string]Risk {
	m := make(map[string]Risk, len(categories))
	for _, c := range categories {
		m[c.ID] = c.Risk
	}
	return m
}()
