package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator speaks HTTP/1.1 over keep-alive connections itself:
// a request is a precomputed byte slice written in one call and a response
// is parsed just enough to find its end, so the client costs a fraction of
// what net/http would and the server stays the bottleneck.

// loadSpec describes one load run against one server.
type loadSpec struct {
	name   string
	addr   string // host:port
	conns  int    // keep-alive connections, one request in flight on each
	groups int    // connections are split into this many groups, as wrk -t splits them into threads
	dur    time.Duration
	// max bounds the requests; the run ends at whichever of dur and max
	// comes first.
	max int64
	// rate, if positive, makes the run open-loop: request i is due at
	// start + i/rate whatever the server does, and its latency counts from
	// then, so that a slow response delays (and penalises) the ones behind
	// it, as in wrk2. Zero runs closed-loop: each connection sends its next
	// request when the previous answer is in.
	rate float64
	// req returns the bytes of request i; buf may be used to build them.
	// It is called concurrently.
	req func(i int64, buf []byte) []byte
	// done, if set, is called with each request's index and status (0 for
	// a transport error), concurrently.
	done func(i int64, status int)
	// progress prints a line every few seconds; nil prints nothing.
	progress func(format string, args ...any)
}

// loadResult is what a run measured.
type loadResult struct {
	name      string
	conns     int
	rate      float64 // target rate of an open-loop run
	responses int64
	ok        int64 // 2xx responses
	statuses  map[int]int64
	errors    int64 // transport errors (the connection is redialled)
	firstErr  string
	missed    int64 // open loop: requests not sent by the end
	elapsed   time.Duration
	// lat is the latency of every response: from the send in a closed-loop
	// run, from the scheduled time in an open-loop one.
	lat hist
	// service is, in an open-loop run, the latency from the actual send.
	service hist
}

// okPerSec is the rate of 2xx responses.
func (r *loadResult) okPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// add merges o, a run of the same load after r, into r.
func (r *loadResult) add(o *loadResult) {
	r.responses += o.responses
	r.ok += o.ok
	for st, n := range o.statuses {
		if r.statuses == nil {
			r.statuses = map[int]int64{}
		}
		r.statuses[st] += n
	}
	r.errors += o.errors
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	r.missed += o.missed
	r.elapsed += o.elapsed
	r.lat.merge(&o.lat)
	r.service.merge(&o.service)
}

// non2xx sums the responses that were not 2xx.
func (r *loadResult) non2xx() int64 { return r.responses - r.ok }

// statusSummary lists the statuses seen, e.g. "200×1000 429×3".
func (r *loadResult) statusSummary() string {
	var b bytes.Buffer
	for code := 0; code < 600; code++ {
		if n := r.statuses[code]; n > 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%d×%d", code, n)
		}
	}
	if r.errors > 0 {
		fmt.Fprintf(&b, " transport-errors×%d (first: %s)", r.errors, r.firstErr)
	}
	return b.String()
}

// workerStats is one connection's share of a loadResult.
type workerStats struct {
	lat, service hist
	statuses     [600]int64
	errors       int64
	firstErr     string
	missed       int64
}

// runLoad runs spec and returns what it measured. Every connection is
// dialled before the clock starts.
func runLoad(ctx context.Context, spec loadSpec) (*loadResult, error) {
	if spec.conns < 1 || spec.groups < 1 || spec.dur <= 0 || spec.max < 1 {
		return nil, fmt.Errorf("bench: bad load spec %s", spec.name)
	}
	conns := make([]*httpConn, spec.conns)
	for k := range conns {
		c, err := dialHTTP(spec.addr)
		if err != nil {
			for _, c := range conns[:k] {
				c.close()
			}
			return nil, fmt.Errorf("bench: %s: %w", spec.name, err)
		}
		conns[k] = c
	}
	total := spec.max
	if spec.rate > 0 {
		total = min(total, int64(spec.rate*spec.dur.Seconds()))
	}
	stats := make([]*workerStats, spec.conns)
	counters := make([]atomic.Int64, spec.groups) // closed loop: next request of each group
	var responses atomic.Int64
	start := time.Now()
	deadline := start.Add(spec.dur)
	// An open-loop run may end late by a backlog; this bounds it.
	hardStop := deadline.Add(max(5*time.Second, spec.dur/4))
	runCtx, cancel := context.WithDeadline(ctx, hardStop)
	defer cancel()

	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if spec.progress != nil {
		progressDone.Go(func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					el := time.Since(start)
					n := responses.Load()
					spec.progress("%s: %.0f/%.0f s, %d responses, %.0f/s", spec.name, el.Seconds(), spec.dur.Seconds(), n, float64(n)/el.Seconds())
				}
			}
		})
	}

	var wg sync.WaitGroup
	for k := range conns {
		st := &workerStats{}
		stats[k] = st
		g := k % spec.groups
		wg.Go(func() {
			w := worker{spec: &spec, conn: conns[k], st: st, responses: &responses}
			defer func() { w.conn.close() }()
			if spec.rate > 0 {
				w.open(runCtx, k, total, start, deadline)
			} else {
				w.closed(runCtx, &counters[g], g, total, deadline)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	progressDone.Wait()

	res := &loadResult{name: spec.name, conns: spec.conns, rate: spec.rate, elapsed: elapsed, statuses: map[int]int64{}}
	for _, st := range stats {
		res.lat.merge(&st.lat)
		res.service.merge(&st.service)
		for code, n := range st.statuses {
			if n == 0 {
				continue
			}
			res.statuses[code] += n
			res.responses += n
			if code >= 200 && code < 300 {
				res.ok += n
			}
		}
		res.errors += st.errors
		res.missed += st.missed
		if res.firstErr == "" {
			res.firstErr = st.firstErr
		}
	}
	return res, ctx.Err()
}

// worker drives one connection.
type worker struct {
	spec      *loadSpec
	conn      *httpConn
	st        *workerStats
	responses *atomic.Int64
	buf       []byte
}

// closed sends requests back to back until the deadline or the bound.
// Group g takes the indexes g, g+groups, g+2·groups, …
func (w *worker) closed(ctx context.Context, next *atomic.Int64, g int, total int64, deadline time.Time) {
	groups := int64(w.spec.groups)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		i := (next.Add(1)-1)*groups + int64(g)
		if i >= total {
			return
		}
		sent := time.Now()
		status := w.do(ctx, i)
		if status > 0 {
			w.st.lat.record(time.Since(sent))
		}
	}
}

// open sends this connection's share of an open-loop schedule: with C
// connections, connection k sends requests k, k+C, k+2C, … each at its due
// time, or at once when it is already late.
func (w *worker) open(ctx context.Context, k int, total int64, start, deadline time.Time) {
	c := int64(w.spec.conns)
	for i := int64(k); i < total; i += c {
		due := start.Add(time.Duration(float64(i) / w.spec.rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil || !time.Now().Before(deadline.Add(5*time.Second)) {
			w.st.missed += (total-i-1)/c + 1
			return
		}
		sent := time.Now()
		status := w.do(ctx, i)
		if status > 0 {
			now := time.Now()
			w.st.lat.record(now.Sub(due))
			w.st.service.record(now.Sub(sent))
		}
	}
}

// do sends request i and reads its response, redialling after a
// transport error. It returns the status, 0 on a transport error.
func (w *worker) do(ctx context.Context, i int64) int {
	req := w.spec.req(i, w.buf[:0])
	if cap(req) > cap(w.buf) {
		w.buf = req[:0]
	}
	status, _, err := w.conn.roundTrip(req, false)
	if err == nil && status >= 100 && status < 600 {
		w.st.statuses[status]++
		w.responses.Add(1)
		if w.spec.done != nil {
			w.spec.done(i, status)
		}
		if w.conn.closing {
			w.redial(ctx)
		}
		return status
	}
	if err == nil {
		err = fmt.Errorf("status %d", status)
	}
	w.st.errors++
	if w.st.firstErr == "" {
		w.st.firstErr = err.Error()
	}
	if w.spec.done != nil {
		w.spec.done(i, 0)
	}
	w.redial(ctx)
	return 0
}

// redial replaces the connection, retrying until ctx ends.
func (w *worker) redial(ctx context.Context) {
	w.conn.close()
	for ctx.Err() == nil {
		c, err := dialHTTP(w.conn.addr)
		if err == nil {
			w.conn = c
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// httpConn is one keep-alive HTTP/1.1 connection.
type httpConn struct {
	addr    string
	c       net.Conn
	br      *bufio.Reader
	closing bool // the server said Connection: close
}

// requestTimeout bounds one round trip.
const requestTimeout = 30 * time.Second

func dialHTTP(addr string) (*httpConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &httpConn{addr: addr, c: c, br: bufio.NewReaderSize(c, 64<<10)}, nil
}

func (hc *httpConn) close() {
	if hc.c != nil {
		hc.c.Close()
	}
}

// roundTrip writes req and reads the response; with capture it returns the
// body too (de-chunked).
func (hc *httpConn) roundTrip(req []byte, capture bool) (int, []byte, error) {
	if err := hc.c.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, nil, err
	}
	if _, err := hc.c.Write(req); err != nil {
		return 0, nil, err
	}
	status, body, closing, err := readResponse(hc.br, capture)
	hc.closing = closing
	return status, body, err
}

var errBadResponse = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.1 response from br: the status, and the
// body if capture (otherwise it is skipped). closing reports a
// Connection: close.
func readResponse(br *bufio.Reader, capture bool) (status int, body []byte, closing bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, errBadResponse
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, errBadResponse
	}
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h := bytes.TrimRight(line, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, nil, false, errBadResponse
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, nil, false, errBadResponse
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	var out *bytes.Buffer
	if capture {
		out = &bytes.Buffer{}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
	case chunked:
		if err = readChunked(br, out); err != nil {
			return 0, nil, false, err
		}
	case length >= 0:
		if err = skipOrCopy(br, length, out); err != nil {
			return 0, nil, false, err
		}
	default:
		return 0, nil, false, errors.New("response without a length on a keep-alive connection")
	}
	if out != nil {
		body = out.Bytes()
	}
	return status, body, closing, nil
}

func skipOrCopy(br *bufio.Reader, n int64, out *bytes.Buffer) error {
	if out == nil {
		_, err := br.Discard(int(n))
		return err
	}
	_, err := io.CopyN(out, br, n)
	return err
}

func readChunked(br *bufio.Reader, out *bytes.Buffer) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errBadResponse
		}
		if n == 0 {
			for { // trailers, then the blank line
				line, err = br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if err := skipOrCopy(br, n, out); err != nil {
			return err
		}
		if _, err := br.Discard(2); err != nil { // CRLF after the chunk
			return err
		}
	}
}

// fetchAll sends reqs over a few connections and returns each response's
// status and body, for the checks around the load runs (not timed).
func fetchAll(ctx context.Context, addr string, reqs [][]byte, conns int) ([]int, [][]byte, error) {
	statuses := make([]int, len(reqs))
	bodies := make([][]byte, len(reqs))
	var next atomic.Int64
	errc := make(chan error, conns)
	for range conns {
		go func() {
			c, err := dialHTTP(addr)
			if err != nil {
				errc <- err
				return
			}
			defer func() { c.close() }()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(reqs)) {
					errc <- nil
					return
				}
				st, body, err := c.roundTrip(reqs[i], true)
				if err != nil {
					errc <- err
					return
				}
				statuses[i], bodies[i] = st, body
				if c.closing {
					c.close()
					if c, err = dialHTTP(addr); err != nil {
						errc <- err
						return
					}
				}
			}
			errc <- ctx.Err()
		}()
	}
	var first error
	for range conns {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return statuses, bodies, first
}
