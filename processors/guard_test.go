package processors

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/paredao/paredao/pipeline"
)

var t0 = time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)

func startGuard(t *testing.T, cfg GuardConfig) (*tester.Tester, *tester.QueueTracker) {
	t.Helper()
	tt := tester.New(t)
	proc, err := NewGuard(nil, cfg, goka.WithTester(tt))
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
	return tt, tt.NewQueueTracker(string(pipeline.BallotsStream))
}

func vote(voter, challenge, participant string, at time.Time) *pipeline.Vote {
	return &pipeline.Vote{
		ID: challenge, ParedaoID: "p1", ParticipantID: participant, VoterID: voter,
		ChallengeID: challenge, AcceptedAt: at, ExpiresAt: at.Add(2 * time.Minute),
	}
}

func drain(qt *tester.QueueTracker) []*pipeline.Ballot {
	var out []*pipeline.Ballot
	for {
		_, v, ok := qt.Next()
		if !ok {
			return out
		}
		out = append(out, v.(*pipeline.Ballot))
	}
}

// Guard lets each proof of work through once: a replayed challenge, even for
// another participant, is dropped.
func TestGuardDropsReplays(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{VotesPerMinute: 0, Shards: 4})
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0))
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0.Add(time.Second)))
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "bia", t0.Add(2*time.Second)))
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c2", "bia", t0.Add(3*time.Second)))
	got := drain(ballots)
	if len(got) != 2 || got[0].VoteID != "c1" || got[1].VoteID != "c2" {
		t.Fatalf("ballots = %+v, want c1 and c2 only", got)
	}
	if got[0].SourceOffset >= got[1].SourceOffset {
		t.Fatalf("ballots must carry increasing source offsets: %d, %d", got[0].SourceOffset, got[1].SourceOffset)
	}
}

// The same message seen again after a crash is re-emitted if it had been let
// through (tally drops the copy), and stays dropped if it had been dropped.
func TestGuardRedeliveryDecidesTheSame(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{VotesPerMinute: 1, Shards: 4})
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
	if len(again) != 1 || again[0].VoteID != "c1" || again[0].SourceOffset != 2 {
		t.Fatalf("redelivery emitted %+v, want c1 again at offset 2", again)
	}
}

// The per-voter cap counts votes accepted in the minute before each vote, by
// the web tier's acceptance time.
func TestGuardRateCap(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{VotesPerMinute: 3, Shards: 1})
	at := []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 61 * time.Second, 62 * time.Second}
	for i, d := range at {
		tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c"+string(rune('a'+i)), "ana", t0.Add(d)))
	}
	got := drain(ballots)
	var ids []string
	for _, b := range got {
		ids = append(ids, b.VoteID)
	}
	// 0,10,20 pass; 30 is the 4th in a minute; 61 sees 10,20 in its minute (0 left): passes; 62 sees 10,20,61: dropped.
	want := []string{"ca", "cb", "cc", "ce"}
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
	tt, ballots := startGuard(t, GuardConfig{Shards: 2})
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
	g := &guard{cfg: GuardConfig{VotesPerMinute: 10, Shards: 1, Metrics: NewMetrics(nil)}}
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

// Each ballot carries the partition's acknowledged mark, which tally's
// dedupe relies on (pipeline.TallyState.MarkSeen).
func TestGuardStampsAckedBelow(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{Shards: 1, Acked: func(int32) int64 { return 42 }})
	tt.Consume(string(pipeline.VotesStream), "v1", vote("v1", "c1", "ana", t0))
	got := drain(ballots)
	if len(got) != 1 || got[0].AckedBelow != 42 {
		t.Fatalf("ballots %+v, want one with AckedBelow 42", got)
	}
}

// Ballot keys spread one participant over shards.
func TestGuardShardsBallots(t *testing.T) {
	tt, ballots := startGuard(t, GuardConfig{Shards: 8})
	keys := map[string]bool{}
	for i := range 200 {
		id := "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		tt.Consume(string(pipeline.VotesStream), "v"+id, vote("v"+id, id, "ana", t0))
	}
	for {
		k, _, ok := ballots.Next()
		if !ok {
			break
		}
		keys[k] = true
	}
	if len(keys) != 8 {
		t.Fatalf("200 ballots used %d keys, want all 8 shards", len(keys))
	}
}
