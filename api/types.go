package api

import (
	"encoding/json"
	"time"

	"github.com/callrep/callrep/erasure"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// The *JSON types are the API's view of the domain types, shaped exactly as
// openapi/openapi.yaml describes them: optional fields are left out, never
// null; lists and maps that are always present are never null either.

type callJSON struct {
	Direction   string     `json:"direction,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	DurationS   *int       `json:"duration_s,omitempty"`
	RingS       *int       `json:"ring_s,omitempty"`
	Answered    *bool      `json:"answered,omitempty"`
	RecentCalls *int       `json:"recent_calls,omitempty"`
	Attestation string     `json:"attestation,omitempty"`
}

func (c *callJSON) call() *labels.Call {
	if c == nil {
		return nil
	}
	return &labels.Call{
		Direction:   c.Direction,
		StartedAt:   c.StartedAt,
		DurationS:   c.DurationS,
		RingS:       c.RingS,
		Answered:    c.Answered,
		RecentCalls: c.RecentCalls,
		Attestation: labels.Attestation(c.Attestation),
	}
}

func toCallJSON(c *labels.Call) *callJSON {
	if c == nil {
		return nil
	}
	out := &callJSON{
		Direction:   c.Direction,
		DurationS:   c.DurationS,
		RingS:       c.RingS,
		Answered:    c.Answered,
		RecentCalls: c.RecentCalls,
		Attestation: string(c.Attestation),
	}
	if c.StartedAt != nil {
		t := c.StartedAt.UTC()
		out.StartedAt = &t
	}
	return out
}

// reportInputJSON is the body of POST /v1/reports and one item of a batch.
type reportInputJSON struct {
	Number         string     `json:"number"`
	Region         string     `json:"region"`
	Category       string     `json:"category"`
	Comment        string     `json:"comment"`
	Call           *callJSON  `json:"call"`
	ClientReportID string     `json:"client_report_id"`
	ReportedAt     *time.Time `json:"reported_at"`
}

func (in reportInputJSON) input() (labels.ReportInput, error) {
	if in.Category == "" {
		return labels.ReportInput{}, labels.Errorf(labels.EInvalid, "category is required; GET /v1/categories lists them")
	}
	var at time.Time
	if in.ReportedAt != nil {
		at = *in.ReportedAt
	}
	return labels.ReportInput{
		ReportedAt:     at,
		Number:         in.Number,
		Region:         in.Region,
		Category:       in.Category,
		Comment:        in.Comment,
		Call:           in.Call.call(),
		ClientReportID: in.ClientReportID,
	}, nil
}

type reportJSON struct {
	ID               string    `json:"id"`
	Number           string    `json:"number"`
	Valid            bool      `json:"valid"`
	NumberType       string    `json:"number_type"`
	Region           string    `json:"region"`
	Category         string    `json:"category"`
	Comment          string    `json:"comment,omitempty"`
	Call             *callJSON `json:"call,omitempty"`
	ClientReportID   string    `json:"client_report_id,omitempty"`
	Source           string    `json:"source"`
	CreatedAt        time.Time `json:"created_at"`
	ReplacedCategory string    `json:"replaced_category,omitempty"`
	Duplicate        bool      `json:"duplicate"`
}

func toReportJSON(r labels.Report) reportJSON {
	source := string(r.Source)
	if source == "" {
		source = string(labels.SourceApp)
	}
	return reportJSON{
		ID:               r.ID,
		Number:           r.Number.Key,
		Valid:            r.Number.Valid,
		NumberType:       numberType(r.Number.Type),
		Region:           r.Number.Region,
		Category:         r.Category,
		Comment:          r.Comment,
		Call:             toCallJSON(r.Call),
		ClientReportID:   r.ClientReportID,
		Source:           source,
		CreatedAt:        r.CreatedAt.UTC(),
		ReplacedCategory: r.ReplacedCategory,
		Duplicate:        r.Duplicate,
	}
}

type labelJSON struct {
	Number     string    `json:"number"`
	Valid      bool      `json:"valid"`
	NumberType string    `json:"number_type"`
	Region     string    `json:"region"`
	Category   string    `json:"category"`
	Comment    string    `json:"comment,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ReportID   string    `json:"report_id,omitempty"`
}

// toLabelJSON maps a live label: created_at is when the reporter first
// labelled the number, updated_at the report behind the current label.
func toLabelJSON(l labels.Label) labelJSON {
	first := l.FirstAt
	if first.IsZero() {
		first = l.CreatedAt
	}
	return labelJSON{
		Number:     l.Key,
		Valid:      l.Valid,
		NumberType: numberType(l.NumberType),
		Region:     l.Region,
		Category:   l.Category,
		Comment:    l.Comment,
		CreatedAt:  first.UTC(),
		UpdatedAt:  l.CreatedAt.UTC(),
		ReportID:   l.ReportID,
	}
}

type reputationJSON struct {
	Number          string             `json:"number"`
	Valid           bool               `json:"valid"`
	NumberType      string             `json:"number_type"`
	Region          string             `json:"region"`
	Verdict         string             `json:"verdict"`
	CallerName      string             `json:"caller_name,omitempty"`
	SpoofedRisk     bool               `json:"spoofed_risk,omitempty"`
	Score           int                `json:"score"`
	Confidence      float64            `json:"confidence,omitempty"`
	TopCategory     string             `json:"top_category,omitempty"`
	Reporters       int                `json:"reporters"`
	Categories      map[string]int     `json:"categories"`
	FirstReportedAt time.Time          `json:"first_reported_at,omitzero"` // UTC
	LastReportedAt  time.Time          `json:"last_reported_at,omitzero"`
	Signals         []string           `json:"signals"`
	Evidence        map[string]float64 `json:"evidence"`
	Disputed        bool               `json:"disputed,omitempty"`
	DisputeOutcome  string             `json:"dispute_outcome,omitempty"`
	MyLabel         *labelJSON         `json:"my_label,omitempty"`
}

func toReputationJSON(r reputation.Result, mine *labels.Label) *reputationJSON {
	out := new(reputationJSON)
	fillReputationJSON(out, r, mine)
	return out
}

// fillReputationJSON is toReputationJSON into out, which a batch lookup
// allocates for all of its numbers at once.
func fillReputationJSON(out *reputationJSON, r reputation.Result, mine *labels.Label) {
	*out = reputationJSON{
		Number:         r.Number.Key,
		Valid:          r.Number.Valid,
		NumberType:     numberType(r.Number.Type),
		Region:         r.Number.Region,
		Verdict:        string(r.Verdict),
		Score:          min(max(r.Score, 0), 100),
		Confidence:     min(max(r.Confidence, 0), 1),
		TopCategory:    r.TopCategory,
		Reporters:      r.Reporters,
		Categories:     r.Categories,
		Signals:        r.Signals,
		Evidence:       r.Evidence,
		CallerName:     r.CallerName,
		SpoofedRisk:    r.SpoofedRisk,
		Disputed:       r.Disputed,
		DisputeOutcome: r.Outcome,
	}
	if out.Verdict == "" {
		out.Verdict = string(reputation.VerdictUnknown)
	}
	if out.Categories == nil {
		out.Categories = map[string]int{}
	}
	if out.Signals == nil {
		out.Signals = []string{}
	}
	if out.Evidence == nil {
		out.Evidence = map[string]float64{}
	}
	if !r.FirstReportedAt.IsZero() {
		out.FirstReportedAt = r.FirstReportedAt.UTC()
	}
	if !r.LastReportedAt.IsZero() {
		out.LastReportedAt = r.LastReportedAt.UTC()
	}
	if mine != nil {
		l := toLabelJSON(*mine)
		out.MyLabel = &l
	}
}

// lookupResultJSON is one result of POST /v1/numbers/lookup: the input
// with either an error or the reputation fields.
type lookupResultJSON struct {
	Input string       `json:"input"`
	Error *errorDetail `json:"error,omitempty"`
	*reputationJSON
}

type lookupRequestJSON struct {
	Numbers []string `json:"numbers"`
	Region  string   `json:"region"`
}

type lookupResponseJSON struct {
	Results []lookupResultJSON `json:"results"`
}

type batchRequestJSON struct {
	// Items are decoded one by one, so that a malformed item fails alone.
	Reports []json.RawMessage `json:"reports"`
}

type batchResultJSON struct {
	Index  int          `json:"index"`
	Status int          `json:"status"`
	Report *reportJSON  `json:"report,omitempty"`
	Error  *errorDetail `json:"error,omitempty"`
}

type batchResponseJSON struct {
	Accepted int               `json:"accepted"`
	Rejected int               `json:"rejected"`
	Results  []batchResultJSON `json:"results"`
}

type retractionJSON struct {
	Number            string `json:"number"`
	RetractedCategory string `json:"retracted_category"`
}

type labelPageJSON struct {
	Labels     []labelJSON `json:"labels"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// erasureJobJSON is an erasure job's status.
type erasureJobJSON struct {
	ID         string      `json:"id"`
	State      string      `json:"state"`
	StatusURL  string      `json:"status_url"`
	AcceptedAt time.Time   `json:"accepted_at"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
	Erased     erasureJSON `json:"erased"`
}

func toErasureJobJSON(st erasure.Status) erasureJobJSON {
	e := st.Erased
	out := erasureJobJSON{
		ID: st.ID, State: string(st.State), StatusURL: "/v1/erasures/" + st.ID, AcceptedAt: st.AcceptedAt,
		Erased: erasureJSON{
			ErasedLabels: e.Labels, ErasedDevices: e.Devices, PseudonymisedReports: e.Reports,
			ErasedNotifications: e.Notifications, ErasedLookupRecords: e.LookupRecords, ErasedGuardianLinks: e.GuardianLinks,
			ErasedDisputes: e.Disputes,
		},
	}
	if !st.FinishedAt.IsZero() {
		out.FinishedAt = &st.FinishedAt
	}
	return out
}

type erasureJSON struct {
	ErasedLabels         int `json:"erased_labels"`
	ErasedDevices        int `json:"erased_devices"`
	PseudonymisedReports int `json:"pseudonymised_reports"`
	ErasedNotifications  int `json:"erased_notifications"`
	ErasedLookupRecords  int `json:"erased_lookup_records"`
	ErasedGuardianLinks  int `json:"erased_guardian_links"`
	ErasedDisputes       int `json:"erased_disputes"`
}

// numberType is the API's number_type, "unknown" when storage had none.
func numberType(t labels.NumberType) string {
	if t == "" {
		return string(labels.TypeUnknown)
	}
	return string(t)
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
