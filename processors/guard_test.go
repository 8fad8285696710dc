package processors

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/paredao/paredao/pipeline"
)

var t0 = time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)

func startGuard(t *testing.T, cfg GuardConfig) (*tester.Tester, *tester.QueueTracker) {
	t.Helper()
	tt, qt, _ := startGuardProc(t, cfg)
	return tt, qt
}

func startGuardProc(t *testing.T, cfg GuardConfig) (*tester.Tester, *tester.QueueTracker, *Guard) {
	t.Helper()
	tt := tester.New(t)
	// The tester's own emitter waits for every consumer after each emit,
	// which a Consume waiting for this very batch would never let happen:
	// emit through its plain producer instead.
	em, err := goka.NewEmitter(nil, pipeline.BallotsStream, new(pipeline.BallotBatchCodec),
		goka.WithEmitterProducerBuilder(tt.ProducerBuilder()), goka.WithEmitterTopicManagerBuilder(tt.TopicManagerBuilder()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchEvery == 0 {
		cfg.BatchEvery = time.Millisecond
	}
	proc, err := NewGuard(nil, cfg, em, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("guard stopped with %v", err)
		}
	})
	return tt, tt.NewQueueTracker(string(pipeline.BallotsStream)), proc
}

func vote(voter, challenge, participant string, at time.Time) *pipeline.Vote {
	return &pipeline.Vote{
		ID: challenge, ParedaoID: "p1", ParticipantID: participant, VoterID: voter,
		ChallengeID: challenge, AcceptedAt: at, ExpiresAt: at.Add(2 * time.Minute),
	}
}

// sent is one ballot as guard sent it: in a batch, under a key.
type sent struct {
	key        string
	partition  int32
	ackedBelow int64
	pipeline.Ballot
}

func drain(qt *tester.QueueTracker) []sent {
	var out []sent
	for {
		k, v, ok := qt.Next()
		if !ok {
			return out
		}
		b := v.(*pipeline.BallotBatch)
		for _, bl := range b.Ballots {
			out = append(out, sent{k, b.SourcePartition, b.AckedBelow, bl})
		}
	}
}

// Guard lets each proof of work through once: a replayed challenge, even for
// another participant, is dropped.
func TestGuardDropsReplays(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{VotesPerMinute: 0, Partitions: 4})
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0))
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0.Add(time.Second)))
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "bia", t0.Add(2*time.Second)))
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c2", "bia", t0.Add(3*time.Second)))
	got := drain(ballots)
	if len(got) != 2 || got[0].ParticipantID != "ana" || got[1].ParticipantID != "bia" || !got[1].AcceptedAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("ballots = %+v, want c1 (ana) and c2 (bia) only", got)
	}
	if got[0].Offset >= got[1].Offset {
		t.Fatalf("ballots must carry increasing source offsets: %d, %d", got[0].Offset, got[1].Offset)
	}
	if want := pipeline.SourceKey(got[0].partition, 4); got[0].key != want || got[1].key != want {
		t.Fatalf("keys %q %q, want the source key %q", got[0].key, got[1].key, want)
	}
}

// The same message seen again after a crash is re-emitted if it had been let
// through (tally drops the copy), and stays dropped if it had been dropped.
func TestGuardRedeliveryDecidesTheSame(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{VotesPerMinute: 1, Partitions: 4})
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0))                  // offset 0: accepted
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c2", "ana", t0.Add(time.Second))) // offset 1: over the cap
	first := drain(ballots)
	if len(first) != 1 {
		t.Fatalf("want 1 ballot, got %d", len(first))
	}
	// Rewind the voter's state as a crash would leave it: both messages come
	// again at their old offsets. The tester cannot rewind offsets, so set a
	// state whose LastOffset is past the next two offsets instead.
	st := tt.TableValue(pipeline.GuardTable, "v1").(*pipeline.GuardState)
	st.LastOffset = 3
	st.Entries[0].Offset = 2
	tt.SetTableValue(pipeline.GuardTable, "v1", st)
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0))                  // offset 2: the accepted one again
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c2", "ana", t0.Add(time.Second))) // offset 3: the dropped one again
	again := drain(ballots)
	if len(again) != 1 || again[0].Offset != 2 {
		t.Fatalf("redelivery emitted %+v, want c1 again at offset 2", again)
	}
}

// The per-voter cap counts votes accepted in the minute before each vote, by
// the web tier's acceptance time.
func TestGuardRateCap(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{VotesPerMinute: 3, Partitions: 1})
	at := []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 61 * time.Second, 62 * time.Second}
	for i, d := range at {
		tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c"+string(rune('a'+i)), "ana", t0.Add(d)))
	}
	got := drain(ballots)
	var ids []time.Duration
	for _, b := range got {
		ids = append(ids, b.AcceptedAt.Sub(t0))
	}
	// 0,10,20 pass; 30 is the 4th in a minute; 61 sees 10,20 in its minute (0 left): passes; 62 sees 10,20,61: dropped.
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 61 * time.Second}
	if len(ids) != len(want) {
		t.Fatalf("accepted %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("accepted %v, want %v", ids, want)
		}
	}
}

// Votes accepted after their challenge expired, and votes no web replica
// would write, never become ballots.
func TestGuardRejects(t *testing.T) {
	tests := []struct {
		name string
		v    *pipeline.Vote
	}{
		{"expired challenge", &pipeline.Vote{ID: "x5", ParedaoID: "p1", ParticipantID: "ana", VoterID: "v", ChallengeID: "x5", AcceptedAt: t0, ExpiresAt: t0.Add(-time.Second)}},
		{"no participant", vote("v", "x2", "", t0)},
		{"no challenge", &pipeline.Vote{ID: "x3", ParedaoID: "p1", ParticipantID: "ana", VoterID: "v", AcceptedAt: t0, ExpiresAt: t0.Add(time.Minute)}},
	}
	tt, ballots := startGuard(t, GuardConfig{Partitions: 2})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt.Consume(string(pipeline.VotesStream), tc.v.VoterID, tc.v)
			if got := drain(ballots); len(got) != 0 {
				t.Fatalf("emitted %+v", got)
			}
		})
	}
}

// Guard never forgets what a vote not yet complete needs: catching up a
// backlog whose acceptance times run far past a vote still in flight keeps
// that vote's entry, so the vote processed again after a crash still finds
// it and its ballot is emitted again. Once the vote is complete (below the
// acknowledged mark) the entry may go.
func TestGuardKeepsEntriesAboveAcked(t *testing.T) {
	g := &guard{cfg: GuardConfig{VotesPerMinute: 10, Partitions: 1, Metrics: NewMetrics(nil)}}
	tests := []struct {
		name  string
		acked int64 // the partition's ordered-commit mark while the backlog is processed
		again string
	}{
		{"vote 0 still in flight", 0, OutcomeReemitted},
		{"vote 0 complete", 1, OutcomeRedelivered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := pipeline.NewGuardState()
			if out, _ := g.decide(state, vote("v1", "c0", "ana", t0), 0, 0); out != OutcomeAccepted {
				t.Fatalf("vote 0: %s", out)
			}
			// A backlog of the same voter, accepted 10 to 30 minutes later.
			for i := int64(1); i <= 20; i++ {
				v := vote("v1", "c"+strconv.FormatInt(i, 10), "ana", t0.Add(10*time.Minute+time.Duration(i)*time.Minute))
				if out, _ := g.decide(state, v, i, tc.acked); out != OutcomeAccepted {
					t.Fatalf("vote %d: %s", i, out)
				}
			}
			// A crash: vote 0 is processed again with the state left by the backlog.
			if out, _ := g.decide(state, vote("v1", "c0", "ana", t0), 0, tc.acked); out != tc.again {
				t.Fatalf("vote 0 again: %s, want %s", out, tc.again)
			}
		})
	}
}

// Each batch carries the partition's acknowledged mark, which tally's
// dedupe relies on (pipeline.TallyState.MarkSeen).
func TestGuardStampsAckedBelow(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{Partitions: 1, Acked: func(int32) int64 { return 42 }})
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0))
	got := drain(ballots)
	if len(got) != 1 || got[0].ackedBelow != 42 {
		t.Fatalf("ballots %+v, want one with AckedBelow 42", got)
	}
}

// Ballots travel in batches: many votes of a partition, one record, at
// BatchMax ballots or BatchEvery after the first, each with the partition's
// mark at sending; a vote's commit is released only when its batch is
// acknowledged, with the batch's error.
func TestGuardBatchesBallots(t *testing.T) {
	type emitted struct {
		key    string
		batch  *pipeline.BallotBatch
		finish goka.PromiseFinisher
	}
	var mu sync.Mutex
	var got []emitted
	cfg := GuardConfig{Partitions: 4, BatchMax: 50, BatchEvery: 5 * time.Millisecond, Metrics: NewMetrics(nil),
		Acked: func(p int32) int64 { return int64(p) * 1000 }}
	b := newBatcher(cfg, func(key string, batch *pipeline.BallotBatch) (*goka.Promise, error) {
		mu.Lock()
		defer mu.Unlock()
		p, finish := goka.NewPromiseWithFinisher()
		got = append(got, emitted{key, batch, finish})
		return p, nil
	})
	var done atomic.Int64
	var failed atomic.Int64
	for i := range 120 {
		b.add(1, bl(int64(i), "ana", t0), func(err error) {
			if err != nil {
				failed.Add(1)
			}
			done.Add(1)
		})
	}
	b.add(2, bl(7, "bia", t0), func(error) { done.Add(1) })
	mu.Lock()
	if len(got) != 2 || len(got[0].batch.Ballots) != 50 || len(got[1].batch.Ballots) != 50 {
		t.Fatalf("%d batches sent at once, want 2 full ones", len(got))
	}
	mu.Unlock()
	if done.Load() != 0 {
		t.Fatal("a commit was released before its batch was acknowledged")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("%d batches after BatchEvery, want 4 (2 full, the rest of 1, the one of 2)", len(got))
	}
	sizes := map[int32]int{}
	for _, e := range got {
		sizes[e.batch.SourcePartition] += len(e.batch.Ballots)
		if e.key != pipeline.SourceKey(e.batch.SourcePartition, 4) || e.batch.AckedBelow != int64(e.batch.SourcePartition)*1000 {
			t.Fatalf("batch of %d under key %q with mark %d", e.batch.SourcePartition, e.key, e.batch.AckedBelow)
		}
	}
	if sizes[1] != 120 || sizes[2] != 1 {
		t.Fatalf("ballots per partition %v", sizes)
	}
	got[0].finish(nil, nil)
	got[1].finish(nil, errors.New("broker said no"))
	if done.Load() != 100 || failed.Load() != 50 {
		t.Fatalf("released %d commits (%d failed), want 100 (50 failed)", done.Load(), failed.Load())
	}
	b.finish()
	b.add(1, bl(999, "ana", t0), func(err error) {
		if err == nil {
			t.Error("a ballot added after finish must fail")
		}
	})
}

// A voter's value stays bounded whatever its rate: past the bound the oldest
// complete entries go and the floor refuses their challenges (and older
// ones) as superseded; a replay of a kept one is still a replay; entries in
// flight are never dropped.
func TestGuardBoundsVoterState(t *testing.T) {
	g := &guard{cfg: GuardConfig{Metrics: NewMetrics(nil)}}
	state := pipeline.NewGuardState()
	n := 3 * pipeline.GuardEntriesMax
	for i := range n {
		v := vote("v1", "c"+strconv.Itoa(i), "ana", t0.Add(time.Duration(i)*time.Second))
		if out, _ := g.decide(state, v, int64(i), int64(i)); out != OutcomeAccepted {
			t.Fatalf("vote %d: %s", i, out)
		}
		if len(state.Entries) > pipeline.GuardEntriesMax {
			t.Fatalf("vote %d: %d entries, bound %d", i, len(state.Entries), pipeline.GuardEntriesMax)
		}
	}
	off := int64(n)
	again := func(i int) string {
		off++
		v := vote("v1", "c"+strconv.Itoa(i), "bia", t0.Add(time.Duration(n)*time.Second))
		v.ExpiresAt = t0.Add(time.Duration(i)*time.Second + 2*time.Minute) // the challenge's own expiry
		out, _ := g.decide(state, v, off, off)
		return out
	}
	if out := again(0); out != OutcomeSuperseded {
		t.Fatalf("the oldest challenge again: %s, want superseded", out)
	}
	if out := again(n - 1); out != OutcomeReplay {
		t.Fatalf("the newest challenge again: %s, want replay", out)
	}
	// Nothing complete (acked 0): the bound waits, nothing in flight is lost.
	inflight := pipeline.NewGuardState()
	for i := range pipeline.GuardEntriesMax + 5 {
		v := vote("v1", "c"+strconv.Itoa(i), "ana", t0.Add(time.Duration(i)*time.Second))
		g.decide(inflight, v, int64(i), 0)
	}
	if len(inflight.Entries) != pipeline.GuardEntriesMax+5 {
		t.Fatalf("%d entries in flight kept, want all %d", len(inflight.Entries), pipeline.GuardEntriesMax+5)
	}
}

// A voter idle past its challenges' expiry and the margin, its votes
// complete, leaves the table with a tombstone; an active one stays.
func TestGuardPrunesIdleVoters(t *testing.T) {
	tt, _, proc := startGuardProc(t, GuardConfig{Partitions: 1, Acked: func(int32) int64 { return 1 << 40 }})
	tt.Consume(string(pipeline.VotesStream), "idle", vote("idle", "c1", "ana", t0))
	// The newest acceptance time of the partition: 20 minutes later.
	tt.Consume(string(pipeline.VotesStream), "busy", vote("busy", "c2", "ana", t0.Add(20*time.Minute)))
	if tt.TableValue(pipeline.GuardTable, "idle") == nil {
		t.Fatal("idle voter missing before the prune")
	}
	if err := proc.VisitAll(context.Background(), PruneVisitor, nil); err != nil {
		t.Fatal(err)
	}
	if v := tt.TableValue(pipeline.GuardTable, "idle"); v != nil {
		t.Fatalf("idle voter kept: %+v", v)
	}
	if tt.TableValue(pipeline.GuardTable, "busy") == nil {
		t.Fatal("active voter pruned")
	}
}
