package labels

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
)

// MongoConfig says where callrep keeps its data.
type MongoConfig struct {
	// URI of a MongoDB deployment. Empty starts an embedded FerretDB with its
	// SQLite files in DataDir, reachable only through a private Unix socket.
	URI string
	// DataDir holds the embedded store (DataDir/db) when URI is empty.
	DataDir string
	// Database is the database name; "callrep" when empty.
	Database string
	// Logger receives the embedded server's warnings and errors only.
	Logger *slog.Logger

	checkpointEvery time.Duration // tests: the embedded store's checkpoint interval if not 0
}

// Mongo is an open connection to callrep's database, embedded or remote.
type Mongo struct {
	Client   *mongo.Client
	DB       *mongo.Database
	Embedded bool

	stop     context.CancelFunc
	done     chan struct{}
	sockDir  string
	lock     *dirLock
	closeOne sync.Once
	ids      *idIndexer
	ck       *checkpointer
	idsDone  chan struct{}
	idsStop  context.CancelFunc
}

// MaxBulkOps is the most operations a BulkWrite that modifies existing
// documents may carry: the embedded FerretDB hangs on 100 or more (its
// internal batch size is 100) and leaves the connection hung;
// TestBulkWriteChunkLimit pins the behaviour. callrep's stores avoid
// update batches altogether (updates scan the collection on a FerretDB
// without the index of idindex.go): they insert into fresh collections and
// switch a pointer document.
const MaxBulkOps = 99

// OpenMongo connects to cfg.URI, or starts the embedded FerretDB when it is
// empty, and pings the server before returning.
func OpenMongo(ctx context.Context, cfg MongoConfig) (*Mongo, error) {
	if cfg.Database == "" {
		cfg.Database = "callrep"
	}
	m := &Mongo{}
	uri := cfg.URI
	if uri == "" {
		var err error
		if uri, err = m.startEmbedded(cfg); err != nil {
			return nil, err
		}
	}
	opts := options.Client().ApplyURI(uri).
		SetWriteConcern(writeconcern.Majority()).
		SetRetryWrites(cfg.URI != "").
		SetServerSelectionTimeout(10 * time.Second).
		SetAppName("callrep")
	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		m.stopEmbedded()
		return nil, fmt.Errorf("labels: connect to mongodb: %w", err)
	}
	m.Client = client
	m.DB = client.Database(cfg.Database)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		m.Close(context.Background())
		return nil, fmt.Errorf("labels: ping mongodb: %w", err)
	}
	if m.ids != nil {
		// Tables written before this build (or by an import) get their
		// index before anything reads them; new ones within idIndexEvery.
		if err := m.ids.indexAll(ctx); err != nil {
			m.Close(context.Background())
			return nil, fmt.Errorf("labels: index the embedded store: %w", err)
		}
		ictx, stop := context.WithCancel(context.Background())
		m.idsStop, m.idsDone = stop, make(chan struct{})
		go func() {
			defer close(m.idsDone)
			var wg sync.WaitGroup
			wg.Go(func() { m.ck.run(ictx) })
			m.ids.run(ictx)
			wg.Wait()
		}()
	}
	return m, nil
}

func (m *Mongo) startEmbedded(cfg MongoConfig) (string, error) {
	if cfg.DataDir == "" {
		return "", errors.New("labels: embedded store needs a data directory")
	}
	dbDir, err := filepath.Abs(filepath.Join(cfg.DataDir, "db"))
	if err != nil {
		return "", fmt.Errorf("labels: data directory: %w", err)
	}
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return "", fmt.Errorf("labels: create data directory: %w", err)
	}
	// One process at a time: two FerretDBs on one set of SQLite files
	// each serve only their own writes and trip over each other's tables.
	if m.lock, err = lockDir(dbDir); err != nil {
		return "", err
	}
	// Unix socket paths are limited to ~100 bytes, so the socket lives in a
	// short private temporary directory rather than in DataDir.
	m.sockDir, err = os.MkdirTemp("", "callrep-db-")
	if err != nil {
		m.lock.unlock()
		return "", fmt.Errorf("labels: socket directory: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// FerretDB logs every connection at info level; keep warnings and errors.
	quiet := slog.New(levelFilter{Handler: logger.Handler(), min: slog.LevelWarn}).With("component", "ferretdb")
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{Unix: filepath.Join(m.sockDir, "fdb.sock")},
		Logger:   quiet,
		Handler:  "sqlite",
		// FerretDB inserts a batch as one statement per document inside a
		// transaction, so SQLite journals the pages each statement changes.
		// In memory rather than in a temporary file: that file's page-sized
		// writes were 6% of server CPU under a report flood, 1.5% with this
		// (profiled). Commits are still synced to the write-ahead log before
		// FerretDB answers. Checkpoints are the checkpointer's (see
		// checkpoint.go).
		SQLiteURL: "file:" + dbDir + "/?_pragma=temp_store(memory)&_pragma=wal_autocheckpoint(" + strconv.Itoa(walBackstopPages) + ")",
	})
	if err != nil {
		os.RemoveAll(m.sockDir)
		m.lock.unlock()
		return "", fmt.Errorf("labels: start embedded ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop, m.done, m.Embedded = cancel, make(chan struct{}), true
	m.ids = &idIndexer{files: newSQLiteFiles(dbDir, 10*time.Second), log: logger}
	m.ck = &checkpointer{files: newSQLiteFiles(dbDir, time.Second), log: logger, every: cmp.Or(cfg.checkpointEvery, checkpointEvery)}
	go func() {
		defer close(m.done)
		f.Run(ctx)
	}()
	return f.MongoDBURI(), nil
}

// Close disconnects and stops the embedded server, if any.
func (m *Mongo) Close(ctx context.Context) error {
	var err error
	m.closeOne.Do(func() {
		if m.Client != nil {
			err = m.Client.Disconnect(ctx)
		}
		m.stopEmbedded()
	})
	return err
}

func (m *Mongo) stopEmbedded() {
	if m.idsStop != nil {
		m.idsStop()
		<-m.idsDone
	} else if m.ids != nil {
		m.ids.files.close()
	}
	if m.stop == nil {
		return
	}
	m.stop()
	<-m.done
	os.RemoveAll(m.sockDir)
	m.lock.unlock()
}

// Ping reports whether the database answers.
func (m *Mongo) Ping(ctx context.Context) error {
	return m.Client.Ping(ctx, readpref.Primary())
}

// levelFilter passes the embedded server's records from min up. It hands
// attributes and groups added with With and WithGroup to the handler only
// when a record passes: FerretDB adds the arguments of every SQL statement
// (whole documents) with With before logging them at debug level, and the
// standard handlers format attributes as soon as they are added, which
// cost the embedded store a tenth of its CPU time under a report load.
type levelFilter struct {
	slog.Handler // without the attributes and groups in with
	min          slog.Level
	with         []withOp // oldest first
}

// withOp is one WithAttrs (group empty) or WithGroup call.
type withOp struct {
	group string
	attrs []slog.Attr
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// Handle drops FerretDB's dump of its answer to endSessions, a command it
// does not implement and the driver sends on every disconnect: a dozen
// lines of warnings per shutdown that mean nothing.
func (h levelFilter) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "Response header:") ||
		(strings.HasPrefix(r.Message, "Response message:") && strings.Contains(r.Message, "endSessions")) {
		return nil
	}
	out := h.Handler
	for _, w := range h.with {
		if w.group != "" {
			out = out.WithGroup(w.group)
		} else {
			out = out.WithAttrs(w.attrs)
		}
	}
	return out.Handle(ctx, r)
}

func (h levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	if len(a) == 0 {
		return h
	}
	return levelFilter{Handler: h.Handler, min: h.min, with: append(slices.Clip(h.with), withOp{attrs: a})}
}

func (h levelFilter) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return levelFilter{Handler: h.Handler, min: h.min, with: append(slices.Clip(h.with), withOp{group: name})}
}

// IsFerretDB tells whether db is served by FerretDB (embedded or not),
// whose v1 backends use indexes only for _id lookups.
func IsFerretDB(ctx context.Context, db *mongo.Database) (bool, error) {
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("labels: unable to ask the server what it is: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}
