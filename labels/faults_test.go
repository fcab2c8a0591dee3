package labels_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// TestWritesUnderStorageFaults freezes (SIGSTOP) and then kills the
// FerretDB process under a service: writes answer 503 within seconds and
// then fail fast, memory keeps answering, and once storage is back every
// write that reached it is applied without a restart, as a restart
// confirms: nothing stored is unapplied.
func TestWritesUnderStorageFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a FerretDB process")
	}
	ctx := context.Background()
	p := mongotest.Start(t)
	m, err := labels.OpenMongo(ctx, labels.MongoConfig{URI: p.URI, Database: "faults", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	open := func() (*labels.Store, *labels.Service) {
		t.Helper()
		st, err := labels.OpenStore(ctx, m.DB)
		if err != nil {
			t.Fatal(err)
		}
		s, err := labels.Open(ctx, st, labels.Options{DefaultRegion: "CN", SnapshotInterval: time.Hour, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return st, s
	}
	_, s := open()
	number := func(i int) string { return fmt.Sprintf("+86138001%05d", i) }
	report := func(i int) (time.Duration, error) {
		start := time.Now()
		_, err := s.Report(ctx, app(fmt.Sprint("u", i)), labels.ReportInput{Number: number(i), Category: "fraud", ClientReportID: fmt.Sprint("c", i)})
		return time.Since(start), err
	}
	applied := func(i int) bool { _, ok := s.LabelOf(fmt.Sprint("u", i), number(i)); return ok }
	checkFail := func(i int, took time.Duration, err error, within time.Duration) {
		t.Helper()
		if labels.ErrorCode(err) != labels.EUnavailable || !strings.Contains(labels.ErrorMessage(err), "same client_report_id is safe") {
			t.Fatalf("report %d with storage down: got %v, want unavailable saying a retry is safe", i, err)
		}
		if took > within {
			t.Fatalf("report %d with storage down took %v, want at most %v", i, took, within)
		}
		t.Logf("report %d with storage down: 503 after %v", i, took.Round(time.Millisecond))
	}
	mustFail := func(i int, within time.Duration) {
		t.Helper()
		took, err := report(i)
		checkFail(i, took, err, within)
	}
	waitApplied := func(i int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !applied(i); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("report %d not applied within 30s of storage answering again", i)
			}
		}
	}
	waitWrites := func(i int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, err := report(i); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("writes not accepted within 30s of storage answering again")
			}
		}
	}
	if _, err := report(0); err != nil {
		t.Fatal(err)
	}

	const other = "+8613900139000" // u1's label elsewhere
	if _, err := s.Report(ctx, app("u1"), labels.ReportInput{Number: other, Category: "promotion"}); err != nil {
		t.Fatal(err)
	}

	// Frozen: the first write answers after a few seconds, the next at
	// once; its reporter's other requests are not held up by it.
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		took time.Duration
		err  error
	}
	first := make(chan outcome, 1)
	go func() {
		took, err := report(1)
		first <- outcome{took, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); s.Queued() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first write never reached the committer")
		}
	}
	start := time.Now()
	if _, ok := s.LabelOf("u1", other); !ok {
		t.Fatal("u1's label is not served while u1's write hangs")
	}
	if _, err := s.Retract(ctx, app("u1"), other, ""); labels.ErrorCode(err) != labels.EUnavailable || time.Since(start) > 4*time.Second {
		t.Fatalf("u1's retraction while u1's write hangs: %v after %v, want unavailable within 4s", err, time.Since(start))
	}
	o := <-first
	checkFail(1, o.took, o.err, 20*time.Second)
	mustFail(2, 2*time.Second)
	if !applied(0) {
		t.Fatal("memory lost a label while storage is frozen")
	}
	// Stay frozen until the commit gave up (its timeout): its outcome is
	// unknown, and the server may still store it when it wakes up.
	for deadline := time.Now().Add(30 * time.Second); s.Queued() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the frozen commit did not give up within 30s")
		}
	}
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitApplied(1) // its insert reached storage, late: applied all the same
	waitWrites(3)

	// Killed, then started again on the same files and address.
	p.Kill()
	mustFail(4, 20*time.Second)
	mustFail(5, 2*time.Second)
	p.Restart()
	waitApplied(4)
	waitWrites(6)

	// Every stored report is applied, and a restart agrees.
	stored := map[string]bool{}
	cur, err := m.DB.Collection("reports").Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Reporter string `bson:"reporter"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		stored[d.Reporter] = true
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for i := range 7 {
		if applied(i) {
			live[fmt.Sprint("u", i)] = true
		}
	}
	_, s = open()
	defer s.Close(ctx)
	for i := range 7 {
		who := fmt.Sprint("u", i)
		if stored[who] != live[who] || applied(i) != live[who] {
			t.Errorf("%s: stored %v, applied before the restart %v, after %v", who, stored[who], live[who], applied(i))
		}
	}
	for _, i := range []int{0, 1, 3, 4, 6} {
		if !live[fmt.Sprint("u", i)] {
			t.Errorf("report %d is not applied", i)
		}
	}
}
