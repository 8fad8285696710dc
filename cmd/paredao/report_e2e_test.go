package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/paredao/paredao/load"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type report struct {
	ParedaoID    string `json:"paredaoId"`
	Total        int64  `json:"total"`
	Participants []struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Votes int64  `json:"votes"`
	} `json:"participants"`
	Hourly []struct {
		Hour         time.Time `json:"hour"`
		Total        int64     `json:"total"`
		Participants []struct {
			ID    string `json:"id"`
			Votes int64  `json:"votes"`
		} `json:"participants"`
	} `json:"hourly"`
	ExactUntil time.Time `json:"exactUntil"`
	AsOf       time.Time `json:"asOf"`
}

func authGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuiet(resp.Body)
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func authPost(t *testing.T, url, token string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuiet(resp.Body)
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func getReport(t *testing.T, base, id, token string) report {
	t.Helper()
	st, b := authGet(t, base+"/api/v1/production/paredoes/"+id+"/report", token)
	if st != http.StatusOK {
		t.Fatalf("report: %d %s", st, b)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// closePG closes a PostgreSQL connection the test is done with, logging an
// error: its checks are over by then.
func closePG(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Close(ctx); err != nil {
		t.Logf("close the PostgreSQL connection: %v", err)
	}
}

// testDatabase creates a fresh PostgreSQL database for one test. Without a
// server the test fails in CI and is skipped elsewhere.
func testDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("PAREDAO_TEST_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL unreachable at %s: %v", admin, err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set PAREDAO_TEST_DATABASE_URL", err)
	}
	defer closePG(t, conn)
	name := fmt.Sprintf("paredao_e2e_%d", rand.Uint64())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				t.Logf("drop the test database %s: %v", name, err)
			}
			closePG(t, c)
		}
	})
	i := strings.LastIndex(admin, "/")
	q := ""
	if j := strings.Index(admin[i:], "?"); j >= 0 {
		q = admin[i+j:]
	}
	return admin[:i+1] + name + q
}

// Exact production reports from PostgreSQL: votes spread over several short
// windows reach SQL; the report's total, per participant and hourly numbers
// equal the votes that got 202, the hours add up to the total, the CSV
// matches the JSON; a vote after the close is refused and one just before it
// is counted.
func TestReportsEndToEndPostgres(t *testing.T) {
	dbURL := testDatabase(t)
	env := runEnv(t, t.TempDir())
	env["PAREDAO_DATABASE_URL"] = dbURL
	env["PAREDAO_PRODUCTION_TOKEN"] = "report-token"
	env["PAREDAO_WINDOW"] = "2s"
	env["PAREDAO_GRACE"] = "1s"
	env["PAREDAO_LATE_HORIZON"] = "2s"
	env["PAREDAO_ROLLUP_AFTER"] = "0"
	env["PAREDAO_VOTES_PER_MINUTE"] = "0"
	p := start(t, env, "run")
	const token = "report-token"

	acked := map[string]int{}
	for round := range 4 { // four rounds, a few windows apart
		for k, n := range castAll(t, p.http, map[string]int{"ana": 20 + round, "bruno": 10, "carla": 5 * round}, 5) {
			acked[k] += n
		}
		time.Sleep(2500 * time.Millisecond)
	}
	var total int64
	for _, n := range acked {
		total += int64(n)
	}
	// Wait until the windows left tally's state (older than horizon and two
	// windows): the report then reads them from PostgreSQL alone.
	time.Sleep(8 * time.Second)
	var r report
	waitFor(t, 30*time.Second, "the exact report", func() (bool, string) {
		r = getReport(t, p.http, "demo", token)
		for _, x := range r.Participants {
			if x.Votes != int64(acked[x.ID]) {
				return false, fmt.Sprintf("report %+v, acked %v", r.Participants, acked)
			}
		}
		return r.Total == total, fmt.Sprint(r.Total)
	})
	var hours int64
	for _, h := range r.Hourly {
		var sum int64
		for _, x := range h.Participants {
			sum += x.Votes
		}
		if sum != h.Total {
			t.Fatalf("hour %v: participants add to %d, total %d", h.Hour, sum, h.Total)
		}
		hours += h.Total
	}
	if hours != r.Total {
		t.Fatalf("hours add to %d, total %d", hours, r.Total)
	}
	if !r.ExactUntil.After(time.Now().Add(-10 * time.Second)) {
		t.Fatalf("exactUntil %v lags", r.ExactUntil)
	}
	// The minutes must be in PostgreSQL by now: count them there.
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer closePG(t, conn)
	st, b := authGet(t, p.http+"/api/v1/production/paredoes/demo/minutes?from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), token)
	var minutes struct {
		Minutes []struct {
			Minute time.Time `json:"minute"`
			Total  int64     `json:"total"`
		} `json:"minutes"`
	}
	if st != http.StatusOK || json.Unmarshal(b, &minutes) != nil {
		t.Fatalf("minutes: %d %s", st, b)
	}
	var byMinute int64
	for _, m := range minutes.Minutes {
		byMinute += m.Total
	}
	if byMinute != total || len(minutes.Minutes) < 3 {
		t.Fatalf("minutes add to %d over %d windows, want %d over several", byMinute, len(minutes.Minutes), total)
	}

	// The CSV says what the JSON says.
	st, b = authGet(t, p.http+"/api/v1/production/paredoes/demo/report.csv", token)
	if st != http.StatusOK {
		t.Fatalf("csv: %d", st)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) != len(r.Hourly)+1 || strings.Join(rows[0], ",") != "hour,total,ana,bruno,carla" {
		t.Fatalf("csv %q: %v", b, err)
	}
	for i, h := range r.Hourly {
		if rows[i+1][0] != h.Hour.Format(time.RFC3339) || rows[i+1][1] != strconv.FormatInt(h.Total, 10) {
			t.Fatalf("csv row %v, json %+v", rows[i+1], h)
		}
		for j, x := range h.Participants {
			if rows[i+1][2+j] != strconv.FormatInt(x.Votes, 10) {
				t.Fatalf("csv row %v, json %+v", rows[i+1], h)
			}
		}
	}

	// Close: one vote just before is counted; one after is refused.
	c := load.NewVoter(p.http, nil)
	ch, err := c.FetchChallenge(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	late, _ := load.Solve(ch)
	before, err := c.Cast(context.Background(), "demo", "carla", 10*time.Second)
	if err != nil || before.Status != http.StatusAccepted {
		t.Fatalf("vote before close: %+v %v", before, err)
	}
	if st, b := authPost(t, p.http+"/api/v1/production/paredoes/demo/close", token, nil); st != http.StatusOK {
		t.Fatalf("close: %d %s", st, b)
	}
	if st, r, _, _ := c.Post(context.Background(), "demo", "ana", late); st != http.StatusConflict || r.Error.Code != "paredao_not_open" {
		t.Fatalf("vote after close: %d %+v", st, r)
	}
	acked["carla"]++
	waitFor(t, 30*time.Second, "the vote before the close counted", func() (bool, string) {
		r := getReport(t, p.http, "demo", token)
		for _, x := range r.Participants {
			if x.Votes != int64(acked[x.ID]) {
				return false, fmt.Sprintf("%+v vs %v", r.Participants, acked)
			}
		}
		return true, ""
	})
	var res standings
	getJSON(t, p.http+"/api/v1/paredoes/demo/results", &res)
	if res.Status != "closed" {
		t.Fatalf("status after close: %s", res.Status)
	}
}
