package reputation

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// storedTrust is the storable form of a Trust. Workers keep their Weight
// per class rather than their confusion matrix (K numbers instead of K²),
// which is all that scoring needs; cohorts and the global pool, which
// answer for unknown workers, keep their full matrices. EncodeTrust writes
// it as JSON without its workers, which follow in binary; earlier builds
// wrote it whole as JSON.
type storedTrust struct {
	Classes    []string                      `json:"classes"`
	Prior      map[string]float64            `json:"prior"`
	Cohorts    map[string]WorkerTrust        `json:"cohorts"`
	Global     WorkerTrust                   `json:"global"`
	Spillover  map[string]map[string]float64 `json:"spillover,omitempty"`
	Iterations int                           `json:"iterations"`
	Workers    map[string]storedWorker       `json:"workers,omitempty"`
}

type storedWorker struct {
	Accuracy   float64   `json:"a"`
	Labels     int       `json:"l"`
	GoldLabels int       `json:"g,omitempty"`
	Weights    []float64 `json:"w"`
}

// EncodeTrust serialises t for storage, in the binary form below. The
// estimate of a million app reporters with ten classes took 149 MiB and
// 11.7 s to decode as JSON, too slow for a start in seconds; in this form
// 103 MiB and 1.0 s (BenchmarkTrustDecode).
//
//	"CRT" 0x01                  magic and version
//	uvarint n, n bytes           JSON of storedTrust without its workers
//	uvarint count                workers, sorted by name, each:
//	  uvarint n, n bytes         name
//	  8 bytes                    accuracy, IEEE 754 little-endian
//	  uvarint, uvarint           labels, gold labels
//	  len(classes) × 8 bytes     weights in Classes order
func EncodeTrust(t *Trust) ([]byte, error) {
	head, err := json.Marshal(storedTrust{Classes: t.Classes, Prior: t.Prior, Cohorts: t.Cohorts, Global: t.Global,
		Spillover: t.Spillover, Iterations: t.Iterations})
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(t.Workers))
	b := make([]byte, 0, len(trustMagic)+len(head)+len(names)*(24+8*len(t.Classes)))
	b = append(b, trustMagic...)
	b = binary.AppendUvarint(b, uint64(len(head)))
	b = append(b, head...)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		w := t.Workers[name]
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w.Accuracy))
		b = binary.AppendUvarint(b, uint64(w.Labels))
		b = binary.AppendUvarint(b, uint64(w.GoldLabels))
		for _, c := range t.Classes {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.Weight(name, c)))
		}
	}
	return b, nil
}

// trustMagic starts a trust estimate in the binary form of EncodeTrust;
// one without it is the JSON form of earlier builds.
const trustMagic = "CRT\x01"

// DecodeTrust reads a Trust written by EncodeTrust, or by earlier builds
// as JSON. Reporters are put in cohorts as Rescore does.
func DecodeTrust(b []byte) (*Trust, error) {
	if !bytes.HasPrefix(b, []byte(trustMagic)) {
		return decodeTrustJSON(b)
	}
	r := trustReader{b: b[len(trustMagic):]}
	var st storedTrust
	if head := r.bytes(); r.err == nil {
		if err := json.Unmarshal(head, &st); err != nil {
			return nil, fmt.Errorf("reputation: stored trust: %w", err)
		}
	}
	k := len(st.Classes)
	n := r.uvarint()
	// Every worker takes at least 11 + 8k bytes: a count beyond what is
	// left is corrupt, not a reason to allocate.
	if r.err == nil && n > uint64(len(r.b))/uint64(11+8*k) {
		r.err = errors.New("more workers than bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("reputation: stored trust: %w", r.err)
	}
	// A first pass checks the layout and sizes the names; the second
	// copies all names into one string and all weights into one array,
	// rather than allocating per worker.
	start, size := r.b, 0
	for range n {
		l := r.uvarint()
		r.skip(l)
		size += int(l)
		r.skip(8)
		r.uvarint()
		r.uvarint()
		r.skip(uint64(8 * k))
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d bytes after the last worker", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("reputation: stored trust: %w", r.err)
	}
	t := newDecodedTrust(st, int(n))
	var names strings.Builder
	names.Grow(size) // never grows again: earlier names stay where they are
	weights := make([]float64, int(n)*k)
	r = trustReader{b: start}
	for i := range int(n) {
		from := names.Len()
		names.Write(r.bytes())
		name := names.String()[from:]
		w := WorkerTrust{Accuracy: math.Float64frombits(r.uint64()), Labels: int(r.uvarint()), GoldLabels: int(r.uvarint())}
		ws := weights[i*k : (i+1)*k : (i+1)*k]
		for j := range ws {
			ws[j] = math.Float64frombits(r.uint64())
		}
		t.Workers[name], t.table[name] = w, ws
	}
	return t, nil
}

func newDecodedTrust(st storedTrust, workers int) *Trust {
	return &Trust{Classes: st.Classes, Prior: st.Prior, Cohorts: st.Cohorts, Global: st.Global, Spillover: st.Spillover,
		Iterations: st.Iterations, Workers: make(map[string]WorkerTrust, workers),
		cohortOf: cohortOf, table: make(map[string][]float64, workers)}
}

// decodeTrustJSON reads the JSON form of earlier builds.
func decodeTrustJSON(b []byte) (*Trust, error) {
	var st storedTrust
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reputation: stored trust: %w", err)
	}
	t := newDecodedTrust(st, len(st.Workers))
	for name, w := range st.Workers {
		if len(w.Weights) != len(t.Classes) {
			return nil, fmt.Errorf("reputation: stored trust of %q has %d weights for %d classes", name, len(w.Weights), len(t.Classes))
		}
		t.Workers[name] = WorkerTrust{Accuracy: w.Accuracy, Labels: w.Labels, GoldLabels: w.GoldLabels}
		t.table[name] = w.Weights
	}
	return t, nil
}

// trustReader reads the binary form; its first error sticks.
type trustReader struct {
	b   []byte
	err error
}

func (r *trustReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *trustReader) uint64() uint64 {
	if r.err == nil && len(r.b) < 8 {
		r.err = errors.New("truncated")
	}
	if r.err != nil {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *trustReader) skip(n uint64) {
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
	}
	if r.err == nil {
		r.b = r.b[n:]
	}
}

func (r *trustReader) bytes() []byte {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
	}
	if r.err != nil {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
