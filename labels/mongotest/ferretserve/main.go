// Command ferretserve runs FerretDB with the SQLite backend as a process of
// its own, configured as callrep's embedded store is, so that the store
// tests can run against an external MONGODB_URI without a MongoDB server:
//
//	go run ./labels/mongotest/ferretserve --dir /tmp/fdb
//
// It prints the MongoDB URI as the first line on stdout and serves until
// SIGINT or SIGTERM, or until stdin reaches end of file, so that a parent
// that dies takes it along (-exit-on-eof=false turns that off).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferretserve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for the SQLite files (required)")
	socket := fs.String("socket", "", "listen on this Unix socket instead of TCP")
	listen := fs.String("listen", "127.0.0.1:0", "TCP address to listen on when -socket is empty")
	exitOnEOF := fs.Bool("exit-on-eof", true, "stop when stdin reaches end of file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: ferretserve --dir DIR [--socket PATH | --listen ADDR] [--exit-on-eof=false]")
		return 2
	}
	if err := serve(*dir, *socket, *listen, *exitOnEOF, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "ferretserve:", err)
		return 1
	}
	return 0
}

func serve(dir, socket, listen string, exitOnEOF bool, stdin io.Reader, stdout, stderr io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("unable to resolve %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("unable to create %s: %w", abs, err)
	}
	lc := ferretdb.ListenerConfig{TCP: listen}
	if socket != "" {
		lc = ferretdb.ListenerConfig{Unix: socket}
	}
	// FerretDB logs every connection at info level; keep warnings and errors,
	// as labels.OpenMongo does for the embedded store.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "ferretdb")
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  lc,
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return fmt.Errorf("unable to start ferretdb: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			stop()
		}()
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// The listener is bound by ferretdb.New, so the URI is known already.
	if _, err := fmt.Fprintln(stdout, f.MongoDBURI()); err != nil {
		stop()
		<-done
		return fmt.Errorf("unable to print the uri: %w", err)
	}
	<-ctx.Done()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("ferretdb stopped: %w", err)
	}
	return nil
}
