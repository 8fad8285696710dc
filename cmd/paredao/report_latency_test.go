package main

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/sink"
)

// The production report of a large paredão (10,000 one-minute windows × 3
// participants × 12 shards in PostgreSQL, about a week of votes) is exact, and
// its latency is logged: the first report reads the final hours from SQL, the
// next ones only the recent windows. No timing is asserted.
func TestReportLatencyLargeParedaoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 360,000 window rows")
	}
	dbURL := testDatabase(t)
	ctx := context.Background()
	store := migratedStore(t, dbURL)
	const windows, shards = 10000, 12
	participants := []string{"ana", "bruno", "carla"}
	first := time.Now().UTC().Truncate(time.Minute).Add(-windows * time.Minute)
	var want int64
	batch := make([]*pipeline.WindowRecord, 0, 6000)
	for w := range windows {
		for pi, p := range participants {
			for s := range shards {
				n := int64((w*7+pi*13+s)%50 + 1)
				want += n
				batch = append(batch, &pipeline.WindowRecord{ParedaoID: "big", ParticipantID: p, Shard: s,
					WindowStart: first.Add(time.Duration(w) * time.Minute), Count: n})
			}
		}
		if len(batch) >= 5000 || w == windows-1 {
			if err := store.Apply(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}

	env := runEnv(t, t.TempDir())
	env["PAREDAO_DATABASE_URL"] = dbURL
	env["PAREDAO_PRODUCTION_TOKEN"] = "big-token"
	p := start(t, env, "run")
	if st, b := authPost(t, p.http+"/api/v1/production/paredoes", "big-token", map[string]any{
		"id": "big", "title": "Big", "opensAt": first.Add(-time.Minute), "closesAt": time.Now().Add(time.Hour),
		"participants": []map[string]string{{"id": "ana", "name": "Ana"}, {"id": "bruno", "name": "Bruno"}, {"id": "carla", "name": "Carla"}},
	}); st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, b)
	}
	var lat []time.Duration
	for i := range 21 {
		t0 := time.Now()
		r := getReport(t, p.http, "big", "big-token")
		d := time.Since(t0)
		if i == 0 {
			t.Logf("first report (hours read from SQL): %v", d)
		} else {
			lat = append(lat, d)
		}
		if r.Total != want || len(r.Hourly) < windows/60 {
			t.Fatalf("total %d over %d hours, want %d", r.Total, len(r.Hourly), want)
		}
	}
	slices.Sort(lat)
	t.Logf("report of %d windows × %d participants × %d shards (%s votes): median %v, max %v over %d reports",
		windows, len(participants), shards, strconv.FormatInt(want, 10), lat[len(lat)/2], lat[len(lat)-1], len(lat))
}

// migratedStore opens the SQL store at dbURL with its schema up to date,
// closed when the test ends.
func migratedStore(t *testing.T, dbURL string) sink.Store {
	t.Helper()
	store, err := sink.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeOK(t, store) })
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}
