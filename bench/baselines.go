package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ensureTool finds name on PATH and, if it is missing, installs the Debian
// package pkg with apt-get (updating the package lists when the first try
// fails).
func ensureTool(ctx context.Context, name, pkg string, logf func(string, ...any)) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	logf("%s not found; installing the Debian package %s", name, pkg)
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", pkg)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install %s: %w\n%s", pkg, err, lastLinesOf(string(out), 5))
		}
		return nil
	}
	if err := install(); err != nil {
		logf("apt-get install failed; running apt-get update first")
		if out, err := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get update: %w\n%s", err, lastLinesOf(string(out), 5))
		}
		if err := install(); err != nil {
			return "", err
		}
	}
	return exec.LookPath(name)
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// wrkScript sends the requests of a file in turn: one path per line for
// GET, one JSON body per line for POST. Each thread starts at its own
// place in the file.
const wrkScript = `-- Written by go run ./bench.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local reqs, i = {}, 0
function init(args)
  local method = args[2] or "GET"
  for line in io.lines(args[1]) do
    if method == "GET" then
      reqs[#reqs + 1] = wrk.format("GET", line)
    else
      reqs[#reqs + 1] = wrk.format("POST", args[3], {["Content-Type"] = "application/json"}, line)
    end
  end
  i = ((id or 0) * math.floor(#reqs / 2)) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
`

// wrkResult is what wrk printed.
type wrkResult struct {
	requests  int64
	reqPerSec float64
	p50, p99  time.Duration
	non2xx    int64
	errors    string // the "Socket errors" line, if any
}

var (
	wrkReqPerSec = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkTotal     = regexp.MustCompile(`(?m)^\s+(\d+) requests in `)
	wrkPct       = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2xx    = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: (\d+)`)
	wrkErrors    = regexp.MustCompile(`(?m)^\s+(Socket errors: .*)$`)
)

// parseWrk reads the output of wrk --latency.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkReqPerSec.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("bench: no Requests/sec in wrk output")
	}
	r.reqPerSec, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkTotal.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range wrkPct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9}[m[3]]
		d := time.Duration(v * unit)
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkErrors.FindStringSubmatch(out); m != nil {
		r.errors = m[1]
	}
	return r, nil
}

// redisResult is one line of redis-benchmark --csv.
type redisResult struct {
	reqPerSec float64
	p50, p99  time.Duration
}

// parseRedisCSV reads redis-benchmark --csv output:
//
//	"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
//	"GET","45444.22","0.880","0.160","0.583","2.655","6.143","68.159"
func parseRedisCSV(out string) (redisResult, error) {
	var header []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		fields := strings.Split(strings.ReplaceAll(strings.TrimSpace(sc.Text()), `"`, ""), ",")
		if len(fields) < 2 {
			continue
		}
		if fields[0] == "test" {
			header = fields
			continue
		}
		if fields[0] != "GET" || header == nil {
			continue
		}
		var r redisResult
		for i, name := range header {
			if i >= len(fields) {
				break
			}
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch name {
			case "rps":
				r.reqPerSec = v
			case "p50_latency_ms":
				r.p50 = time.Duration(v * 1e6)
			case "p99_latency_ms":
				r.p99 = time.Duration(v * 1e6)
			}
		}
		if r.reqPerSec > 0 {
			return r, nil
		}
	}
	return redisResult{}, errors.New("bench: no GET line in redis-benchmark output")
}

// waitRedis waits until redis answers PING on addr.
func waitRedis(ctx context.Context, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			_, err = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			if err == nil {
				_, err = c.Read(buf)
			}
			c.Close()
			if err == nil && strings.HasPrefix(string(buf), "+PONG") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: redis at %s not answering after %s: %v", addr, within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
