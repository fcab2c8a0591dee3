package reputation_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/callrep/callrep/reputation"
)

// row is one decoded KeywordDatabaseRow.
type row struct{ keyword, value string }

// decodeKeywordDatabase reads a KeywordDatabase strictly: only field 1 of
// rows, each with keyword = 1 and value = 2 in that order.
func decodeKeywordDatabase(t *testing.T, b []byte) []row {
	t.Helper()
	var rows []row
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("database: field %d type %d", num, typ)
		}
		msg, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			t.Fatal("database: truncated row")
		}
		b = b[n+m:]
		var r row
		for i, want := range []protowire.Number{1, 2} {
			num, typ, n := protowire.ConsumeTag(msg)
			v, m := protowire.ConsumeBytes(msg[max(n, 0):])
			if n < 0 || m < 0 || num != want || typ != protowire.BytesType {
				t.Fatalf("row field %d: got %d type %d", i, num, typ)
			}
			if want == 1 {
				r.keyword = string(v)
			} else {
				r.value = string(v)
			}
			msg = msg[n+m:]
		}
		if len(msg) != 0 {
			t.Fatal("row has extra fields")
		}
		rows = append(rows, r)
	}
	return rows
}

// decodeIdentity reads a CallIdentity's name, cache expiry and category.
func decodeIdentity(t *testing.T, b []byte) (name string, expiry, category uint64) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, m := protowire.ConsumeString(b)
			name, b = v, b[m:]
		case (num == 3 || num == 4) && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if v == 0 {
				t.Fatalf("field %d is zero: not canonical proto3", num)
			}
			if num == 3 {
				expiry = v
			} else {
				category = v
			}
			b = b[m:]
		default:
			t.Fatalf("identity: field %d type %d", num, typ)
		}
	}
	return name, expiry, category
}

// TestLiveCallerID decodes both datasets: a block row for every flagged
// E.164 number (1 on the block list), identity rows with localised names
// and verified names through the seam, no region-scoped keys, and a limit
// that keeps the most strongly flagged. With protoc installed, protoc
// --decode_raw reads them too.
func TestLiveCallerID(t *testing.T) {
	c := catalogWorld(t)
	verified := map[string]string{"+8613912345678": "顺丰速运"}
	ex := reputation.LiveCallerID(c, reputation.LiveCallerIDOptions{Lang: "zh-Hans", CacheExpiry: 2 * time.Hour,
		VerifiedName: func(key string) string { return verified[key] }})
	block := decodeKeywordDatabase(t, ex.Block)
	want := []row{{"+12025550199", "\x00"}, {"+14155550100", "\x01"}, {"+442079460958", "\x01"}, {"+8613800138000", "\x01"}, {"+8613912345678", "\x00"}, {"+9715000000", "\x01"}}
	if len(block) != len(want) || ex.BlockRows != len(want) || ex.Blocked != 4 {
		t.Fatalf("block rows: got %q (%d, %d blocked), want %q", block, ex.BlockRows, ex.Blocked, want)
	}
	for i := range want {
		if block[i] != want[i] {
			t.Errorf("block row %d: got %q, want %q", i, block[i], want[i])
		}
	}
	identity := decodeKeywordDatabase(t, ex.Identity)
	names := map[string]string{}
	for _, r := range identity {
		name, expiry, category := decodeIdentity(t, []byte(r.value))
		if expiry != 120 {
			t.Errorf("%s: cache expiry %d minutes, want 120", r.keyword, expiry)
		}
		if (category == 2) != (r.keyword == "+8613912345678") {
			t.Errorf("%s: category %d", r.keyword, category)
		}
		names[r.keyword] = name
	}
	if len(identity) != 6 || names["+8613800138000"] != "疑似诈骗" || names["+12025550199"] != "骚扰：广告推销" || names["+8613912345678"] != "顺丰速运" {
		t.Fatalf("identity names: %q", names)
	}
	if bytes.Contains(ex.Block, []byte("CN:")) || bytes.Contains(ex.Identity, []byte("CN:")) {
		t.Fatal("a region-scoped key is in a dataset")
	}

	capped := reputation.LiveCallerID(c, reputation.LiveCallerIDOptions{Limit: 2})
	again := reputation.LiveCallerID(c, reputation.LiveCallerIDOptions{Limit: 2})
	if capped.BlockRows != 2 || capped.IdentityRows != 2 || !bytes.Equal(capped.Block, again.Block) {
		t.Fatalf("limit 2: got %d block and %d identity rows", capped.BlockRows, capped.IdentityRows)
	}
	for _, r := range decodeKeywordDatabase(t, capped.Block) {
		if r.value != "\x01" {
			t.Errorf("limit 2 kept %s, which is less flagged than the blocked numbers", r.keyword)
		}
	}

	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Log("protoc not installed: datasets checked with protowire only")
		return
	}
	for name, b := range map[string][]byte{"block": ex.Block, "identity": ex.Identity} {
		cmd := exec.Command(protoc, "--decode_raw")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), `1 {`) || !strings.Contains(string(out), `"+8613800138000"`) {
			t.Fatalf("protoc --decode_raw of %s: %v\n%s", name, err, out)
		}
	}
}
