package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/sink"
)

// dailyReport is the production report with its per-day rows.
type dailyReport struct {
	Total        int64 `json:"total"`
	Participants []struct {
		ID    string `json:"id"`
		Votes int64  `json:"votes"`
	} `json:"participants"`
	Hourly []struct {
		Hour  time.Time `json:"hour"`
		Total int64     `json:"total"`
	} `json:"hourly"`
	Daily []struct {
		Day          time.Time `json:"day"`
		Total        int64     `json:"total"`
		Participants []struct {
			ID    string `json:"id"`
			Votes int64  `json:"votes"`
		} `json:"participants"`
	} `json:"daily"`
	HourlyFrom *time.Time `json:"hourlyFrom"`
}

// The daily roll-up on the real binary and PostgreSQL: a paredão with 40
// days of windows is folded at start-up by the sink's roll-up task (minutes
// older than 48 hours into hours, hours older than 30 days into UTC days);
// the report's total and per-participant votes do not change, its days add
// up to the total, its hours start at hourlyFrom; the hourly CSV answers 410
// hours_folded and the daily one says what the JSON says; a late vote for a
// folded day is counted once.
func TestDailyRollUpReportEndToEnd(t *testing.T) {
	dbURL := testDatabase(t)
	ctx := context.Background()
	store := migratedStore(t, dbURL)
	now := time.Now().UTC()
	first, want, wantTotal := loadOldParedao(t, store, now)

	env := runEnv(t, t.TempDir())
	env["PAREDAO_DATABASE_URL"] = dbURL
	env["PAREDAO_PRODUCTION_TOKEN"] = "old-token"
	p := start(t, env, "run")
	createOldParedao(t, p.http, "old-token", first, now)
	report := func() dailyReport { t.Helper(); return getDailyReport(t, p.http, "old-token") }
	r := waitDailyRollUp(t, p.http, "old-token", now)
	check := func(r dailyReport, want map[string]int64, wantTotal int64) {
		t.Helper()
		var byDay int64
		for _, d := range r.Daily {
			byDay += d.Total
		}
		if r.Total != wantTotal || byDay != wantTotal || len(r.Daily) < 40 {
			t.Fatalf("total %d, days add up to %d over %d days; want %d over 41", r.Total, byDay, len(r.Daily), wantTotal)
		}
		for _, x := range r.Participants {
			if x.Votes != want[x.ID] {
				t.Fatalf("%s: %d votes, want %d", x.ID, x.Votes, want[x.ID])
			}
		}
		if len(r.Hourly) == 0 || r.Hourly[0].Hour.Before(*r.HourlyFrom) {
			t.Fatalf("hourly starts at %v, before hourlyFrom %v", r.Hourly[0].Hour, r.HourlyFrom)
		}
	}
	check(r, want, wantTotal)

	st, b := authGet(t, p.http+"/api/v1/production/paredoes/old/report.csv", "old-token")
	if st != http.StatusGone || !bytes.Contains(b, []byte(`"hours_folded"`)) {
		t.Fatalf("hourly csv of folded days: %d %s", st, b)
	}
	st, b = authGet(t, p.http+"/api/v1/production/paredoes/old/report.csv?by=day", "old-token")
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if st != http.StatusOK || err != nil || len(rows) != len(r.Daily)+1 || strings.Join(rows[0], ",") != "day,total,ana,bruno,carla" {
		t.Fatalf("daily csv: %d %q %v", st, b, err)
	}
	for i, d := range r.Daily {
		if rows[i+1][0] != d.Day.Format(time.RFC3339) || rows[i+1][1] != strconv.FormatInt(d.Total, 10) {
			t.Fatalf("daily csv row %v, json %+v", rows[i+1], d)
		}
	}

	// A late vote for the first, folded day: counted once, in that day.
	lateVote := &pipeline.WindowRecord{ParedaoID: "old", ParticipantID: "carla", Shard: 1, WindowStart: first, Count: 1, LateID: "1/42"}
	for range 2 {
		if err := store.Apply(ctx, []*pipeline.WindowRecord{lateVote}); err != nil {
			t.Fatal(err)
		}
	}
	want["carla"]++
	for deadline := time.Now().Add(30 * time.Second); ; { // the final rows are cached up to 10 s
		if r = report(); r.Total == wantTotal+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("total %d after a late vote for a folded day, want %d", r.Total, wantTotal+1)
		}
		time.Sleep(200 * time.Millisecond)
	}
	check(r, want, wantTotal+1)
	if d := r.Daily[0]; !d.Day.Equal(first.Truncate(24*time.Hour)) || d.Participants[2].Votes == 0 {
		t.Fatalf("first day %+v", d)
	}
}

// loadOldParedao writes 40 days of closed windows of the paredão "old" up to
// an hour before now (a window an hour, three participants, two shards) and
// returns the first window and the votes per participant and in all.
func loadOldParedao(t *testing.T, store sink.Store, now time.Time) (first time.Time, want map[string]int64, total int64) {
	t.Helper()
	first = now.Truncate(time.Hour).Add(-40 * 24 * time.Hour)
	want = map[string]int64{}
	var batch []*pipeline.WindowRecord
	for at := first; at.Before(now.Add(-time.Hour)); at = at.Add(time.Hour) {
		for i, p := range []string{"ana", "bruno", "carla"} {
			for shard := range 2 {
				n := int64(at.Hour()+i+shard+1) % 9
				batch = append(batch, &pipeline.WindowRecord{ParedaoID: "old", ParticipantID: p, Shard: shard, WindowStart: at, Count: n})
				want[p] += n
				total += n
			}
		}
	}
	if err := store.Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return first, want, total
}

// createOldParedao creates the paredão of loadOldParedao, closed.
func createOldParedao(t *testing.T, base, token string, first, now time.Time) {
	t.Helper()
	if st, b := authPost(t, base+"/api/v1/production/paredoes", token, map[string]any{
		"id": "old", "title": "Paredão antigo", "opensAt": first.Add(-time.Minute), "closesAt": now.Add(-time.Minute),
		"participants": []map[string]string{{"id": "ana", "name": "Ana"}, {"id": "bruno", "name": "Bruno"}, {"id": "carla", "name": "Carla"}},
	}); st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, b)
	}
}

func getDailyReport(t *testing.T, base, token string) dailyReport {
	t.Helper()
	st, b := authGet(t, base+"/api/v1/production/paredoes/old/report", token)
	var r dailyReport
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil {
		t.Fatalf("report: %d %s", st, b)
	}
	return r
}

// waitDailyRollUp waits until the report of "old" says its hours are folded
// into days up to 30 days before now (the default PAREDAO_DAILY_ROLLUP_AFTER),
// and returns it.
func waitDailyRollUp(t *testing.T, base, token string, now time.Time) dailyReport {
	t.Helper()
	wantFrom := now.Add(-720 * time.Hour).Truncate(24 * time.Hour)
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := getDailyReport(t, base, token)
		if r.HourlyFrom != nil && r.HourlyFrom.Equal(wantFrom) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no daily roll-up to %v after 30 s: hourlyFrom %v", wantFrom, r.HourlyFrom)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
