package reputation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Change is what one version of a published list changed against the
// version before it. The chain of changes is what deltas are made of: a
// phone at version v gets the additions of every change after v (Bloom
// filters: only when none removed a key, since a filter cannot forget;
// CallKit lists: additions and removals). Changes are stored with the
// snapshots, so that they survive a restart and lookup replicas serve the
// same deltas, and kept for PublisherConfig.DeltaWindow.
type Change struct {
	List    string
	Version uint64
	// Digest identifies the list's content at Version; Prev and
	// PrevDigest the version it changes (Prev 0: the list was empty).
	Digest     string
	Prev       uint64
	PrevDigest string
	Created    time.Time
	// Added and Removed are sorted keys.
	Added, Removed []string
}

// diffChange returns the change from the sorted keys old to cur.
func diffChange(list string, prev, version uint64, prevDigest, curDigest string, old, cur []string, created time.Time) *Change {
	return &Change{List: list, Version: version, Digest: curDigest, Prev: prev, PrevDigest: prevDigest, Created: created,
		Added: addedKeys(old, cur), Removed: addedKeys(cur, old)}
}

// netChange composes the changes from since (exclusive) to the newest,
// given newest first as chain returns them: the keys present now and not
// at since, and those present at since and not now.
func netChange(chain []*Change) (added, removed map[string]bool) {
	added, removed = map[string]bool{}, map[string]bool{}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, k := range chain[i].Removed {
			if added[k] {
				delete(added, k)
			} else {
				removed[k] = true
			}
		}
		for _, k := range chain[i].Added {
			if removed[k] {
				delete(removed, k)
			} else {
				added[k] = true
			}
		}
	}
	return added, removed
}

// encodeKeys writes sorted keys compactly, front-coded: a uvarint count,
// then per key the uvarint length of the prefix it shares with the key
// before, the uvarint length of the rest, and the rest. Sorted phone
// numbers share most of their digits, so a key costs a few bytes.
func encodeKeys(b []byte, keys []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(keys)))
	prev := ""
	for _, k := range keys {
		n := 0
		for n < len(k) && n < len(prev) && k[n] == prev[n] {
			n++
		}
		b = binary.AppendUvarint(b, uint64(n))
		b = binary.AppendUvarint(b, uint64(len(k)-n))
		b = append(b, k[n:]...)
		prev = k
	}
	return b
}

var errBadKeys = errors.New("reputation: bad key list encoding")

// decodeKeys reads what encodeKeys wrote and returns the rest of b.
func decodeKeys(b []byte) ([]string, []byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, nil, errBadKeys
	}
	b = b[n:]
	keys := make([]string, 0, count)
	prev := ""
	for range count {
		shared, n1 := binary.Uvarint(b)
		if n1 <= 0 {
			return nil, nil, errBadKeys
		}
		rest, n2 := binary.Uvarint(b[n1:])
		if n2 <= 0 || shared > uint64(len(prev)) || rest > uint64(len(b)-n1-n2) {
			return nil, nil, errBadKeys
		}
		b = b[n1+n2:]
		k := prev[:shared] + string(b[:rest])
		b = b[rest:]
		if len(keys) > 0 && k <= prev {
			return nil, nil, fmt.Errorf("%w: keys not ascending", errBadKeys)
		}
		keys = append(keys, k)
		prev = k
	}
	return keys, b, nil
}

// encodeChange is the stored payload of a change: its added keys, then
// its removed keys.
func encodeChange(c *Change) []byte {
	return encodeKeys(encodeKeys(nil, c.Added), c.Removed)
}

func decodeChange(c *Change, b []byte) error {
	var err error
	if c.Added, b, err = decodeKeys(b); err != nil {
		return err
	}
	if c.Removed, b, err = decodeKeys(b); err != nil {
		return err
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the change", errBadKeys, len(b))
	}
	return nil
}
