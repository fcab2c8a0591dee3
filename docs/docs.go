// Package docs holds the documents the server serves besides the OpenAPI
// description: the phone contract (phone-contract.md).
package docs

import _ "embed"

// PhoneContract is docs/phone-contract.md, served at /docs/phone-contract.md.
//
//go:embed phone-contract.md
var PhoneContract []byte
