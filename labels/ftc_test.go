package labels_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
)

const ftcSample = "testdata/ftc/ftc_dnc_complaint_numbers_2019-12-16.csv"

func TestFTCCategory(t *testing.T) {
	scenarios := []struct {
		subject, want string
	}{
		// Every subject of the sample, spelled as there (doubled spaces
		// where the FTC stripped "&amp;").
		{"No Subject Provided", "unwanted"},
		{"Calls pretending to be government, businesses, or family and friends", "fraud"},
		{"Dropped call or no message", "robocall"},
		{"Other", "unwanted"},
		{"Reducing your debt (credit cards, mortgage, student loans)", "fraud"},
		{"Medical  & prescriptions", "promotion"},
		{"Computer  & technical support", "fraud"},
		{"Warranties  & protection plans", "promotion"},
		{"Energy, solar,  & utilities", "promotion"},
		{"Vacation  & timeshares", "promotion"},
		{"Home improvement  & cleaning", "promotion"},
		{"Charities", "promotion"},
		{"Lotteries, prizes  & sweepstakes", "fraud"},
		{"Work from home  & other ways to make money", "fraud"},
		{"Home security  & alarms", "promotion"},
		{"", "unwanted"},

		// The same topics spelled otherwise.
		{"MEDICAL &amp; PRESCRIPTIONS", "promotion"},
		{"Medical and prescriptions", "promotion"},
		{" other ", "unwanted"},
		{"no subject provided", "unwanted"},

		// Subjects the sample does not have: the keyword rules.
		{"Imposters: Government", "fraud"},
		{"IRS", "fraud"},
		{"Social Security Administration", "fraud"},
		{"Caller claimed to be from my bank", "fraud"},
		{"Fake charity", "fraud"},
		{"Debt reduction", "fraud"},
		{"Student loan forgiveness", "fraud"},
		{"Credit card interest rates", "fraud"},
		{"Tech support", "fraud"},
		{"Computer virus warning", "fraud"},
		{"You won a prize", "fraud"},
		{"Free gift card", "fraud"},
		{"Business opportunity", "fraud"},
		{"Investment opportunities", "fraud"},
		{"Debt collection", "debt_collection"},
		{"Auto warranty", "promotion"},
		{"Vehicle warranties", "promotion"},
		{"Extended car warranty", "promotion"},
		{"Health insurance", "promotion"},
		{"Medicare supplement plans", "promotion"},
		{"Prescription drugs", "promotion"},
		{"Solar panels", "promotion"},
		{"Utility rates", "promotion"},
		{"Travel & vacation", "promotion"},
		{"Cruise offer", "promotion"},
		{"Home improvement", "promotion"},
		{"Roofing", "promotion"},
		{"Home security systems", "promotion"},
		{"Charity donations", "promotion"},
		{"Political survey", "survey"},
		{"Real estate", "real_estate"},
		{"Loans", "financial"},
		{"Life insurance", "financial"},
		{"Job offers", "recruitment"},
		{"Threatening calls", "harassment"},
		{"One ring calls", "one_ring"},
		{"Robocall", "robocall"},
		{"Recorded message", "robocall"},
		{"Dropped calls", "robocall"},
		{"Political", "unwanted"},
		{"Something else entirely", "unwanted"},
		{"!!!", "unwanted"},
		// Words inside other words do not count.
		{"Cardinals tickets", "unwanted"},
		{"Automatic renewal", "unwanted"},
		{"Firsthand account", "unwanted"},
	}
	for _, sc := range scenarios {
		got := labels.FTCCategory(sc.subject)
		if got != sc.want {
			t.Errorf("FTCCategory(%q): got %q, want %q", sc.subject, got, sc.want)
		}
		if _, ok := labels.LookupCategory(got); !ok {
			t.Errorf("FTCCategory(%q) = %q is not a category", sc.subject, got)
		}
	}
}

// readAll runs ReadFTC over src and collects the complaints.
func readAll(t *testing.T, src io.Reader) ([]labels.FTCComplaint, labels.FTCReadStats) {
	t.Helper()
	var cs []labels.FTCComplaint
	st, err := labels.ReadFTC(src, func(c labels.FTCComplaint) error {
		cs = append(cs, c)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFTC: %v", err)
	}
	return cs, st
}

func TestReadFTCSample(t *testing.T) {
	raw, err := os.ReadFile(ftcSample)
	if err != nil {
		t.Fatal(err)
	}
	cs, st := readAll(t, bytes.NewReader(raw))

	t.Run("Counts", func(t *testing.T) {
		want := labels.FTCReadStats{Rows: 20532, Complaints: 20532}
		if st.Rows != want.Rows || st.Complaints != want.Complaints || st.Malformed != 0 || st.BadDates != 0 {
			t.Fatalf("got %+v, want %+v", st, want)
		}
		if len(cs) != st.Complaints {
			t.Fatalf("callbacks: got %d, want %d", len(cs), st.Complaints)
		}
	})

	t.Run("FirstRow", func(t *testing.T) {
		// 8052103404,2019-12-13 00:00:06,2019-12-12 20:55:00,SAN LUIS OBISPO,California,805,No Subject Provided,Y
		c := cs[0]
		want := labels.FTCComplaint{
			Row: 2, Number: "8052103404", City: "SAN LUIS OBISPO", State: "California", AreaCode: "805",
			Subject: "No Subject Provided", Robocall: true, Category: "unwanted", ID: c.ID,
			Created:   time.Date(2019, 12, 13, 5, 0, 6, 0, time.UTC), // EST is UTC-5
			Violation: time.Date(2019, 12, 13, 1, 55, 0, 0, time.UTC),
		}
		if !c.Created.Equal(want.Created) || !c.Violation.Equal(want.Violation) {
			t.Fatalf("times: got %v, %v, want %v, %v", c.Created, c.Violation, want.Created, want.Violation)
		}
		c.Created, c.Violation = want.Created, want.Violation
		if c != want {
			t.Fatalf("got %+v, want %+v", c, want)
		}
		if len(c.ID) != len("ftc-")+32 || !strings.HasPrefix(c.ID, "ftc-") {
			t.Fatalf("ID %q: want ftc- and 32 hex digits", c.ID)
		}
	})

	t.Run("IdenticalRowsShareID", func(t *testing.T) {
		// Lines are rows in this file; equal lines must give equal ids and
		// different lines different ones.
		var lines []string
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
		}
		idOfLine := map[string]string{}
		lineOfID := map[string]string{}
		shared := 0
		for _, c := range cs {
			line := lines[c.Row-1]
			if id, ok := idOfLine[line]; ok {
				shared++
				if id != c.ID {
					t.Fatalf("line %d repeats an earlier row: got id %s, want %s", c.Row, c.ID, id)
				}
				continue
			}
			if other, ok := lineOfID[c.ID]; ok {
				t.Fatalf("line %d and %q share id %s", c.Row, other, c.ID)
			}
			idOfLine[line], lineOfID[c.ID] = c.ID, line
		}
		if shared != 24 || len(lineOfID) != 20508 {
			t.Fatalf("got %d repeated rows and %d distinct ids, want 24 and 20508", shared, len(lineOfID))
		}
	})

	t.Run("EverySubjectHasACategory", func(t *testing.T) {
		subjects := map[string]bool{}
		for _, c := range cs {
			subjects[c.Subject] = true
			if _, ok := labels.LookupCategory(c.Category); !ok {
				t.Fatalf("line %d: category %q of %q is not in the taxonomy", c.Row, c.Category, c.Subject)
			}
		}
		if len(subjects) != 15 {
			t.Fatalf("got %d distinct subjects, want 15", len(subjects))
		}
	})

	t.Run("ColumnsShuffled", func(t *testing.T) {
		// The same rows with the columns in another order are the same
		// complaints, ids included.
		recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		order := []int{6, 0, 7, 3, 1, 5, 2, 4}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.UseCRLF = true
		for _, r := range recs {
			out := make([]string, len(order))
			for i, j := range order {
				out[i] = r[j]
			}
			w.Write(out)
		}
		w.Flush()
		shuffled, _ := readAll(t, &buf)
		if len(shuffled) != len(cs) {
			t.Fatalf("got %d complaints, want %d", len(shuffled), len(cs))
		}
		for i := range cs {
			if shuffled[i] != cs[i] {
				t.Fatalf("row %d: got %+v, want %+v", i, shuffled[i], cs[i])
			}
		}
	})
}

func TestReadFTC(t *testing.T) {
	const header = "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\r\n"
	const row = "2025550123,2019-12-13 10:00:00,2019-12-12 09:30:00,Springfield,Illinois,217,Other,N\r\n"

	t.Run("BOMQuotesAndCRLF", func(t *testing.T) {
		in := "\xef\xbb\xbf" + header +
			`"+1 (202) 555-0124","2019-07-04 12:00:00",,"Washington, D.C.",District of Columbia,202,"Calls pretending to be government, businesses, or family and friends",Y` + "\r\n" +
			"\r\n" +
			`2025550125,2019-12-13 10:00:00,,"O""Neil",,,Other,` + "\n" +
			`2025550126,2019-12-13 10:00:00,,O"Neil,,,Other,` // no line end at the end
		cs, st := readAll(t, strings.NewReader(in))
		if st.Rows != 3 || st.Complaints != 3 || st.Malformed != 0 {
			t.Fatalf("stats: got %+v, want 3 rows, 3 complaints", st)
		}
		c := cs[0]
		if c.Number != "+1 (202) 555-0124" || c.City != "Washington, D.C." || c.Category != "fraud" || !c.Robocall || c.Row != 2 {
			t.Fatalf("got %+v", c)
		}
		if _, off := c.Created.Zone(); off != -4*3600 {
			t.Fatalf("July created time %v: got offset %d, want EDT (-4h)", c.Created, off)
		}
		if !c.Violation.IsZero() {
			t.Fatalf("empty Violation_Date: got %v, want zero", c.Violation)
		}
		if cs[1].City != `O"Neil` || cs[2].City != `O"Neil` || cs[1].Row != 4 || cs[2].Row != 5 {
			t.Fatalf("quotes in fields: got %+v and %+v", cs[1], cs[2])
		}
		if cs[1].ID == cs[2].ID {
			t.Fatal("different rows share an id")
		}
	})

	t.Run("MalformedRowsAreCountedNotFatal", func(t *testing.T) {
		in := header +
			row +
			"2025550123,2019-12-13 10:00:00,Other,N\r\n" + // too few fields
			row[:len(row)-2] + ",extra\r\n" + // too many
			`2025550123,"2019-12-13 10:00:00,,,,,Other,N` + "\r\n" + // unterminated quote
			`2025550123,"2019-12-13"x,,,,,Other,N` + "\r\n" + // text after a closing quote
			strings.Repeat("9", 100<<10) + "\r\n" + // longer than any row
			row
		cs, st := readAll(t, strings.NewReader(in))
		if st.Rows != 7 || st.Complaints != 2 || st.Malformed != 5 || len(cs) != 2 {
			t.Fatalf("got %+v with %d complaints, want 7 rows, 2 complaints, 5 malformed", st, len(cs))
		}
		if want := []int{3, 4, 5, 6, 7}; !slices.Equal(st.FirstMalformed, want) {
			t.Fatalf("FirstMalformed: got %v, want %v", st.FirstMalformed, want)
		}
		if cs[0].ID != cs[1].ID || cs[1].Row != 8 {
			t.Fatalf("identical rows around the bad ones: got %+v and %+v", cs[0], cs[1])
		}
	})

	t.Run("BadDatesAreCounted", func(t *testing.T) {
		in := header + "2025550123,yesterday,2019-12-12 09:30:00,,,,Other,N\n" + "2025550123,12/13/2019 10:00,,,,,Other,N\n"
		cs, st := readAll(t, strings.NewReader(in))
		if st.BadDates != 1 || len(cs) != 2 || !cs[0].Created.IsZero() || cs[0].Violation.IsZero() {
			t.Fatalf("got %+v, %+v", st, cs)
		}
		if want := time.Date(2019, 12, 13, 15, 0, 0, 0, time.UTC); !cs[1].Created.Equal(want) {
			t.Fatalf("US-style date: got %v, want %v", cs[1].Created, want)
		}
	})

	t.Run("HeaderNamesAreLoose", func(t *testing.T) {
		in := "subject,Company Phone Number,created_date,Unknown\n" + "Charities,2025550123,2019-12-13 10:00:00,x\n"
		cs, _ := readAll(t, strings.NewReader(in))
		if len(cs) != 1 || cs[0].Number != "2025550123" || cs[0].Category != "promotion" || cs[0].Robocall {
			t.Fatalf("got %+v", cs)
		}
	})

	t.Run("RepeatedHeaderRebinds", func(t *testing.T) {
		// Two daily files concatenated, the second with another column order.
		in := header + row + "\xef\xbb\xbfSubject,Company_Phone_Number,Created_Date\n" + "Charities,2025550199,2019-12-14 10:00:00\n"
		cs, st := readAll(t, strings.NewReader(in))
		if st.Rows != 2 || len(cs) != 2 || cs[1].Number != "2025550199" || cs[1].Category != "promotion" {
			t.Fatalf("got %+v, %+v", st, cs)
		}
	})

	t.Run("MissingRequiredColumn", func(t *testing.T) {
		for _, in := range []string{
			"Company_Phone_Number,Created_Date,Violation_Date\n2025550123,2019-12-13 10:00:00,\n",
			"number,date,subject\n2025550123,2019-12-13 10:00:00,Other\n",
			"",
			"\r\n\r\n",
		} {
			_, err := labels.ReadFTC(strings.NewReader(in), func(labels.FTCComplaint) error {
				t.Fatal("callback called without a header")
				return nil
			})
			if labels.ErrorCode(err) != labels.EInvalid {
				t.Errorf("%q: got %v, want an %s error", in, err, labels.EInvalid)
			}
		}
	})

	t.Run("CallbackErrorStops", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		st, err := labels.ReadFTC(strings.NewReader(header+row+row), func(labels.FTCComplaint) error {
			calls++
			return stop
		})
		if err != stop || calls != 1 || st.Complaints != 1 {
			t.Fatalf("got %v after %d calls, %+v; want the callback's error after 1", err, calls, st)
		}
	})

	t.Run("ReadErrorIsReturned", func(t *testing.T) {
		broken := errors.New("disk on fire")
		r := io.MultiReader(strings.NewReader(header+row), errReader{broken})
		_, err := labels.ReadFTC(r, func(labels.FTCComplaint) error { return nil })
		if !errors.Is(err, broken) {
			t.Fatalf("got %v, want it to wrap %v", err, broken)
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
