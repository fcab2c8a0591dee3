package api

import (
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

const (
	defaultExplainLimit = 50
	maxExplainLimit     = 1000
)

// explainNumber answers GET /v1/numbers/{number}/explain for moderators.
func (s *Server) explainNumber(c *gin.Context) {
	p, _ := PrincipalFromContext(c.Request.Context())
	if !p.Moderator {
		s.fail(c, labels.Errorf(labels.EForbidden, "explanations are for moderators"))
		return
	}
	limit, err := queryInt(c, "limit", defaultExplainLimit, 1, maxExplainLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	n, err := s.labels.Normalize(c.Param("number"), c.Query("region"))
	if err != nil {
		s.fail(c, err)
		return
	}
	ex, err := s.rep.Explanation(c.Request.Context(), n, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toExplanationJSON(ex))
}

type explanationJSON struct {
	Number        string             `json:"number"`
	Reputation    *reputationJSON    `json:"reputation"`
	HalfLives     map[string]int64   `json:"half_lives_s"`
	Contributions []contributionJSON `json:"contributions"`
	Flags         []flagJSON         `json:"flags"`
	ResetAt       *time.Time         `json:"reset_at,omitempty"`
}

type contributionJSON struct {
	Reporter      string      `json:"reporter"`
	Source        string      `json:"source"`
	Category      string      `json:"category"`
	CreatedAt     time.Time   `json:"created_at"`
	AgeS          int64       `json:"age_s"`
	Trust         float64     `json:"trust"`
	Weight        float64     `json:"weight"`
	CurrentWeight float64     `json:"current_weight"`
	Decay         float64     `json:"decay"`
	Counted       bool        `json:"counted"`
	Capped        string      `json:"capped,omitempty"`
	Record        *recordJSON `json:"record,omitempty"`
}

type recordJSON struct {
	Accuracy   float64 `json:"accuracy"`
	Labels     int     `json:"labels"`
	GoldLabels int     `json:"gold_labels"`
}

type flagJSON struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func toExplanationJSON(ex reputation.Explanation) explanationJSON {
	out := explanationJSON{
		Number:        ex.Result.Number.Key,
		Reputation:    toReputationJSON(ex.Result, nil),
		HalfLives:     make(map[string]int64, len(ex.HalfLife)),
		Contributions: toContributionsJSON(ex.Contributions),
		Flags:         toFlagsJSON(ex.Flags),
		ResetAt:       optionalTime(ex.ResetAt),
	}
	for risk, h := range ex.HalfLife {
		out.HalfLives[string(risk)] = int64(h / time.Second)
	}
	return out
}

func toContributionsJSON(cs []reputation.Contribution) []contributionJSON {
	out := make([]contributionJSON, 0, len(cs))
	for _, c := range cs {
		cj := contributionJSON{
			Reporter: c.Reporter, Source: string(c.Source), Category: c.Category, CreatedAt: c.At.UTC(),
			AgeS: max(int64(c.Age/time.Second), 0), Trust: round3(c.Trust), Weight: round3(c.Weight),
			CurrentWeight: round3(c.Current), Decay: min(round3(c.Decay), 1), Counted: c.Counted, Capped: c.Capped,
		}
		if c.Record != nil {
			cj.Record = &recordJSON{Accuracy: round3(c.Record.Accuracy), Labels: c.Record.Labels, GoldLabels: c.Record.GoldLabels}
		}
		out = append(out, cj)
	}
	return out
}

// toFlagsJSON lists flags by reason.
func toFlagsJSON(flags map[string]time.Time) []flagJSON {
	out := make([]flagJSON, 0, len(flags))
	for reason, at := range flags {
		out = append(out, flagJSON{Reason: reason, At: at.UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}
