package reputation

import (
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// iOS 18 Live Caller ID Lookup asks a server privately (through Apple's
// relay, with homomorphic encryption) whether to block a caller and how to
// name it. Apple's PIRProcessDatabase builds that server's database from
// two datasets, each a serialized KeywordDatabase of package
// apple.swift_homomorphic_encryption.pir.v1:
//
//	message KeywordDatabase    { repeated KeywordDatabaseRow rows = 1; }
//	message KeywordDatabaseRow { bytes keyword = 1; bytes value = 2; }
//
// The keyword is the number in E.164 with "+", as UTF-8. In the block
// dataset the value is one byte, 1 to block and 0 not to; in the identity
// dataset it is a serialized CallIdentity (no package):
//
//	message CallIdentity {
//	  string name = 1; Icon icon = 2; uint32 cache_expiry_minutes = 3;
//	  IdentityCategory category = 4; // UNSPECIFIED 0, PERSON 1, BUSINESS 2
//	}
//
// Both are canonical proto3 (fields in number order, zero values left
// out), written with protowire. Region-scoped keys (CN:95588) are no E.164
// numbers and are left out, as in CallKit: a phone shows a service number
// as the short digits, which the lookup cannot tell from the same digits
// in another region.

// Live Caller ID identity categories.
const (
	identityUnspecified = 0
	identityBusiness    = 2
)

// LiveCallerIDOptions configure the Live Caller ID export.
type LiveCallerIDOptions struct {
	// Lang is the language of the names (see LabelLanguage); "" is English.
	Lang string
	// Limit caps the rows of each dataset (0: no cap), keeping the most
	// strongly flagged numbers (see Catalog.Rank).
	Limit int
	// CacheExpiry is how long a phone may cache an answer; a day if zero.
	CacheExpiry time.Duration
	// VerifiedName returns the name moderation verified for a key, "" when
	// none; it wins over the category's name. Nil: no verified names.
	VerifiedName func(key string) string
}

// LiveCallerIDExport holds the two datasets and what they hold.
type LiveCallerIDExport struct {
	Block, Identity []byte
	// BlockRows counts the block dataset's rows, Blocked those with 1;
	// IdentityRows the identity dataset's rows.
	BlockRows, Blocked, IdentityRows int
}

// LiveCallerID writes the Live Caller ID datasets of c: a block row for
// every flagged number (1 for those on the block list), an identity row
// for every flagged number with a name.
func LiveCallerID(c *Catalog, opts LiveCallerIDOptions) LiveCallerIDExport {
	if opts.CacheExpiry <= 0 {
		opts.CacheExpiry = 24 * time.Hour
	}
	var flagged []string
	for _, list := range []string{ListFraud, ListSpam, ListBenign} {
		for _, k := range c.Lists[list] {
			if strings.HasPrefix(k, "+") {
				flagged = append(flagged, k)
			}
		}
	}
	if opts.Limit > 0 && len(flagged) > opts.Limit {
		flagged = c.Top(flagged, opts.Limit)
	}
	slices.Sort(flagged)
	var ex LiveCallerIDExport
	var block, identity []byte
	for _, key := range flagged {
		v := byte(0)
		if _, ok := slices.BinarySearch(c.Lists[ListBlock], key); ok {
			v = 1
			ex.Blocked++
		}
		block = appendRow(block, key, []byte{v})
		ex.BlockRows++

		r := c.flagged[key]
		name, category := "", identityUnspecified
		if opts.VerifiedName != nil {
			name = opts.VerifiedName(key)
		}
		if name != "" || r.Verdict == VerdictBenign {
			category = identityBusiness
		}
		if name == "" {
			name = CallKitLabel(r.Verdict, r.TopCategory, opts.Lang)
		}
		if name == "" {
			continue
		}
		var id []byte
		id = protowire.AppendTag(id, 1, protowire.BytesType)
		id = protowire.AppendString(id, name)
		id = protowire.AppendTag(id, 3, protowire.VarintType)
		id = protowire.AppendVarint(id, uint64(opts.CacheExpiry/time.Minute))
		if category != identityUnspecified {
			id = protowire.AppendTag(id, 4, protowire.VarintType)
			id = protowire.AppendVarint(id, uint64(category))
		}
		identity = appendRow(identity, key, id)
		ex.IdentityRows++
	}
	ex.Block, ex.Identity = block, identity
	if ex.Block == nil {
		ex.Block = []byte{}
	}
	if ex.Identity == nil {
		ex.Identity = []byte{}
	}
	return ex
}

// appendRow appends rows = 1 of a KeywordDatabase: a KeywordDatabaseRow of
// keyword and value.
func appendRow(b []byte, keyword string, value []byte) []byte {
	var row []byte
	row = protowire.AppendTag(row, 1, protowire.BytesType)
	row = protowire.AppendString(row, keyword)
	row = protowire.AppendTag(row, 2, protowire.BytesType)
	row = protowire.AppendBytes(row, value)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, row)
}
