package labels

import "github.com/nyaruka/phonenumbers"

// Hooks for the external tests of the fast path.
var (
	SlowNormalizeKey      = slowNormalizeKey
	ReferenceNormalizeKey = referenceNormalizeKey
	FastNormalizeKey      = fastNormalizeKey
)

// BuildAllRules builds the automata of every country calling code, which
// NormalizeKey otherwise does on a code's first lookup.
func BuildAllRules() {
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		rulesFor(cc)
	}
}
