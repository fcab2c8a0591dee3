package labels_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/callrep/callrep/labels"
)

func TestCategories_Taxonomy(t *testing.T) {
	// The IDs are stored in reports and sent by clients: they must not change.
	want := []struct {
		id             string
		risk           labels.Risk
		zhHans, zhHant string
	}{
		{"fraud", labels.RiskDangerous, "诈骗", "詐騙"},
		{"harassment", labels.RiskNuisance, "骚扰电话", "騷擾電話"},
		{"promotion", labels.RiskNuisance, "广告推销", "廣告推銷"},
		{"real_estate", labels.RiskNuisance, "房产中介", "房產仲介"},
		{"financial", labels.RiskNuisance, "保险理财", "保險理財"},
		{"recruitment", labels.RiskNuisance, "招聘猎头", "招聘獵頭"},
		{"survey", labels.RiskNuisance, "调查问卷", "調查問卷"},
		{"robocall", labels.RiskNuisance, "自动语音", "自動語音"},
		{"one_ring", labels.RiskNuisance, "响一声", "響一聲"},
		{"debt_collection", labels.RiskNuisance, "催收", "催收"},
		{"unwanted", labels.RiskNuisance, "不想接听", "不想接聽"},
		{"delivery", labels.RiskBenign, "快递送餐", "快遞送餐"},
		{"ride", labels.RiskBenign, "出租车/网约车", "計程車/網約車"},
		{"customer_service", labels.RiskBenign, "客服电话", "客服電話"},
		{"safe", labels.RiskSafe, "安全", "安全"},
	}
	got := labels.Categories()
	if len(got) != len(want) {
		t.Fatalf("Categories: got %d, want %d", len(got), len(want))
	}
	for i, w := range want {
		c := got[i]
		if c.ID != w.id {
			t.Errorf("Categories()[%d].ID: got %q, want %q", i, c.ID, w.id)
		}
		if c.Risk != w.risk {
			t.Errorf("%s risk: got %q, want %q", w.id, c.Risk, w.risk)
		}
		if c.Names["zh-Hans"] != w.zhHans {
			t.Errorf("%s zh-Hans name: got %q, want %q", w.id, c.Names["zh-Hans"], w.zhHans)
		}
		if c.Names["zh-Hant"] != w.zhHant {
			t.Errorf("%s zh-Hant name: got %q, want %q", w.id, c.Names["zh-Hant"], w.zhHant)
		}
	}
}

func TestCategories_IDs(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	risks := []labels.Risk{labels.RiskDangerous, labels.RiskNuisance, labels.RiskBenign, labels.RiskSafe}
	seen := map[string]bool{}
	for _, c := range labels.Categories() {
		if !snake.MatchString(c.ID) {
			t.Errorf("ID %q: got not snake_case, want lowercase snake_case", c.ID)
		}
		if seen[c.ID] {
			t.Errorf("ID %q: got duplicate, want unique", c.ID)
		}
		seen[c.ID] = true
		if !slices.Contains(risks, c.Risk) {
			t.Errorf("%s risk: got %q, want one of %v", c.ID, c.Risk, risks)
		}
	}
}

func TestCategories_Languages(t *testing.T) {
	got := labels.Languages()
	want := []string{"en", "zh-Hans", "zh-Hant"}
	if !slices.Equal(got, want) {
		t.Fatalf("Languages: got %v, want %v", got, want)
	}
	for _, c := range labels.Categories() {
		for _, lang := range got {
			if strings.TrimSpace(c.Names[lang]) == "" {
				t.Errorf("%s: got no %s name, want one", c.ID, lang)
			}
			if strings.TrimSpace(c.Description[lang]) == "" {
				t.Errorf("%s: got no %s description, want one", c.ID, lang)
			}
		}
	}
}

// TestCategories_I18nFiles reads the files as shipped, so a key that the
// loader would silently ignore (a typo, a retired category) fails here.
func TestCategories_I18nFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("i18n", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var langs []string
	for _, file := range files {
		lang := strings.TrimSuffix(filepath.Base(file), ".json")
		langs = append(langs, lang)
		t.Run(lang, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var texts map[string]struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			}
			if err := json.Unmarshal(b, &texts); err != nil {
				t.Fatal(err)
			}
			for id := range texts {
				if _, ok := labels.LookupCategory(id); !ok {
					t.Errorf("key %q: got unknown category, want a known one", id)
				}
			}
			for _, c := range labels.Categories() {
				if texts[c.ID].Name == "" {
					t.Errorf("%s: got no name, want one", c.ID)
				}
			}
		})
	}
	if !slices.Equal(langs, labels.Languages()) {
		t.Errorf("files: got languages %v, Languages() says %v", langs, labels.Languages())
	}
}

func TestLookupCategory(t *testing.T) {
	c, ok := labels.LookupCategory("fraud")
	if !ok {
		t.Fatal(`LookupCategory("fraud"): got not found, want found`)
	}
	if c.Risk != labels.RiskDangerous || c.Names["en"] != "Fraud" {
		t.Errorf(`LookupCategory("fraud"): got %+v, want dangerous "Fraud"`, c)
	}

	for _, id := range []string{"", "Fraud", "FRAUD", "scam", " fraud"} {
		if c, ok := labels.LookupCategory(id); ok {
			t.Errorf("LookupCategory(%q): got %+v, want not found", id, c)
		}
	}

	// Callers get copies: scribbling on one must not leak into the next.
	c.Names["en"] = "changed"
	if again, _ := labels.LookupCategory("fraud"); again.Names["en"] != "Fraud" {
		t.Errorf("after modifying a result: got %q, want %q", again.Names["en"], "Fraud")
	}
	cats := labels.Categories()
	cats[0].Description["en"] = "changed"
	if again := labels.Categories(); again[0].Description["en"] == "changed" {
		t.Errorf("after modifying Categories(): got %q, want the original", again[0].Description["en"])
	}
}
