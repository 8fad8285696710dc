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

func startTally(t *testing.T, cfg TallyConfig) (*tester.Tester, *Tally, *tester.QueueTracker) {
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

func bl(off int64, participant string, at time.Time) pipeline.Ballot {
	return pipeline.Ballot{Offset: off, ParedaoID: "p1", ParticipantID: participant, AcceptedAt: at}
}

func batch(part int32, ackedBelow int64, ballots ...pipeline.Ballot) *pipeline.BallotBatch {
	return &pipeline.BallotBatch{SourcePartition: part, AckedBelow: ackedBelow, Ballots: ballots}
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

// countOf is what a state counted for participant of p1.
func countOf(st *pipeline.TallyState, participant string) pipeline.ParticipantCount {
	for _, c := range st.Counts {
		if c.ParedaoID == "p1" && c.ParticipantID == participant {
			return c
		}
	}
	return pipeline.ParticipantCount{}
}

// Windows are cut at their boundaries: [start, start+window).
func TestTallyWindowBoundaries(t *testing.T) {
	tt, _, _ := startTally(t, tallyCfg)
	key := pipeline.SourceKey(0, 12)
	at := []time.Time{t0, t0.Add(59*time.Second + 999*time.Millisecond), t0.Add(time.Minute), t0.Add(2*time.Minute - time.Millisecond), t0.Add(2 * time.Minute)}
	var b []pipeline.Ballot
	for i, a := range at {
		b = append(b, bl(int64(i), "ana", a))
	}
	tt.Consume(string(pipeline.BallotsStream), key, batch(0, 0, b[:2]...))
	tt.Consume(string(pipeline.BallotsStream), key, batch(0, 2, b[2:]...))
	c := countOf(tallyState(tt, key), "ana")
	want := map[int64]int64{t0.Unix(): 2, t0.Add(time.Minute).Unix(): 2, t0.Add(2 * time.Minute).Unix(): 1}
	if c.Total != 5 || len(c.Windows) != 3 {
		t.Fatalf("total %d windows %+v", c.Total, c.Windows)
	}
	for _, w := range c.Windows {
		if want[w.Start] != w.Count {
			t.Fatalf("window %v count %d, want %d", time.Unix(w.Start, 0).UTC(), w.Count, want[w.Start])
		}
	}
}

// A batch counts each of its participants in one table write; a ballot
// whose vote was counted already (same offset) changes nothing, whichever
// batch carries it again.
func TestTallyDropsDuplicates(t *testing.T) {
	tt, _, _ := startTally(t, tallyCfg)
	key := pipeline.SourceKey(3, 12)
	tt.Consume(string(pipeline.BallotsStream), key, batch(3, 10, bl(10, "ana", t0), bl(11, "bia", t0), bl(12, "ana", t0)))
	tt.Consume(string(pipeline.BallotsStream), key, batch(3, 10, bl(11, "bia", t0), bl(13, "bia", t0))) // 11 again, re-batched
	tt.Consume(string(pipeline.BallotsStream), key, batch(3, 10, bl(10, "ana", t0)))                    // a copy
	st := tallyState(tt, key)
	if a, b := countOf(st, "ana"), countOf(st, "bia"); a.Total != 2 || b.Total != 2 || a.Windows[0].Count != 2 || b.Windows[0].Count != 2 {
		t.Fatalf("ana %+v bia %+v, want 2 each", a, b)
	}
	if st.Partition != 3 {
		t.Fatalf("partition %d, want 3", st.Partition)
	}
}

// Closing sends the absolute count of windows past end+grace, again when a
// late ballot changes one, and never a window still open. CloseDue says
// when a visit can send anything.
func TestTallyCloseWindows(t *testing.T) {
	tt, proc, out := startTally(t, tallyCfg)
	key := pipeline.SourceKey(0, 12)
	tt.Consume(string(pipeline.BallotsStream), key, batch(0, 0, bl(1, "ana", t0), bl(2, "ana", t0.Add(10*time.Second)), bl(3, "ana", t0.Add(time.Minute))))

	visit := func(now time.Time) {
		proc.BeginVisit()
		if err := proc.VisitAll(context.Background(), CloseVisitor, now); err != nil {
			t.Fatal(err)
		}
		tt.Catchup()
	}
	visit(t0.Add(time.Minute + 4*time.Second)) // first window within grace: nothing
	if got := records(out); len(got) != 0 {
		t.Fatalf("sent %+v before grace ended", got)
	}
	if proc.CloseDue(t0.Add(time.Minute+4*time.Second)) || !proc.CloseDue(t0.Add(time.Minute+5*time.Second)) {
		t.Fatal("CloseDue must wait for the first window's end plus grace")
	}
	visit(t0.Add(time.Minute + 5*time.Second))
	got := records(out)
	if len(got) != 1 || got[0].Count != 2 || !got[0].WindowStart.Equal(t0) || got[0].Late() || got[0].Shard != 0 {
		t.Fatalf("sent %+v, want window t0 with 2", got)
	}
	visit(t0.Add(time.Minute + 6*time.Second)) // unchanged: nothing again
	if got := records(out); len(got) != 0 {
		t.Fatalf("sent %+v for an unchanged window", got)
	}
	if proc.CloseDue(t0.Add(time.Minute + 7*time.Second)) {
		t.Fatal("CloseDue with nothing new")
	}
	tt.Consume(string(pipeline.BallotsStream), key, batch(0, 0, bl(4, "ana", t0.Add(30*time.Second)))) // late, within horizon
	if !proc.CloseDue(t0.Add(time.Minute + 7*time.Second)) {
		t.Fatal("CloseDue after a batch")
	}
	visit(t0.Add(time.Minute + 7*time.Second))
	if got := records(out); len(got) != 1 || got[0].Count != 3 {
		t.Fatalf("sent %+v, want window t0 again with 3", got)
	}
}

// Past the horizon a window retires with its last count; a ballot for it
// afterwards travels alone as a late record.
func TestTallyRetireAndLate(t *testing.T) {
	tt, _, out := startTally(t, tallyCfg)
	key := pipeline.SourceKey(2, 12)
	tt.Consume(string(pipeline.BallotsStream), key, batch(2, 0, bl(1, "bia", t0)))
	tt.Consume(string(pipeline.BallotsStream), key, batch(2, 0, bl(2, "bia", t0.Add(12*time.Minute)))) // moves the floor past t0
	got := records(out)
	if len(got) != 1 || got[0].Count != 1 || !got[0].WindowStart.Equal(t0) || got[0].Shard != 2 || got[0].ParticipantID != "bia" {
		t.Fatalf("retire sent %+v, want window t0 with 1", got)
	}
	tt.Consume(string(pipeline.BallotsStream), key, batch(2, 0, bl(3, "bia", t0.Add(5*time.Second)))) // late
	got = records(out)
	if len(got) != 1 || !got[0].Late() || got[0].LateID != "2/3" || !got[0].WindowStart.Equal(t0) {
		t.Fatalf("late ballot sent %+v", got)
	}
	c := countOf(tallyState(tt, key), "bia")
	if c.Total != 3 || len(c.Windows) != 1 {
		t.Fatalf("count %+v, want total 3 and only the newest window", c)
	}
}

// A ballot that arrives after a later ballot of its source partition (its
// batch failed, a later one succeeded, guard sent it again) is counted;
// every copy is dropped.
func TestTallyCountsABallotArrivingAfterALaterOne(t *testing.T) {
	tt, _, _ := startTally(t, tallyCfg)
	key := pipeline.SourceKey(3, 12)
	// guard's mark stays 10: 10 and later still in flight
	for _, b := range []*pipeline.BallotBatch{batch(3, 10, bl(12, "ana", t0)), batch(3, 10, bl(10, "ana", t0), bl(11, "ana", t0)), batch(3, 10, bl(12, "ana", t0), bl(10, "ana", t0))} {
		tt.Consume(string(pipeline.BallotsStream), key, b)
	}
	if c := countOf(tallyState(tt, key), "ana"); c.Total != 3 {
		t.Fatalf("total %d, want 3 (10, 11, 12 once each)", c.Total)
	}
}

// A message processed again after a crash sends again what it sent the
// first time (a retired window's last count, a late ballot), even though
// its counts are in state already: the first send may never have reached
// Kafka. Once the message is complete (below acked) nothing is kept.
func TestTallySendsAgainWhatAMessageSent(t *testing.T) {
	tl := newTally(tallyCfg)
	state := &pipeline.TallyState{Partition: -1, Floor: -1}
	retired := pipeline.PendingRecord{ParedaoID: "p1", ParticipantID: "bia", Start: t0.Unix(), Count: 1}
	late := pipeline.PendingRecord{ParedaoID: "p1", ParticipantID: "bia", Start: t0.Unix(), Count: 1, LateID: "1/3"}
	steps := []struct {
		offset int64 // in BallotsStream
		b      *pipeline.BallotBatch
		acked  int64
		want   []pipeline.PendingRecord // sent, without At
	}{
		{100, batch(1, 0, bl(1, "bia", t0)), -1, nil},
		{101, batch(1, 0, bl(2, "bia", t0.Add(12*time.Minute))), -1, []pipeline.PendingRecord{retired}}, // retires t0
		{102, batch(1, 0, bl(3, "bia", t0.Add(5*time.Second))), -1, []pipeline.PendingRecord{late}},     // late
		// crash: 101 and 102 again, their counts in state already
		{101, batch(1, 0, bl(2, "bia", t0.Add(12*time.Minute))), -1, []pipeline.PendingRecord{retired}},
		{102, batch(1, 0, bl(3, "bia", t0.Add(5*time.Second))), -1, []pipeline.PendingRecord{late}},
		// a copy of ballot 2 at another position sends nothing
		{103, batch(1, 0, bl(2, "bia", t0.Add(12*time.Minute))), -1, nil},
		// once 101 and 102 are complete a new batch forgets their records
		{104, batch(1, 3, bl(4, "bia", t0.Add(12*time.Minute))), 103, nil},
		{102, batch(1, 0, bl(3, "bia", t0.Add(5*time.Second))), 103, nil},
	}
	for i, st := range steps {
		sent, _ := tl.apply(state, st.offset, st.b, st.acked)
		for j := range sent {
			sent[j].At = 0
		}
		if !reflect.DeepEqual(sent, st.want) {
			t.Fatalf("step %d (offset %d): sent %+v, want %+v", i, st.offset, sent, st.want)
		}
	}
	if c := countOf(state, "bia"); c.Total != 4 || len(state.Pending) != 0 {
		t.Fatalf("total %d pending %+v, want 4 and none", c.Total, state.Pending)
	}
}

// The close visitor keeps nothing in state: a new processor (after any
// restart) sends every closed window again, whatever was sent before.
func TestTallyNewProcessorSendsClosedWindowsAgain(t *testing.T) {
	tt, proc, out := startTally(t, tallyCfg)
	key := pipeline.SourceKey(0, 12)
	tt.Consume(string(pipeline.BallotsStream), key, batch(0, 0, bl(1, "ana", t0)))
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
	fresh := newTally(tallyCfg)
	if got := fresh.toSend(key, before, now); len(got) != 1 || got[0].count != 1 {
		t.Fatalf("a new processor would send %+v, want the closed window again", got)
	}
	if !(&Tally{t: fresh}).CloseDue(now) {
		t.Fatal("a new processor must visit once")
	}
}
