package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// reportRun is the report load and its verification.
type reportRun struct {
	attempted       bool
	err             string
	res             *loadResult
	statuses        []int16 // per request index; 0 = not sent or transport error
	acked           int64   // 2xx answers
	metricsAccepted int64   // callrep_reports_accepted_total gained during the run
	durable         int64
	missing         int64
	verifiedBy      string
}

// mintTokens asks callrep token for a token per user.
func (b *bench) mintTokens(ctx context.Context) ([]string, error) {
	tokens := make([]string, b.cfg.users)
	b.rawCommand("for i in $(seq 0 " + strconv.Itoa(b.cfg.users-1) + "); do $W/bin/callrep token --uid user$i --data $DATA; done")
	b.logf("minting %d tokens with callrep token", b.cfg.users)
	err := runAll(4, b.cfg.users, func(i int) error {
		out, err := exec.CommandContext(ctx, b.callrepBin, "token", "--uid", "user"+strconv.Itoa(i), "--data", b.dataDir).Output()
		if err != nil {
			return fmt.Errorf("callrep token --uid user%d: %w", i, err)
		}
		tokens[i] = strings.TrimSpace(string(out))
		if tokens[i] == "" {
			return fmt.Errorf("callrep token --uid user%d printed nothing", i)
		}
		return nil
	})
	return tokens, err
}

// reports runs the report load on s.
func (b *bench) reports(ctx context.Context, s *server) reportRun {
	var rr reportRun
	if !s.ready || !s.p.running() {
		rr.err = "callrep is not running (" + s.failure + ")"
		return rr
	}
	tokens, err := b.mintTokens(ctx)
	if err != nil {
		rr.err = err.Error()
		return rr
	}
	var cats struct {
		Categories []struct {
			ID string `json:"id"`
		} `json:"categories"`
	}
	if err := httpGetJSON(ctx, "http://"+s.addr+"/v1/categories", &cats); err != nil || len(cats.Categories) == 0 {
		rr.err = fmt.Sprintf("GET /v1/categories: %v", err)
		return rr
	}
	ids := make([]string, len(cats.Categories))
	for i, c := range cats.Categories {
		ids[i] = c.ID
	}
	before, err := scrapeMetrics(ctx, s.addr)
	if err != nil {
		rr.err = "/metrics: " + err.Error()
		return rr
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	nums := b.ds.reports
	rr.statuses = make([]int16, len(nums))
	rr.attempted = true
	b.logf("load reports: closed loop, %d connections, %d users, %s (at most %s reports)", b.cfg.reportConns, b.cfg.users, b.cfg.duration, num(len(nums)))
	b.under = s
	stopWatch := b.watch("the report load", s.addr)
	rr.res, err = runLoad(ctx, loadSpec{
		name: "callrep reports", addr: s.addr, conns: b.cfg.reportConns, groups: 2, dur: b.cfg.duration, max: int64(len(nums)),
		req: func(i int64, buf []byte) []byte {
			body := fmt.Appendf(nil, `{"number":"%s","category":"%s","client_report_id":"bench-%s-%d"}`, e164(nums[i]), ids[int(i)%len(ids)], runID, i)
			return append(buf, postRequest("/v1/reports", tokens[int(i)%len(tokens)], body)...)
		},
		done:     func(i int64, status int) { rr.statuses[i] = int16(status) },
		progress: b.logf,
	})
	stopWatch()
	b.under = nil
	if err != nil {
		rr.err = err.Error()
		return rr
	}
	for _, st := range rr.statuses {
		if st >= 200 && st < 300 {
			rr.acked++
		}
	}
	if after, err := scrapeMetrics(ctx, s.addr); err == nil {
		rr.metricsAccepted = int64(after["callrep_reports_accepted_total"] - before["callrep_reports_accepted_total"])
	}
	b.logf("load reports: %s acknowledged (%s/s), p50 %s, p99 %s, %s; callrep_reports_accepted_total +%s",
		num(rr.acked), num(int64(float64(rr.acked)/rr.res.elapsed.Seconds())), ms(rr.res.lat.quantile(0.5)), ms(rr.res.lat.quantile(0.99)),
		rr.res.statusSummary(), num(rr.metricsAccepted))
	if int64(len(nums)) == rr.res.responses+rr.res.errors {
		b.note("the report load ran out of its %s fresh numbers before %s", num(len(nums)), b.cfg.duration)
	}
	return rr
}

// verifyReports looks up every acknowledged number on the restarted
// server: a number nobody else reported has a reporter only if the report
// was stored.
func (b *bench) verifyReports(ctx context.Context, s *server, rr *reportRun) {
	if !rr.attempted || rr.res == nil {
		return
	}
	var acked []uint64
	for i, st := range rr.statuses {
		if st >= 200 && st < 300 {
			acked = append(acked, b.ds.reports[i])
		}
	}
	var reqs [][]byte
	for i := 0; i < len(acked); i += batchSize {
		b := []byte(`{"numbers":[`)
		for k, n := range acked[i:min(i+batchSize, len(acked))] {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, e164(n))
		}
		b = append(b, "]}"...)
		reqs = append(reqs, postRequest("/v1/numbers/lookup", "", b))
	}
	b.logf("%s: reading back %s acknowledged reports with %d batch lookups", s.label, num(len(acked)), len(reqs))
	statuses, bodies, err := fetchAll(ctx, s.addr, reqs, 4)
	if err != nil {
		b.note("reading back the reports: %v", err)
		rr.verifiedBy = "not verified: " + err.Error()
		return
	}
	var found int64
	for i := range reqs {
		var resp struct {
			Results []lookupJSON `json:"results"`
		}
		if statuses[i] != 200 || json.Unmarshal(bodies[i], &resp) != nil {
			continue
		}
		for _, r := range resp.Results {
			if r.Reporters >= 1 {
				found++
			}
		}
	}
	rr.durable = found
	rr.missing = int64(len(acked)) - found
	rr.verifiedBy = fmt.Sprintf("read back after the restart: %s of %s acknowledged reports found", num(found), num(len(acked)))
	if rr.missing > 0 {
		b.note("%s acknowledged reports are missing after the restart", num(rr.missing))
	}
}

// reportFigures makes the two report figures.
func (b *bench) reportFigures(rr reportRun) {
	const rateName = "durable reports/s (200 users, 32 connections, embedded default)"
	const p99Name = "report p99"
	if rr.res == nil {
		b.addFigure(notMeasured(rateName, "≥ 3,000/s", rr.err))
		b.addFigure(notMeasured(p99Name, "≤ 50 ms", rr.err))
		return
	}
	b.errorNote(rr.res)
	if rr.verifiedBy == "" {
		rr.verifiedBy = "not verified"
	}
	v := float64(rr.durable) / rr.res.elapsed.Seconds()
	b.addFigure(figure{name: rateName,
		measured: fmt.Sprintf("%s (%s acknowledged in %s; %s)", rate(v, "reports/s"), num(rr.acked), secs(rr.res.elapsed), rr.verifiedBy),
		baseline: "—", ratio: "—", target: "≥ 3,000/s", pass: v >= 3000 && rr.missing == 0 && rr.durable > 0})
	p99 := rr.res.lat.quantile(0.99)
	b.addFigure(figure{name: p99Name, measured: fmt.Sprintf("p99 %s (p50 %s, max %s)", ms(p99), ms(rr.res.lat.quantile(0.5)), ms(rr.res.lat.max())),
		baseline: "—", ratio: "—", target: "≤ 50 ms", pass: p99 <= 50*time.Millisecond && rr.res.ok > 0})
	b.detail("Reports: %s; callrep_reports_accepted_total rose by %s during the run.", rr.res.statusSummary(), num(rr.metricsAccepted))
}
