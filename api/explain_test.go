package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestExplain(t *testing.T) {
	env := newEnv(t)
	const num = "+8613800138000"
	for i, cat := range []string{"fraud", "fraud", "delivery"} {
		env.report(t, env.token(t, fmt.Sprint("user", i)), map[string]any{"number": num, "category": cat}, http.StatusCreated)
	}
	moderator := mustIssue(t, env.issuer, "mod", true, time.Hour)
	path := numberPath("/v1/numbers/", num) + "/explain"

	t.Run("Moderator", func(t *testing.T) {
		r := env.get(t, path+"?limit=2", moderator)
		wantStatus(t, r, http.StatusOK)
		var ex struct {
			Number     string
			Reputation struct{ Reporters int }
			HalfLives  map[string]int64 `json:"half_lives_s"`
			Contribs   []struct {
				Reporter, Category string
				Weight             float64
				CurrentWeight      float64 `json:"current_weight"`
				Counted            bool
			} `json:"contributions"`
		}
		if err := json.Unmarshal(r.body, &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Number != num || ex.Reputation.Reporters != 3 || len(ex.Contribs) != 2 || ex.HalfLives["nuisance"] != 30*24*3600 {
			t.Fatalf("got %+v", ex)
		}
		for _, c := range ex.Contribs {
			if !strings.HasPrefix(c.Reporter, "rp-") || !c.Counted || c.Weight <= 0 || c.CurrentWeight > c.Weight {
				t.Fatalf("contribution %+v", c)
			}
		}
		if strings.Contains(string(r.body), "user0") {
			t.Fatal("an explanation names a reporter")
		}
	})
	t.Run("NotModerator", func(t *testing.T) {
		wantError(t, env.get(t, path, env.token(t, "user0")), http.StatusForbidden, "forbidden")
	})
	t.Run("NoToken", func(t *testing.T) {
		wantError(t, env.get(t, path, ""), http.StatusUnauthorized, "unauthorized")
	})
	t.Run("BadLimit", func(t *testing.T) {
		wantError(t, env.get(t, path+"?limit=0", moderator), http.StatusBadRequest, "invalid_argument")
	})
	t.Run("Emergency", func(t *testing.T) {
		wantError(t, env.get(t, "/v1/numbers/110/explain?region=CN", moderator), http.StatusUnprocessableEntity, "number_not_labelable")
	})
}
