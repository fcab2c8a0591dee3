package labels

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lockName is the lock file of an embedded store, next to its SQLite files.
const lockName = "callrep.lock"

// dirLock is an exclusive flock on a data directory's lock file, held for
// as long as the embedded store is open. The kernel drops it when the
// process dies, kill -9 included, so a stale file never locks anyone out;
// its content only names the holder for the refusal message.
type dirLock struct{ f *os.File }

// lockDir takes the lock of dir or fails, without waiting, naming the
// process that holds it.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("labels: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("labels: the data directory %s is in use by another callrep (%s); stop it first, or give this one another --data",
				filepath.Dir(dir), strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("labels: lock %s: %w", path, err)
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("pid %d on %s, started %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0)
	}
	return &dirLock{f: f}, nil
}

// unlock releases the lock. The file stays: removing it would let a
// process that opened it meanwhile lock a file nobody else sees.
func (l *dirLock) unlock() {
	if l != nil {
		l.f.Close()
	}
}
