package processors

import (
	"strconv"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

func BenchmarkGuardDecide(b *testing.B) {
	g := &guard{cfg: GuardConfig{VotesPerMinute: 10, Shards: 12, Metrics: NewMetrics(nil)}}
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

func BenchmarkTallyCount(b *testing.B) {
	tl := &tally{cfg: TallyConfig{Window: time.Minute, Grace: 5 * time.Second, Horizon: 15 * time.Minute, Metrics: NewMetrics(nil)}}
	state := &pipeline.TallyState{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ballot := &pipeline.Ballot{VoteID: "v", ParedaoID: "p1", ParticipantID: "ana",
			AcceptedAt: t0.Add(time.Duration(i) * time.Millisecond), SourcePartition: int32(i % 12), SourceOffset: int64(i)}
		if out, _ := tl.count(state, ballot); out != OutcomeCounted {
			b.Fatal(out)
		}
	}
}
