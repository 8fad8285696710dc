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

// BenchmarkGuardVoterRate is guard's cost of one vote (decode the voter's
// value, decide, encode it: what goka does per vote) for a voter who votes
// once a minute, one at the per-voter cap (10 a minute), and a tireless one
// with no cap (10 a second): the cost must not grow with the rate. bytes/value
// is the encoded value's size in steady state.
func BenchmarkGuardVoterRate(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cap   int
		every time.Duration
	}{
		{"once-a-minute", 10, time.Minute},
		{"at-the-cap-10-a-minute", 10, 6 * time.Second},
		{"tireless-uncapped-10-a-second", 0, 100 * time.Millisecond},
	} {
		b.Run(tc.name, func(b *testing.B) {
			g := newGuard(GuardConfig{VotesPerMinute: tc.cap}, nil)
			codec := pipeline.GuardStateCodec{}
			data, _ := codec.Encode(pipeline.NewGuardState())
			// warm up: the value reaches its steady size
			vote := func(i int) {
				v, err := codec.Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				at := t0.Add(time.Duration(i) * tc.every)
				vt := &pipeline.Vote{ID: "c", ParedaoID: "p1", ParticipantID: "ana", VoterID: "v", ChallengeID: "c" + strconv.Itoa(i), AcceptedAt: at, ExpiresAt: at.Add(2 * time.Minute)}
				if out, _ := g.decide(v.(*pipeline.GuardState), vt, int64(i), int64(i)); out != OutcomeAccepted {
					b.Fatalf("vote %d: %s", i, out)
				}
				data, _ = codec.Encode(v)
			}
			for i := range 5000 {
				vote(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 5000; b.Loop(); i++ {
				vote(i)
			}
			b.ReportMetric(float64(len(data)), "bytes/value")
		})
	}
}
