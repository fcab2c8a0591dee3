package labels

import (
	"context"
	"time"
)

// ReadOnly is the label side of a lookup replica, which holds no labels:
// it normalises numbers, knows no one's own label, and refuses writes with
// a clear error that names where they go.
type ReadOnly struct {
	DefaultRegion string
}

func errReadOnly() error {
	return Errorf(EUnavailable, "this replica serves lookups only; send reports and account requests to a writer replica")
}

// Normalize parses raw like Service.Normalize.
func (r ReadOnly) Normalize(raw, region string) (Number, error) {
	return NormalizeKey(raw, region, r.DefaultRegion)
}

// LabelOf knows no labels.
func (ReadOnly) LabelOf(reporter, key string) (Label, bool) { return Label{}, false }

// Report refuses.
func (ReadOnly) Report(context.Context, Reporter, ReportInput) (Report, error) {
	return Report{}, errReadOnly()
}

// Retract refuses.
func (ReadOnly) Retract(context.Context, Reporter, string, string) (Report, error) {
	return Report{}, errReadOnly()
}

// Mine refuses.
func (ReadOnly) Mine(context.Context, string, int, string) ([]Label, string, error) {
	return nil, "", errReadOnly()
}

// Erase refuses.
func (ReadOnly) Erase(context.Context, string, func(EraseResult) error) error {
	return errReadOnly()
}

// QuotaUsed refuses.
func (ReadOnly) QuotaUsed(context.Context, time.Time) (map[string]int, error) {
	return nil, errReadOnly()
}

// AddQuota refuses.
func (ReadOnly) AddQuota(context.Context, time.Time, map[string]int) error {
	return errReadOnly()
}
