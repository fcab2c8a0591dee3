package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Handoff records the signed-in lookups of a lookup replica. A replica
// keeps no push state: it stores what it saw as one insert-only batch
// document per flush, and the writer takes the batches, keeps the records
// of users who opted in, alerts guardians and deletes the batches.
type Handoff struct {
	st  *Store
	log *slog.Logger
	id  string

	mu  sync.Mutex
	buf []Record
	seq int
}

// NewHandoff returns the recorder of a lookup replica.
func NewHandoff(st *Store, log *slog.Logger) *Handoff {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	if log == nil {
		log = slog.Default()
	}
	return &Handoff{st: st, log: log, id: hex.EncodeToString(b)}
}

// RecordLookup notes a signed-in lookup; it never waits.
func (h *Handoff) RecordLookup(user string, n labels.Number, r reputation.Result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.buf) < maxBuffered {
		h.buf = append(h.buf, Record{User: user, Key: n.Key, Seen: string(r.Verdict), At: time.Now()})
	}
}

// Flush hands the buffered records on.
func (h *Handoff) Flush(ctx context.Context) error {
	h.mu.Lock()
	recs := h.buf
	h.buf = nil
	h.seq++
	id := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + h.id + "-" + strconv.Itoa(h.seq)
	h.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if err := h.st.PutHandoff(ctx, id, time.Now(), recs); err != nil {
		h.mu.Lock()
		h.buf = append(recs, h.buf...)
		h.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (h *Handoff) Run(ctx context.Context, every time.Duration) {
	labels.Every(ctx, every, func(ctx context.Context) {
		if err := h.Flush(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("push: handing lookup records to the writer", "err", err)
		}
	})
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.Flush(fctx); err != nil {
		h.log.Error("push: final handoff", "err", err)
	}
}
