package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestEvalCrowd(t *testing.T) {
	const data = "../../reputation/testdata/crowd/"
	for _, tc := range []struct {
		name          string
		args          []string
		items, labels int
	}{
		{"CSV", []string{"eval", "crowd", "--answers", data + "dog/answer.csv", "--truth", data + "dog/truth.csv"}, 807, 8070},
		{"CSVTruthBeside", []string{"eval", "crowd", "--answers", data + "dog/answer.csv"}, 807, 8070},
		{"Snow", []string{"eval", "crowd", "--answers", data + "rte/rte.standardized.tsv", "--format", "snow"}, 800, 8000},
		{"FlagsFirst", []string{"eval", "--format=snow", "crowd", "--answers", data + "rte/rte.standardized.tsv"}, 800, 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit code %d, stderr %q", code, stderr.String())
			}
			out := stdout.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("got %q, want one JSON line", out)
			}
			var got map[string]float64
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			for _, key := range []string{"items", "labels", "accuracy", "majority_vote_accuracy", "dawid_skene_accuracy"} {
				if _, ok := got[key]; !ok {
					t.Errorf("got %q, want key %q", out, key)
				}
			}
			if got["items"] != float64(tc.items) || got["labels"] != float64(tc.labels) {
				t.Errorf("got %v items and %v labels, want %d and %d", got["items"], got["labels"], tc.items, tc.labels)
			}
			if a, mv := got["accuracy"], got["majority_vote_accuracy"]; !(a > mv && a <= 1) {
				t.Errorf("accuracy %v, want above majority vote %v", a, mv)
			}
		})
	}
}

func TestEvalUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"NoSubcommand", []string{"eval"}, 2},
		{"UnknownSubcommand", []string{"eval", "votes", "--answers", "x"}, 2},
		{"NoAnswers", []string{"eval", "crowd"}, 2},
		{"BadFormat", []string{"eval", "crowd", "--answers", "x", "--format", "xml"}, 2},
		{"BadFlag", []string{"eval", "crowd", "--nope"}, 2},
		{"ExtraArgument", []string{"eval", "crowd", "--answers", "x", "y"}, 2},
		{"MissingFile", []string{"eval", "crowd", "--answers", "does-not-exist.csv", "--truth", "t.csv"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
