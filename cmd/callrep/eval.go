package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/callrep/callrep/reputation"
)

const evalUsage = "usage: callrep eval crowd --answers FILE [--truth FILE] [--format csv|snow]"

// crowdReport is the JSON line callrep eval crowd prints.
type crowdReport struct {
	Items                int     `json:"items"`
	Labels               int     `json:"labels"`
	Accuracy             float64 `json:"accuracy"`
	MajorityVoteAccuracy float64 `json:"majority_vote_accuracy"`
	DawidSkeneAccuracy   float64 `json:"dawid_skene_accuracy"`
}

// eval runs an offline evaluation. The only one is "crowd": the reputation
// engine's trust estimation and evidence decision, in memory, over a public
// crowd-labelling dataset, printed as one JSON line on stdout.
func eval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval crowd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	answers := fs.String("answers", "", "answers file: question,worker,answer (csv) or the tab-separated file with a gold column (snow)")
	truthFile := fs.String("truth", "", "truth file question,truth (default for csv: truth.csv beside --answers; for snow: the gold column)")
	format := fs.String("format", "csv", "answers format: csv or snow")

	// The subcommand comes first; flags may also precede it.
	sub := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub == "" && fs.NArg() > 0 {
		sub = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	switch {
	case sub != "crowd":
		return usageError{evalUsage}
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("eval crowd takes no arguments, got %q", fs.Args())}
	case *answers == "":
		return usageError{evalUsage}
	case *format != "csv" && *format != "snow":
		return usageError{fmt.Sprintf("bad --format %q: want csv or snow", *format)}
	}

	votes, truth, err := readCrowd(*format, *answers, *truthFile)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res := reputation.EvaluateCrowd(votes, truth, reputation.TrustOptions{})
	line, err := json.Marshal(crowdReport{
		Items:                res.Items,
		Labels:               res.Labels,
		Accuracy:             res.Accuracy,
		MajorityVoteAccuracy: res.MajorityVoteAccuracy,
		DawidSkeneAccuracy:   res.DawidSkeneAccuracy,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// readCrowd reads the votes and the truth of a crowd dataset.
func readCrowd(format, answers, truthFile string) ([]reputation.Vote, map[string]string, error) {
	f, err := os.Open(answers)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var votes []reputation.Vote
	var truth map[string]string
	switch format {
	case "snow":
		votes, truth, err = reputation.ReadCrowdSnow(f)
	default:
		votes, err = reputation.ReadCrowdCSV(f)
		if err == nil && truthFile == "" {
			truthFile = filepath.Join(filepath.Dir(answers), "truth.csv")
			if _, statErr := os.Stat(truthFile); statErr != nil {
				return nil, nil, usageError{"--truth is required: no truth.csv beside " + answers}
			}
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", answers, err)
	}
	if truthFile != "" {
		tf, err := os.Open(truthFile)
		if err != nil {
			return nil, nil, err
		}
		defer tf.Close()
		if truth, err = reputation.ReadCrowdTruth(tf); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", truthFile, err)
		}
	}
	return votes, truth, nil
}
