package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/paredao/paredao/load"
	"io"
	"net/http"
	"testing"
	"time"

	phttp "github.com/paredao/paredao/http"
)

// percentsOf is what the results endpoint must show for exact counts.
func percentsOf(counts map[string]int) map[string]float64 {
	ids := []string{"ana", "bruno", "carla"}
	votes := make([]int64, len(ids))
	for i, id := range ids {
		votes[i] = int64(counts[id])
	}
	out := map[string]float64{}
	for i, tenths := range phttp.Percentages(votes) {
		out[ids[i]] = float64(tenths) / 10
	}
	return out
}

func runEnv(t *testing.T, dataDir string) map[string]string {
	return map[string]string{
		"PAREDAO_DATA_DIR":       dataDir,
		"PAREDAO_BROKER_ADDR":    freeAddr(t),
		"PAREDAO_POW_MAX_NUMBER": "200",
		"PAREDAO_POW_MAX_LEVEL":  "0", // every test client is loopback: a fixed difficulty (TestAdaptiveDifficulty sets it)
		"PAREDAO_PARTITIONS":     "4",
		"PAREDAO_LOG_LEVEL":      "info",
	}
}

// The vote path end to end on the real binary: votes acknowledged with 202
// are counted exactly, a replayed proof of work changes nothing, and a
// restart on the same data dir keeps every count.
func TestVoteEndToEnd(t *testing.T) {
	dir := t.TempDir()
	env := runEnv(t, dir)
	p := start(t, env, "run")

	plan := map[string]int{"ana": 160, "bruno": 96, "carla": 64}
	acked := castAll(t, p.http, plan, 40)
	for k, n := range plan {
		if acked[k] != n {
			t.Fatalf("acknowledged %v, want %v", acked, plan)
		}
	}
	want := percentsOf(plan)
	if want["ana"] != 50 || want["bruno"] != 30 || want["carla"] != 20 {
		t.Fatalf("percentsOf(%v) = %v", plan, want)
	}
	waitFor(t, 30*time.Second, "standings 50/30/20", showsPercents(t, p.http, want))

	// A replayed payload is refused at once and never counted.
	c := load.NewVoter(p.http, nil)
	payload := solvedChallenge(t, c, "demo")
	if st, _, _, err := c.Post(context.Background(), "demo", "carla", payload); err != nil || st != http.StatusAccepted {
		t.Fatalf("first use: %d %v", st, err)
	}
	for range 5 {
		if st, r, _, err := c.Post(context.Background(), "demo", "carla", payload); err != nil || st != http.StatusConflict || r.Error.Code != "challenge_used" {
			t.Fatalf("replay: %d %+v %v", st, r, err)
		}
	}
	plan["carla"]++
	want = percentsOf(plan)
	waitFor(t, 30*time.Second, "standings after one more vote", showsPercents(t, p.http, want))

	// The admin listener exports the pipeline's metrics; the public one does not.
	resp, err := http.Get(p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	closeQuiet(resp.Body)
	for _, m := range []string{"paredao_http_votes_accepted_total 321", "paredao_guard_votes_total{outcome=\"accepted\"} 321",
		"paredao_processor_lag_records{", "paredao_views_standings_age_seconds", "paredao_sink_records_total"} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	if st := getJSON(t, p.http+"/metrics", nil); st != http.StatusNotFound {
		t.Errorf("public /metrics: %d", st)
	}

	p.stop()
	if !bytes.Contains([]byte(p.stdout.String()), []byte("production token:")) {
		t.Fatalf("run did not print the production token:\n%s", p.stdout.String())
	}
	env["PAREDAO_HTTP_ADDR"], env["PAREDAO_ADMIN_ADDR"] = "", ""
	p2 := start(t, env, "run")
	waitFor(t, 30*time.Second, "the same standings after a restart", showsPercents(t, p2.http, want))
}

// showsPercents is a waitFor condition: the demo's results show want.
func showsPercents(t *testing.T, base string, want map[string]float64) func() (bool, string) {
	return func() (bool, string) {
		var s standings
		getJSON(t, base+"/api/v1/paredoes/demo/results", &s)
		got := s.percents()
		for k, v := range want {
			if got[k] != v {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	}
}

// solvedChallenge fetches a challenge for voter c on paredao and solves it:
// the payload of one vote.
func solvedChallenge(t *testing.T, c *load.Voter, paredao string) string {
	t.Helper()
	ch, err := c.FetchChallenge(context.Background(), paredao)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := load.Solve(ch)
	if err != nil {
		t.Fatal(err)
	}
	return payload
}
