package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callrep/callrep/reputation"
)

// exportCmd writes exports for platforms that load lists from files:
//
//	callrep export live-caller-id [--out DIR] [--lang L] [--limit N]
func exportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "live-caller-id" {
		return usageError{"usage: callrep export live-caller-id [--out DIR] [--lang en|zh-Hans|zh-Hant] [--limit N] [--cache-expiry D]"}
	}
	fs := flag.NewFlagSet("export live-caller-id", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	out := fs.String("out", ".", "directory the datasets are written to: block.binpb and identity.binpb")
	lang := fs.String("lang", "en", "language of the identity names: en, zh-Hans or zh-Hant")
	limit := fs.Int("limit", 0, "at most this many rows per dataset: verified numbers first, then the most strongly flagged; 0 for all")
	expiry := fs.Duration("cache-expiry", 24*time.Hour, "how long a phone may cache an identity")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if !reputation.LabelLanguage(*lang) || *limit < 0 || *expiry < time.Minute {
		return usageError{"--lang must be en, zh-Hans or zh-Hant, --limit ≥ 0 and --cache-expiry at least 1m"}
	}
	st, log, err := openLogged(ctx, &sf, stderr)
	if err != nil {
		return err
	}
	defer st.closeLogged(log)
	// Moderation's decisions (verified names, cleared labels) apply to the
	// engine as it opens; nobody is told anything from here.
	if _, err := st.openModeration(ctx, nil, &modFlags{}, log); err != nil {
		return err
	}
	cat := reputation.BuildCatalog(st.index, reputation.DefaultCatalogConfig(), time.Now())
	ex := reputation.LiveCallerID(cat, reputation.LiveCallerIDOptions{Lang: *lang, Limit: *limit, CacheExpiry: *expiry})
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"block.binpb": ex.Block, "identity.binpb": ex.Identity} {
		if err := writeFileAtomic(filepath.Join(*out, name), b); err != nil {
			return err
		}
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"block_rows": ex.BlockRows, "blocked": ex.Blocked, "identity_rows": ex.IdentityRows,
		"block": filepath.Join(*out, "block.binpb"), "identity": filepath.Join(*out, "identity.binpb"),
	})
}

// writeFileAtomic writes b to path through a temporary file, so that a
// reader never sees half a file.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
