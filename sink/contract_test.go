package sink

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// t0 is an hour start; at(m) is m minutes after it.
var t0 = time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

func count(paredao, participant string, shard int, start time.Time, n int64) *pipeline.WindowRecord {
	return &pipeline.WindowRecord{ParedaoID: paredao, ParticipantID: participant, Shard: shard, WindowStart: start, Count: n}
}

func late(paredao, participant string, start time.Time, id string) *pipeline.WindowRecord {
	return &pipeline.WindowRecord{ParedaoID: paredao, ParticipantID: participant, Shard: 1, WindowStart: start, Count: 1, LateID: id}
}

func recs(r ...*pipeline.WindowRecord) []*pipeline.WindowRecord { return r }

func mustApply(t testing.TB, s Store, records ...*pipeline.WindowRecord) {
	t.Helper()
	if err := s.Apply(context.Background(), records); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

func shards(t testing.TB, s Store, paredao string, from, to time.Time) []ShardRow {
	t.Helper()
	rows, err := s.Shards(context.Background(), paredao, from, to)
	if err != nil {
		t.Fatalf("shards: %v", err)
	}
	return rows
}

func lateRows(t testing.TB, s Store, paredao string, from, to time.Time) []CountRow {
	t.Helper()
	rows, err := s.Late(context.Background(), paredao, from, to)
	if err != nil {
		t.Fatalf("late: %v", err)
	}
	return rows
}

func minutes(t testing.TB, s Store, paredao string, from, to time.Time) []CountRow {
	t.Helper()
	rows, err := s.Minutes(context.Background(), paredao, from, to)
	if err != nil {
		t.Fatalf("minutes: %v", err)
	}
	checkUTC(t, rows)
	return rows
}

func hours(t testing.TB, s Store, paredao string, before time.Time) []CountRow {
	t.Helper()
	rows, err := s.Hours(context.Background(), paredao, before)
	if err != nil {
		t.Fatalf("hours: %v", err)
	}
	checkUTC(t, rows)
	return rows
}

func rollUp(t testing.TB, s Store, olderThan time.Time) int64 {
	t.Helper()
	n, err := s.RollUp(context.Background(), olderThan)
	if err != nil {
		t.Fatalf("roll up: %v", err)
	}
	return n
}

func checkUTC(t testing.TB, rows []CountRow) {
	t.Helper()
	for _, r := range rows {
		if r.Start.Location() != time.UTC {
			t.Fatalf("start %v is not in UTC", r.Start)
		}
	}
}

// total is every vote of a paredão, as the hourly report counts them.
func total(t testing.TB, s Store, paredao string) int64 {
	t.Helper()
	var n int64
	for _, r := range hours(t, s, paredao, at(100000)) {
		n += r.Votes
	}
	return n
}

func row(start time.Time, participant string, votes int64) CountRow {
	return CountRow{Start: start, ParticipantID: participant, Votes: votes}
}

func shardRow(participant string, shard int, start time.Time, votes int64) ShardRow {
	return ShardRow{ParticipantID: participant, Shard: shard, Start: start, Votes: votes}
}

func equal[T any](t testing.TB, what string, got, want []T) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// runContract is the behaviour every Store must have. open returns a fresh,
// migrated, empty store.
func runContract(t *testing.T, open func(testing.TB) Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"repeated batch changes nothing", contractRepeatedBatch},
		{"stale count is ignored", contractStaleCount},
		{"out of order records", contractOutOfOrder},
		{"late record is added once", contractLateOnce},
		{"hours bucket by UTC hour and add up the minutes", contractHours},
		{"ranges are half open", contractRanges},
		{"roll-up keeps totals exact", contractRollUp},
		{"paredões are isolated", contractIsolation},
		{"migrate again is a no-op", contractMigrateAgain},
		{"large batch in one apply", contractLargeBatch},
		{"invalid record stores nothing", contractInvalid},
		{"concurrent apply and roll-up count once", contractConcurrentRollUp},
		{"daily roll-up keeps totals and days exact", contractRollUpDays},
		{"concurrent apply and daily roll-up count once", contractConcurrentRollUpDays},
		{"audit runs, chunks and index rows", contractAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// contractRepeatedBatch: Kafka delivers a batch again after a crash; nothing
// is counted twice.
func contractRepeatedBatch(t *testing.T, s Store) {
	batch := recs(
		count("p1", "ana", 0, at(0), 5),
		count("p1", "ana", 1, at(0), 7),
		count("p1", "bia", 0, at(1), 2),
		late("p1", "ana", at(0), "3/100"),
	)
	for i := range 3 {
		mustApply(t, s, batch...)
		equal(t, fmt.Sprintf("shards after apply %d", i+1), shards(t, s, "p1", at(0), at(10)), []ShardRow{
			shardRow("ana", 0, at(0), 5), shardRow("ana", 1, at(0), 7), shardRow("bia", 0, at(1), 2),
		})
		equal(t, fmt.Sprintf("minutes after apply %d", i+1), minutes(t, s, "p1", at(0), at(10)), []CountRow{
			row(at(0), "ana", 13), row(at(1), "bia", 2),
		})
		equal(t, fmt.Sprintf("hours after apply %d", i+1), hours(t, s, "p1", at(60)), []CountRow{
			row(at(0), "ana", 13), row(at(0), "bia", 2),
		})
	}
}

// contractStaleCount: counts are absolute and only grow; a lower count that
// arrives later (or earlier in the same batch) never lowers the stored one.
func contractStaleCount(t *testing.T, s Store) {
	mustApply(t, s, count("p1", "ana", 0, at(0), 10))
	mustApply(t, s, count("p1", "ana", 0, at(0), 7))
	equal(t, "after a stale record", shards(t, s, "p1", at(0), at(1)), []ShardRow{shardRow("ana", 0, at(0), 10)})

	mustApply(t, s, count("p1", "ana", 0, at(0), 12), count("p1", "ana", 0, at(0), 15), count("p1", "ana", 0, at(0), 11))
	equal(t, "after a batch holding three counts", shards(t, s, "p1", at(0), at(1)), []ShardRow{shardRow("ana", 0, at(0), 15)})

	mustApply(t, s, count("p1", "ana", 0, at(0), 16))
	equal(t, "after a greater count", shards(t, s, "p1", at(0), at(1)), []ShardRow{shardRow("ana", 0, at(0), 16)})
}

// contractOutOfOrder: records of later windows may arrive before earlier ones
// and across shards in any order; the reports come out ordered.
func contractOutOfOrder(t *testing.T, s Store) {
	mustApply(t, s, count("p1", "bia", 2, at(2), 4), count("p1", "ana", 1, at(2), 3))
	mustApply(t, s, count("p1", "bia", 0, at(0), 1), count("p1", "ana", 1, at(1), 6))
	mustApply(t, s, count("p1", "ana", 0, at(2), 8), count("p1", "ana", 0, at(0), 2), count("p1", "ana", 1, at(2), 1))
	equal(t, "shards", shards(t, s, "p1", at(0), at(3)), []ShardRow{
		shardRow("ana", 0, at(0), 2), shardRow("bia", 0, at(0), 1),
		shardRow("ana", 1, at(1), 6),
		shardRow("ana", 0, at(2), 8), shardRow("ana", 1, at(2), 3), shardRow("bia", 2, at(2), 4),
	})
	equal(t, "minutes", minutes(t, s, "p1", at(0), at(3)), []CountRow{
		row(at(0), "ana", 2), row(at(0), "bia", 1),
		row(at(1), "ana", 6),
		row(at(2), "ana", 11), row(at(2), "bia", 4),
	})
}

// contractLateOnce: a late vote adds one to its window, however often it is
// delivered, in one batch or across batches; Shards never shows it.
func contractLateOnce(t *testing.T, s Store) {
	mustApply(t, s, count("p1", "ana", 0, at(0), 10), late("p1", "ana", at(0), "0/1"))
	mustApply(t, s, late("p1", "ana", at(0), "0/1"), late("p1", "ana", at(0), "0/2"), late("p1", "ana", at(0), "0/2"))
	mustApply(t, s, late("p1", "ana", at(0), "0/1"), late("p1", "bia", at(1), "4/9"))
	mustApply(t, s, late("p1", "ana", at(0), "0/2"))

	equal(t, "late", lateRows(t, s, "p1", at(0), at(2)), []CountRow{row(at(0), "ana", 2), row(at(1), "bia", 1)})
	equal(t, "shards", shards(t, s, "p1", at(0), at(2)), []ShardRow{shardRow("ana", 0, at(0), 10)})
	equal(t, "minutes", minutes(t, s, "p1", at(0), at(2)), []CountRow{row(at(0), "ana", 12), row(at(1), "bia", 1)})
	equal(t, "hours", hours(t, s, "p1", at(60)), []CountRow{row(at(0), "ana", 12), row(at(0), "bia", 1)})
}

// contractHours: the hourly report buckets windows by UTC hour, whatever the
// zone of the times given, and each hour is the sum of its minutes.
func contractHours(t *testing.T, s Store) {
	brt := time.FixedZone("BRT", -3*3600)
	ist := time.FixedZone("IST", 5*3600+1800) // a half-hour zone: local hours are not UTC hours
	mustApply(t, s,
		count("p1", "ana", 0, at(0).In(brt), 3), count("p1", "ana", 1, at(0), 4),
		count("p1", "bia", 0, at(59).In(ist), 5),
		count("p1", "ana", 0, at(60), 6), count("p1", "bia", 3, at(61), 7),
		late("p1", "bia", at(61), "1/1"),
		count("p1", "ana", 2, at(125).In(ist), 8),
	)
	want := []CountRow{
		row(at(0), "ana", 7), row(at(0), "bia", 5),
		row(at(60), "ana", 6), row(at(60), "bia", 8),
		row(at(120), "ana", 8),
	}
	got := hours(t, s, "p1", at(180).In(brt))
	equal(t, "hours", got, want)
	for _, h := range got {
		var sum int64
		for _, m := range minutes(t, s, "p1", h.Start, h.Start.Add(time.Hour)) {
			if m.ParticipantID == h.ParticipantID {
				sum += m.Votes
			}
		}
		if sum != h.Votes {
			t.Errorf("hour %v %s: %d votes, its minutes add up to %d", h.Start, h.ParticipantID, h.Votes, sum)
		}
	}
	// Only windows starting before before count.
	equal(t, "hours before 21:00", hours(t, s, "p1", at(60)), want[:2])
	equal(t, "hours before 21:01", hours(t, s, "p1", at(61)), []CountRow{
		row(at(0), "ana", 7), row(at(0), "bia", 5), row(at(60), "ana", 6),
	})
	equal(t, "hours before 21:00:00.5", hours(t, s, "p1", at(60).Add(500*time.Millisecond)), []CountRow{
		row(at(0), "ana", 7), row(at(0), "bia", 5), row(at(60), "ana", 6),
	})
}

// contractRanges: Shards, Late and Minutes cover windows starting in
// [from, to), including for bounds that are not whole seconds.
func contractRanges(t *testing.T, s Store) {
	for m := range 4 {
		mustApply(t, s, count("p1", "ana", 0, at(m), int64(m+1)), late("p1", "ana", at(m), fmt.Sprintf("0/%d", m)))
	}
	equal(t, "shards [1, 3)", shards(t, s, "p1", at(1), at(3)), []ShardRow{shardRow("ana", 0, at(1), 2), shardRow("ana", 0, at(2), 3)})
	equal(t, "late [1, 3)", lateRows(t, s, "p1", at(1), at(3)), []CountRow{row(at(1), "ana", 1), row(at(2), "ana", 1)})
	equal(t, "minutes [1, 3)", minutes(t, s, "p1", at(1), at(3)), []CountRow{row(at(1), "ana", 3), row(at(2), "ana", 4)})

	half := 30 * time.Second
	equal(t, "minutes [0:30, 2:30)", minutes(t, s, "p1", at(0).Add(half), at(2).Add(half)), []CountRow{row(at(1), "ana", 3), row(at(2), "ana", 4)})
	nano := time.Nanosecond
	equal(t, "minutes [1:00+1ns, 3:00+1ns)", minutes(t, s, "p1", at(1).Add(nano), at(3).Add(nano)), []CountRow{row(at(2), "ana", 4), row(at(3), "ana", 5)})
	equal(t, "empty range", minutes(t, s, "p1", at(2), at(2)), nil)
	equal(t, "unknown paredão", minutes(t, s, "nobody", at(0), at(4)), nil)
}

// contractRollUp: folding minute rows into hours keeps every total exact; a
// count record for a rolled-up window is ignored from then on (its count is
// folded already), and a late vote for one still adds to its hour, once.
func contractRollUp(t *testing.T, s Store) {
	// Windows at 20:00 and 20:30 (hour 20), 21:00 and 21:30, 22:00 and 22:30.
	var batch []*pipeline.WindowRecord
	for i := range 6 {
		for shard := range 2 {
			batch = append(batch,
				count("p1", "ana", shard, at(30*i), int64(10*(i+1)+shard)),
				count("p1", "bia", shard, at(30*i), int64(5*(i+1)+shard)))
		}
	}
	batch = append(batch, late("p1", "ana", at(30), "L1"), late("p1", "bia", at(90), "L2"), late("p1", "ana", at(150), "L3"))
	mustApply(t, s, batch...)
	before := hours(t, s, "p1", at(180))
	minutesOf22 := minutes(t, s, "p1", at(120), at(180))

	// 21:15 folds the hours 20 and 21 only: 16 count rows and 2 late votes.
	if n := rollUp(t, s, at(135)); n != 18 {
		t.Fatalf("roll-up folded %d minute rows, want 18", n)
	}
	equal(t, "hours after roll-up", hours(t, s, "p1", at(180)), before)
	equal(t, "minutes of rolled-up windows", minutes(t, s, "p1", at(0), at(120)), nil)
	equal(t, "shards of rolled-up windows", shards(t, s, "p1", at(0), at(120)), nil)
	equal(t, "late of rolled-up windows", lateRows(t, s, "p1", at(0), at(120)), nil)
	equal(t, "minutes of hour 22", minutes(t, s, "p1", at(0), at(180)), minutesOf22)
	equal(t, "late of hour 22", lateRows(t, s, "p1", at(0), at(180)), []CountRow{row(at(150), "ana", 1)})
	if n := rollUp(t, s, at(135)); n != 0 {
		t.Fatalf("second roll-up folded %d rows, want 0", n)
	}
	equal(t, "hours after a second roll-up", hours(t, s, "p1", at(180)), before)

	// Count records for rolled-up windows: ignored, new key or not.
	mustApply(t, s, count("p1", "ana", 0, at(0), 1000), count("p1", "ana", 7, at(30), 9), count("p1", "bia", 1, at(90), 99))
	equal(t, "hours after counts for rolled-up windows", hours(t, s, "p1", at(180)), before)
	equal(t, "shards after counts for rolled-up windows", shards(t, s, "p1", at(0), at(120)), nil)

	// Late votes: a repeated one (folded already) adds nothing, a new one adds
	// one to its hour, once.
	mustApply(t, s, late("p1", "ana", at(30), "L1"), late("p1", "bia", at(90), "L2"))
	equal(t, "hours after repeated late votes", hours(t, s, "p1", at(180)), before)
	mustApply(t, s, late("p1", "ana", at(5), "L4"), late("p1", "ana", at(5), "L4"), late("p1", "bia", at(61), "L5"))
	mustApply(t, s, late("p1", "ana", at(5), "L4"), late("p1", "bia", at(61), "L5"))
	want := adjust(before, map[time.Time]map[string]int64{at(0): {"ana": 1}, at(60): {"bia": 1}})
	equal(t, "hours after new late votes", hours(t, s, "p1", at(180)), want)
	equal(t, "late of rolled-up windows", lateRows(t, s, "p1", at(0), at(120)), nil)

	// Windows after the watermark still take count records.
	mustApply(t, s, count("p1", "ana", 0, at(150), 100)) // was 60
	want = adjust(want, map[time.Time]map[string]int64{at(120): {"ana": 40}})
	equal(t, "hours after a count for hour 22", hours(t, s, "p1", at(180)), want)

	// Folding hour 22 too: 8 count rows and L3.
	if n := rollUp(t, s, at(240)); n != 9 {
		t.Fatalf("roll-up of hour 22 folded %d minute rows, want 9", n)
	}
	equal(t, "hours after rolling up hour 22", hours(t, s, "p1", at(180)), want)
	equal(t, "minutes after rolling up everything", minutes(t, s, "p1", at(0), at(240)), nil)
}

// adjust adds deltas (hour → participant → votes) to hourly rows.
func adjust(rows []CountRow, deltas map[time.Time]map[string]int64) []CountRow {
	out := make([]CountRow, len(rows))
	for i, r := range rows {
		r.Votes += deltas[r.Start][r.ParticipantID]
		out[i] = r
	}
	return out
}

// contractIsolation: two paredões with the same participants and windows never
// see each other's votes, and a roll-up moves only the watermark of paredões
// it folded rows of.
func contractIsolation(t *testing.T, s Store) {
	mustApply(t, s,
		count("a", "ana", 0, at(0), 3), count("b", "ana", 0, at(0), 30),
		late("a", "ana", at(0), "0/1"), late("b", "ana", at(0), "0/1"), // same late id, other paredão
		count("b", "ana", 0, at(200), 50),
	)
	equal(t, "minutes of a", minutes(t, s, "a", at(0), at(300)), []CountRow{row(at(0), "ana", 4)})
	equal(t, "minutes of b", minutes(t, s, "b", at(0), at(300)), []CountRow{row(at(0), "ana", 31), row(at(200), "ana", 50)})
	equal(t, "late of a", lateRows(t, s, "a", at(0), at(300)), []CountRow{row(at(0), "ana", 1)})
	equal(t, "shards of a", shards(t, s, "a", at(0), at(300)), []ShardRow{shardRow("ana", 0, at(0), 3)})

	// "c" has only windows after 21:00: rolling up before 21:00 leaves it alone.
	mustApply(t, s, count("c", "ana", 0, at(70), 1))
	if n := rollUp(t, s, at(60)); n != 4 { // a: 1 count + 1 late; b: 1 count + 1 late
		t.Fatalf("roll-up folded %d rows, want 4", n)
	}
	mustApply(t, s, count("c", "ana", 0, at(10), 2), count("a", "ana", 0, at(10), 2))
	equal(t, "minutes of c (not rolled up)", minutes(t, s, "c", at(0), at(300)), []CountRow{row(at(10), "ana", 2), row(at(70), "ana", 1)})
	equal(t, "hours of a (rolled up)", hours(t, s, "a", at(300)), []CountRow{row(at(0), "ana", 4)})
	equal(t, "hours of b", hours(t, s, "b", at(300)), []CountRow{row(at(0), "ana", 31), row(at(180), "ana", 50)})
}

// contractMigrateAgain: running Migrate on a migrated store (every start does)
// changes nothing and keeps the data.
func contractMigrateAgain(t *testing.T, s Store) {
	mustApply(t, s, count("p1", "ana", 0, at(0), 3), late("p1", "ana", at(0), "x"))
	for range 2 {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	equal(t, "minutes", minutes(t, s, "p1", at(0), at(1)), []CountRow{row(at(0), "ana", 4)})
}

// contractLargeBatch: a batch of 5,000 records (a flush after a long outage)
// goes in one Apply, and again without changing anything.
func contractLargeBatch(t *testing.T, s Store) {
	participants := []string{"ana", "bia", "caio"}
	var batch []*pipeline.WindowRecord
	var want int64
	for i := 0; len(batch) < 4900; i++ {
		w, p, shard := i/(12*len(participants)), participants[(i/12)%len(participants)], i%12
		n := int64(i%97 + 1)
		batch = append(batch, count("big", p, shard, at(w), n))
		want += n
	}
	for i := range 100 {
		batch = append(batch, late("big", participants[i%3], at(i), fmt.Sprintf("7/%d", i)))
		want++
	}
	if len(batch) != 5000 {
		t.Fatalf("built %d records", len(batch))
	}
	for range 2 {
		mustApply(t, s, batch...)
		if got := total(t, s, "big"); got != want {
			t.Fatalf("total = %d, want %d", got, want)
		}
	}
	var sum int64
	for _, m := range minutes(t, s, "big", at(0), at(1000)) {
		sum += m.Votes
	}
	if sum != want {
		t.Fatalf("minutes add up to %d, want %d", sum, want)
	}
	if got := len(shards(t, s, "big", at(0), at(1000))); got != 4900 {
		t.Fatalf("%d shard rows, want 4900", got)
	}
}

// contractInvalid: a batch holding a record that can never be stored is
// refused whole, with ErrInvalidRecord, and stores nothing.
func contractInvalid(t *testing.T, s Store) {
	bad := []*pipeline.WindowRecord{
		nil,
		count("", "ana", 0, at(0), 1),
		count("p1/ana/0", "", 0, at(0), 1), // what tally sends for a key it cannot parse
		count("p1", "ana", -1, at(0), 1),
		count("p1", "ana", 0, time.Time{}, 1),
		count("p1", "ana", 0, at(0), -5),
		{ParedaoID: "p1", ParticipantID: "ana", WindowStart: at(0), Count: 2, LateID: "0/1"},
	}
	for i, r := range bad {
		err := s.Apply(context.Background(), recs(count("p1", "ana", 0, at(0), 1), r))
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("record %d (%+v): err = %v, want ErrInvalidRecord", i, r, err)
		}
	}
	equal(t, "minutes", minutes(t, s, "p1", at(0), at(10)), nil)
	if err := s.Apply(context.Background(), nil); err != nil {
		t.Fatalf("empty apply: %v", err)
	}
}

// contractConcurrentRollUp: a roll-up running while batches are written (a
// sink replica and the roll-up job) counts every vote once: no count record
// slips under a watermark that is moving.
func contractConcurrentRollUp(t *testing.T, s Store) {
	var batch []*pipeline.WindowRecord
	var want int64
	for w := range 120 {
		for shard := range 4 {
			batch = append(batch, count("p1", "ana", shard, at(w), int64(w+shard+1)))
			want += int64(w + shard + 1)
		}
	}
	mustApply(t, s, batch...)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 3 {
		wg.Go(func() {
			for range 10 {
				if err := s.Apply(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for _, h := range []int{30, 60, 90, 120} {
			if _, err := s.RollUp(ctx, at(h)); err != nil {
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
	if got := total(t, s, "p1"); got != want {
		t.Fatalf("total = %d, want %d", got, want)
	}
	equal(t, "minutes after rolling up everything", minutes(t, s, "p1", at(0), at(120)), nil)
}
