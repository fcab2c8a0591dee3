package labels

import (
	"sync"
	"sync/atomic"
)

// InParallel calls fn(i) for every i in [0, n) from at most workers
// goroutines and returns the error of the lowest i that failed, nil if none
// did. Once one fails no further i starts. It is for reads that storage
// answers one document at a time (by _id, the one filter the embedded
// FerretDB serves from an index).
func InParallel(n, workers int, fn func(i int) error) error {
	errs := make([]error, n)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range min(n, workers) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if errs[i] = fn(i); errs[i] != nil {
					next.Store(int64(n))
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
