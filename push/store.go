package push

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
)

// Store keeps push's state in storage: devices, guardian links and
// invites, lookup records, the inbox and the outbox. It is the only file of
// the package that speaks mongo-driver.
//
// The embedded FerretDB scans a collection for every filtered read, update
// or delete, indexed or not (a find by an indexed field among 100,000
// documents took 3.5 s here, a find by _id 0.2 s). So the writer holds push's
// state in memory, loaded once at start, and storage sees almost only
// inserts: dedupe through unique _ids (labels.InsertNew reports duplicates
// per document), outbox progress as insert-only marker documents, expiry as
// time-range deletes (no TTL indexes there) and per-day collections for the
// lookup records, dropped whole. Deletes by id are one statement per
// maxDeleteIDs ids. Only rare user actions (registering a changed
// device, ending a guardian link) update or delete one document.
type Store struct {
	db       *mongo.Database
	devices  *mongo.Collection
	links    *mongo.Collection
	invites  *mongo.Collection
	inbox    *mongo.Collection
	outbox   *mongo.Collection
	marks    *mongo.Collection // outbox progress
	once     *mongo.Collection // dedupe and rate-limit marks
	handoffs *mongo.Collection
}

// Collection names. Lookup records live in recordsPrefix + YYYYMMDD.
const (
	recordsPrefix = "push_lookups_"
)

// OpenStore returns push's store in db.
func OpenStore(ctx context.Context, db *mongo.Database) (*Store, error) {
	st := &Store{
		db:       db,
		devices:  db.Collection("push_devices"),
		links:    db.Collection("push_guardians"),
		invites:  db.Collection("push_invites"),
		inbox:    db.Collection("push_inbox"),
		outbox:   db.Collection("push_outbox"),
		marks:    db.Collection("push_outbox_marks"),
		once:     db.Collection("push_once"),
		handoffs: db.Collection("push_handoffs"),
	}
	// Time-range deletes and the outbox scan read "at"; on MongoDB the
	// indexes make them cheap, on FerretDB they cost nothing.
	for _, c := range []*mongo.Collection{st.inbox, st.outbox, st.marks, st.once} {
		if err := labels.CreateIndexes(ctx, c, []mongo.IndexModel{{Keys: bson.D{{Key: "at", Value: 1}}}}); err != nil {
			return nil, err
		}
	}
	if err := labels.CreateIndexes(ctx, st.devices, []mongo.IndexModel{{Keys: bson.D{{Key: "user", Value: 1}}}}); err != nil {
		return nil, err
	}
	return st, nil
}

// each streams the documents of coll matching filter to fn.
func each[T any](ctx context.Context, coll *mongo.Collection, filter any, what string, fn func(T)) error {
	cur, err := coll.Find(ctx, filter, options.Find().SetBatchSize(5000))
	if err != nil {
		return fmt.Errorf("push: unable to read %s: %w", what, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d T
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("push: unable to decode %s: %w", what, err)
		}
		fn(d)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("push: unable to read %s: %w", what, err)
	}
	return nil
}

// maxDeleteIDs is the most ids one delete names. A delete is one statement
// however many ids it names, so the bulk-write hang behind
// labels.MaxBulkOps does not apply (TestStoreDeletesManyIDs); each
// statement scans the collection on the embedded store, so fewer are
// faster (5,000 ids: 0.96 s in one, 7.0 s in chunks of 99). The bound keeps
// a command far below the 16 MiB message limit.
const maxDeleteIDs = 5000

// deleteIDs deletes the documents with ids from coll, maxDeleteIDs at a
// time, and returns how many it deleted.
func deleteIDs(ctx context.Context, coll *mongo.Collection, ids []string) (int, error) {
	n := 0
	for start := 0; start < len(ids); start += maxDeleteIDs {
		chunk := ids[start:min(start+maxDeleteIDs, len(ids))]
		res, err := coll.DeleteMany(ctx, bson.M{"_id": bson.M{"$in": chunk}})
		if err != nil {
			return n, fmt.Errorf("push: unable to delete from %s: %w", coll.Name(), err)
		}
		n += int(res.DeletedCount)
	}
	return n, nil
}

// insert inserts docs and returns which were already there.
func insert(ctx context.Context, coll *mongo.Collection, docs []any) ([]bool, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	dup, err := labels.InsertNew(ctx, coll, docs)
	if err != nil {
		return nil, fmt.Errorf("push: unable to insert into %s: %w", coll.Name(), err)
	}
	return dup, nil
}

// Devices.

type deviceDoc struct {
	ID           string    `bson:"_id"`
	User         string    `bson:"user"`
	Installation string    `bson:"installation"`
	Token        string    `bson:"token"`
	Platform     string    `bson:"platform"`
	Locale       string    `bson:"locale"`
	AppVersion   string    `bson:"app_version,omitempty"`
	OptIns       []string  `bson:"optins"`
	Area         string    `bson:"area,omitempty"`
	Created      time.Time `bson:"created"`
	Updated      time.Time `bson:"updated"`
}

func toDeviceDoc(d Device) deviceDoc {
	return deviceDoc{ID: d.ID, User: d.User, Installation: d.Installation, Token: d.Token, Platform: string(d.Platform),
		Locale: d.Locale, AppVersion: d.AppVersion, OptIns: d.OptIns.list(), Area: d.Area, Created: d.Created, Updated: d.Updated}
}

func (d deviceDoc) device() Device {
	return Device{ID: d.ID, User: d.User, Installation: d.Installation, Token: d.Token, Platform: Platform(d.Platform),
		Locale: d.Locale, AppVersion: d.AppVersion, OptIns: optInsOf(d.OptIns), Area: d.Area, Created: d.Created.UTC(), Updated: d.Updated.UTC()}
}

// PutDevice stores d, replacing the device with its id. It scans the
// collection on FerretDB; registrations that change nothing do not get
// here.
func (st *Store) PutDevice(ctx context.Context, d Device) error {
	_, err := st.devices.ReplaceOne(ctx, bson.M{"_id": d.ID}, toDeviceDoc(d), options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("push: unable to store device: %w", err)
	}
	return nil
}

// PutDevices inserts new devices in bulk (imports, benchmarks); devices
// whose ids exist are left as they are.
func (st *Store) PutDevices(ctx context.Context, ds []Device) error {
	docs := make([]any, len(ds))
	for i, d := range ds {
		docs[i] = toDeviceDoc(d)
	}
	_, err := insert(ctx, st.devices, docs)
	return err
}

// DeleteDevices deletes the devices with ids.
func (st *Store) DeleteDevices(ctx context.Context, ids []string) (int, error) {
	return deleteIDs(ctx, st.devices, ids)
}

// EachDevice calls fn for every stored device.
func (st *Store) EachDevice(ctx context.Context, fn func(Device)) error {
	return each(ctx, st.devices, bson.M{}, "devices", func(d deviceDoc) { fn(d.device()) })
}

// Guardian links and invites.

type linkDoc struct {
	ID        string    `bson:"_id"`
	Protected string    `bson:"protected"`
	Guardian  string    `bson:"guardian"`
	Name      string    `bson:"name"`
	At        time.Time `bson:"at"`
}

type inviteDoc struct {
	ID      string    `bson:"_id"` // hash of the code
	User    string    `bson:"user"`
	At      time.Time `bson:"at"`
	Expires time.Time `bson:"expires"`
}

// PutLink stores a new guardian link.
func (st *Store) PutLink(ctx context.Context, l Link) error {
	_, err := insert(ctx, st.links, []any{linkDoc{ID: l.ID, Protected: l.Protected, Guardian: l.Guardian, Name: l.Name, At: l.Created}})
	return err
}

// DeleteLinks deletes guardian links.
func (st *Store) DeleteLinks(ctx context.Context, ids []string) (int, error) {
	return deleteIDs(ctx, st.links, ids)
}

// EachLink calls fn for every guardian link.
func (st *Store) EachLink(ctx context.Context, fn func(Link)) error {
	return each(ctx, st.links, bson.M{}, "guardian links", func(d linkDoc) {
		fn(Link{ID: d.ID, Protected: d.Protected, Guardian: d.Guardian, Name: d.Name, Created: d.At.UTC()})
	})
}

// PutInvite stores an invite under the hash of its code.
func (st *Store) PutInvite(ctx context.Context, in Invite) error {
	_, err := insert(ctx, st.invites, []any{inviteDoc{ID: in.CodeHash, User: in.User, At: in.Created, Expires: in.Expires}})
	return err
}

// EachInvite calls fn for every invite that has not expired by now.
func (st *Store) EachInvite(ctx context.Context, now time.Time, fn func(Invite)) error {
	return each(ctx, st.invites, bson.M{"expires": bson.M{"$gt": now}}, "guardian invites", func(d inviteDoc) {
		fn(Invite{CodeHash: d.ID, User: d.User, Created: d.At.UTC(), Expires: d.Expires.UTC()})
	})
}

// DeleteInvites deletes invites by code hash, and the expired ones.
func (st *Store) DeleteInvites(ctx context.Context, hashes []string, now time.Time) error {
	if _, err := deleteIDs(ctx, st.invites, hashes); err != nil {
		return err
	}
	if _, err := st.invites.DeleteMany(ctx, bson.M{"expires": bson.M{"$lte": now}}); err != nil {
		return fmt.Errorf("push: unable to expire invites: %w", err)
	}
	return nil
}

// Once marks.

type onceDoc struct {
	ID string    `bson:"_id"`
	At time.Time `bson:"at"`
}

// Once records each of ids and reports, per id, whether it was recorded
// before: the one write that makes "at most once" hold across restarts and
// replicas.
func (st *Store) Once(ctx context.Context, ids []string, at time.Time) ([]bool, error) {
	docs := make([]any, len(ids))
	for i, id := range ids {
		docs[i] = onceDoc{ID: id, At: at}
	}
	return insert(ctx, st.once, docs)
}

// EachOnce calls fn for every mark at or after since.
func (st *Store) EachOnce(ctx context.Context, since time.Time, fn func(id string, at time.Time)) error {
	return each(ctx, st.once, bson.M{"at": bson.M{"$gte": since}}, "marks", func(d onceDoc) { fn(d.ID, d.At.UTC()) })
}

// Lookup records.

type recordDoc struct {
	ID   string    `bson:"_id"` // user|key: one per user, number and day
	User string    `bson:"u"`
	Key  string    `bson:"k"`
	Seen string    `bson:"s,omitempty"`
	Rep  bool      `bson:"r,omitempty"`
	At   time.Time `bson:"at"`
}

// recordsDay is the collection of the records of day (UTC).
func (st *Store) recordsDay(day time.Time) *mongo.Collection {
	return st.db.Collection(recordsPrefix + day.UTC().Format("20060102"))
}

// PutRecords stores records, each in the collection of its day; a user's
// second record of a number on one day is a duplicate and not stored.
func (st *Store) PutRecords(ctx context.Context, recs []Record) error {
	byDay := map[string][]any{}
	for _, r := range recs {
		day := r.At.UTC().Format("20060102")
		// The verdict seen is part of the id: seeing the number flagged
		// later the same day must be stored too.
		byDay[day] = append(byDay[day], recordDoc{ID: r.User + "|" + r.Key + "|" + r.Seen, User: r.User, Key: r.Key, Seen: r.Seen, Rep: r.Reported, At: r.At})
	}
	for day, docs := range byDay {
		if _, err := insert(ctx, st.db.Collection(recordsPrefix+day), docs); err != nil {
			return err
		}
	}
	return nil
}

// recordDays lists the days that have record collections, oldest first.
func (st *Store) recordDays(ctx context.Context) ([]string, error) {
	names, err := st.db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		return nil, fmt.Errorf("push: unable to list collections: %w", err)
	}
	var days []string
	for _, n := range names {
		if day, ok := strings.CutPrefix(n, recordsPrefix); ok && len(day) == 8 {
			days = append(days, day)
		}
	}
	slices.Sort(days)
	return days, nil
}

// EachRecord calls fn for every record at or after since.
func (st *Store) EachRecord(ctx context.Context, since time.Time, fn func(Record)) error {
	days, err := st.recordDays(ctx)
	if err != nil {
		return err
	}
	first := since.UTC().Format("20060102")
	for _, day := range days {
		if day < first {
			continue
		}
		err := each(ctx, st.db.Collection(recordsPrefix+day), bson.M{"at": bson.M{"$gte": since}}, "lookup records", func(d recordDoc) {
			fn(Record{User: d.User, Key: d.Key, Seen: d.Seen, Reported: d.Rep, At: d.At.UTC()})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DropRecordsBefore drops the record collections of the days before
// before: expiry by whole collection, no scan.
func (st *Store) DropRecordsBefore(ctx context.Context, before time.Time) error {
	days, err := st.recordDays(ctx)
	if err != nil {
		return err
	}
	cut := before.UTC().Format("20060102")
	for _, day := range days {
		if day >= cut {
			break
		}
		if err := st.db.Collection(recordsPrefix + day).Drop(ctx); err != nil {
			return fmt.Errorf("push: unable to drop lookup records of %s: %w", day, err)
		}
	}
	return nil
}

// DeleteUserRecords deletes every record of user: one delete per day.
func (st *Store) DeleteUserRecords(ctx context.Context, user string) (int, error) {
	days, err := st.recordDays(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, day := range days {
		res, err := st.db.Collection(recordsPrefix+day).DeleteMany(ctx, bson.M{"u": user})
		if err != nil {
			return n, fmt.Errorf("push: unable to erase lookup records: %w", err)
		}
		n += int(res.DeletedCount)
	}
	return n, nil
}

// Handoffs: lookup replicas pass their records to the writer in batches.

type handoffDoc struct {
	ID      string      `bson:"_id"`
	At      time.Time   `bson:"at"`
	Records []recordDoc `bson:"records"`
}

// PutHandoff stores one batch of records for the writer.
func (st *Store) PutHandoff(ctx context.Context, id string, at time.Time, recs []Record) error {
	d := handoffDoc{ID: id, At: at, Records: make([]recordDoc, len(recs))}
	for i, r := range recs {
		d.Records[i] = recordDoc{User: r.User, Key: r.Key, Seen: r.Seen, Rep: r.Reported, At: r.At}
	}
	_, err := insert(ctx, st.handoffs, []any{d})
	return err
}

// TakeHandoffs returns the stored handoff batches: their ids and records.
// The collection holds only what the writer has not taken yet.
func (st *Store) TakeHandoffs(ctx context.Context) ([]string, []Record, error) {
	var (
		ids  []string
		recs []Record
	)
	err := each(ctx, st.handoffs, bson.M{}, "handoffs", func(d handoffDoc) {
		ids = append(ids, d.ID)
		for _, r := range d.Records {
			recs = append(recs, Record{User: r.User, Key: r.Key, Seen: r.Seen, Reported: r.Rep, At: r.At.UTC()})
		}
	})
	return ids, recs, err
}

// DeleteHandoffs deletes handoff batches the writer applied.
func (st *Store) DeleteHandoffs(ctx context.Context, ids []string) error {
	_, err := deleteIDs(ctx, st.handoffs, ids)
	return err
}

// Inbox.

type inboxDoc struct {
	ID        string            `bson:"_id"`
	User      string            `bson:"user"`
	Kind      string            `bson:"kind"`
	Number    string            `bson:"number,omitempty"`
	Verdict   string            `bson:"verdict,omitempty"`
	Category  string            `bson:"category,omitempty"`
	Reporters int               `bson:"reporters,omitempty"`
	Since     time.Time         `bson:"since,omitempty"`
	Data      map[string]string `bson:"data,omitempty"`
	At        time.Time         `bson:"at"`
	Expires   time.Time         `bson:"expires"`
}

func toInboxDoc(n Notification) inboxDoc {
	return inboxDoc{ID: n.ID, User: n.User, Kind: string(n.Kind), Number: n.Number, Verdict: n.Verdict, Category: n.Category,
		Reporters: n.Reporters, Since: n.Since, Data: n.Data, At: n.At, Expires: n.Expires}
}

func (d inboxDoc) notification() Notification {
	n := Notification{ID: d.ID, User: d.User, Kind: Kind(d.Kind), Number: d.Number, Verdict: d.Verdict, Category: d.Category,
		Reporters: d.Reporters, Data: d.Data, At: d.At.UTC(), Expires: d.Expires.UTC()}
	if !d.Since.IsZero() {
		n.Since = d.Since.UTC()
	}
	return n
}

// PutInbox stores notifications; ones stored before are skipped.
func (st *Store) PutInbox(ctx context.Context, ns []Notification) error {
	docs := make([]any, len(ns))
	for i, n := range ns {
		docs[i] = toInboxDoc(n)
	}
	_, err := insert(ctx, st.inbox, docs)
	return err
}

// EachInbox calls fn for every notification that has not expired by now.
func (st *Store) EachInbox(ctx context.Context, now time.Time, fn func(Notification)) error {
	return each(ctx, st.inbox, bson.M{"expires": bson.M{"$gt": now}}, "inbox", func(d inboxDoc) { fn(d.notification()) })
}

// DeleteInbox deletes notifications by id.
func (st *Store) DeleteInbox(ctx context.Context, ids []string) (int, error) {
	return deleteIDs(ctx, st.inbox, ids)
}

// Outbox.

type warningDoc struct {
	Kind      string            `bson:"kind"`
	Number    string            `bson:"number,omitempty"`
	Verdict   string            `bson:"verdict,omitempty"`
	Category  string            `bson:"category,omitempty"`
	Score     int               `bson:"score,omitempty"`
	Reporters int               `bson:"reporters,omitempty"`
	Reason    string            `bson:"reason,omitempty"`
	IssuedAt  time.Time         `bson:"issued_at"`
	TTL       time.Duration     `bson:"ttl"`
	Data      map[string]string `bson:"data,omitempty"`
	Collapse  string            `bson:"collapse,omitempty"`
	Title     string            `bson:"title,omitempty"`
	Body      string            `bson:"body,omitempty"`
}

// Items are stored as one string per batch, fields separated by \x1f and
// items by \x1e: a fan-out of 100,000 recipients is 200 documents of one
// string each, which the embedded store inserts several times faster than
// as 100,000 subdocuments.
func encodeItems(items []Item) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte('\x1e')
		}
		since := ""
		if !it.Since.IsZero() {
			since = strconv.FormatInt(it.Since.UnixNano(), 36)
		}
		var data []string
		for _, k := range slices.Sorted(maps.Keys(it.Data)) {
			data = append(data, k+"="+it.Data[k])
		}
		b.WriteString(strings.Join([]string{it.User, it.Device, it.Text, since, strings.Join(data, "\x1d")}, "\x1f"))
	}
	return b.String()
}

func decodeItems(s string) []Item {
	if s == "" {
		return nil
	}
	var out []Item
	for _, rec := range strings.Split(s, "\x1e") {
		f := strings.Split(rec, "\x1f")
		for len(f) < 5 {
			f = append(f, "")
		}
		it := Item{User: f[0], Device: f[1], Text: f[2]}
		if ns, err := strconv.ParseInt(f[3], 36, 64); err == nil && f[3] != "" {
			it.Since = time.Unix(0, ns).UTC()
		}
		if f[4] != "" {
			it.Data = map[string]string{}
			for _, kv := range strings.Split(f[4], "\x1d") {
				k, v, _ := strings.Cut(kv, "=")
				it.Data[k] = v
			}
		}
		out = append(out, it)
	}
	return out
}

type textDoc struct {
	Title string `bson:"t"`
	Body  string `bson:"b"`
}

type batchDoc struct {
	ID      string             `bson:"_id"`
	Trigger string             `bson:"trigger"`
	At      time.Time          `bson:"at"`
	Warning warningDoc         `bson:"w"`
	Topic   string             `bson:"topic,omitempty"`
	Texts   map[string]textDoc `bson:"texts,omitempty"`
	Items   string             `bson:"items,omitempty"`
}

type markDoc struct {
	ID      string    `bson:"_id"`
	Batch   string    `bson:"batch"`
	At      time.Time `bson:"at"`
	Done    []int32   `bson:"done,omitempty"`
	Final   bool      `bson:"final,omitempty"`
	Inboxed bool      `bson:"inboxed,omitempty"`
}

func toBatchDoc(b *Batch) batchDoc {
	w := b.Warning
	d := batchDoc{ID: b.ID, Trigger: b.Trigger, At: b.Created, Topic: b.Topic,
		Warning: warningDoc{Kind: string(w.Kind), Number: w.Number, Verdict: w.Verdict, Category: w.Category, Score: w.Score,
			Reporters: w.Reporters, Reason: w.Reason, IssuedAt: w.IssuedAt, TTL: w.TTL, Data: w.Data, Collapse: w.Collapse,
			Title: w.Title, Body: w.Body}}
	if len(b.Texts) > 0 {
		d.Texts = map[string]textDoc{}
		for l, t := range b.Texts {
			d.Texts[l] = textDoc{Title: t.Title, Body: t.Body}
		}
	}
	d.Items = encodeItems(b.Items)
	return d
}

func (d batchDoc) batch() *Batch {
	w := d.Warning
	b := &Batch{ID: d.ID, Trigger: d.Trigger, Created: d.At.UTC(), Topic: d.Topic,
		Warning: Warning{Kind: Kind(w.Kind), Number: w.Number, Verdict: w.Verdict, Category: w.Category, Score: w.Score,
			Reporters: w.Reporters, Reason: w.Reason, IssuedAt: w.IssuedAt.UTC(), TTL: w.TTL, Data: w.Data, Collapse: w.Collapse,
			Title: w.Title, Body: w.Body}}
	if len(d.Texts) > 0 {
		b.Texts = map[string]Text{}
		for l, t := range d.Texts {
			b.Texts[l] = Text{Title: t.Title, Body: t.Body}
		}
	}
	b.Items = decodeItems(d.Items)
	return b
}

// PutBatches records batches in the outbox before anything is sent; a
// batch recorded before (same id) is skipped and reported in dup.
func (st *Store) PutBatches(ctx context.Context, bs []*Batch) ([]bool, error) {
	docs := make([]any, len(bs))
	for i, b := range bs {
		docs[i] = toBatchDoc(b)
	}
	return insert(ctx, st.outbox, docs)
}

// PutMarks records outbox progress.
func (st *Store) PutMarks(ctx context.Context, ms []Mark) error {
	docs := make([]any, len(ms))
	for i, m := range ms {
		d := markDoc{ID: m.ID, Batch: m.Batch, At: m.At, Final: m.Final, Inboxed: m.Inboxed}
		for _, j := range m.Done {
			d.Done = append(d.Done, int32(j))
		}
		docs[i] = d
	}
	_, err := insert(ctx, st.marks, docs)
	return err
}

// EachBatch calls fn for every batch recorded at or after since.
func (st *Store) EachBatch(ctx context.Context, since time.Time, fn func(*Batch)) error {
	return each(ctx, st.outbox, bson.M{"at": bson.M{"$gte": since}}, "outbox", func(d batchDoc) { fn(d.batch()) })
}

// EachMark calls fn for every progress mark at or after since.
func (st *Store) EachMark(ctx context.Context, since time.Time, fn func(Mark)) error {
	return each(ctx, st.marks, bson.M{"at": bson.M{"$gte": since}}, "outbox marks", func(d markDoc) {
		m := Mark{ID: d.ID, Batch: d.Batch, At: d.At.UTC(), Final: d.Final, Inboxed: d.Inboxed}
		for _, j := range d.Done {
			m.Done = append(m.Done, int(j))
		}
		fn(m)
	})
}

// Trim deletes outbox batches, marks and dedupe marks from before before,
// and notifications expired by now: time-range deletes, one scan each.
func (st *Store) Trim(ctx context.Context, before, now time.Time) error {
	for _, c := range []*mongo.Collection{st.outbox, st.marks, st.once} {
		if _, err := c.DeleteMany(ctx, bson.M{"at": bson.M{"$lt": before}}); err != nil {
			return fmt.Errorf("push: unable to trim %s: %w", c.Name(), err)
		}
	}
	if _, err := st.inbox.DeleteMany(ctx, bson.M{"expires": bson.M{"$lte": now}}); err != nil {
		return fmt.Errorf("push: unable to trim the inbox: %w", err)
	}
	return nil
}
