package processors

import (
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
)

// Guard outcomes, as counted in paredao_guard_votes_total.
const (
	OutcomeAccepted           = "accepted"
	OutcomeReemitted          = "reemitted"   // same message again: ballot emitted again, tally drops the copy
	OutcomeRedelivered        = "redelivered" // same message again, it had been dropped: dropped again
	OutcomeReplay             = "replay"
	OutcomeRateLimited        = "rate_limited"
	OutcomeExpired            = "expired"
	OutcomeUnknownParedao     = "unknown_paredao"
	OutcomeUnknownParticipant = "unknown_participant"
	OutcomeNotOpen            = "not_open"
)

// keepMargin keeps guard entries a while past what they are needed for, so
// clocks that differ between web replicas cannot make a replay slip through.
const keepMargin = 5 * time.Minute

// GuardConfig configures guard.
type GuardConfig struct {
	VotesPerMinute int // per-voter cap; 0 means unlimited
	Shards         int // tally keys per participant (see pipeline.Ballot.Shard)
	// LookupWait bounds how long guard waits for its copy of the catalog to
	// learn a paredão: the web tier only acknowledges votes for paredões in
	// its own copy, so an unknown one is almost always a copy lagging behind.
	LookupWait time.Duration
	Metrics    *Metrics
}

type guard struct {
	cfg GuardConfig
}

// NewGuard defines the guard group and returns its processor.
func NewGuard(brokers []string, cfg GuardConfig, opts ...goka.ProcessorOption) (*goka.Processor, error) {
	return goka.NewProcessor(brokers, GuardGraph(cfg), opts...)
}

// GuardGraph is guard's group graph.
func GuardGraph(cfg GuardConfig) *goka.GroupGraph {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	g := &guard{cfg: cfg}
	return goka.DefineGroup(pipeline.GuardGroup,
		goka.Input(pipeline.VotesStream, new(pipeline.VoteCodec), g.checkVote),
		goka.Lookup(pipeline.CatalogTable, new(pipeline.ParedaoCodec)),
		goka.Output(pipeline.BallotsStream, new(pipeline.BallotCodec)),
		goka.Persist(new(pipeline.GuardStateCodec)),
	)
}

// checkVote decides one vote. The decision depends only on the voter's state
// and the vote, never on the wall clock, so processing the same message again
// after a crash decides it the same way.
func (g *guard) checkVote(ctx goka.Context, msg any) {
	v := msg.(*pipeline.Vote)
	state, _ := ctx.Value().(*pipeline.GuardState)
	if state == nil {
		state = pipeline.NewGuardState()
	}
	var p *pipeline.Paredao
	if ctx.Offset() > state.LastOffset {
		p = g.lookup(ctx, v.ParedaoID)
	}
	outcome, changed := g.decide(state, v, ctx.Offset(), p)
	if outcome == OutcomeAccepted || outcome == OutcomeReemitted {
		g.emitBallot(ctx, v)
	}
	if changed {
		ctx.SetValue(state)
	}
	g.count(outcome)
}

// decide applies the vote at offset to the voter's state and tells what
// became of it and whether the state changed. p is the vote's paredão (nil:
// unknown); a message decided already does not need it.
func (g *guard) decide(state *pipeline.GuardState, v *pipeline.Vote, offset int64, p *pipeline.Paredao) (outcome string, changed bool) {
	if offset <= state.LastOffset {
		// The same message again: its decision is in the state already.
		for _, e := range state.Entries {
			if e.Offset == offset {
				return OutcomeReemitted, false
			}
		}
		return OutcomeRedelivered, false
	}
	state.LastOffset = offset
	outcome = g.judge(state, v, p)
	if outcome == OutcomeAccepted {
		state.Entries = append(state.Entries, pipeline.GuardEntry{
			ChallengeID: v.ChallengeID, Offset: offset,
			AcceptedAt: v.AcceptedAt.UnixMilli(), ExpiresAt: v.ExpiresAt.Unix(),
		})
	}
	return outcome, true
}

// judge decides a vote seen for the first time.
func (g *guard) judge(state *pipeline.GuardState, v *pipeline.Vote, p *pipeline.Paredao) string {
	switch {
	case p == nil:
		return OutcomeUnknownParedao
	case p.StatusAt(v.AcceptedAt) != pipeline.StatusOpen:
		return OutcomeNotOpen
	case v.AcceptedAt.After(v.ExpiresAt):
		return OutcomeExpired
	}
	if _, ok := p.Participant(v.ParticipantID); !ok {
		return OutcomeUnknownParticipant
	}
	accepted := v.AcceptedAt.UnixMilli()
	pruneGuard(state, accepted)
	recent := 0
	for _, e := range state.Entries {
		if e.ChallengeID == v.ChallengeID {
			return OutcomeReplay
		}
		if e.AcceptedAt > accepted-time.Minute.Milliseconds() {
			recent++
		}
	}
	if g.cfg.VotesPerMinute > 0 && recent >= g.cfg.VotesPerMinute {
		return OutcomeRateLimited
	}
	return OutcomeAccepted
}

// lookup finds a paredão in guard's copy of the catalog, waiting up to
// LookupWait for a copy that lags behind.
func (g *guard) lookup(ctx goka.Context, id string) *pipeline.Paredao {
	deadline := time.Now().Add(g.cfg.LookupWait)
	for {
		if p, _ := ctx.Lookup(pipeline.CatalogTable, id).(*pipeline.Paredao); p != nil || time.Now().After(deadline) {
			return p
		}
		select {
		case <-ctx.Context().Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pruneGuard forgets entries no longer needed for replay detection (challenge
// expired) nor for the rate cap (older than a minute), with a margin for
// clocks that disagree. "Now" is the acceptance time of the vote at hand.
func pruneGuard(state *pipeline.GuardState, now int64) {
	margin := keepMargin.Milliseconds()
	kept := state.Entries[:0]
	for _, e := range state.Entries {
		if e.ExpiresAt*1000+margin >= now || e.AcceptedAt+time.Minute.Milliseconds()+margin >= now {
			kept = append(kept, e)
		}
	}
	clear(state.Entries[len(kept):])
	state.Entries = kept
}

func (g *guard) emitBallot(ctx goka.Context, v *pipeline.Vote) {
	b := &pipeline.Ballot{
		VoteID: v.ID, ParedaoID: v.ParedaoID, ParticipantID: v.ParticipantID, AcceptedAt: v.AcceptedAt,
		SourcePartition: ctx.Partition(), SourceOffset: ctx.Offset(),
	}
	ctx.Emit(pipeline.BallotsStream, pipeline.BallotKey(v.ParedaoID, v.ParticipantID, b.Shard(g.cfg.Shards)), b)
}

func (g *guard) count(outcome string) { g.cfg.Metrics.guardVotes.WithLabelValues(outcome).Inc() }
