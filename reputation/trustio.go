package reputation

import (
	"encoding/json"
	"fmt"
)

// storedTrust is the storable form of a Trust. Workers keep their Weight
// per class rather than their confusion matrix (K numbers instead of K²),
// which is all that scoring needs; cohorts and the global pool, which
// answer for unknown workers, keep their full matrices.
type storedTrust struct {
	Classes    []string                      `json:"classes"`
	Prior      map[string]float64            `json:"prior"`
	Cohorts    map[string]WorkerTrust        `json:"cohorts"`
	Global     WorkerTrust                   `json:"global"`
	Spillover  map[string]map[string]float64 `json:"spillover,omitempty"`
	Iterations int                           `json:"iterations"`
	Workers    map[string]storedWorker       `json:"workers"`
}

type storedWorker struct {
	Accuracy   float64   `json:"a"`
	Labels     int       `json:"l"`
	GoldLabels int       `json:"g,omitempty"`
	Weights    []float64 `json:"w"`
}

// EncodeTrust serialises t for storage.
func EncodeTrust(t *Trust) ([]byte, error) {
	st := storedTrust{Classes: t.Classes, Prior: t.Prior, Cohorts: t.Cohorts, Global: t.Global,
		Spillover: t.Spillover, Iterations: t.Iterations, Workers: make(map[string]storedWorker, len(t.Workers))}
	for name, w := range t.Workers {
		sw := storedWorker{Accuracy: w.Accuracy, Labels: w.Labels, GoldLabels: w.GoldLabels, Weights: make([]float64, len(t.Classes))}
		for i, c := range t.Classes {
			sw.Weights[i] = t.Weight(name, c)
		}
		st.Workers[name] = sw
	}
	return json.Marshal(st)
}

// DecodeTrust reads a Trust written by EncodeTrust. Reporters are put in
// cohorts as Rescore does.
func DecodeTrust(b []byte) (*Trust, error) {
	var st storedTrust
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reputation: stored trust: %w", err)
	}
	t := &Trust{Classes: st.Classes, Prior: st.Prior, Cohorts: st.Cohorts, Global: st.Global, Spillover: st.Spillover,
		Iterations: st.Iterations, Workers: make(map[string]WorkerTrust, len(st.Workers)),
		cohortOf: cohortOf, table: make(map[string][]float64, len(st.Workers))}
	for name, w := range st.Workers {
		if len(w.Weights) != len(t.Classes) {
			return nil, fmt.Errorf("reputation: stored trust of %q has %d weights for %d classes", name, len(w.Weights), len(t.Classes))
		}
		t.Workers[name] = WorkerTrust{Accuracy: w.Accuracy, Labels: w.Labels, GoldLabels: w.GoldLabels}
		t.table[name] = w.Weights
	}
	return t, nil
}
