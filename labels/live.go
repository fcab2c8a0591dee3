package labels

import (
	"slices"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// liveRec is one live label as memory keeps it: 32 bytes, no strings or
// pointers. Comments, call details, report ids and full network prefixes
// stay in the history; scoring needs only these.
type liveRec struct {
	reporter uint64 // ReporterKey
	at       int64  // CreatedAt, Unix ms
	firstAgo uint32 // seconds from FirstAt to CreatedAt
	prefix   uint32 // PrefixKey
	rid      uint16 // reportHash of the report id
	cat      uint8  // index in taxonomy
	src      uint8  // sourceIndex
	sig      CallSignal
	// The number's parse, the same in each of its labels: numberCode and
	// regionIndex.
	num    uint8
	region uint8
}

// slot holds the live labels of one number, sorted by reporter.
type slot struct {
	recs []liveRec
}

// num and region are the number's parse.
func (s *slot) num() uint8    { return s.recs[0].num }
func (s *slot) region() uint8 { return s.recs[0].region }

const validBit = 0x80

// liveTable is the live labels of every number, by interned key.
type liveTable struct {
	keys  *Keys
	slots []slot
	count int
}

func newLiveTable(keys *Keys) *liveTable { return &liveTable{keys: keys} }

// slotOf returns the slot of key, nil if it has none.
func (t *liveTable) slotOf(key string) *slot {
	id, ok := t.keys.Lookup(key)
	if !ok || int(id) >= len(t.slots) {
		return nil
	}
	return &t.slots[id]
}

// find returns the index of reporter's label in s, or where it would go.
func (s *slot) find(reporter uint64) (int, bool) {
	return slices.BinarySearchFunc(s.recs, reporter, func(r liveRec, k uint64) int {
		switch {
		case r.reporter < k:
			return -1
		case r.reporter > k:
			return 1
		}
		return 0
	})
}

// get returns reporter's label on key.
func (t *liveTable) get(key string, reporter uint64) (*slot, *liveRec) {
	s := t.slotOf(key)
	if s == nil {
		return nil, nil
	}
	if i, ok := s.find(reporter); ok {
		return s, &s.recs[i]
	}
	return s, nil
}

// set stores rec as reporter's label on n, replacing any.
func (t *liveTable) set(n Number, rec liveRec) {
	id := t.keys.Intern(n.Key)
	if int(id) >= len(t.slots) {
		t.slots = append(t.slots, make([]slot, int(id)+1-len(t.slots))...)
	}
	s := &t.slots[id]
	rec.num, rec.region = numberCode(n.Type, n.Valid), regionIndex(n.Region)
	for i := range s.recs {
		s.recs[i].num, s.recs[i].region = rec.num, rec.region
	}
	i, ok := s.find(rec.reporter)
	if ok {
		s.recs[i] = rec
		return
	}
	s.recs = slices.Insert(s.recs, i, rec)
	t.count++
}

// remove drops reporter's label on key.
func (t *liveTable) remove(key string, reporter uint64) {
	s := t.slotOf(key)
	if s == nil {
		return
	}
	if i, ok := s.find(reporter); ok {
		s.recs = slices.Delete(s.recs, i, i+1)
		if len(s.recs) == 0 {
			s.recs = nil
		}
		t.count--
	}
}

// recLabel materialises a record of key.
func recLabel(key string, r *liveRec) *Label {
	num, region := r.num, r.region
	at := time.UnixMilli(r.at).UTC()
	return &Label{
		ReporterKey: r.reporter, PrefixKey: r.prefix, CallSignals: r.sig,
		Key: key, Valid: num&validBit != 0, NumberType: numberTypes[num&^validBit], Region: regionName(region),
		Category: taxonomy[r.cat].id, Source: sourceName(r.src),
		CreatedAt: at, FirstAt: at.Add(-time.Duration(r.firstAgo) * time.Second),
	}
}

// toRec converts an applied label event.
func toRec(r *Report, first time.Time) liveRec {
	at := r.CreatedAt.UnixMilli()
	ago := max(0, r.CreatedAt.Sub(first)/time.Second)
	return liveRec{
		reporter: ReporterKey(r.Reporter), at: at, rid: reportHash(r.ID), firstAgo: uint32(min(ago, 1<<32-1)),
		prefix: PrefixKey(r.IPPrefix), cat: categoryIndex[r.Category], src: sourceIndex(r.Source), sig: r.Call.Signals(),
	}
}

// categoryIndex maps a taxonomy id to its position.
var categoryIndex = func() map[string]uint8 {
	m := make(map[string]uint8, len(taxonomy))
	for i, t := range taxonomy {
		m[t.id] = uint8(i)
	}
	return m
}()

// numberTypes lists the number types by code.
var numberTypes = []NumberType{TypeUnknown, TypeMobile, TypeFixedLine, TypeFixedLineOrMobile, TypeTollFree,
	TypePremiumRate, TypeSharedCost, TypeVoIP, TypePersonalNumber, TypePager, TypeUAN, TypeVoicemail, TypeService}

func numberCode(t NumberType, valid bool) uint8 {
	c := uint8(slices.Index(numberTypes, t))
	if c == 0xff {
		c = 0
	}
	if valid {
		c |= validBit
	}
	return c
}

// regions lists libphonenumber's regions, index 0 meaning none.
var regions, regionIndexes = func() ([]string, map[string]uint8) {
	var rs []string
	for r := range phonenumbers.GetSupportedRegions() {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	rs = append([]string{""}, rs...)
	if len(rs) > 255 {
		panic("labels: more regions than a byte holds")
	}
	idx := make(map[string]uint8, len(rs))
	for i, r := range rs {
		idx[r] = uint8(i)
	}
	return rs, idx
}()

func regionIndex(r string) uint8   { return regionIndexes[r] }
func regionName(i uint8) string    { return regions[i] }
func sourceName(i uint8) Source    { sourcesMu.RLock(); defer sourcesMu.RUnlock(); return sources[i] }
func sourceIndex(src Source) uint8 { return internSource(src) }

// sources interns report sources; there are a handful (app, moderator,
// one per import feed), far below the byte's 256.
var (
	sourcesMu sync.RWMutex
	sources   = []Source{SourceApp, SourceModerator}
)

func internSource(src Source) uint8 {
	sourcesMu.RLock()
	i := slices.Index(sources, src)
	sourcesMu.RUnlock()
	if i >= 0 {
		return uint8(i)
	}
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if i = slices.Index(sources, src); i >= 0 {
		return uint8(i)
	}
	if len(sources) == 256 {
		panic("labels: more than 256 report sources")
	}
	sources = append(sources, src)
	return uint8(len(sources) - 1)
}
