package processors

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/paredao/paredao/pipeline"
)

func startTally(t *testing.T, cfg TallyConfig) (*tester.Tester, *goka.Processor, *tester.QueueTracker) {
	t.Helper()
	tt := tester.New(t)
	proc, err := NewTally(nil, cfg, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tally stopped with %v", err)
		}
	})
	return tt, proc, tt.NewQueueTracker(string(pipeline.WindowsStream))
}

var tallyCfg = TallyConfig{Window: time.Minute, Grace: 5 * time.Second, Horizon: 10 * time.Minute}

func ballot(part int32, off int64, participant string, at time.Time) *pipeline.Ballot {
	return &pipeline.Ballot{VoteID: "v", ParedaoID: "p1", ParticipantID: participant, AcceptedAt: at, SourcePartition: part, SourceOffset: off}
}

func records(qt *tester.QueueTracker) []*pipeline.WindowRecord {
	var out []*pipeline.WindowRecord
	for {
		_, v, ok := qt.Next()
		if !ok {
			return out
		}
		out = append(out, v.(*pipeline.WindowRecord))
	}
}

func tallyState(tt *tester.Tester, key string) *pipeline.TallyState {
	v, _ := tt.TableValue(pipeline.TallyTable, key).(*pipeline.TallyState)
	if v == nil {
		return &pipeline.TallyState{}
	}
	return v
}

// Windows are cut at their boundaries: [start, start+window).
func TestTallyWindowBoundaries(t *testing.T) {
	tt, _, _ := startTally(t, tallyCfg)
	key := pipeline.BallotKey("p1", "ana", 0)
	at := []time.Time{t0, t0.Add(59*time.Second + 999*time.Millisecond), t0.Add(time.Minute), t0.Add(2*time.Minute - time.Millisecond), t0.Add(2 * time.Minute)}
	for i, a := range at {
		tt.Consume(string(pipeline.BallotsStream), key, ballot(0, int64(i), "ana", a))
	}
	st := tallyState(tt, key)
	want := map[int64]int64{t0.Unix(): 2, t0.Add(time.Minute).Unix(): 2, t0.Add(2 * time.Minute).Unix(): 1}
	if st.Total != 5 || len(st.Windows) != 3 {
		t.Fatalf("total %d windows %+v", st.Total, st.Windows)
	}
	for _, w := range st.Windows {
		if want[w.Start] != w.Count {
			t.Fatalf("window %v count %d, want %d", time.Unix(w.Start, 0).UTC(), w.Count, want[w.Start])
		}
	}
}

// A ballot whose vote was counted already (same source partition and
// offset) changes nothing.
func TestTallyDropsDuplicates(t *testing.T) {
	tt, _, _ := startTally(t, tallyCfg)
	key := pipeline.BallotKey("p1", "ana", 1)
	tt.Consume(string(pipeline.BallotsStream), key, ballot(3, 10, "ana", t0))
	tt.Consume(string(pipeline.BallotsStream), key, ballot(3, 11, "ana", t0))
	tt.Consume(string(pipeline.BallotsStream), key, ballot(3, 10, "ana", t0)) // re-emitted copy
	tt.Consume(string(pipeline.BallotsStream), key, ballot(4, 10, "ana", t0)) // another partition, same offset: new
	if st := tallyState(tt, key); st.Total != 3 || st.Windows[0].Count != 3 {
		t.Fatalf("total %d windows %+v, want 3", st.Total, st.Windows)
	}
}

// Shards of a participant sum to its total.
func TestTallyShardsSum(t *testing.T) {
	tt, _, _ := startTally(t, tallyCfg)
	var want int64
	for shard := range 4 {
		for i := range shard + 1 {
			tt.Consume(string(pipeline.BallotsStream), pipeline.BallotKey("p1", "ana", shard), ballot(int32(shard), int64(i), "ana", t0))
			want++
		}
	}
	var sum int64
	for shard := range 4 {
		sum += tallyState(tt, pipeline.BallotKey("p1", "ana", shard)).Total
	}
	if sum != want {
		t.Fatalf("shards sum to %d, want %d", sum, want)
	}
}

// Closing sends the absolute count of windows past end+grace, again when a
// late ballot changes one, and never a window still open.
func TestTallyCloseWindows(t *testing.T) {
	tt, proc, out := startTally(t, tallyCfg)
	key := pipeline.BallotKey("p1", "ana", 0)
	tt.Consume(string(pipeline.BallotsStream), key, ballot(0, 1, "ana", t0))
	tt.Consume(string(pipeline.BallotsStream), key, ballot(0, 2, "ana", t0.Add(10*time.Second)))
	tt.Consume(string(pipeline.BallotsStream), key, ballot(0, 3, "ana", t0.Add(time.Minute)))

	visit := func(now time.Time) {
		if err := proc.VisitAll(context.Background(), CloseVisitor, now); err != nil {
			t.Fatal(err)
		}
		tt.Catchup()
	}
	visit(t0.Add(time.Minute + 4*time.Second)) // first window within grace: nothing
	if got := records(out); len(got) != 0 {
		t.Fatalf("sent %+v before grace ended", got)
	}
	visit(t0.Add(time.Minute + 5*time.Second))
	got := records(out)
	if len(got) != 1 || got[0].Count != 2 || !got[0].WindowStart.Equal(t0) || got[0].Late() {
		t.Fatalf("sent %+v, want window t0 with 2", got)
	}
	visit(t0.Add(time.Minute + 6*time.Second)) // unchanged: nothing again
	if got := records(out); len(got) != 0 {
		t.Fatalf("sent %+v for an unchanged window", got)
	}
	tt.Consume(string(pipeline.BallotsStream), key, ballot(0, 4, "ana", t0.Add(30*time.Second))) // late, within horizon
	visit(t0.Add(time.Minute + 7*time.Second))
	if got := records(out); len(got) != 1 || got[0].Count != 3 {
		t.Fatalf("sent %+v, want window t0 again with 3", got)
	}
}

// Past the horizon a window retires with its last count; a ballot for it
// afterwards travels alone as a late record.
func TestTallyRetireAndLate(t *testing.T) {
	tt, _, out := startTally(t, tallyCfg)
	key := pipeline.BallotKey("p1", "bia", 2)
	tt.Consume(string(pipeline.BallotsStream), key, ballot(1, 1, "bia", t0))
	tt.Consume(string(pipeline.BallotsStream), key, ballot(1, 2, "bia", t0.Add(12*time.Minute))) // moves the floor past t0
	got := records(out)
	if len(got) != 1 || got[0].Count != 1 || !got[0].WindowStart.Equal(t0) || got[0].Shard != 2 || got[0].ParticipantID != "bia" {
		t.Fatalf("retire sent %+v, want window t0 with 1", got)
	}
	tt.Consume(string(pipeline.BallotsStream), key, ballot(1, 3, "bia", t0.Add(5*time.Second))) // late
	got = records(out)
	if len(got) != 1 || !got[0].Late() || got[0].LateID != "1/3" || !got[0].WindowStart.Equal(t0) {
		t.Fatalf("late ballot sent %+v", got)
	}
	st := tallyState(tt, key)
	if st.Total != 3 || len(st.Windows) != 1 {
		t.Fatalf("state %+v, want total 3 and only the newest window", st)
	}
}

// A ballot that arrives after a later ballot of its source partition (its
// first send failed, a later one succeeded, guard sent it again) is counted;
// every copy is dropped.
func TestTallyCountsABallotArrivingAfterALaterOne(t *testing.T) {
	tt, _, _ := startTally(t, tallyCfg)
	key := pipeline.BallotKey("p1", "ana", 1)
	for _, b := range []*pipeline.Ballot{ballot(3, 12, "ana", t0), ballot(3, 10, "ana", t0), ballot(3, 11, "ana", t0), ballot(3, 12, "ana", t0), ballot(3, 10, "ana", t0)} {
		b.AckedBelow = 10 // guard's mark: 10 and later still in flight
		tt.Consume(string(pipeline.BallotsStream), key, b)
	}
	if st := tallyState(tt, key); st.Total != 3 {
		t.Fatalf("total %d, want 3 (10, 11, 12 once each)", st.Total)
	}
}

// A message processed again after a crash sends again what it sent the
// first time (a retired window's last count, a late ballot), even though
// its count is in state already: the first send may never have reached
// Kafka. Once the message is complete (below acked) nothing is kept.
func TestTallySendsAgainWhatAMessageSent(t *testing.T) {
	tl := &tally{cfg: tallyCfg}
	state := &pipeline.TallyState{}
	steps := []struct {
		offset int64 // in BallotsStream
		b      *pipeline.Ballot
		acked  int64
		want   []pipeline.PendingRecord // sent, without At
	}{
		{100, ballot(1, 1, "bia", t0), -1, nil},
		{101, ballot(1, 2, "bia", t0.Add(12*time.Minute)), -1, []pipeline.PendingRecord{{Start: t0.Unix(), Count: 1}}},               // retires t0
		{102, ballot(1, 3, "bia", t0.Add(5*time.Second)), -1, []pipeline.PendingRecord{{Start: t0.Unix(), Count: 1, LateID: "1/3"}}}, // late
		// crash: 101 and 102 again, their counts in state already
		{101, ballot(1, 2, "bia", t0.Add(12*time.Minute)), -1, []pipeline.PendingRecord{{Start: t0.Unix(), Count: 1}}},
		{102, ballot(1, 3, "bia", t0.Add(5*time.Second)), -1, []pipeline.PendingRecord{{Start: t0.Unix(), Count: 1, LateID: "1/3"}}},
		// a copy of ballot 2 at another position sends nothing
		{103, ballot(1, 2, "bia", t0.Add(12*time.Minute)), -1, nil},
		// once 101 and 102 are complete a new ballot forgets their records
		{104, ballot(1, 4, "bia", t0.Add(12*time.Minute)), 103, nil},
		{102, ballot(1, 3, "bia", t0.Add(5*time.Second)), 103, nil},
	}
	for i, st := range steps {
		_, sent, _ := tl.apply(state, st.offset, st.b, st.acked)
		for j := range sent {
			sent[j].At = 0
		}
		if !reflect.DeepEqual(sent, st.want) {
			t.Fatalf("step %d (offset %d): sent %+v, want %+v", i, st.offset, sent, st.want)
		}
	}
	if state.Total != 4 || len(state.Pending) != 0 {
		t.Fatalf("total %d pending %+v, want 4 and none", state.Total, state.Pending)
	}
}

// The close visitor keeps nothing in state: a new processor (after any
// restart) sends every closed window again, whatever was sent before.
func TestTallyNewProcessorSendsClosedWindowsAgain(t *testing.T) {
	tt, proc, out := startTally(t, tallyCfg)
	key := pipeline.BallotKey("p1", "ana", 0)
	tt.Consume(string(pipeline.BallotsStream), key, ballot(0, 1, "ana", t0))
	before := tallyState(tt, key)
	now := t0.Add(2 * time.Minute)
	if err := proc.VisitAll(context.Background(), CloseVisitor, now); err != nil {
		t.Fatal(err)
	}
	tt.Catchup()
	if got := records(out); len(got) != 1 {
		t.Fatalf("first visit sent %+v", got)
	}
	if after := tallyState(tt, key); !reflect.DeepEqual(after, before) {
		t.Fatalf("the visit changed the state: %+v → %+v", before, after)
	}
	fresh := &tally{cfg: tallyCfg, sent: map[string][]pipeline.WindowCount{}}
	if got := fresh.toSend(key, before, now); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("a new processor would send %+v, want the closed window again", got)
	}
}
