package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// dataset is the synthetic numbers of a run, as ten-digit North American
// numbers (area code, exchange, line; the country code 1 left out). The
// three sets are disjoint.
type dataset struct {
	known   []uint64 // imported, two FTC complaints each
	unknown []uint64 // valid numbers nobody reported
	reports []uint64 // fresh numbers for the report load
	regions map[string]int
}

// nanpValid memoises libphonenumber's verdict per area code and first
// digit of the exchange: the North American patterns are written in those
// terms, and a full check costs 25 µs, too much for millions of numbers.
// The bench checks a sample in full (validShare).
type nanpValid struct {
	memo map[uint64]string // NPA·10+d → region ("" = not valid)
}

func (v *nanpValid) region(n uint64) string {
	k := n / 1_000_000
	if r, ok := v.memo[k]; ok {
		return r
	}
	// A representative number of the block: exchange d55, line 0123.
	probe := k*1_000_000 + 550_123
	r := ""
	if pn, err := phonenumbers.Parse("+1"+strconv.FormatUint(probe, 10), "US"); err == nil && phonenumbers.IsValidNumber(pn) {
		r = phonenumbers.GetRegionCodeForNumber(pn)
	}
	v.memo[k] = r
	return r
}

// newDataset draws the numbers from a seeded generator, so that a run is
// reproducible: random area codes and exchanges that libphonenumber holds
// valid (so mostly US, a few Canadian and Caribbean, like the FTC's files),
// random lines, no number twice.
func newDataset(seed uint64, known, unknown, reports int) *dataset {
	rng := rand.New(rand.NewPCG(seed, 0x63616c6c726570))
	v := &nanpValid{memo: make(map[uint64]string)}
	seen := make(map[uint64]struct{}, known+unknown+reports)
	ds := &dataset{regions: make(map[string]int)}
	draw := func(count int, count2 bool) []uint64 {
		out := make([]uint64, 0, count)
		for len(out) < count {
			npa := 200 + rng.Uint64N(800)
			n := npa*10_000_000 + (2+rng.Uint64N(8))*1_000_000 + rng.Uint64N(1_000_000)
			r := v.region(n)
			if r == "" {
				continue
			}
			if _, dup := seen[n]; dup {
				continue
			}
			seen[n] = struct{}{}
			out = append(out, n)
			if count2 {
				ds.regions[r]++
			}
		}
		return out
	}
	ds.known = draw(known, true)
	ds.unknown = draw(unknown, false)
	ds.reports = draw(reports, false)
	return ds
}

// validShare checks up to sample numbers of each set in full and returns
// the share libphonenumber holds valid.
func (ds *dataset) validShare(sample int) float64 {
	var checked, valid int
	for _, set := range [][]uint64{ds.known, ds.unknown, ds.reports} {
		step := max(1, len(set)/max(sample, 1))
		for i := 0; i < len(set); i += step {
			checked++
			if pn, err := phonenumbers.Parse(e164(set[i]), "US"); err == nil && phonenumbers.IsValidNumber(pn) {
				valid++
			}
		}
	}
	if checked == 0 {
		return 0
	}
	return float64(valid) / float64(checked)
}

// e164 is "+1" and the ten digits.
func e164(n uint64) string { return "+1" + strconv.FormatUint(n, 10) }

// national is the North American national format, "(415) 555-0123".
func national(n uint64) string {
	s := strconv.FormatUint(n, 10)
	return "(" + s[:3] + ") " + s[3:6] + "-" + s[6:]
}

// lookupForm is how the i-th number of a lookup set is written: one in
// five in national format with region US, the rest E.164.
func lookupForm(n uint64, i int) (raw string, isNational bool) {
	if i%5 == 4 {
		return national(n), true
	}
	return e164(n), false
}

// lookupPath is the path of GET /v1/numbers/{number} for the i-th number.
func lookupPath(n uint64, i int) string {
	raw, nat := lookupForm(n, i)
	// PathEscape leaves "+" alone, which a path may hold; phones and the
	// README send it as %2B, so the bench does too.
	p := "/v1/numbers/" + strings.ReplaceAll(url.PathEscape(raw), "+", "%2B")
	if nat {
		p += "?region=US"
	}
	return p
}

// lookupSet interleaves half known and half unknown numbers: count
// numbers in all, the known ones taken from offset on in ds.known
// (wrapping), the unknown ones from uoffset on. known tells which are.
func (ds *dataset) lookupSet(count, offset, uoffset int) (nums []uint64, known []bool) {
	nums = make([]uint64, 0, count)
	known = make([]bool, 0, count)
	for j := 0; len(nums) < count; j++ {
		nums = append(nums, ds.known[(offset+j)%len(ds.known)])
		known = append(known, true)
		if len(nums) < count {
			nums = append(nums, ds.unknown[(uoffset+j)%len(ds.unknown)])
			known = append(known, false)
		}
	}
	// Known and unknown alternate, and so would the forms (i%5) with them;
	// a fixed shuffle spreads both over the set.
	rng := rand.New(rand.NewPCG(uint64(count), uint64(offset)))
	rng.Shuffle(len(nums), func(a, b int) {
		nums[a], nums[b] = nums[b], nums[a]
		known[a], known[b] = known[b], known[a]
	})
	return nums, known
}

// ftcSubjects are the subjects of the FTC's complaint form with their
// counts in the 20,532 rows of 2019-12-16, so that the categories come out
// in the real proportions.
var ftcSubjects = []struct {
	subject string
	weight  int
}{
	{"No Subject Provided", 8690},
	{"Calls pretending to be government, businesses, or family and friends", 2948},
	{"Dropped call or no message", 2566},
	{"Other", 1862},
	{"Reducing your debt (credit cards, mortgage, student loans)", 1255},
	{"Medical & prescriptions", 827},
	{"Computer & technical support", 807},
	{"Warranties & protection plans", 710},
	{"Energy, solar, & utilities", 240},
	{"Vacation & timeshares", 184},
	{"Home improvement & cleaning", 111},
	{"Charities", 92},
	{"Lotteries, prizes & sweepstakes", 89},
	{"Work from home & other ways to make money", 86},
	{"Home security & alarms", 65},
}

var ftcPlaces = []struct{ city, state, area string }{
	{"San Jose", "California", "408"},
	{"San Antonio", "Texas", "210"},
	{"Orinda", "California", "925"},
	{"", "Florida", "305"},
	{"Brooklyn", "New York", "718"},
	{"Chicago", "Illinois", "312"},
	{"Columbus", "Ohio", "614"},
	{"Seattle", "Washington", "206"},
}

// writeFTC writes an FTC Do-Not-Call complaint file with two complaints
// per known number, in the FTC's columns: first one complaint for every
// number, then the second, so that the two of a number are far apart as in
// a file of many days. Each row has its own Created_Date second, so no two
// rows are the same complaint. It returns the rows written.
func (ds *dataset) writeFTC(w io.Writer, seed uint64) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	total := 0
	for _, s := range ftcSubjects {
		total += s.weight
	}
	rng := rand.New(rand.NewPCG(seed, 0x667463))
	base := time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC)
	fmt.Fprintln(bw, "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall")
	row := 0
	for range 2 {
		for _, n := range ds.known {
			digits := strconv.FormatUint(n, 10)
			switch row % 20 { // the FTC's file has a few numbers with the country code
			case 0:
				digits = "+1" + digits
			case 1:
				digits = "1" + digits
			}
			created := base.Add(time.Duration(row) * time.Second)
			violation := created.Add(-time.Duration(1+rng.IntN(72*60)) * time.Minute)
			pick := rng.IntN(total)
			subject := ftcSubjects[0].subject
			for _, s := range ftcSubjects {
				if pick < s.weight {
					subject = s.subject
					break
				}
				pick -= s.weight
			}
			if strings.Contains(subject, ",") {
				subject = `"` + subject + `"`
			}
			place := ftcPlaces[rng.IntN(len(ftcPlaces))]
			robo := "Y"
			if rng.IntN(3) == 0 {
				robo = "N"
			}
			fmt.Fprintf(bw, "%s,%s,%s,%s,%s,%s,%s,%s\n", digits, created.Format(time.DateTime), violation.Format("2006-01-02 15:04:05"),
				place.city, place.state, place.area, subject, robo)
			row++
		}
	}
	return row, bw.Flush()
}

// writeFTCFile writes the complaint file at path.
func (ds *dataset) writeFTCFile(path string, seed uint64) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	rows, err := ds.writeFTC(f, seed)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return rows, err
}
