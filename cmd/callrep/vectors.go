package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/callrep/callrep/contract"
)

// vectors writes the phone contract's test vectors, generated from the
// code, into --dir; contract's tests check that the committed ones match.
func vectors(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vectors", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", filepath.Join("contract", "vectors"), "directory the vector files are written to")
	if err := parse(fs, args); err != nil {
		return err
	}
	files, err := contract.Vectors()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := writeFileAtomic(filepath.Join(*dir, name), files[name]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%d bytes)\n", filepath.Join(*dir, name), len(files[name]))
	}
	return nil
}
