package labels

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// The daily report quota's ledger: how many reports each reporter was
// granted on a UTC day, so that a restart does not reset the quota. It is
// insert-only, one collection per day (quota_YYYYMMDD) holding documents
// {r: reporter, n: reports granted} that add up; a day's collection is read
// whole once at the first report of the day, and earlier days are dropped.
// Counting the history instead would read it whole on the embedded store
// (only _id lookups use an index there) at every reporter's first report
// of the day.

const quotaPrefix = "quota_"

type quotaDoc struct {
	Reporter string `bson:"r"`
	N        int    `bson:"n"`
}

func quotaName(day time.Time) string { return quotaPrefix + day.UTC().Format("20060102") }

// QuotaUsed returns what the ledger holds for day: reports granted per
// reporter.
func (st *Store) QuotaUsed(ctx context.Context, day time.Time) (map[string]int, error) {
	used := map[string]int{}
	err := each(ctx, st.db.Collection(quotaName(day)), bson.M{}, options.Find().SetBatchSize(10000), "quota",
		func(d quotaDoc) { used[d.Reporter] += d.N })
	return used, err
}

// AddQuota appends what was granted on day since the last call, and drops
// the ledgers of earlier days (at the first write of a day).
func (st *Store) AddQuota(ctx context.Context, day time.Time, granted map[string]int) error {
	docs := make([]any, 0, len(granted))
	for r, n := range granted {
		docs = append(docs, quotaDoc{Reporter: r, N: n})
	}
	if len(docs) > 0 {
		if _, err := st.db.Collection(quotaName(day)).InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("labels: unable to store the quota ledger: %w", err)
		}
	}
	if st.quotaSwept.Load() == day.Unix() {
		return nil
	}
	names, err := st.db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		return fmt.Errorf("labels: unable to list collections: %w", err)
	}
	for _, name := range names {
		if strings.HasPrefix(name, quotaPrefix) && name < quotaName(day) {
			if err := st.db.Collection(name).Drop(ctx); err != nil {
				return fmt.Errorf("labels: unable to drop %s: %w", name, err)
			}
		}
	}
	st.quotaSwept.Store(day.Unix())
	return nil
}

// QuotaUsed returns the reports granted per reporter on day, from the
// ledger.
func (s *Service) QuotaUsed(ctx context.Context, day time.Time) (map[string]int, error) {
	used, err := s.store.QuotaUsed(ctx, day)
	if err != nil {
		return nil, unavailable(err)
	}
	return used, nil
}

// AddQuota records reports granted on day.
func (s *Service) AddQuota(ctx context.Context, day time.Time, granted map[string]int) error {
	if err := s.store.AddQuota(ctx, day, granted); err != nil {
		return unavailable(err)
	}
	return nil
}
