package processors

import (
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
)

// Guard outcomes, as counted in paredao_guard_votes_total.
const (
	OutcomeAccepted    = "accepted"
	OutcomeReemitted   = "reemitted"   // same message again: ballot emitted again, tally drops the copy
	OutcomeRedelivered = "redelivered" // same message again, it had been dropped: dropped again
	OutcomeReplay      = "replay"
	OutcomeRateLimited = "rate_limited"
	OutcomeExpired     = "expired"
	OutcomeInvalidVote = "invalid_vote" // a vote the web tier would never write: a bug, counted loudly
)

const (
	// rateWindow is the span of the per-voter cap.
	rateWindow = time.Minute
	// keepMargin keeps guard entries a while past what they are needed for,
	// so clocks that differ between web replicas cannot make a replay slip
	// through.
	keepMargin = 5 * time.Minute
)

// GuardConfig configures guard.
type GuardConfig struct {
	VotesPerMinute int // per-voter cap; 0 means unlimited
	Shards         int // tally keys per participant (see pipeline.Ballot.Shard)
	// Acked is guard's ordered-commit mark of a VotesStream partition
	// (stream.Commits.Acked): every vote below it is complete, its ballot
	// and table write acknowledged. Guard forgets an entry only below it,
	// and stamps it on each ballot (pipeline.Ballot.AckedBelow). nil: nothing
	// is known complete, nothing is forgotten.
	Acked   func(partition int32) int64
	Metrics *Metrics
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
		goka.Output(pipeline.BallotsStream, new(pipeline.BallotCodec)),
		goka.Persist(new(pipeline.GuardStateCodec)),
	)
}

// checkVote decides one vote. The decision depends only on the voter's state
// and the vote as the web tier wrote it (the web tier checked the paredão
// and the participant against its catalog before it acknowledged the vote),
// never on the wall clock or on how far a copy of the catalog has caught up,
// so processing the same log again decides every vote the same way.
func (g *guard) checkVote(ctx goka.Context, msg any) {
	v := msg.(*pipeline.Vote)
	state, _ := ctx.Value().(*pipeline.GuardState)
	if state == nil {
		state = pipeline.NewGuardState()
	}
	acked := ackedOf(g.cfg.Acked, ctx.Partition())
	outcome, changed := g.decide(state, v, ctx.Offset(), acked)
	if outcome == OutcomeAccepted || outcome == OutcomeReemitted {
		g.emitBallot(ctx, v, acked)
	}
	if changed {
		ctx.SetValue(state)
	}
	g.count(outcome)
}

// ackedOf is a group's ordered-commit mark of partition, -1 (nothing known
// complete) when the group has no Acked (unit tests).
func ackedOf(acked func(int32) int64, partition int32) int64 {
	if acked == nil {
		return -1
	}
	return acked(partition)
}

// decide applies the vote at offset to the voter's state and tells what
// became of it and whether the state changed. acked is the offset below
// which every vote of the partition is complete.
func (g *guard) decide(state *pipeline.GuardState, v *pipeline.Vote, offset, acked int64) (outcome string, changed bool) {
	if offset <= state.LastOffset {
		// The same message again: its decision is in the state already. An
		// entry is forgotten only once its vote is complete, so a vote let
		// through whose ballot may not have reached Kafka is always found.
		for _, e := range state.Entries {
			if e.Offset == offset {
				return OutcomeReemitted, false
			}
		}
		return OutcomeRedelivered, false
	}
	state.LastOffset = offset
	pruneGuard(state, v.AcceptedAt.UnixMilli(), acked)
	outcome = g.judge(state, v)
	if outcome == OutcomeAccepted {
		state.Entries = append(state.Entries, pipeline.GuardEntry{
			ChallengeID: v.ChallengeID, Offset: offset,
			AcceptedAt: v.AcceptedAt.UnixMilli(), ExpiresAt: v.ExpiresAt.Unix(),
		})
	}
	return outcome, true
}

// judge decides a vote seen for the first time.
func (g *guard) judge(state *pipeline.GuardState, v *pipeline.Vote) string {
	switch {
	case v.ParedaoID == "" || v.ParticipantID == "" || v.ChallengeID == "":
		return OutcomeInvalidVote
	case v.AcceptedAt.After(v.ExpiresAt):
		return OutcomeExpired
	}
	accepted := v.AcceptedAt.UnixMilli()
	recent := 0
	for _, e := range state.Entries {
		if e.ChallengeID == v.ChallengeID {
			return OutcomeReplay
		}
		if e.AcceptedAt > accepted-rateWindow.Milliseconds() {
			recent++
		}
	}
	if g.cfg.VotesPerMinute > 0 && recent >= g.cfg.VotesPerMinute {
		return OutcomeRateLimited
	}
	return OutcomeAccepted
}

// pruneGuard forgets entries no longer needed for replay detection (challenge
// expired) nor for the rate cap (older than a minute), with a margin for
// clocks that disagree: "now" is the acceptance time of the vote at hand. An
// entry whose vote is not complete yet (at or above acked) is kept whatever
// its age: after a crash that vote is processed again and must find it.
func pruneGuard(state *pipeline.GuardState, now, acked int64) {
	margin := keepMargin.Milliseconds()
	kept := state.Entries[:0]
	for _, e := range state.Entries {
		if e.Offset >= acked || e.ExpiresAt*1000+margin >= now || e.AcceptedAt+rateWindow.Milliseconds()+margin >= now {
			kept = append(kept, e)
		}
	}
	clear(state.Entries[len(kept):])
	state.Entries = kept
}

func (g *guard) emitBallot(ctx goka.Context, v *pipeline.Vote, acked int64) {
	b := &pipeline.Ballot{
		VoteID: v.ID, ParedaoID: v.ParedaoID, ParticipantID: v.ParticipantID, AcceptedAt: v.AcceptedAt,
		SourcePartition: ctx.Partition(), SourceOffset: ctx.Offset(), AckedBelow: acked,
	}
	ctx.Emit(pipeline.BallotsStream, pipeline.BallotKey(v.ParedaoID, v.ParticipantID, b.Shard(g.cfg.Shards)), b)
}

func (g *guard) count(outcome string) { g.cfg.Metrics.guardVotes.WithLabelValues(outcome).Inc() }
