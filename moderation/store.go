package moderation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Store is the durable copy of moderation: cases, the locks that keep one
// open case per number and filer, and the audit log. The service keeps
// everything in memory; the store is read once at start. Storage has no
// transactions and no partial indexes, so every rule is an insert that
// fails on a duplicate _id or a compare-and-set on {_id, version}.
type Store struct {
	cases *mongo.Collection
	locks *mongo.Collection
	audit *mongo.Collection
}

// Collection names.
const (
	casesCollection = "moderation_cases"
	locksCollection = "moderation_locks"
	auditCollection = "moderation_audit"
)

// OpenStore returns the moderation store in db.
func OpenStore(_ context.Context, db *mongo.Database) (*Store, error) {
	return &Store{
		cases: db.Collection(casesCollection),
		locks: db.Collection(locksCollection),
		audit: db.Collection(auditCollection),
	}, nil
}

type caseDoc struct {
	ID          string       `bson:"_id"`
	Kind        string       `bson:"kind"`
	Number      string       `bson:"number"`
	Filer       string       `bson:"filer,omitempty"`
	OwnerProven bool         `bson:"owner_proven,omitempty"`
	Reason      string       `bson:"reason,omitempty"`
	Contact     string       `bson:"contact,omitempty"`
	Identity    string       `bson:"identity,omitempty"`
	Evidence    []string     `bson:"evidence,omitempty"`
	Flags       []string     `bson:"flags,omitempty"`
	Status      string       `bson:"status"`
	ClaimedBy   string       `bson:"claimed_by,omitempty"`
	Created     time.Time    `bson:"created"`
	Updated     time.Time    `bson:"updated"`
	Deadline    time.Time    `bson:"deadline"`
	Version     int64        `bson:"version"`
	Decision    *decisionDoc `bson:"decision,omitempty"`
}

type decisionDoc struct {
	Outcome       string    `bson:"outcome"`
	Category      string    `bson:"category,omitempty"`
	Note          string    `bson:"note,omitempty"`
	BusinessName  string    `bson:"business_name,omitempty"`
	VerifiedUntil time.Time `bson:"verified_until,omitempty"`
	By            string    `bson:"by"`
	At            time.Time `bson:"at"`
}

func toCaseDoc(c *Case) caseDoc {
	d := caseDoc{
		ID: c.ID, Kind: string(c.Kind), Number: c.Number, Filer: c.Filer, OwnerProven: c.OwnerProven,
		Reason: c.Reason, Contact: c.Contact, Identity: c.Identity, Evidence: c.Evidence, Flags: c.Flags,
		Status: string(c.Status), ClaimedBy: c.ClaimedBy, Created: c.Created, Updated: c.Updated,
		Deadline: c.Deadline, Version: c.Version,
	}
	if dc := c.Decision; dc != nil {
		d.Decision = &decisionDoc{Outcome: string(dc.Outcome), Category: dc.Category, Note: dc.Note,
			BusinessName: dc.BusinessName, VerifiedUntil: dc.VerifiedUntil, By: dc.By, At: dc.At}
	}
	return d
}

func (d caseDoc) toCase() *Case {
	c := &Case{
		ID: d.ID, Kind: Kind(d.Kind), Number: d.Number, Filer: d.Filer, OwnerProven: d.OwnerProven,
		Reason: d.Reason, Contact: d.Contact, Identity: d.Identity, Evidence: d.Evidence, Flags: d.Flags,
		Status: Status(d.Status), ClaimedBy: d.ClaimedBy, Created: d.Created.UTC(), Updated: d.Updated.UTC(),
		Deadline: d.Deadline.UTC(), Version: d.Version,
	}
	if dd := d.Decision; dd != nil {
		c.Decision = &Decision{Outcome: Outcome(dd.Outcome), Category: dd.Category, Note: dd.Note,
			BusinessName: dd.BusinessName, By: dd.By, At: dd.At.UTC()}
		if !dd.VerifiedUntil.IsZero() {
			c.Decision.VerifiedUntil = dd.VerifiedUntil.UTC()
		}
	}
	return c
}

// InsertCase stores a new case.
func (st *Store) InsertCase(ctx context.Context, c *Case) error {
	if _, err := st.cases.InsertOne(ctx, toCaseDoc(c)); err != nil {
		return fmt.Errorf("moderation: unable to store case %s: %w", c.ID, err)
	}
	return nil
}

// UpdateCase replaces the stored case c if its stored version is still
// prev, and reports whether it was; false means another change won. The
// embedded store answers FindOneAndReplace on {_id, version} with no
// document when the version is stale, which makes this a compare-and-set
// without transactions.
func (st *Store) UpdateCase(ctx context.Context, c *Case, prev int64) (bool, error) {
	// A replacement, not a $set: fields a change emptied (omitted from the
	// document) must go from storage too.
	err := st.cases.FindOneAndReplace(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "version", Value: prev}},
		toCaseDoc(c)).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("moderation: unable to update case %s: %w", c.ID, err)
	}
	return true, nil
}

// Lock takes the lock id for caseID and reports whether it was free: an
// insert that fails on the duplicate _id while another case holds it.
func (st *Store) Lock(ctx context.Context, id, caseID string) (bool, error) {
	_, err := st.locks.InsertOne(ctx, bson.M{"_id": id, "case": caseID})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("moderation: unable to take lock: %w", err)
	}
	return true, nil
}

// Unlock frees the lock id. Locks are few, so the scan of a delete on the
// embedded store costs little.
func (st *Store) Unlock(ctx context.Context, id string) error {
	if _, err := st.locks.DeleteOne(ctx, bson.M{"_id": id}); err != nil {
		return fmt.Errorf("moderation: unable to free lock: %w", err)
	}
	return nil
}

// Locks returns every lock id with the case that holds it.
func (st *Store) Locks(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := each(ctx, st.locks, "locks", func(d struct {
		ID   string `bson:"_id"`
		Case string `bson:"case"`
	}) {
		out[d.ID] = d.Case
	})
	return out, err
}

type auditDoc struct {
	ID     string       `bson:"_id"`
	At     time.Time    `bson:"at"`
	Actor  string       `bson:"actor"`
	Action string       `bson:"action"`
	Case   string       `bson:"case,omitempty"`
	Number string       `bson:"number,omitempty"`
	Before *snapshotDoc `bson:"before,omitempty"`
	After  *snapshotDoc `bson:"after,omitempty"`
}

type snapshotDoc struct {
	Status     string `bson:"status,omitempty"`
	ClaimedBy  string `bson:"claimed_by,omitempty"`
	Outcome    string `bson:"outcome,omitempty"`
	Category   string `bson:"category,omitempty"`
	Verdict    string `bson:"verdict,omitempty"`
	CallerName string `bson:"caller_name,omitempty"`
}

func toSnapshotDoc(s *Snapshot) *snapshotDoc {
	if s == nil {
		return nil
	}
	return &snapshotDoc{Status: string(s.Status), ClaimedBy: s.ClaimedBy, Outcome: string(s.Outcome),
		Category: s.Category, Verdict: s.Verdict, CallerName: s.CallerName}
}

func (d *snapshotDoc) snapshot() *Snapshot {
	if d == nil {
		return nil
	}
	return &Snapshot{Status: Status(d.Status), ClaimedBy: d.ClaimedBy, Outcome: Outcome(d.Outcome),
		Category: d.Category, Verdict: d.Verdict, CallerName: d.CallerName}
}

// AppendAudit appends e to the audit log: the log is insert-only.
func (st *Store) AppendAudit(ctx context.Context, e AuditEntry) error {
	_, err := st.audit.InsertOne(ctx, auditDoc{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Case: e.Case,
		Number: e.Number, Before: toSnapshotDoc(e.Before), After: toSnapshotDoc(e.After)})
	if err != nil {
		return fmt.Errorf("moderation: unable to append to the audit log: %w", err)
	}
	return nil
}

// Cases returns every stored case.
func (st *Store) Cases(ctx context.Context) ([]*Case, error) {
	var out []*Case
	err := each(ctx, st.cases, "cases", func(d caseDoc) { out = append(out, d.toCase()) })
	return out, err
}

// Audit returns the whole audit log, oldest first.
func (st *Store) Audit(ctx context.Context) ([]AuditEntry, error) {
	var out []AuditEntry
	err := each(ctx, st.audit, "the audit log", func(d auditDoc) {
		out = append(out, AuditEntry{ID: d.ID, At: d.At.UTC(), Actor: d.Actor, Action: d.Action, Case: d.Case,
			Number: d.Number, Before: d.Before.snapshot(), After: d.After.snapshot()})
	})
	return out, err
}

// each streams every document of coll to fn.
func each[T any](ctx context.Context, coll *mongo.Collection, what string, fn func(T)) error {
	cur, err := coll.Find(ctx, bson.M{}, options.Find().SetBatchSize(5000))
	if err != nil {
		return fmt.Errorf("moderation: unable to read %s: %w", what, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d T
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("moderation: unable to decode %s: %w", what, err)
		}
		fn(d)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("moderation: unable to read %s: %w", what, err)
	}
	return nil
}
