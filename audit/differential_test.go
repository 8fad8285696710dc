package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/processors"
)

var t0 = time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)

// testParedao is p1 of randomLog: open from t0+1m to t0+20m.
var testParedao = pipeline.Paredao{ID: "p1", OpensAt: t0.Add(time.Minute), ClosesAt: t0.Add(20 * time.Minute),
	Participants: []pipeline.Participant{{ID: "ana"}, {ID: "bia"}, {ID: "caio"}}}

// randomLog draws one partition's votes from seed: several voters and
// paredões (p1, p2 and a p3 nobody opened), fresh challenges, replays of a
// proof of work, duplicated messages, hoarded old challenges, expired ones,
// bursts over the cap, votes before p1 opens and after it closes, the odd
// invalid vote and acceptance times a few seconds out of order (web
// replicas' clocks), with pauses past the guard's margins.
func randomLog(seed uint64, n int) []*pipeline.Vote {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type held struct {
		id      string
		expires time.Time
	}
	voters := 3 + rng.IntN(15)
	used := make([][]held, voters)   // challenges each voter voted with
	unused := make([][]held, voters) // challenges each voter holds
	var log []*pipeline.Vote
	now := t0
	chal := 0
	paredoes := []string{"p1", "p1", "p1", "p2", "p3"}
	parts := []string{"ana", "bia", "caio", "dudu"}
	for len(log) < n {
		switch r := rng.IntN(100); {
		case r < 2:
			now = now.Add(time.Duration(3+rng.IntN(8)) * time.Minute) // a pause past the margins
		case r < 30:
			now = now.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		}
		w := rng.IntN(voters)
		at := now.Add(time.Duration(rng.IntN(4000)-2000) * time.Millisecond) // replica clocks
		if w >= voters/2 && len(log) > 0 && rng.IntN(3) > 0 {
			w = 0 // a heavy voter, over the cap
		}
		v := &pipeline.Vote{ID: fmt.Sprintf("v%d", len(log)), VoterID: fmt.Sprintf("voter%d", w),
			ParedaoID: paredoes[rng.IntN(len(paredoes))], ParticipantID: parts[rng.IntN(len(parts))], AcceptedAt: at}
		newChallenge := func(expires time.Time) held {
			chal++
			return held{fmt.Sprintf("c%d", chal), expires.Truncate(time.Second)}
		}
		switch r := rng.IntN(100); {
		case r < 12 && len(log) > 0: // the same message again
			d := *log[rng.IntN(min(len(log), 1+rng.IntN(20)))+max(0, len(log)-20)%len(log)]
			log = append(log, &d)
			continue
		case r < 27 && len(used[w]) > 0: // a replayed proof of work
			h := used[w][rng.IntN(len(used[w]))]
			v.ChallengeID, v.ExpiresAt = h.id, h.expires
		case r < 35 && len(unused[w]) > 0: // a challenge solved long ago
			i := rng.IntN(len(unused[w]))
			h := unused[w][i]
			unused[w] = append(unused[w][:i], unused[w][i+1:]...)
			used[w] = append(used[w], h)
			v.ChallengeID, v.ExpiresAt = h.id, h.expires
		case r < 40: // expired before it was used
			h := newChallenge(at.Add(-time.Duration(1+rng.IntN(60)) * time.Second))
			used[w] = append(used[w], h)
			v.ChallengeID, v.ExpiresAt = h.id, h.expires
		case r < 41: // invalid
			v.ChallengeID, v.ExpiresAt = "", at.Add(time.Minute)
		default:
			h := newChallenge(at.Add(time.Duration(10+rng.IntN(300)) * time.Second))
			if rng.IntN(4) == 0 {
				unused[w] = append(unused[w], h) // kept for later
				h = newChallenge(at.Add(time.Duration(10+rng.IntN(300)) * time.Second))
			}
			used[w] = append(used[w], h)
			v.ChallengeID, v.ExpiresAt = h.id, h.expires
		}
		log = append(log, v)
	}
	return log
}

// pipelineCounts runs log through guard and tally (goka's tester) as one
// votes partition and returns the offsets guard let through and tally's
// totals per (paredão, participant). Guard's Acked mark is the offset of
// the vote at hand: every earlier vote complete, as in a settled pipeline
// and in a recount; each ballot goes in a batch of its own.
func pipelineCounts(t *testing.T, log []*pipeline.Vote, cap int) (map[int64]bool, map[[2]string]int64) {
	t.Helper()
	gt := tester.New(t)
	em, err := goka.NewEmitter(nil, pipeline.BallotsStream, new(pipeline.BallotBatchCodec),
		goka.WithEmitterProducerBuilder(gt.ProducerBuilder()), goka.WithEmitterTopicManagerBuilder(gt.TopicManagerBuilder()))
	if err != nil {
		t.Fatal(err)
	}
	var cur atomic.Int64
	guard, err := processors.NewGuard(nil, processors.GuardConfig{VotesPerMinute: cap, Partitions: 1, BatchMax: 1,
		BatchEvery: time.Millisecond, Acked: func(int32) int64 { return cur.Load() }}, em, goka.WithTester(gt))
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	tally, err := processors.NewTally(nil, processors.TallyConfig{Window: time.Minute, Grace: 5 * time.Second, Horizon: 15 * time.Minute}, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- guard.Run(ctx) }()
	go func() { done <- tally.Run(ctx) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("processor stopped with %v", err)
			}
		}
	}()
	ballots := gt.NewQueueTracker(string(pipeline.BallotsStream))
	accepted := map[int64]bool{}
	for i, v := range log {
		cur.Store(int64(i))
		gt.Consume(string(pipeline.VotesStream), v.VoterID, v)
		for {
			k, val, ok := ballots.Next()
			if !ok {
				break
			}
			b := val.(*pipeline.BallotBatch)
			for _, bl := range b.Ballots {
				if bl.Offset != int64(i) {
					t.Fatalf("ballot of offset %d while consuming offset %d", bl.Offset, i)
				}
				accepted[bl.Offset] = true
			}
			tt.Consume(string(pipeline.BallotsStream), k, b)
		}
	}
	totals := map[[2]string]int64{}
	st, _ := tt.TableValue(pipeline.TallyTable, pipeline.SourceKey(0, 1)).(*pipeline.TallyState)
	if st != nil {
		for _, c := range st.Counts {
			totals[[2]string{c.ParedaoID, c.ParticipantID}] = c.Total
		}
	}
	return accepted, totals
}

// The recount decides every vote as guard and tally do: over random logs
// with replays, duplicates, cap breaches, expired and hoarded challenges,
// several paredões and votes outside p1's interval, the same votes pass the
// voter rules, the same totals per participant come out, and of p1 exactly
// those of its participants accepted in [opensAt, closesAt) count.
func TestRecountDecidesLikeThePipeline(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 15
	}
	for seed := range uint64(seeds) {
		caps := []int{0, 1, 3, 10}
		cap := caps[seed%uint64(len(caps))]
		t.Run(fmt.Sprintf("seed=%d/cap=%d", seed, cap), func(t *testing.T) {
			log := randomLog(seed, 400+int(seed%5)*200)
			accepted, totals := pipelineCounts(t, log, cap)

			d := NewDecider(cap)
			c := NewCount(testParedao, cap, time.Minute)
			mine := map[[2]string]int64{}
			var p1 int64
			reasons := map[string]int{}
			for i, v := range log {
				reason := d.Decide(v)
				if creason := c.Add(v); creason != reason && (reason != ReasonCounted || v.ParedaoID != "p1") {
					t.Fatalf("offset %d: Count decided %s, Decider %s", i, creason, reason)
				}
				reasons[reason]++
				counted := reason == ReasonCounted
				if counted != accepted[int64(i)] {
					t.Fatalf("offset %d (%+v): recount %s, guard accepted=%v", i, v, reason, accepted[int64(i)])
				}
				if counted {
					mine[[2]string{v.ParedaoID, v.ParticipantID}]++
					if v.ParedaoID == "p1" && v.ParticipantID != "dudu" && !v.AcceptedAt.Before(testParedao.OpensAt) && v.AcceptedAt.Before(testParedao.ClosesAt) {
						p1++
					}
				}
			}
			if fmt.Sprint(mine) != fmt.Sprint(totals) {
				t.Fatalf("totals: recount %v, tally %v", mine, totals)
			}
			if c.Total != p1 {
				t.Fatalf("p1 counted %d, want %d", c.Total, p1)
			}
			t.Logf("%d votes: %v; p1 refused %v", len(log), reasons, c.Refused)
		})
	}
}

// Forgetting idle voters (Decider.Sweep at the newest acceptance time read)
// changes no decision while acceptance times run less than the 5 min margin
// behind the newest (web replicas' clocks): over random logs without the
// older copies, a decider swept every few votes decides every vote as one
// that forgets nothing. (A copy written minutes later with its old
// acceptance time may count once its voter was forgotten, as it may in
// guard once its prune visitor deleted the voter.)
func TestSweepChangesNoDecision(t *testing.T) {
	for seed := range uint64(40) {
		cap := []int{0, 1, 3, 10}[seed%4]
		var log []*pipeline.Vote
		var newest int64
		for _, v := range randomLog(seed, 1500) {
			if at := v.AcceptedAt.UnixMilli(); at >= newest-4*60*1000 {
				log = append(log, v)
				newest = max(newest, at)
			}
		}
		whole, swept := NewDecider(cap), NewDecider(cap)
		newest = 0
		forgotten := 0
		for i, v := range log {
			want, got := whole.Decide(v), swept.Decide(v)
			if want != got {
				t.Fatalf("seed %d offset %d: swept decider %s, whole %s", seed, i, got, want)
			}
			newest = max(newest, v.AcceptedAt.UnixMilli())
			if i%7 == 0 {
				forgotten += swept.Sweep(func(int32) (int64, bool) { return newest, true })
			}
		}
		if forgotten == 0 {
			t.Fatalf("seed %d: no voter was ever forgotten: the test tests nothing", seed)
		}
	}
}
