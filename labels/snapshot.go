package labels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// A labels snapshot is stored as chunks of at most chunkTarget bytes (a
// few records more), each a self-contained binary document:
//
//	"CRLS" version=1
//	4 tables (categories, sources, number types, regions): u8 count, then
//	  count × (u8 length, bytes)
//	slots until the end, each:
//	  u8 key kind: 0 = E.164 digits as u64, 1 = u8 length + key bytes
//	  u8 number type index | 0x80 if valid, u8 region index, u32 records
//	  records × 31 bytes: u64 reporter key, i64 created at (Unix ms),
//	  u32 report hash, u32 seconds since first labelled, u32 prefix key,
//	  u8 category index, u8 source index, u8 call signals
//
// Integers are little-endian. The tables make a chunk readable by a build
// whose taxonomy or source list has grown since.
const (
	snapshotMagic   = "CRLS"
	snapshotVersion = 1
	// chunkTarget bounds how long writing a chunk holds the embedded
	// store's write lock, which reports wait for: 4 MiB chunks held it
	// 100–140 ms each, 1 MiB ones about a quarter of that.
	chunkTarget = 1 << 20
	recBytes    = 31
)

// chunkWriter encodes slots into one chunk.
type chunkWriter struct {
	buf    []byte
	labels int
}

func newChunkWriter() *chunkWriter {
	w := &chunkWriter{buf: make([]byte, 0, chunkTarget+64<<10)}
	w.buf = append(w.buf, snapshotMagic...)
	w.buf = append(w.buf, snapshotVersion)
	cats := make([]string, len(taxonomy))
	for i, t := range taxonomy {
		cats[i] = t.id
	}
	sourcesMu.RLock()
	srcs := make([]string, len(sources))
	for i, s := range sources {
		srcs[i] = string(s)
	}
	sourcesMu.RUnlock()
	types := make([]string, len(numberTypes))
	for i, t := range numberTypes {
		types[i] = string(t)
	}
	for _, table := range [][]string{cats, srcs, types, regions} {
		w.buf = append(w.buf, byte(len(table)))
		for _, s := range table {
			w.buf = append(w.buf, byte(len(s)))
			w.buf = append(w.buf, s...)
		}
	}
	return w
}

func (w *chunkWriter) full() bool { return len(w.buf) >= chunkTarget }

func (w *chunkWriter) slot(key string, s *slot) {
	if c, ok := digitCode(key); ok {
		w.buf = append(w.buf, 0)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, c)
	} else {
		w.buf = append(w.buf, 1, byte(len(key)))
		w.buf = append(w.buf, key...)
	}
	w.buf = append(w.buf, s.num(), s.region())
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(s.recs)))
	for i := range s.recs {
		r := &s.recs[i]
		w.buf = binary.LittleEndian.AppendUint64(w.buf, r.reporter)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(r.at))
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(r.rid))
		w.buf = binary.LittleEndian.AppendUint32(w.buf, r.firstAgo)
		w.buf = binary.LittleEndian.AppendUint32(w.buf, r.prefix)
		w.buf = append(w.buf, r.cat, r.src, byte(r.sig))
	}
	w.labels += len(s.recs)
}

var errChunk = errors.New("labels: snapshot chunk is corrupt")

// decodeChunk calls fn for every label of a chunk. The label's Number
// parts are shared by the labels of one slot; fn must not keep l.
func decodeChunk(b []byte, fn func(n Number, rec liveRec)) error {
	if len(b) < 5 || string(b[:4]) != snapshotMagic {
		return errChunk
	}
	if b[4] != snapshotVersion {
		return fmt.Errorf("labels: snapshot chunk version %d is not supported", b[4])
	}
	p := 5
	var tables [4][]string
	for t := range tables {
		if p >= len(b) {
			return errChunk
		}
		n := int(b[p])
		p++
		for range n {
			if p >= len(b) || p+1+int(b[p]) > len(b) {
				return errChunk
			}
			l := int(b[p])
			tables[t] = append(tables[t], string(b[p+1:p+1+l]))
			p += 1 + l
		}
	}
	// Map the chunk's indexes to this build's.
	cats := make([]uint8, len(tables[0]))
	for i, c := range tables[0] {
		ci, ok := categoryIndex[c]
		if !ok {
			return fmt.Errorf("labels: snapshot has unknown category %q", c)
		}
		cats[i] = ci
	}
	srcs := make([]uint8, len(tables[1]))
	for i, s := range tables[1] {
		srcs[i] = sourceIndex(Source(s))
	}
	types := make([]NumberType, len(tables[2]))
	for i, t := range tables[2] {
		types[i] = NumberType(t)
	}
	regionNames := tables[3]
	for p < len(b) {
		var key string
		switch b[p] {
		case 0:
			if p+9 > len(b) {
				return errChunk
			}
			c := binary.LittleEndian.Uint64(b[p+1:])
			if c&scopedBit != 0 {
				return errChunk
			}
			key = "+" + strconv.FormatUint(c, 10)
			p += 9
		case 1:
			if p+2 > len(b) || p+2+int(b[p+1]) > len(b) {
				return errChunk
			}
			key = string(b[p+2 : p+2+int(b[p+1])])
			p += 2 + int(b[p+1])
		default:
			return errChunk
		}
		if p+6 > len(b) {
			return errChunk
		}
		num, region := b[p], b[p+1]
		count := int(binary.LittleEndian.Uint32(b[p+2:]))
		p += 6
		if int(num&^validBit) >= len(types) || int(region) >= len(regionNames) || count > (len(b)-p)/recBytes {
			return errChunk
		}
		n := numberFromKey(key, num&validBit != 0, types[num&^validBit], regionNames[region])
		code := numberCode(n.Type, n.Valid)
		for range count {
			r := liveRec{
				reporter: binary.LittleEndian.Uint64(b[p:]),
				at:       int64(binary.LittleEndian.Uint64(b[p+8:])),
				rid:      uint16(binary.LittleEndian.Uint32(b[p+16:])),
				firstAgo: binary.LittleEndian.Uint32(b[p+20:]),
				prefix:   binary.LittleEndian.Uint32(b[p+24:]),
				sig:      CallSignal(b[p+30]),
				num:      code,
				region:   regionIndex(n.Region),
			}
			if int(b[p+28]) >= len(cats) || int(b[p+29]) >= len(srcs) {
				return errChunk
			}
			r.cat, r.src = cats[b[p+28]], srcs[b[p+29]]
			fn(n, r)
			p += recBytes
		}
	}
	return nil
}

// recOfLabel converts a label read from a legacy snapshot document.
func recOfLabel(l *Label) liveRec {
	first := l.FirstAt
	if first.IsZero() || first.After(l.CreatedAt) {
		first = l.CreatedAt
	}
	return liveRec{
		reporter: ReporterKey(l.Reporter), at: l.CreatedAt.UnixMilli(), rid: reportHash(l.ReportID),
		firstAgo: uint32(min(l.CreatedAt.Sub(first)/time.Second, math.MaxUint32)),
		prefix:   PrefixKey(l.IPPrefix), cat: categoryIndex[l.Category], src: sourceIndex(l.Source), sig: l.Call.Signals(),
		num: numberCode(l.NumberType, l.Valid), region: regionIndex(l.Region),
	}
}
