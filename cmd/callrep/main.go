// Command callrep runs the callrep service and its maintenance tasks.
//
//	callrep [serve] [flags]        run the HTTP service (the default)
//	callrep token --uid U [flags]  print a token from the local issuer
//	callrep migrate --to URI       copy the store into a MongoDB deployment
//	callrep rebuild                recompute the stored reputations from the labels
//	callrep rescore                re-estimate reporter trust and re-score
//	callrep import ftc FILE.csv    load FTC Do-Not-Call complaint files
//	callrep eval crowd --answers F measure the aggregation on crowd data
//	callrep export live-caller-id  write iOS Live Caller ID datasets
//	callrep vectors [--dir D]      write the phone contract's test vectors
//	callrep version                print the version
//
// Configuration comes from flags, with environment variables as fallbacks;
// nothing else in callrep reads the environment.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code. ctx ends
// on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stderr)
	case "token":
		err = token(args, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args, stderr)
	case "rebuild":
		err = rebuild(ctx, args, stderr)
	case "rescore":
		err = rescore(ctx, args, stdout, stderr)
	case "import":
		err = importCmd(ctx, args, stdout, stderr)
	case "eval":
		err = eval(ctx, args, stdout, stderr)
	case "export":
		err = exportCmd(ctx, args, stdout, stderr)
	case "vectors":
		err = vectors(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "callrep", version)
	case "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "callrep: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case err == flag.ErrHelp:
		return 0
	case isUsage(err):
		fmt.Fprintln(stderr, "callrep:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "callrep:", err)
		return 1
	}
}

const usage = `usage: callrep <command> [flags]

commands:
  serve    run the HTTP service (default)
  token    print a token signed by the local issuer of --data
  migrate  copy the store into the MongoDB deployment at --to
  rebuild  recompute the stored reputations from the live labels
  rescore  re-estimate reporter trust and re-score every number
  import   load public complaint files: import ftc [flags] FILE.csv
  eval     score the engine on crowd data: eval crowd --answers FILE
  export   write platform exports: export live-caller-id [--out DIR]
  vectors  write the phone contract's test vectors into contract/vectors
  version  print the version

Run "callrep <command> -h" for the flags of a command.
`

// usageError marks errors in the command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func isUsage(err error) bool {
	_, ok := err.(usageError)
	return ok
}
