package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

var ftcSample = filepath.Join("..", "..", "labels", "testdata", "ftc", "ftc_dnc_complaint_numbers_2019-12-16.csv")

func TestImportUsage(t *testing.T) {
	scenarios := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"NoSource", []string{"import"}, 2, "usage: callrep import ftc"},
		{"UnknownSource", []string{"import", "nanp", "x.csv"}, 2, `unknown import source "nanp"`},
		{"NoFile", []string{"import", "ftc", "--keep-dates"}, 2, "usage: callrep import ftc"},
		{"FlagAfterFile", []string{"import", "ftc", ftcSample, "--keep-dates"}, 2, "flags go before them"},
		{"MissingFile", []string{"import", "ftc", "--data", t.TempDir(), "no-such.csv"}, 1, "no-such.csv"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), sc.args, &out, &errb)
			if code != sc.code || !strings.Contains(errb.String(), sc.want) {
				t.Fatalf("got exit %d, stderr %q; want exit %d mentioning %q", code, errb.String(), sc.code, sc.want)
			}
		})
	}
}

// fakeImporter records the batches it is given and fails the first
// failures calls.
type fakeImporter struct {
	batches  [][]labels.Imported
	failures int
}

func (f *fakeImporter) Import(_ context.Context, batch []labels.Imported) (labels.ImportStats, error) {
	if f.failures > 0 {
		f.failures--
		return labels.ImportStats{}, errors.New("storage is down")
	}
	f.batches = append(f.batches, slices.Clone(batch))
	return labels.ImportStats{Stored: len(batch)}, nil
}

func TestFTCImportRecords(t *testing.T) {
	const in = "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\n"
	file := filepath.Join(t.TempDir(), "ftc.csv")
	var b strings.Builder
	b.WriteString(in)
	for i := range 2500 {
		robo := "N"
		if i%2 == 0 {
			robo = "Y"
		}
		b.WriteString("20255" + strconv.Itoa(10000+i) + ",2019-12-13 10:00:00,,,,,Computer  & technical support," + robo + "\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, keep := range []bool{false, true} {
		fake := &fakeImporter{failures: 1}
		imp := &ftcImport{svc: fake, keepDates: keep, progress: newProgress(io.Discard), start: time.Now()}
		if err := imp.file(context.Background(), file); err != nil {
			t.Fatal(err)
		}
		if len(fake.batches) != 3 || len(fake.batches[0]) != importBatch || len(fake.batches[2]) != 500 || imp.stats.Stored != 2500 {
			t.Fatalf("got %d batches, %d stored; want 1000+1000+500 after one retry", len(fake.batches), imp.stats.Stored)
		}
		r0, r1 := fake.batches[0][0], fake.batches[0][1]
		if r0.Reporter.ID != "ftc:"+strings.TrimPrefix(r0.ID, "ftc-") || r0.Reporter.Source != "import:ftc" ||
			r0.Input.Region != "US" || r0.Input.Number != "2025510000" || r0.Input.Category != "fraud" {
			t.Fatalf("record: got %+v", r0)
		}
		if r0.Input.Call == nil || !r0.Input.Call.Robocall || r1.Input.Call != nil {
			t.Fatalf("robocall flag: got %+v and %+v", r0.Input.Call, r1.Input.Call)
		}
		wantAt := time.Time{}
		if keep {
			wantAt = time.Date(2019, 12, 13, 15, 0, 0, 0, time.UTC)
		}
		if !r0.At.Equal(wantAt) {
			t.Fatalf("keepDates=%v: At got %v, want %v", keep, r0.At, wantAt)
		}
		if !strings.Contains(imp.summary("ftc"), "rows=2500 malformed=0 bad_dates=0 stored=2500 duplicates=0 skipped=0 ") {
			t.Fatalf("summary: %s", imp.summary("ftc"))
		}
	}
}

// summaryOf parses the key=value summary line of callrep import.
func summaryOf(t *testing.T, out string) map[string]int {
	t.Helper()
	line := strings.TrimSpace(out)
	if !strings.HasPrefix(line, "import ftc: ") || strings.Contains(line, "\n") {
		t.Fatalf("import output %q is not one summary line", out)
	}
	m := map[string]int{}
	for _, f := range strings.Fields(strings.NewReplacer("(", "", ")", "").Replace(line)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = int(n)
		}
	}
	return m
}

// TestImportFTC imports the FTC sample, imports it again, and serves it.
func TestImportFTC(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 20 000 complaints into the embedded store twice")
	}
	// What the import should do, worked out from the file: complaints with
	// a possible number are stored once per distinct row, the others skipped.
	f, err := os.Open(ftcSample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]map[string]bool{} // number key → complaint ids
	category := map[string]string{}     // number key → category of a complaint
	valid, invalid := 0, 0
	rs, err := labels.ReadFTC(f, func(c labels.FTCComplaint) error {
		n, err := labels.NormalizeKey(c.Number, "US", "US")
		if err != nil {
			invalid++
			return nil
		}
		valid++
		if ids[n.Key] == nil {
			ids[n.Key] = map[string]bool{}
		}
		ids[n.Key][c.ID] = true
		category[n.Key] = c.Category
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	distinct := 0
	top := ""
	for key, s := range ids {
		distinct += len(s)
		if top == "" || len(s) > len(ids[top]) || len(s) == len(ids[top]) && key < top {
			top = key
		}
	}

	data := t.TempDir()
	out, _ := runCmd(t, "import", "ftc", "--data", data, ftcSample)
	got := summaryOf(t, out)
	t.Logf("first import: %s", strings.TrimSpace(out))
	want := map[string]int{"rows": rs.Rows, "malformed": 0, "stored": distinct, "duplicates": valid - distinct, "skipped": invalid}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("first import %s: got %d, want %d", k, got[k], v)
		}
	}
	if got["invalid_number"] == 0 {
		t.Errorf("first import: no invalid_number skips in %q", out)
	}

	out, _ = runCmd(t, "import", "ftc", "--data", data, ftcSample)
	got = summaryOf(t, out)
	t.Logf("second import: %s", strings.TrimSpace(out))
	want = map[string]int{"rows": rs.Rows, "stored": 0, "duplicates": valid, "skipped": invalid}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("second import %s: got %d, want %d", k, got[k], v)
		}
	}

	// The import published the filters: the first start serves them
	// without building them.
	m, err := labels.OpenMongo(context.Background(), labels.MongoConfig{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := reputation.OpenBlobStore(context.Background(), m.DB)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range reputation.PublicLists {
		if _, err := blobs.Get(context.Background(), "filter:"+name); err != nil {
			t.Errorf("filter %s after the import: %v", name, err)
		}
	}
	m.Close(context.Background())

	srv := startServer(t, "--data", data, "--rate", "1000000", "--burst", "1000000")
	code, rep := call(t, "GET", srv.base+"/v1/numbers/"+url.PathEscape(top), "", "")
	if code != 200 || rep["reporters"] != float64(len(ids[top])) {
		t.Fatalf("most complained number %s: got %d %v, want %d reporters", top, code, rep, len(ids[top]))
	}
	t.Logf("most complained number %s: %d complaints, verdict %v", top, len(ids[top]), rep["verdict"])

	// One complaint is never enough for a fraud verdict; the numbers whose
	// one complaint says fraud are the ones to check.
	checked := 0
	for key, s := range ids {
		if len(s) != 1 || category[key] != "fraud" {
			continue
		}
		code, rep := call(t, "GET", srv.base+"/v1/numbers/"+url.PathEscape(key), "", "")
		if code != 200 || rep["reporters"] != float64(1) || rep["verdict"] == "fraud" {
			t.Fatalf("%s with a single fraud complaint: got %d %v", key, code, rep)
		}
		checked++
	}
	if checked < 1000 {
		t.Fatalf("checked %d single-complaint fraud numbers, expected thousands", checked)
	}
	t.Logf("%d numbers with a single fraud complaint: none is fraud", checked)
}

// TestImportFTCKeepDates checks that --keep-dates dates the evidence by
// Created_Date, and that without it the evidence is dated at import.
func TestImportFTCKeepDates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded store twice")
	}
	file := filepath.Join(t.TempDir(), "ftc.csv")
	in := "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\r\n" +
		"2025550123,2019-07-04 09:00:00,,,,,Other,N\r\n" +
		"2025550123,2019-12-13 10:00:00,,,,,Charities,Y\r\n"
	if err := os.WriteFile(file, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{true, false} {
		data := t.TempDir()
		args := []string{"import", "ftc", "--data", data, file}
		if keep {
			args = []string{"import", "ftc", "--keep-dates", "--data", data, file}
		}
		start := time.Now()
		runCmd(t, args...)
		srv := startServer(t, "--data", data)
		code, rep := call(t, "GET", srv.base+"/v1/numbers/%2B12025550123", "", "")
		first, _ := time.Parse(time.RFC3339, asString(rep["first_reported_at"]))
		last, _ := time.Parse(time.RFC3339, asString(rep["last_reported_at"]))
		if code != 200 || rep["reporters"] != float64(2) {
			t.Fatalf("keep-dates=%v: got %d %v", keep, code, rep)
		}
		if keep {
			// 09:00 EDT and 10:00 EST.
			if !first.Equal(time.Date(2019, 7, 4, 13, 0, 0, 0, time.UTC)) || !last.Equal(time.Date(2019, 12, 13, 15, 0, 0, 0, time.UTC)) {
				t.Fatalf("--keep-dates: got first %v, last %v; want the Created_Dates", first, last)
			}
		} else if first.Before(start.Add(-time.Second)) || last.Before(first) {
			t.Fatalf("without --keep-dates: got first %v, last %v; want the import time (after %v)", first, last, start)
		}
		t.Logf("keep-dates=%v: first %v, last %v", keep, first, last)
		srv.stop()
	}
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// TestImportCloseTimeout: when the labels snapshot and the reputation log
// cannot be written within --close-timeout, the import says so and exits
// non-zero, though the reports are stored.
func TestImportCloseTimeout(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ftc.csv")
	in := "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\n" +
		"2025550123,2019-07-04 09:00:00,,,,,Other,N\n"
	if err := os.WriteFile(file, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"import", "ftc", "--data", t.TempDir(), "--close-timeout", "1ns", file}, &out, &errb)
	const want = "not written within --close-timeout 1ns; the imported reports are stored"
	if code != 1 || !strings.Contains(errb.String(), want) {
		t.Fatalf("got exit %d, stderr %q; want exit 1 saying %q", code, errb.String(), want)
	}
	if got := summaryOf(t, out.String()); got["stored"] != 1 {
		t.Fatalf("summary: got %v, want stored=1", got)
	}
}
