package labels

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// FTCComplaint is one row of a US FTC Do-Not-Call complaint file, as the
// FTC publishes them daily ("Do Not Call Reported Calls Data").
type FTCComplaint struct {
	// Row is the line of the file the complaint is on; the header is line 1.
	Row int
	// Number is Company_Phone_Number as in the file, trimmed: mostly ten
	// digits, sometimes with "+1", sometimes too short or masked with "_".
	// Telling the possible from the impossible is Normalize's job.
	Number string
	// Created is when the complaint was filed, Violation when the consumer
	// says the call came; zero when the field is empty or unreadable.
	Created, Violation time.Time
	City, State        string
	AreaCode           string // the consumer's, not the caller's
	Subject            string
	// Robocall is Recorded_Message_Or_Robocall: the call played a
	// recorded message.
	Robocall bool
	// Category is the callrep category of Subject (see FTCCategory).
	Category string
	// ID is "ftc-" and the hex of the first 16 bytes of the SHA-256 of the
	// row's raw fields joined by "\x1f", in the FTC's column order. The
	// FTC publishes no complaint id and rows carry no consumer identity,
	// so the whole row is the identity: identical rows are one complaint,
	// and a file imported twice, or with its columns reordered, yields the
	// same ids.
	ID string
}

// FTCReadStats counts what ReadFTC read.
type FTCReadStats struct {
	Rows       int // data rows, malformed ones included; blank lines and headers are not rows
	Complaints int // rows passed to the callback
	// Malformed rows have a field count other than the header's or
	// broken quoting; they are skipped.
	Malformed int
	// FirstMalformed holds the line numbers of the first few malformed
	// rows, for the operator to look at.
	FirstMalformed []int
	// BadDates counts complaints whose Created_Date or Violation_Date is
	// present but unreadable; they are passed on with a zero time.
	BadDates int
}

// The FTC's columns, in the order of its files. The order matters only
// for ID; the reader finds columns by name.
var ftcColumns = []string{
	"Company_Phone_Number", "Created_Date", "Violation_Date", "Consumer_City",
	"Consumer_State", "Consumer_Area_Code", "Subject", "Recorded_Message_Or_Robocall",
}

// Indexes into ftcColumns.
const (
	ftcNumber = iota
	ftcCreated
	ftcViolation
	ftcCity
	ftcState
	ftcAreaCode
	ftcSubject
	ftcRobocall
)

// ftcRequired are the columns without which a file is not an FTC complaint
// file: no number, nothing to label; no subject, no category; no date, no
// --keep-dates.
var ftcRequired = []int{ftcNumber, ftcCreated, ftcSubject}

// maxFTCLine bounds a line; FTC rows are about 120 bytes.
const maxFTCLine = 64 << 10

// maxFirstMalformed bounds FTCReadStats.FirstMalformed.
const maxFirstMalformed = 10

// ftcZone is the FTC's clock. The FTC does not state the zone of its
// timestamps, but it is in Washington and each daily file holds the
// complaints of whole Eastern business days, so the times are taken as
// America/New_York. Without tzdata (the command embeds it) the fallback is
// EST, an hour off in summer.
var ftcZone = func() *time.Location {
	if loc, err := time.LoadLocation("America/New_York"); err == nil {
		return loc
	}
	return time.FixedZone("EST", -5*60*60)
}()

// ftcTimeLayouts are the forms FTC dates have been seen in, the current
// one first.
var ftcTimeLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"1/2/2006 15:04:05",
	"1/2/2006 15:04",
	"1/2/2006 3:04:05 PM",
	"1/2/2006 3:04 PM",
	"1/2/2006",
}

// ReadFTC reads an FTC Do-Not-Call complaint CSV from r and calls fn for
// each complaint, in file order, without holding the file in memory.
// Columns are found by header name (case, spaces and underscores do not
// matter), so added or reordered columns are fine; a UTF-8 byte order
// mark, CRLF line ends and quoted fields are handled, and a header line
// repeated further down (concatenated files) is read as a new header.
//
// A malformed row is counted and skipped, never fatal. Records are single
// lines: no FTC column holds a line break, and letting a stray quote span
// lines would let one bad row swallow the rest of the file. ReadFTC fails
// only on a read error, on a header without the Company_Phone_Number,
// Created_Date or Subject column (an *Error with code EInvalid), or with
// the first error fn returns, unwrapped.
func ReadFTC(r io.Reader, fn func(FTCComplaint) error) (FTCReadStats, error) {
	var st FTCReadStats
	br := bufio.NewReaderSize(r, maxFTCLine)
	var cols []int // FTC column → field index, -1 if absent
	var extra []int
	width := 0 // fields in a row
	for lineNo := 1; ; lineNo++ {
		line, tooLong, err := readFTCLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return st, fmt.Errorf("labels: unable to read FTC file at line %d: %w", lineNo, err)
		}
		// Concatenated files carry their byte order marks along.
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		if len(line) == 0 && !tooLong {
			if err != nil { // EOF
				break
			}
			continue
		}
		fields, ok := splitCSVLine(string(line))
		switch {
		case ok && !tooLong && isFTCHeader(fields):
			var herr error
			if cols, extra, herr = ftcHeader(fields); herr != nil {
				return st, herr
			}
			width = len(fields)
		case cols == nil:
			return st, Errorf(EInvalid, "FTC file: line %d: expected a header naming the columns %s", lineNo, strings.Join(ftcColumns, ","))
		case tooLong || !ok || len(fields) != width:
			st.Rows++
			st.Malformed++
			if len(st.FirstMalformed) < maxFirstMalformed {
				st.FirstMalformed = append(st.FirstMalformed, lineNo)
			}
		default:
			st.Rows++
			c, badDate := ftcComplaint(lineNo, fields, cols, extra)
			if badDate {
				st.BadDates++
			}
			st.Complaints++
			if err := fn(c); err != nil {
				return st, err
			}
		}
		if err != nil { // EOF after a last line without a line end
			break
		}
	}
	if cols == nil {
		return st, Errorf(EInvalid, "FTC file is empty")
	}
	return st, nil
}

// readFTCLine returns the next line without its line end. A line longer
// than the buffer is consumed and reported as tooLong.
func readFTCLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = br.ReadSlice('\n')
	}
	if tooLong {
		return nil, true, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, false, err
}

// splitCSVLine splits one line into RFC 4180 fields. A quote inside an
// unquoted field is kept as a character; an unterminated quoted field or
// text after a closing quote makes the line malformed.
func splitCSVLine(line string) ([]string, bool) {
	fields := make([]string, 0, len(ftcColumns))
	for {
		if !strings.HasPrefix(line, `"`) {
			f, rest, more := strings.Cut(line, ",")
			fields = append(fields, f)
			if !more {
				return fields, true
			}
			line = rest
			continue
		}
		var b strings.Builder
		i := 1
		for {
			j := strings.IndexByte(line[i:], '"')
			if j < 0 {
				return nil, false
			}
			b.WriteString(line[i : i+j])
			i += j + 1
			if i < len(line) && line[i] == '"' { // "" is an escaped quote
				b.WriteByte('"')
				i++
				continue
			}
			break
		}
		fields = append(fields, b.String())
		switch {
		case i == len(line):
			return fields, true
		case line[i] != ',':
			return nil, false
		}
		line = line[i+1:]
	}
}

// headerKey is how header names are compared: "Company Phone Number" and
// "company_phone_number" are the same column.
func headerKey(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var ftcNumberKey = headerKey(ftcColumns[ftcNumber])

// isFTCHeader reports whether fields is a header line: no phone number is
// called "Company_Phone_Number".
func isFTCHeader(fields []string) bool {
	return slices.ContainsFunc(fields, func(f string) bool { return headerKey(f) == ftcNumberKey })
}

// ftcHeader maps the FTC columns to field indexes. Unknown columns are
// listed in extra, ordered by name, so that they enter the ID in an order
// that does not depend on the file's.
func ftcHeader(fields []string) (cols, extra []int, err error) {
	cols = make([]int, len(ftcColumns))
	for i := range cols {
		cols[i] = -1
	}
	known := make(map[string]int, len(ftcColumns))
	for i, c := range ftcColumns {
		known[headerKey(c)] = i
	}
	for i, f := range fields {
		k, ok := known[headerKey(f)]
		switch {
		case !ok:
			extra = append(extra, i)
		case cols[k] < 0:
			cols[k] = i
		}
	}
	for _, k := range ftcRequired {
		if cols[k] < 0 {
			return nil, nil, Errorf(EInvalid, "FTC file: the header has no %s column", ftcColumns[k])
		}
	}
	slices.SortStableFunc(extra, func(a, b int) int { return strings.Compare(headerKey(fields[a]), headerKey(fields[b])) })
	return cols, extra, nil
}

// ftcComplaint builds the complaint of one well-formed row.
func ftcComplaint(lineNo int, fields []string, cols, extra []int) (c FTCComplaint, badDate bool) {
	get := func(k int) string {
		if cols[k] < 0 {
			return ""
		}
		return fields[cols[k]]
	}
	h := sha256.New()
	for k := range ftcColumns {
		if k > 0 {
			h.Write([]byte{0x1f})
		}
		h.Write([]byte(get(k)))
	}
	for _, i := range extra {
		h.Write([]byte{0x1f})
		h.Write([]byte(fields[i]))
	}
	sum := h.Sum(nil)
	c = FTCComplaint{
		Row:      lineNo,
		Number:   strings.TrimSpace(get(ftcNumber)),
		City:     strings.TrimSpace(get(ftcCity)),
		State:    strings.TrimSpace(get(ftcState)),
		AreaCode: strings.TrimSpace(get(ftcAreaCode)),
		Subject:  strings.TrimSpace(get(ftcSubject)),
		ID:       "ftc-" + hex.EncodeToString(sum[:16]),
	}
	var ok1, ok2 bool
	c.Created, ok1 = parseFTCTime(get(ftcCreated))
	c.Violation, ok2 = parseFTCTime(get(ftcViolation))
	switch strings.ToLower(strings.TrimSpace(get(ftcRobocall))) {
	case "y", "yes", "true", "1":
		c.Robocall = true
	}
	c.Category = FTCCategory(c.Subject)
	return c, !ok1 || !ok2
}

// parseFTCTime reads an FTC timestamp in ftcZone; an empty field is the
// zero time and fine, an unreadable one the zero time and not ok.
func parseFTCTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	for _, layout := range ftcTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, ftcZone); err == nil {
			return t, true
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// ftcSubjects maps the subjects the FTC's complaint form offers (seen in
// the files of December 2019, with their counts in the 20 532 rows of
// 2019-12-16) to categories. Keys are compared after subjectKey, so the
// doubled spaces the FTC leaves where it strips "&amp;" do not matter.
//
//	8690 No Subject Provided                                                  unwanted
//	2948 Calls pretending to be government, businesses, or family and friends fraud
//	2566 Dropped call or no message                                           robocall
//	1862 Other                                                                unwanted
//	1255 Reducing your debt (credit cards, mortgage, student loans)           fraud
//	 827 Medical & prescriptions                                              promotion
//	 807 Computer & technical support                                         fraud
//	 710 Warranties & protection plans                                        promotion
//	 240 Energy, solar, & utilities                                           promotion
//	 184 Vacation & timeshares                                                promotion
//	 111 Home improvement & cleaning                                          promotion
//	  92 Charities                                                            promotion
//	  89 Lotteries, prizes & sweepstakes                                      fraud
//	  86 Work from home & other ways to make money                            fraud
//	  65 Home security & alarms                                               promotion
//
// Impostors, debt relief, tech support, prizes and money-making offers are
// the FTC's own list of phone scams, hence fraud; the other topics are
// sales calls to people who did not want them, hence promotion. A call
// that hung up or said nothing is a robocall dialler's signature.
var ftcSubjects = map[string]string{
	subjectKey("Calls pretending to be government, businesses, or family and friends"): "fraud",
	subjectKey("Reducing your debt (credit cards, mortgage, student loans)"):           "fraud",
	subjectKey("Computer & technical support"):                                         "fraud",
	subjectKey("Lotteries, prizes & sweepstakes"):                                      "fraud",
	subjectKey("Work from home & other ways to make money"):                            "fraud",
	subjectKey("Warranties & protection plans"):                                        "promotion",
	subjectKey("Medical & prescriptions"):                                              "promotion",
	subjectKey("Energy, solar, & utilities"):                                           "promotion",
	subjectKey("Vacation & timeshares"):                                                "promotion",
	subjectKey("Home improvement & cleaning"):                                          "promotion",
	subjectKey("Home security & alarms"):                                               "promotion",
	subjectKey("Charities"):                                                            "promotion",
	subjectKey("Dropped call or no message"):                                           "robocall",
	subjectKey("Other"):                                                                "unwanted",
	subjectKey("No Subject Provided"):                                                  "unwanted",
	subjectKey(""):                                                                     "unwanted",
}

// ftcRules classify subjects not in ftcSubjects, which older and newer
// files use (the form has been reworded before). The first rule with a
// matching keyword wins, so the specific comes before the general: a
// collector is not a debt-relief scam, an IRS robocall is fraud. A keyword
// matches at the start of a word of the subjectKey ("warrant" matches
// "warranties"); a trailing space makes it a whole word ("irs "). The
// categories beyond the FTC's topics (survey, real estate, finance, jobs,
// harassment, one-ring) exist in the taxonomy and are more precise than
// unwanted, which is what everything else becomes.
var ftcRules = []struct {
	category string
	keywords []string
}{
	{"debt_collection", []string{"debt collect", "collection agenc", "collector"}},
	{"fraud", []string{ // impersonation
		"imperson", "impost", "pretend", "government", "irs ", "internal revenue", "social security", "ssa ",
		"bank", "police", "sheriff", "arrest", "family and friends", "grandparent", "grandchild",
		"fake", "scam", "fraud", "phish", "identity theft",
	}},
	{"fraud", []string{"debt", "student loan", "credit card", "cardholder", "credit repair", "interest rate reduc"}},
	{"fraud", []string{"tech support", "technical support", "computer", "virus", "malware"}},
	{"fraud", []string{"lotter", "prize", "sweepstake", "free gift", "gift card", "giveaway", "winner", "you won"}},
	{"fraud", []string{
		"work from home", "working from home", "make money", "making money", "money making",
		"business opportunit", "income opportunit", "investment opportunit", "get rich", "crypto",
	}},
	{"promotion", []string{"warrant", "protection plan", "auto ", "vehicle", "car "}},
	{"promotion", []string{"medical", "prescription", "health", "medicare", "pharma", "drug", "hearing aid", "diabet", "back brace"}},
	{"promotion", []string{"energy", "solar", "utilit", "electric"}},
	{"promotion", []string{"timeshare", "vacation", "travel", "cruise", "hotel", "resort"}},
	{"promotion", []string{"home improvement", "cleaning", "roof", "window", "remodel", "home repair"}},
	{"promotion", []string{"home security", "alarm", "security system"}},
	{"promotion", []string{"charit", "donat", "fundrais", "nonprofit", "non profit"}},
	{"promotion", []string{"sales", "telemarket", "marketing", "product"}},
	{"survey", []string{"survey", "poll", "questionnaire", "market research"}},
	{"real_estate", []string{"real estate", "realtor", "property", "sell your home", "sell your house", "buy your home", "buy your house"}},
	{"financial", []string{"loan", "insurance", "credit", "invest", "mortgage", "financ", "refinanc"}},
	{"recruitment", []string{"job", "recruit", "employment", "hiring"}},
	{"one_ring", []string{"one ring", "rang once", "single ring"}},
	{"harassment", []string{"harass", "threat", "abus"}},
	{"robocall", []string{"robocall", "robo call", "recorded", "prerecorded", "pre recorded", "dropped call", "no message", "hang up", "hung up", "dead air", "silent"}},
}

// subjectKey lowercases s, reads "&" and "&amp;" as "and", and reduces
// everything but letters and digits to single spaces, with one space
// before and after: " medical and prescriptions ".
func subjectKey(s string) string {
	s = strings.ToLower(s)
	s = strings.ReplaceAll(s, "&amp;", " and ")
	s = strings.ReplaceAll(s, "&", " and ")
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(' ')
	space := true
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	if !space {
		b.WriteByte(' ')
	}
	return b.String()
}

// FTCCategory returns the callrep category of an FTC complaint subject:
// the documented table for the FTC form's topics, keyword rules for
// subjects the table does not know, and "unwanted" for "Other", "No
// Subject Provided", an empty subject and anything unrecognised.
func FTCCategory(subject string) string {
	k := subjectKey(subject)
	if c, ok := ftcSubjects[k]; ok {
		return c
	}
	return ftcRuleCategory(k)
}

// ftcRuleCategory applies ftcRules to a subjectKey.
func ftcRuleCategory(k string) string {
	for _, r := range ftcRules {
		for _, kw := range r.keywords {
			if strings.Contains(k, " "+kw) {
				return r.category
			}
		}
	}
	return "unwanted"
}
