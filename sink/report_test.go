package sink

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paredao/paredao/pipeline"
)

// A large paredão: 10,000 one-minute windows (about a week) × 3 participants
// × 12 shards = 360,000 count rows, more than the 3-day, 1.5-billion-vote
// paredão the reports are sized for (4,320 windows).
const (
	largeWindows = 10_000
	largeShards  = 12
)

var largeParticipants = []string{"ana", "bia", "caio"}

// largeCount is the synthetic count of one row.
func largeCount(w, p, shard int) int64 { return int64((w*7+p*3+shard)%50 + 1) }

// largeRecords calls fn with every count record of the large paredão, in
// window order, and returns the total.
func largeRecords(fn func(r *pipeline.WindowRecord)) (total int64) {
	for w := range largeWindows {
		for p, participant := range largeParticipants {
			for shard := range largeShards {
				n := largeCount(w, p, shard)
				fn(count("big", participant, shard, at(w), n))
				total += n
			}
		}
	}
	return total
}

// loadLarge writes the large paredão through Apply, in batches of 10,000.
func loadLarge(tb testing.TB, s Store) (total int64) {
	tb.Helper()
	var batch []*pipeline.WindowRecord
	total = largeRecords(func(r *pipeline.WindowRecord) {
		batch = append(batch, r)
		if len(batch) == 10_000 {
			mustApply(tb, s, batch...)
			batch = batch[:0]
		}
	})
	mustApply(tb, s, batch...)
	return total
}

func sumVotes(rows []CountRow) (n int64) {
	for _, r := range rows {
		n += r.Votes
	}
	return n
}

// BenchmarkHours is the hourly report of the large paredão on SQLite.
func BenchmarkHours(b *testing.B) {
	s := openSQLiteStore(b)
	want := loadLarge(b, s)
	end := at(largeWindows)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rows, err := s.Hours(ctx, "big", end)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != (largeWindows/60+1)*len(largeParticipants) {
			b.Fatalf("%d hourly rows", len(rows))
		}
	}
	rows, err := s.Hours(ctx, "big", end)
	if err != nil {
		b.Fatal(err)
	}
	if got := sumVotes(rows); got != want {
		b.Fatalf("hours add up to %d, want %d", got, want)
	}
}

// BenchmarkApply is one default-sized batch (500 count records, half of them
// repeated) on SQLite: the sink's write path.
func BenchmarkApply(b *testing.B) {
	s := openSQLiteStore(b)
	ctx := context.Background()
	batch := make([]*pipeline.WindowRecord, 500)
	w := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			batch[i] = count("p1", largeParticipants[i%3], i%largeShards, at(w+i/250), int64(i+1))
		}
		if err := s.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
		w++
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
}

// TestReportLatencyLargeParedao loads the large paredão into PostgreSQL with
// COPY and logs the median latency of the hourly and minute reports over it,
// before and after rolling up all but its last day (and, for HoursAndDays,
// folding all but its last two days into days). No timing assertion:
// the figures go to the log (go test -v -run LargeParedao ./sink/); the totals
// are checked.
//
// Measured on the development machine (2 cores shared with other test runs,
// load average 3 to 8; PostgreSQL 15 on 127.0.0.1), medians of 7 runs:
//
//	Hours, 360,000 minute rows       126-247 ms (a bare scan of the rows: ~100 ms)
//	Minutes, all 10,000 windows      275-383 ms (30,000 rows returned)
//	Minutes, one hour                2-4 ms
//	Hours after rolling up all but
//	the last day (306,720 rows)      27-32 ms
//
// The same Hours on SQLite: BenchmarkHours, about 230 ms.
func TestReportLatencyLargeParedao(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 360,000 rows; skipped with -short")
	}
	ctx := context.Background()
	s, err := Open(ctx, newPostgresDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer closeOK(t, s)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	pool := s.(*postgresStore).pool

	begin := time.Now()
	if _, err := pool.Exec(ctx, `INSERT INTO paredoes (paredao_id) VALUES ('big')`); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	want := largeRecords(func(r *pipeline.WindowRecord) {
		rows = append(rows, []any{r.ParedaoID, r.WindowStart, r.ParticipantID, shard32(r.Shard), r.Count})
	})
	n, err := pool.CopyFrom(ctx, pgx.Identifier{"window_counts"},
		[]string{"paredao_id", "window_start", "participant_id", "shard", "votes"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE window_counts`); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d count rows with COPY in %v", n, time.Since(begin).Round(time.Millisecond))

	end := at(largeWindows)
	measure := func(what string, fn func() int64) {
		t.Helper()
		var took []time.Duration
		for range 7 {
			start := time.Now()
			got := fn()
			took = append(took, time.Since(start))
			if got != want {
				t.Fatalf("%s: votes add up to %d, want %d", what, got, want)
			}
		}
		slices.Sort(took)
		t.Logf("%-36s median %8v  (min %v, max %v, 7 runs)", what, took[len(took)/2].Round(10*time.Microsecond),
			took[0].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond))
	}
	hoursTotal := func() int64 {
		rows, err := s.Hours(ctx, "big", end)
		if err != nil {
			t.Fatal(err)
		}
		return sumVotes(rows)
	}
	minutesTotal := func() int64 {
		rows, err := s.Minutes(ctx, "big", at(0), end)
		if err != nil {
			t.Fatal(err)
		}
		return sumVotes(rows)
	}
	measure("Hours, 360,000 minute rows", hoursTotal)
	measure("Minutes, all 10,000 windows", minutesTotal)

	// One hour of minutes, what the minutes page asks for.
	var hourWant int64
	for w := 5000; w < 5060; w++ {
		for p := range largeParticipants {
			for shard := range largeShards {
				hourWant += largeCount(w, p, shard)
			}
		}
	}
	var took []time.Duration
	for range 7 {
		start := time.Now()
		rows, err := s.Minutes(ctx, "big", at(5000), at(5060))
		took = append(took, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if got := sumVotes(rows); got != hourWant {
			t.Fatalf("one hour of minutes adds up to %d, want %d", got, hourWant)
		}
	}
	slices.Sort(took)
	t.Logf("%-36s median %8v", "Minutes, one hour (60 windows)", took[len(took)/2].Round(10*time.Microsecond))

	// Roll up all but the last day: the hourly report reads hourly rows for
	// the rolled-up part.
	begin = time.Now()
	folded, err := s.RollUp(ctx, end.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rolled up %d minute rows in %v", folded, time.Since(begin).Round(time.Millisecond))
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE window_counts`); err != nil {
		t.Fatal(err)
	}
	measure("Hours after roll-up", hoursTotal)

	// What the report reads: hours and days from one snapshot, before and
	// after folding all but the last two days into days.
	daysTotal := func() int64 {
		_, days, _, err := s.HoursAndDays(ctx, "big", end)
		if err != nil {
			t.Fatal(err)
		}
		return sumVotes(days)
	}
	measure("HoursAndDays after roll-up", daysTotal)
	begin = time.Now()
	folded, err = s.RollUpDays(ctx, end.Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rolled up %d hourly rows into days in %v", folded, time.Since(begin).Round(time.Millisecond))
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE hourly_counts`); err != nil {
		t.Fatal(err)
	}
	measure("HoursAndDays after daily roll-up", daysTotal)
}
