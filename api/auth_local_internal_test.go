package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"
)

// TestVerifiedTokensBounded: the verified-token cache never holds more
// than its bound, and tokens it dropped still verify.
func TestVerifiedTokensBounded(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	li := newLocalIssuer(key, func() time.Time { return now })
	li.cache.max = 10
	var tokens []string
	for i := range 25 {
		tok, err := li.Issue(fmt.Sprint("u", i), false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	for round := range 2 {
		for i, tok := range tokens {
			p, err := li.Verify(context.Background(), tok)
			if err != nil || p.UID != fmt.Sprint("u", i) {
				t.Fatalf("round %d, token %d: got %+v, %v", round, i, p, err)
			}
			if n := len(li.cache.m); n > li.cache.max {
				t.Fatalf("cache holds %d tokens, want at most %d", n, li.cache.max)
			}
		}
	}
}
