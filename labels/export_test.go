package labels

import (
	"time"

	"go.mongodb.org/mongo-driver/mongo"
)

// Queued returns how many events wait for a commit or are being committed.
func (s *Service) Queued() int {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	n := len(s.commits.queue)
	for _, f := range s.commits.flights {
		n += len(f.batch)
	}
	return n
}

// Watermark returns the replay watermark a snapshot taken now would have.
func (s *Service) Watermark() time.Time { c, _ := s.cut(); return c }

// SwapJournal points st's journal writes at the same collection of db and
// returns what points them back: a test makes them fail with a
// disconnected client.
func (st *Store) SwapJournal(db *mongo.Database) (restore func()) {
	st.journalMu.Lock()
	old := st.journal
	st.journal = db.Collection(old.Name())
	st.journalMu.Unlock()
	return func() {
		st.journalMu.Lock()
		st.journal = old
		st.journalMu.Unlock()
	}
}
