package sink

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// d0 is a UTC day start; day(n, h, m) is n days, h hours and m minutes after
// it.
var d0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func day(n, h, m int) time.Time {
	return d0.Add(time.Duration(n)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// votesModel is the oracle of the daily roll-up tests: what the records
// applied to a store add up to, computed without SQL. Count records keep the
// greatest count per (participant, shard, window), late records count once
// per id.
type votesModel struct {
	counts map[[3]any]int64 // participant, shard, window start (unix)
	lates  map[string]CountRow
}

func newVotesModel() *votesModel {
	return &votesModel{counts: map[[3]any]int64{}, lates: map[string]CountRow{}}
}

func (m *votesModel) apply(records []*pipeline.WindowRecord) {
	for _, r := range records {
		if r.Late() {
			m.lates[r.LateID] = CountRow{Start: r.WindowStart.UTC(), ParticipantID: r.ParticipantID, Votes: 1}
			continue
		}
		k := [3]any{r.ParticipantID, r.Shard, r.WindowStart.Unix()}
		m.counts[k] = max(m.counts[k], r.Count)
	}
}

// by sums the model's votes into buckets of size (minute, hour, day) that
// start at or after from.
func (m *votesModel) by(size time.Duration, from time.Time) []CountRow {
	sums := map[[2]any]int64{}
	add := func(start time.Time, participant string, n int64) {
		b := start.Truncate(size)
		if !b.Before(from) {
			sums[[2]any{b.Unix(), participant}] += n
		}
	}
	for k, n := range m.counts {
		add(time.Unix(k[2].(int64), 0).UTC(), k[0].(string), n)
	}
	for _, l := range m.lates {
		add(l.Start, l.ParticipantID, 1)
	}
	out := make([]CountRow, 0, len(sums))
	for k, n := range sums {
		out = append(out, CountRow{Start: time.Unix(k[0].(int64), 0).UTC(), ParticipantID: k[1].(string), Votes: n})
	}
	slices.SortFunc(out, func(x, y CountRow) int {
		return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.ParticipantID, y.ParticipantID))
	})
	return out
}

// perParticipant sums rows by participant.
func perParticipant(rows []CountRow) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rows {
		out[r.ParticipantID] += r.Votes
	}
	return out
}

func hoursAndDays(t testing.TB, s Store, paredao string, before time.Time) (hours, days []CountRow, hoursFrom time.Time) {
	t.Helper()
	hours, days, hoursFrom, err := s.HoursAndDays(context.Background(), paredao, before)
	if err != nil {
		t.Fatalf("hours and days: %v", err)
	}
	checkUTC(t, hours)
	checkUTC(t, days)
	return hours, days, hoursFrom
}

func rollUpDays(t testing.TB, s Store, olderThan time.Time) int64 {
	t.Helper()
	n, err := s.RollUpDays(context.Background(), olderThan)
	if err != nil {
		t.Fatalf("roll up days: %v", err)
	}
	return n
}

// contractRollUpDays folds minute rows into hours and hours into UTC days,
// step by step, with late votes and stale counts arriving for hours and days
// already folded, and after every step compares the store with the model:
// the total per participant, every day's sum, every hour that still has
// hourly detail and every minute that still has minute detail. Totals stay
// exact across both folds.
func contractRollUpDays(t *testing.T, s Store) {
	// Four days, windows at 00:00, 00:30, 07:00, 07:30, 13:00, 13:30, 23:00
	// and 23:30, three participants, two shards: 48 count rows and 12 hourly
	// rows per day.
	people := []string{"ana", "bia", "caio"}
	var base []*pipeline.WindowRecord
	for d := range 4 {
		for _, h := range []int{0, 7, 13, 23} {
			for _, m := range []int{0, 30} {
				for i, p := range people {
					for shard := range 2 {
						base = append(base, count("p1", p, shard, day(d, h, m), int64(10*d+h+m/10+3*i+shard+1)))
					}
				}
			}
		}
	}
	base = append(base,
		late("p1", "ana", day(0, 0, 0), "L1"),   // day 0
		late("p1", "bia", day(1, 7, 30), "L2"),  // day 1
		late("p1", "caio", day(2, 13, 0), "L7"), // day 2
	)
	far := day(60, 0, 0)
	zero := time.Time{}

	var baseVotes int64
	for _, r := range base {
		baseVotes += r.Count
	}
	type step struct {
		name    string
		apply   []*pipeline.WindowRecord // applied to the store and the model
		ignored []*pipeline.WindowRecord // count records for folded windows: the store ignores them
		rollUp  time.Time                // RollUp(rollUp) when not zero
		days    time.Time                // then RollUpDays(days) when not zero
		folded  [2]int64                 // rows RollUp and RollUpDays fold
		// minutesFrom and hoursFrom: where minute and hourly detail start.
		minutesFrom, hoursFrom time.Time
		grows                  int64 // votes the step adds to the total, counted by hand
	}
	steps := []step{
		{name: "minute rows only", apply: base, grows: baseVotes},
		{
			name:   "days 0 and 1 folded into hours",
			rollUp: day(2, 0, 30), folded: [2]int64{2*48 + 2, 0}, // count rows and L1, L2
			minutesFrom: day(2, 0, 0),
		},
		{
			name:        "late votes for folded hours add once, counts for them are ignored",
			apply:       recs(late("p1", "bia", day(0, 7, 30), "L3"), late("p1", "ana", day(0, 0, 0), "L1"), late("p1", "bia", day(0, 7, 30), "L3")),
			ignored:     recs(count("p1", "ana", 0, day(0, 0, 0), 10_000), count("p1", "ana", 9, day(1, 13, 0), 5)),
			minutesFrom: day(2, 0, 0), grows: 1, // L3
		},
		{
			name: "day 0 folded into a day",
			days: day(1, 5, 0), folded: [2]int64{0, 12}, // day 0's hourly rows; L1 and L3 are in them
			minutesFrom: day(2, 0, 0), hoursFrom: day(1, 0, 0),
		},
		{
			name: "late votes for the folded day and a folded hour add once, counts are ignored",
			apply: recs(
				late("p1", "caio", day(0, 23, 59), "L4"), late("p1", "bia", day(0, 7, 30), "L3"),
				late("p1", "caio", day(0, 23, 59), "L4"), late("p1", "ana", day(1, 13, 30), "L5"),
			),
			ignored:     recs(count("p1", "caio", 0, day(0, 23, 0), 99_999), count("p1", "bia", 5, day(0, 0, 0), 1)),
			minutesFrom: day(2, 0, 0), hoursFrom: day(1, 0, 0), grows: 2, // L4, L5
		},
		{
			name: "the daily roll-up folds the minutes the hourly one had not reached",
			days: day(3, 1, 0), folded: [2]int64{0, 48 + 1 + 2*12}, // day 2's count rows and L7, then days 1 and 2's hourly rows
			minutesFrom: day(3, 0, 0), hoursFrom: day(3, 0, 0),
		},
		{
			name:   "an hourly roll-up behind the day watermark folds nothing, nor the same daily one",
			rollUp: day(2, 12, 0), days: day(3, 1, 0), folded: [2]int64{0, 0},
			minutesFrom: day(3, 0, 0), hoursFrom: day(3, 0, 0),
		},
		{
			name:        "a late vote for a day folded from minutes, a greater count for an open window",
			apply:       recs(late("p1", "caio", day(2, 13, 0), "L6"), count("p1", "ana", 1, day(3, 7, 0), 500)),
			ignored:     recs(count("p1", "ana", 0, day(2, 13, 0), 1234)),
			minutesFrom: day(3, 0, 0), hoursFrom: day(3, 0, 0), grows: 1 + 500 - 39, // L6; (ana, shard 1, day 3 07:00) was 30+7+1+1
		},
		{
			name:   "everything folded",
			rollUp: day(4, 4, 0), days: day(30, 0, 0), folded: [2]int64{48 + 1, 12 + 1}, // day 3's count rows, then its hourly rows; and p2's
			minutesFrom: day(30, 0, 0), hoursFrom: day(30, 0, 0),
		},
		{
			name:        "a late vote for the last folded day",
			apply:       recs(late("p1", "bia", day(3, 23, 30), "L8")),
			minutesFrom: day(30, 0, 0), hoursFrom: day(30, 0, 0), grows: 1,
		},
	}

	m := newVotesModel()
	// p2 has votes on day 3 only: the daily roll-up of day 0 leaves it alone.
	mustApply(t, s, count("p2", "ana", 0, day(3, 0, 0), 7))
	var total int64
	for i, st := range steps {
		t.Run(fmt.Sprintf("%d %s", i, st.name), func(t *testing.T) {
			mustApply(t, s, st.apply...)
			mustApply(t, s, st.ignored...)
			m.apply(st.apply)
			var folded [2]int64
			if !st.rollUp.IsZero() {
				folded[0] = rollUp(t, s, st.rollUp)
			}
			if !st.days.IsZero() {
				folded[1] = rollUpDays(t, s, st.days)
			}
			if folded != st.folded {
				t.Errorf("folded %v rows (hourly, daily roll-up), want %v", folded, st.folded)
			}

			hours, days, hoursFrom := hoursAndDays(t, s, "p1", far)
			if !hoursFrom.Equal(st.hoursFrom) {
				t.Errorf("hoursFrom %v, want %v", hoursFrom, st.hoursFrom)
			}
			equal(t, "days", days, m.by(24*time.Hour, zero))
			equal(t, "hours", hours, m.by(time.Hour, st.hoursFrom))
			equal(t, "Hours", hoursOf(t, s, "p1", far), hours)
			equal(t, "minutes", minutes(t, s, "p1", day(-1, 0, 0), far), m.by(time.Minute, st.minutesFrom))

			// Per participant, the days agree with the model and with the
			// hours plus the folded days; the total grows by what the step
			// added, nothing else.
			totals := perParticipant(days)
			if want := perParticipant(m.by(24*time.Hour, zero)); !maps.Equal(totals, want) {
				t.Errorf("totals %v, want %v", totals, want)
			}
			split := perParticipant(filterBefore(days, hoursFrom))
			for p, n := range perParticipant(hours) {
				split[p] += n
			}
			if !maps.Equal(split, totals) {
				t.Errorf("hours plus folded days %v, days %v", split, totals)
			}
			var sum int64
			for _, n := range totals {
				sum += n
			}
			if sum != total+st.grows {
				t.Errorf("total %d, want %d + %d", sum, total, st.grows)
			}
			total = sum

			_, p2Days, p2From := hoursAndDays(t, s, "p2", far)
			if i < 8 && !p2From.IsZero() {
				t.Errorf("p2 was rolled up to %v: it had nothing before the cutoff", p2From)
			}
			equal(t, "days of p2", p2Days, []CountRow{row(day(3, 0, 0), "ana", 7)})
		})
	}
}

// hoursOf is Hours through the contract helper, named apart from the hours
// variables above.
func hoursOf(t testing.TB, s Store, paredao string, before time.Time) []CountRow {
	t.Helper()
	return hours(t, s, paredao, before)
}

func filterBefore(rows []CountRow, t time.Time) []CountRow {
	var out []CountRow
	for _, r := range rows {
		if r.Start.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

// contractConcurrentRollUpDays: hourly and daily roll-ups running while
// batches of counts and late votes are written (a sink replica, the roll-up
// job) count every vote once: no count slips under a moving watermark, no
// late vote is added to an hour that is being folded into its day, or lost.
func contractConcurrentRollUpDays(t *testing.T, s Store) {
	var batch []*pipeline.WindowRecord
	m := newVotesModel()
	for w := range 4 * 24 * 3 { // every 20 minutes over four days
		for shard := range 2 {
			batch = append(batch, count("p1", "ana", shard, d0.Add(time.Duration(w)*20*time.Minute), int64(w%17+shard+1)))
		}
	}
	mustApply(t, s, batch...)
	m.apply(batch)
	// Each writer sends late votes spread over the four days, each twice.
	const writers, rounds = 3, 10
	lates := make([][][]*pipeline.WindowRecord, writers)
	for g := range writers {
		lates[g] = make([][]*pipeline.WindowRecord, rounds)
		for r := range rounds {
			for i := range 8 {
				at := d0.Add(time.Duration((g*rounds*8+r*8+i)*37%(4*24*60)) * time.Minute)
				l := late("p1", []string{"ana", "bia"}[i%2], at, fmt.Sprintf("%d/%d/%d", g, r, i))
				lates[g][r] = append(lates[g][r], l, l)
				m.apply(recs(l))
			}
		}
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range writers {
		wg.Go(func() {
			for r := range rounds {
				if err := s.Apply(ctx, append(slices.Clone(batch), lates[g][r]...)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for h := 6; h <= 96; h += 6 {
			if _, err := s.RollUp(ctx, d0.Add(time.Duration(h)*time.Hour)); err != nil {
				errs <- err
				return
			}
			if _, err := s.RollUpDays(ctx, d0.Add(time.Duration(h-12)*time.Hour)); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Whatever the order, every late vote is in: fold what is left and
	// compare.
	rollUpDays(t, s, day(5, 0, 0))
	_, days, hoursFrom := hoursAndDays(t, s, "p1", day(60, 0, 0))
	if !hoursFrom.Equal(day(5, 0, 0)) {
		t.Fatalf("hoursFrom %v, want %v", hoursFrom, day(5, 0, 0))
	}
	equal(t, "days", days, m.by(24*time.Hour, time.Time{}))
	equal(t, "hours after folding every day", hours(t, s, "p1", day(60, 0, 0)), nil)
}

// TestMigrateFromVersion1 upgrades a database of the first schema, holding
// minute rows, a late vote and hourly rows as the first release wrote them,
// to the daily roll-up's: nothing is lost, and its days fold with exact
// totals.
func TestMigrateFromVersion1(t *testing.T) {
	for _, tc := range []struct {
		dialect string
		open    func(t *testing.T) (Store, func(sql string) error)
		ts      func(time.Time) string // a time as the dialect stores it
		applied string                 // schema_migrations as Migrate creates it, with version 1
	}{
		{"sqlite", func(t *testing.T) (Store, func(string) error) {
			s, err := Open(context.Background(), "sqlite:"+t.TempDir()+"/paredao.db")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { closeOK(t, s) })
			return s, func(q string) error { _, err := s.(*sqliteStore).write.Exec(q); return err }
		}, func(t time.Time) string { return fmt.Sprint(t.Unix()) },
			`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT;
			INSERT INTO schema_migrations VALUES (1, 'init', 0)`},
		{"postgres", func(t *testing.T) (Store, func(string) error) {
			s, err := Open(context.Background(), newPostgresDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { closeOK(t, s) })
			return s, func(q string) error { _, err := s.(*postgresStore).pool.Exec(context.Background(), q); return err }
		}, func(t time.Time) string { return "'" + t.Format(time.RFC3339) + "'::timestamptz" },
			`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
			INSERT INTO schema_migrations (version, name) VALUES (1, 'init')`},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			ctx := context.Background()
			s, exec := tc.open(t)
			all, err := migrations(tc.dialect)
			if err != nil {
				t.Fatal(err)
			}
			// Version 1's schema and rows: days 0 and 1 rolled up into hours
			// (one hourly row per hour), day 2 in minute rows, a late vote.
			m := newVotesModel()
			queries := []string{
				tc.applied,
				all[0].sql,
				`INSERT INTO paredoes VALUES ('p1', ` + tc.ts(day(2, 0, 0)) + `)`,
			}
			for w := range 3 * 24 {
				start := d0.Add(time.Duration(w) * time.Hour)
				table := "hourly_counts"
				if w >= 48 {
					table = "window_counts (paredao_id, window_start, participant_id, votes, shard) "
				}
				queries = append(queries, fmt.Sprintf(`INSERT INTO %s VALUES ('p1', %s, 'ana', %d%s)`, table, tc.ts(start), w+1,
					map[bool]string{true: ", 0", false: ""}[w >= 48]))
				m.apply(recs(count("p1", "ana", 0, start, int64(w+1))))
			}
			queries = append(queries, `INSERT INTO late_votes VALUES ('p1', 'x', `+tc.ts(day(2, 5, 0))+`, 'bia', 0)`)
			m.apply(recs(late("p1", "bia", day(2, 5, 0), "x")))
			for _, q := range queries {
				if err := exec(q); err != nil {
					t.Fatalf("version 1 rows: %s: %v", q, err)
				}
			}

			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate from version 1: %v", err)
			}
			_, days, hoursFrom := hoursAndDays(t, s, "p1", day(9, 0, 0))
			equal(t, "days after the upgrade", days, m.by(24*time.Hour, time.Time{}))
			if !hoursFrom.IsZero() {
				t.Fatalf("hoursFrom %v after the upgrade, want zero", hoursFrom)
			}
			// Day 2's 24 minute rows and the late vote on the way, then the
			// 48 + 25 hourly rows of days 0 to 2.
			if n := rollUpDays(t, s, day(3, 1, 0)); n != 24+1+48+25 {
				t.Fatalf("daily roll-up folded %d rows", n)
			}
			_, days, hoursFrom = hoursAndDays(t, s, "p1", day(9, 0, 0))
			equal(t, "days after the daily roll-up", days, m.by(24*time.Hour, time.Time{}))
			if !hoursFrom.Equal(day(3, 0, 0)) {
				t.Fatalf("hoursFrom %v, want %v", hoursFrom, day(3, 0, 0))
			}
		})
	}
}
