package processors

import (
	"strconv"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

func BenchmarkGuardDecide(b *testing.B) {
	g := &guard{cfg: GuardConfig{VotesPerMinute: 10, Metrics: NewMetrics(nil)}}
	b.ReportAllocs()
	state := pipeline.NewGuardState()
	for i := 0; b.Loop(); i++ {
		if i%5 == 0 {
			state = pipeline.NewGuardState() // a voter casts a few votes
		}
		v := vote("v", "c"+strconv.Itoa(i), "ana", t0.Add(time.Duration(i)*time.Millisecond))
		if out, _ := g.decide(state, v, int64(i), int64(i)); out != OutcomeAccepted {
			b.Fatal(out)
		}
	}
}

func BenchmarkTallyBatch(b *testing.B) {
	tl := newTally(TallyConfig{Window: time.Minute, Grace: 5 * time.Second, Horizon: 15 * time.Minute})
	state := &pipeline.TallyState{Partition: -1, Floor: -1}
	batch := &pipeline.BallotBatch{SourcePartition: 3, Ballots: make([]pipeline.Ballot, 100)}
	b.ReportAllocs()
	off := int64(0)
	for i := 0; b.Loop(); i++ {
		batch.AckedBelow = off
		for j := range batch.Ballots {
			batch.Ballots[j] = pipeline.Ballot{Offset: off, ParedaoID: "p1", ParticipantID: []string{"ana", "bia", "caio"}[j%3],
				AcceptedAt: t0.Add(time.Duration(off) * time.Millisecond)}
			off++
		}
		if _, changed := tl.apply(state, int64(i), batch, int64(i)); !changed {
			b.Fatal("batch not applied")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(off), "ns/ballot")
}
