package labels

// Hooks for the external tests of the fast path.
var (
	SlowNormalizeKey = slowNormalizeKey
	FastNormalizeKey = fastNormalizeKey
)
