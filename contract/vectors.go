// Package contract holds what a phone needs besides the OpenAPI document
// to work with callrep: the test vectors of docs/phone-contract.md,
// generated here from the real code (`callrep vectors` writes them to
// contract/vectors), and the filter hash written from the document.
// The Java reference client in clients/java is tested against them.
package contract

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Version is the version of the phone contract the vectors describe.
const Version = 1

//go:embed callerid.csv
var callerIDInputs []byte

// epoch dates every vector, so that they are the same at every run.
var epoch = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// Epoch is the time the vectors are made at.
func Epoch() time.Time { return epoch }

// Vectors returns the vector files by name.
func Vectors() (map[string][]byte, error) {
	files := map[string]any{}
	keys, err := keyVectors()
	if err != nil {
		return nil, err
	}
	files["keys.json"] = keys
	if files["filters.json"], err = filterVectors(); err != nil {
		return nil, err
	}
	if files["deltas.json"], err = deltaVectors(); err != nil {
		return nil, err
	}
	if files["exports.json"], err = exportVectors(); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for name, v := range files {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// KeyVector is one caller ID as the phone sees it, with the key callrep
// derives (or the refusal).
type KeyVector struct {
	Region string `json:"region"`
	Input  string `json:"input"`
	// Key is the number's key; empty when Error is set.
	Key   string `json:"key,omitempty"`
	Valid bool   `json:"valid"`
	Type  string `json:"type,omitempty"`
	// Error is the code of the refusal: invalid_number (no phone number:
	// not looked up), number_not_labelable (emergency: never looked up
	// nor reported), invalid_argument (bad region).
	Error string `json:"error,omitempty"`
	// AskServer marks keys that depend on libphonenumber metadata beyond
	// the digits (see the spec): a phone whose metadata is older or newer
	// may derive another key, so it confirms with the server.
	AskServer bool   `json:"ask_server,omitempty"`
	Note      string `json:"note,omitempty"`
}

type keyFile struct {
	Contract    int         `json:"contract"`
	Description string      `json:"description"`
	Vectors     []KeyVector `json:"vectors"`
}

func keyVectors() (keyFile, error) {
	rows, err := csv.NewReader(bytes.NewReader(callerIDInputs)).ReadAll()
	if err != nil {
		return keyFile{}, fmt.Errorf("contract: callerid.csv: %w", err)
	}
	f := keyFile{Contract: Version, Description: "caller ID (input as shown, region of the phone) → key or refusal; see docs/phone-contract.md, section Keys"}
	for _, row := range rows[1:] {
		v := KeyVector{Region: row[0], Input: row[1], Note: row[2]}
		n, err := labels.NormalizeKey(v.Input, v.Region, "")
		if err != nil {
			v.Error = labels.ErrorCode(err)
		} else {
			v.Key, v.Valid, v.Type = n.Key, n.Valid, string(n.Type)
		}
		v.AskServer = askServer(v)
		f.Vectors = append(f.Vectors, v)
	}
	return f, nil
}

// askServer reports whether a vector's key depends on metadata beyond its
// digits: international input whose key is not "+" and the digits the
// caller ID shows (a trunk or mobile prefix the metadata strips, an
// extension), and refusals of international input for its length, which
// metadata updates move.
func askServer(v KeyVector) bool {
	raw := strings.TrimSpace(v.Input)
	if !strings.HasPrefix(raw, "+") && !strings.HasPrefix(strings.ToLower(raw), "tel:+") {
		return false
	}
	if v.Error != "" {
		return v.Error == labels.EInvalidNumber
	}
	return v.Key != "+"+digits(raw)
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FilterVector is one filter file with keys it holds and keys it does not.
type FilterVector struct {
	Description string  `json:"description"`
	Name        string  `json:"name"`
	Version     uint64  `json:"version"`
	Base        uint64  `json:"base"`
	Created     int64   `json:"created"`
	Entries     int     `json:"entries"`
	Capacity    int     `json:"capacity"`
	M           uint    `json:"m"`
	K           uint    `json:"k"`
	FPRate      float64 `json:"fp_rate"`
	SHA256      string  `json:"sha256"`
	// Bytes is the whole file, base64.
	Bytes      string   `json:"bytes"`
	Members    []string `json:"members"`
	NonMembers []string `json:"non_members"`
	// Hashes show the steps for the first members.
	Hashes []HashVector `json:"hashes"`
}

// HashVector is a key's base hashes and bit positions in a filter.
type HashVector struct {
	Key        string    `json:"key"`
	KeyHex     string    `json:"key_hex"`
	BaseHashes [4]string `json:"base_hashes"` // 16 hex digits each
	Locations  []string  `json:"locations"`   // before mod m, 16 hex digits
	Bits       []uint64  `json:"bits"`        // mod m
}

func filterVector(desc string, spec reputation.FilterSpec, members []string, version, base uint64) (FilterVector, *reputation.Snapshot, error) {
	s, err := reputation.BuildFilter(spec, members, version, base, epoch)
	if err != nil {
		return FilterVector{}, nil, err
	}
	v := FilterVector{Description: desc, Name: s.Name, Version: s.Version, Base: s.Base, Created: s.Created.Unix(),
		Entries: s.Entries, Capacity: s.Capacity, M: s.M, K: s.K, FPRate: s.FPRate, SHA256: s.SHA256,
		Bytes: base64.StdEncoding.EncodeToString(s.Bytes), Members: members, NonMembers: nonMembers(s, 8), Hashes: []HashVector{}}
	for _, key := range members[:min(2, len(members))] {
		h := BaseHashes([]byte(key))
		hv := HashVector{Key: key, KeyHex: hex.EncodeToString([]byte(key))}
		for i, x := range h {
			hv.BaseHashes[i] = fmt.Sprintf("%016x", x)
		}
		for i := range uint64(s.K) {
			loc := Location(h, i)
			hv.Locations = append(hv.Locations, fmt.Sprintf("%016x", loc))
			hv.Bits = append(hv.Bits, loc%uint64(s.M))
		}
		v.Hashes = append(v.Hashes, hv)
	}
	return v, s, nil
}

// nonMembers returns n keys the snapshots do not hold, chosen
// deterministically among numbers near the members'.
func nonMembers(s *reputation.Snapshot, n int, more ...*reputation.Snapshot) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		key := fmt.Sprintf("+86139%08d", i*7919)
		if i%3 == 1 {
			key = fmt.Sprintf("CN:95%03d", i%1000)
		}
		hit := s.Test(key)
		for _, o := range more {
			hit = hit || o.Test(key)
		}
		if !hit {
			out = append(out, key)
		}
	}
	return out
}

type filterFile struct {
	Contract    int            `json:"contract"`
	Description string         `json:"description"`
	Filters     []FilterVector `json:"filters"`
}

func filterVectors() (filterFile, error) {
	f := filterFile{Contract: Version, Description: "filter files (CRBF) with keys they hold and keys they do not; see docs/phone-contract.md, section Filter files"}
	for _, c := range []struct {
		desc    string
		spec    reputation.FilterSpec
		members []string
	}{
		{"an empty fraud filter", reputation.FilterSpec{Name: "fraud", FPRate: 0.001, Headroom: 0.25}, []string{}},
		{"a block filter of two numbers", reputation.FilterSpec{Name: "block", FPRate: 0.001, Headroom: 0.25}, []string{"+8613800138000", "+14155550100"}},
		{"a spam filter at 1% with a service key and keys of 15 and 16 bytes", reputation.FilterSpec{Name: "spam", FPRate: 0.01, Headroom: 0.25},
			[]string{"+442079460958", "CN:95588", "+861380013800", "+8613800138000", "+86138001380001", "+9715000000"}},
	} {
		v, _, err := filterVector(c.desc, c.spec, c.members, 7, 0)
		if err != nil {
			return f, err
		}
		f.Filters = append(f.Filters, v)
	}
	return f, nil
}

// DeltaStep is one download of a delta chain and what the phone holds
// after applying it.
type DeltaStep struct {
	Description string       `json:"description"`
	Download    FilterVector `json:"download"`
	// Holds and HoldsNot are tested against everything the phone keeps
	// after the step: its full snapshot and its deltas.
	Holds    []string `json:"holds"`
	HoldsNot []string `json:"holds_not"`
	Version  uint64   `json:"version"`
	Deltas   int      `json:"deltas"`
}

type deltaFile struct {
	Contract    int         `json:"contract"`
	Description string      `json:"description"`
	Steps       []DeltaStep `json:"steps"`
}

func deltaVectors() (deltaFile, error) {
	f := deltaFile{Contract: Version, Description: "a delta chain of the fraud filter: apply the downloads in order; see docs/phone-contract.md, section Deltas"}
	spec := reputation.FilterSpec{Name: "fraud", FPRate: 0.001, Headroom: 0.25}
	steps := []struct {
		desc          string
		keys          []string
		version, base uint64
	}{
		{"full snapshot v10: replaces what the phone had", []string{"+8613800138000", "+8613800138001"}, 10, 0},
		{"delta 10→11: kept next to the full snapshot", []string{"+8613900139000"}, 11, 10},
		{"delta 11→12: kept as well", []string{"CN:95566", "+14155550100"}, 12, 11},
		{"full snapshot v13 after +8613800138001 left the list: replaces the full snapshot and drops both deltas",
			[]string{"+14155550100", "+8613800138000", "+8613900139000", "CN:95566"}, 13, 0},
	}
	var held []*reputation.Snapshot
	var holds []string
	for _, st := range steps {
		v, s, err := filterVector(st.desc, spec, st.keys, st.version, st.base)
		if err != nil {
			return f, err
		}
		if st.base == 0 {
			held, holds = nil, nil
		}
		held = append(held, s)
		holds = append(holds, st.keys...)
		step := DeltaStep{Description: st.desc, Download: v, Holds: append([]string(nil), holds...), Version: st.version, Deltas: len(held) - 1}
		step.HoldsNot = nonMembers(held[0], 6, held[1:]...)
		if st.version == 13 {
			step.HoldsNot = append([]string{"+8613800138001"}, step.HoldsNot...)
			if s.Test("+8613800138001") {
				return f, fmt.Errorf("contract: the removed key is a false positive of v13; pick another")
			}
		}
		f.Steps = append(f.Steps, step)
	}
	return f, nil
}
