package labels

import (
	"time"
)

// Source is the provenance of a report: "app" for app users, "moderator"
// for moderator decisions, "import:<name>" for bulk imports.
type Source string

// The built-in sources. Imports use ImportSource(name).
const (
	SourceApp       Source = "app"
	SourceModerator Source = "moderator"
)

// ImportSource returns the source of reports imported from name ("ftc").
func ImportSource(name string) Source { return Source("import:" + name) }

// Kind tells a history event that sets a label from one that retracts it.
type Kind string

// The history event kinds.
const (
	KindLabel   Kind = "label"
	KindRetract Kind = "retract"
)

// Attestation is the STIR/SHAKEN verdict the phone saw for a call.
type Attestation string

// The attestation levels; "" means the phone did not say.
const (
	AttestationA      Attestation = "A"
	AttestationB      Attestation = "B"
	AttestationC      Attestation = "C"
	AttestationFailed Attestation = "failed"
	AttestationNone   Attestation = "none"
)

// Call is what the reporter's phone knows about the call being reported.
// Pointer fields are optional.
type Call struct {
	Direction   string // "incoming", "outgoing" or "missed"; "" if not given
	StartedAt   *time.Time
	DurationS   *int // seconds of conversation; 0 for unanswered calls
	RingS       *int // seconds the phone rang
	Answered    *bool
	RecentCalls *int // calls from this number in the last 24 hours
	Attestation Attestation
	// Robocall is set when the call played a recorded message; imports
	// (the FTC's Recorded_Message_Or_Robocall flag) set it.
	Robocall bool
}

// CallSignal is a bit set of what a report's call context says about the
// caller; it is all of Call that the live state keeps.
type CallSignal uint8

// The call signals.
const (
	CallOneRing    CallSignal = 1 << iota // unanswered, rang under 5 s
	CallShort                             // answered, under 10 s of conversation
	CallBombing                           // 10 or more calls in 24 hours
	CallStirFailed                        // STIR/SHAKEN verification failed
	CallRobocall                          // a recorded message played
	CallPresent                           // the report described a call
)

// Signals summarises c; 0 for nil.
func (c *Call) Signals() CallSignal {
	if c == nil {
		return 0
	}
	b := CallPresent
	unanswered := c.Answered != nil && !*c.Answered || c.Direction == "missed"
	if c.RingS != nil && *c.RingS < 5 && unanswered {
		b |= CallOneRing
	}
	if c.Answered != nil && *c.Answered && c.DurationS != nil && *c.DurationS < 10 {
		b |= CallShort
	}
	if c.RecentCalls != nil && *c.RecentCalls >= 10 {
		b |= CallBombing
	}
	if c.Attestation == AttestationFailed {
		b |= CallStirFailed
	}
	if c.Robocall {
		b |= CallRobocall
	}
	return b
}

// Reporter identifies who reports and through which channel.
type Reporter struct {
	// ID is the stable reporter identity: the auth uid for app users, a
	// derived id for imported records.
	ID     string
	Source Source
	// IPPrefix is the client's network (/24 for IPv4, /48 for IPv6), kept
	// for brigading analysis instead of the full address.
	IPPrefix string
}

// ReportInput is a report as a client sends it, before normalisation.
type ReportInput struct {
	Number         string
	Region         string
	Category       string
	Comment        string
	Call           *Call
	ClientReportID string
	// ReportedAt is when the user made the report, for reports the phone
	// kept while offline; zero means now. It must lie within
	// Options.MaxReportAge before now and not after now (give or take
	// Options.ClockSkew); it dates the evidence, so decay and burst
	// detection see the report as the user made it.
	ReportedAt time.Time
}

// Report is one event of the append-only history: a label set or retracted.
type Report struct {
	ID             string
	Kind           Kind
	Reporter       string
	Source         Source
	IPPrefix       string
	Number         Number
	Category       string // "" for retractions
	Comment        string
	Call           *Call
	ClientReportID string
	// CreatedAt dates the evidence; StoredAt is when callrep stored the
	// event. They differ only for imports that keep their source's dates.
	CreatedAt time.Time
	StoredAt  time.Time
	// ReplacedCategory is the reporter's previous label on the number that
	// this report replaced or retracted; "" when there was none. It is part
	// of the answer, not of the stored event.
	ReplacedCategory string
	// Duplicate is set on answers to a repeated client_report_id: the
	// stored report is returned and nothing new is stored.
	Duplicate bool
	// writerGen is the writer generation that stored it (see writer.go).
	writerGen int64
}

// Label is a reporter's live label on a number: the latest report of that
// reporter for that number, unless retracted since.
//
// The live state keeps only what scoring needs (see liveRec): labels read
// back from memory or a snapshot have ReporterKey but no Reporter, PrefixKey
// but no IPPrefix, CallSignals but no Call, and no Comment or ReportID;
// the history has them all. Labels of reports being applied have both.
type Label struct {
	Reporter string
	// ReporterKey is ReporterKey(Reporter); PrefixKey is PrefixKey(IPPrefix).
	ReporterKey uint64
	PrefixKey   uint32
	// CallSignals summarises Call.
	CallSignals CallSignal
	Key         string
	Valid       bool
	NumberType  NumberType
	Region      string
	Category    string
	Comment     string
	Source      Source
	IPPrefix    string
	Call        *Call
	ReportID    string
	// CreatedAt is when the report behind the label was made, FirstAt when
	// the reporter first labelled the number.
	CreatedAt time.Time
	FirstAt   time.Time
}

// newer reports whether an event at (at, rid) supersedes one at (at2,
// rid2); times are Unix milliseconds and rids reportHash values, which
// break the tie of two events in one millisecond the same way on every
// replay.
func newer(at int64, rid uint16, at2 int64, rid2 uint16) bool {
	if at != at2 {
		return at > at2
	}
	return rid > rid2
}

// reportHash is the 16-bit form of a report id that the live state keeps:
// it only orders two events of one reporter on one number in one
// millisecond.
func reportHash(id string) uint16 { return uint16(hash64(id)) }

// Observer is told about every change to the live labels, in order. old is
// nil for a new label, cur is nil for a retraction. Observers are called
// with the service's write lock held and must not call back into it.
type Observer interface {
	LabelChanged(old, cur *Label)
}

// Imported is one record of a bulk import.
type Imported struct {
	// ID is deterministic (derived from the source record), so that a
	// re-import of the same record stores nothing new.
	ID       string
	Reporter Reporter
	Input    ReportInput
	// At dates the evidence; zero means now.
	At time.Time
}

// ImportStats counts what Import did with a batch.
type ImportStats struct {
	Stored, Duplicates, Skipped int
	// SkipReasons counts skipped records by error code.
	SkipReasons map[string]int
}

// Add sums o into st.
func (st *ImportStats) Add(o ImportStats) {
	st.Stored += o.Stored
	st.Duplicates += o.Duplicates
	st.Skipped += o.Skipped
	if st.SkipReasons == nil {
		st.SkipReasons = map[string]int{}
	}
	for k, v := range o.SkipReasons {
		st.SkipReasons[k] += v
	}
}

// LoadObserver is an Observer that wants to tell labels loaded from a
// snapshot at start (already known to storage) from changes: it gets
// LabelLoaded for those instead of LabelChanged(nil, l). Reports replayed
// after the snapshot still arrive as changes.
type LoadObserver interface {
	Observer
	LabelLoaded(l *Label)
}

// EraseResult counts what DELETE /v1/me removed.
type EraseResult struct {
	ErasedLabels         int
	PseudonymisedReports int
}
