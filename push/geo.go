package push

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Area is a region that numbers are placed in by libphonenumber's geocoder,
// the unit of regional fraud waves.
type Area struct {
	// ID is ASCII and stable, fit for a topic name: the region code and
	// the English place name, "cn-quanzhou-fujian".
	ID string
	// Names are the place names by locale: "福建省泉州市", "Quanzhou, Fujian".
	Names map[string]string
}

// geoLang is the geocoder's language code of each locale. zh_Hant has no
// data for mainland numbers: those fall back to the Simplified name, which
// reads better to a Chinese reader than the English one.
var geoLang = map[string]string{"en": "en", "zh-Hans": "zh", "zh-Hant": "zh_Hant"}

var notSlug = regexp.MustCompile(`[^a-z0-9]+`)

// AreaOf places the number with E.164 form e164 in its area; ok is false
// when the geocoder knows no place finer than the country. The geocoder's
// data (several MiB) is loaded on first use, so this is never called on
// the lookup path.
func AreaOf(e164 string) (Area, bool) {
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return Area{}, false
	}
	region := phonenumbers.GetRegionCodeForNumber(pn)
	en, err := phonenumbers.GetGeocodingForNumber(pn, "en")
	if err != nil || en == "" || region == "" || region == phonenumbers.UNKNOWN_REGION {
		return Area{}, false
	}
	// Without data for the number's prefix the geocoder answers the
	// country's name: toll-free and mobile ranges of a whole country are
	// no area, and a wave there would go to everyone.
	if reg, err := language.ParseRegion(region); err != nil || en == display.Regions(language.English).Name(reg) {
		return Area{}, false
	}
	slug := strings.Trim(notSlug.ReplaceAllString(strings.ToLower(asciiOnly(en)), "-"), "-")
	if slug == "" {
		return Area{}, false
	}
	a := Area{ID: strings.ToLower(region) + "-" + slug, Names: map[string]string{"en": en}}
	zh, _ := phonenumbers.GetGeocodingForNumber(pn, geoLang["zh-Hans"])
	if zh == "" {
		zh = en
	}
	a.Names["zh-Hans"] = zh
	hant, _ := phonenumbers.GetGeocodingForNumber(pn, geoLang["zh-Hant"])
	if hant == "" || hant == en {
		hant = zh
	}
	a.Names["zh-Hant"] = hant
	return a, true
}

// asciiOnly drops the letters of en that are not ASCII (accents).
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII {
			return -1
		}
		return r
	}, s)
}

// validAreaID reports whether id is an area id as AreaOf makes them.
var validAreaID = regexp.MustCompile(`^[a-z]{2}-[a-z0-9-]{1,60}$`).MatchString

// AreaTopic is the topic of fraud waves in area for phones in locale.
func AreaTopic(areaID, locale string) string { return "area." + areaID + "." + locale }

// FilterTopic is the topic of refreshes of the named filter.
func FilterTopic(name string) string { return "filter-" + name }
