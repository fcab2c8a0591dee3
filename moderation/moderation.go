// Package moderation owns callrep's moderation: cases (disputes filed by
// people about a number's reputation, and cases that open by themselves),
// the decisions moderators make on them, what those decisions do to a
// number's reputation, and the append-only audit log of every action.
//
// It speaks domain types only. Its storage is in store.go (the only file
// that imports mongo-driver); it reaches the labels service, the reputation
// engine and push through the small interfaces declared here, which
// cmd/callrep wires.
package moderation

import (
	"context"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Status is where a case is in its life: open → claimed → resolved; a
// claim can be released back to open.
type Status string

// The statuses.
const (
	StatusOpen     Status = "open"
	StatusClaimed  Status = "claimed"
	StatusResolved Status = "resolved"
)

// Outcome is what a decision decided.
type Outcome string

// The outcomes.
const (
	// OutcomeUpheld: the labels stand, and the decision confirms them.
	OutcomeUpheld Outcome = "upheld"
	// OutcomeOverturned: the labels are cleared; the number is what the
	// decision's category says (safe unless given).
	OutcomeOverturned Outcome = "overturned"
	// OutcomeRelabelled: the labels are cleared and the decision's
	// category replaces them.
	OutcomeRelabelled Outcome = "relabelled"
	// OutcomeVerifiedBusiness: the labels are cleared and the number is
	// pinned verified with the business's name.
	OutcomeVerifiedBusiness Outcome = "verified_business"
)

// valid reports whether o is one of the outcomes.
func (o Outcome) valid() bool {
	switch o {
	case OutcomeUpheld, OutcomeOverturned, OutcomeRelabelled, OutcomeVerifiedBusiness:
		return true
	}
	return false
}

// clears reports whether a decision with outcome o clears the labels made
// before it.
func (o Outcome) clears() bool { return o != OutcomeUpheld }

// Kind is why a case exists.
type Kind string

// The kinds.
const (
	// KindDispute is a case a person filed.
	KindDispute Kind = "dispute"
	// KindBrigading opens when the burst detector flags a number.
	KindBrigading Kind = "brigading"
	// KindContested opens when a number has strong evidence on both sides.
	KindContested Kind = "contested"
	// KindSpoofing opens when a verified number draws fraud reports: its
	// caller ID is probably being spoofed.
	KindSpoofing Kind = "spoofing"
)

// Case is one moderation case about one number.
type Case struct {
	ID     string
	Kind   Kind
	Number string // the normalised key
	// Filer is the reporter id of who filed a dispute; "" for cases that
	// opened by themselves.
	Filer string
	// OwnerProven is set when the filer proved that they control the
	// number (a verified phone_number claim, or an OwnershipVerifier).
	OwnerProven bool
	Reason      string
	Contact     string
	// Identity is who the filer claims to be, e.g. a business name.
	Identity string
	// Evidence are links the filer gave.
	Evidence []string
	// Flags are what opened an automatic case (flag reasons).
	Flags     []string
	Status    Status
	ClaimedBy string
	Created   time.Time
	Updated   time.Time
	// Deadline is when the case should be resolved by.
	Deadline time.Time
	// Version counts the case's changes; a change names the version it
	// read, and a stale one is refused.
	Version  int64
	Decision *Decision
}

// Decision is what a moderator decided on a case.
type Decision struct {
	Outcome  Outcome
	Category string
	// Note is the moderator's reason; the filer sees it.
	Note string
	// BusinessName is the caller name of a verified business.
	BusinessName string
	// VerifiedUntil ends a verified pin; zero for no expiry.
	VerifiedUntil time.Time
	By            string
	At            time.Time
}

// Filer is who files a dispute: the reporter id of the signed-in caller and
// the phone number their sign-in proved, if any.
type Filer struct {
	ID string
	// Phone is the E.164 number of a phone sign-in (Firebase's verified
	// phone_number claim); "" otherwise.
	Phone string
}

// DisputeInput is a dispute as a filer sends it.
type DisputeInput struct {
	Number   string
	Region   string
	Reason   string
	Contact  string
	Identity string
	Evidence []string
}

// DecisionInput is a decision as a moderator sends it. Version is the case
// version the moderator saw.
type DecisionInput struct {
	Version       int64
	Outcome       Outcome
	Category      string
	Note          string
	BusinessName  string
	VerifiedUntil time.Time
}

// CaseFilter selects and orders the queue.
type CaseFilter struct {
	// Statuses to include; none means open and claimed.
	Statuses []Status
	Kind     Kind
	Number   string
	// ClaimedBy selects the cases a moderator claimed.
	ClaimedBy string
	// OwnerProven selects cases filed (or not) by a proven owner.
	OwnerProven *bool
	// Sort is SortPriority (the default), SortDeadline, SortCreated or
	// SortNewest.
	Sort  string
	Limit int
}

// The orders of the queue.
const (
	// SortPriority puts proven owners' disputes first, then other
	// disputes, then automatic cases, each by deadline.
	SortPriority = "priority"
	SortDeadline = "deadline"
	SortCreated  = "created"
	SortNewest   = "newest"
)

// CaseView is what a moderator sees of a case: the case and the evidence
// about its number.
type CaseView struct {
	Case       Case
	Reputation reputation.Result
	// Histogram counts the number's live labels per category.
	Histogram map[string]int
	// Daily counts its live labels per UTC day and category, oldest first.
	Daily []DayCount
	// Contributions are the largest shares of its evidence (explain).
	Contributions []reputation.Contribution
	Flags         map[string]time.Time
	// Earlier are the other cases about the number, newest first.
	Earlier []Case
}

// DayCount is the labels of one UTC day, per category.
type DayCount struct {
	Day    string // YYYY-MM-DD
	Counts map[string]int
}

// Snapshot is what an audit entry records of a case and its number before
// and after an action.
type Snapshot struct {
	Status     Status
	ClaimedBy  string
	Outcome    Outcome
	Category   string
	Verdict    string
	CallerName string
}

// AuditEntry is one action in the append-only audit log.
type AuditEntry struct {
	ID     string
	At     time.Time
	Actor  string // reporter id, or "system"
	Action string // one of the Action constants
	Case   string
	Number string
	Before *Snapshot
	After  *Snapshot
}

// The audited actions.
const (
	ActionFile    = "file"
	ActionOpen    = "open" // an automatic case opened
	ActionClaim   = "claim"
	ActionRelease = "release"
	ActionDecide  = "decide"
	// ActionEraseFiler: the filer erased their account, and with it what
	// their dispute said about them.
	ActionEraseFiler = "erase_filer"
)

// ErasedFiler is the filer of a case whose filer erased their account.
const ErasedFiler = "erased"

// AuditFilter selects audit entries.
type AuditFilter struct {
	Case   string
	Number string
	Actor  string
	Action string
	Since  time.Time
	Until  time.Time
	Limit  int
}

// SystemActor is the actor of what the service does by itself.
const SystemActor = "system"

// Labels is what moderation needs from the labels service: numbers
// normalised, and a decision stored as a moderator's report and read back.
type Labels interface {
	Normalize(raw, region string) (labels.Number, error)
	Report(ctx context.Context, who labels.Reporter, in labels.ReportInput) (labels.Report, error)
	LabelOf(reporterID, key string) (labels.Label, bool)
}

// Reputations is what moderation needs from the reputation engine.
type Reputations interface {
	Lookup(n labels.Number) reputation.Result
	Explain(n labels.Number, top int) reputation.Explanation
	Flags() []reputation.Flag
	SetOverride(key string, o reputation.Override)
}

// Contested lists the numbers with strong evidence on both sides; the
// filter publisher finds them while it walks every number anyway.
type Contested interface {
	Contested() []string
}

// NoticeKind is what a notice tells.
type NoticeKind string

// The notice kinds; they are push's message kinds of the same names.
const (
	NoticeOutcome NoticeKind = "dispute_outcome"
	NoticeFlagged NoticeKind = "number_flagged"
)

// Notice is one message to one user: a filer told their case's outcome,
// or a number's proven owner told that it was flagged or a case about it
// opened.
type Notice struct {
	User    string
	Kind    NoticeKind
	Number  string
	Case    string
	Outcome Outcome
	Verdict string
}

// Notifier tells users; push implements it (wired in cmd/callrep).
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// OwnershipVerifier proves by other means than a phone sign-in that a
// filer controls a number, for businesses without a mobile number.
//
// callrep ships none: a moderator verifies businesses by hand, from the
// documents a dispute links (the verified_business outcome). A one-time
// code verifier would plug in here. It would own two routes of its own:
// one that sends a random code to the number by SMS or by a voice call
// through a gateway (rate-limited per number and filer, the code stored
// hashed with a short expiry), and one where the filer types the code
// back; a matching code records a proof (filer, number, time). Proven
// then reads that record. Nothing in callrep sends such codes today.
type OwnershipVerifier interface {
	// Proven reports whether filer has proven control of number.
	Proven(ctx context.Context, filer Filer, number labels.Number) (bool, error)
}
