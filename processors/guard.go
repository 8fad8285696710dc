package processors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
)

// Guard outcomes, as counted in paredao_guard_votes_total.
const (
	OutcomeAccepted    = "accepted"
	OutcomeReemitted   = "reemitted"   // same message again: ballot sent again, tally drops the copy
	OutcomeRedelivered = "redelivered" // same message again, it had been dropped: dropped again
	OutcomeReplay      = "replay"
	OutcomeSuperseded  = "superseded" // a challenge older than every one the voter used since (GuardState.Floor)
	OutcomeRateLimited = "rate_limited"
	OutcomeExpired     = "expired"
	OutcomeInvalidVote = "invalid_vote" // a vote the web tier would never write: a bug, counted loudly
)

// PruneVisitor is the name of guard's visitor that deletes voters idle past
// their challenges' expiry plus the margin (Guard.Run calls it).
const PruneVisitor = "prune-voters"

const (
	// rateWindow is the span of the per-voter cap.
	rateWindow = time.Minute
	// keepMargin keeps guard entries a while past what they are needed for,
	// so clocks that differ between web replicas cannot make a replay slip
	// through.
	keepMargin = 5 * time.Minute
	// pruneEvery is how often idle voters are looked for.
	pruneEvery = time.Minute
)

// GuardConfig configures guard.
type GuardConfig struct {
	VotesPerMinute int // per-voter cap; 0 means unlimited
	// Partitions of BallotsStream, for pipeline.SourceKey.
	Partitions int
	// Acked is guard's ordered-commit mark of a VotesStream partition
	// (stream.Commits.Acked): every vote below it is complete, its batch
	// and table write acknowledged. Guard forgets an entry only below it,
	// and stamps it on each batch (pipeline.BallotBatch.AckedBelow). nil:
	// nothing is known complete, nothing is forgotten.
	Acked func(partition int32) int64
	// BatchMax and BatchEvery bound a batch: it is sent at BatchMax ballots
	// or BatchEvery after its first (defaults 1000 and 50 ms).
	BatchMax   int
	BatchEvery time.Duration
	Metrics    *Metrics
}

// Guard is guard's goka processor and the batcher that sends the ballots it
// lets through, one BallotBatch per VotesStream partition every few
// milliseconds. A vote's commit is deferred until its batch is acknowledged.
type Guard struct {
	*goka.Processor
	g       *guard
	emitter *goka.Emitter
}

type guard struct {
	cfg   GuardConfig
	batch *batcher
	// latest is the newest acceptance time decided per partition (unix ms):
	// the event-time "now" of the prune visitor.
	mu      sync.Mutex
	latest  map[int32]int64
	decided atomic.Int64 // votes decided since the last prune visit
	kept    atomic.Int64 // voters the last prune visit kept
}

// NewGuard defines the guard group and returns its processor. emitter
// writes BallotsStream with pipeline.BallotBatchCodec; Guard.Run finishes it.
func NewGuard(brokers []string, cfg GuardConfig, emitter *goka.Emitter, opts ...goka.ProcessorOption) (*Guard, error) {
	g := newGuard(cfg, emitter)
	p, err := goka.NewProcessor(brokers, g.graph(), opts...)
	if err != nil {
		return nil, err
	}
	return &Guard{Processor: p, g: g, emitter: emitter}, nil
}

func newGuard(cfg GuardConfig, emitter *goka.Emitter) *guard {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = 1000
	}
	if cfg.BatchEvery <= 0 {
		cfg.BatchEvery = 50 * time.Millisecond
	}
	g := &guard{cfg: cfg, latest: map[int32]int64{}}
	g.batch = newBatcher(cfg, func(key string, b *pipeline.BallotBatch) (*goka.Promise, error) {
		return emitter.Emit(key, b)
	})
	return g
}

// GuardGraph is guard's group graph.
func GuardGraph(cfg GuardConfig) *goka.GroupGraph { return newGuard(cfg, nil).graph() }

func (g *guard) graph() *goka.GroupGraph {
	return goka.DefineGroup(pipeline.GuardGroup,
		goka.Input(pipeline.VotesStream, new(pipeline.VoteCodec), g.checkVote),
		goka.Visitor(PruneVisitor, g.pruneVoter),
		goka.Output(pipeline.BallotsStream, new(pipeline.BallotBatchCodec)), // sent by the batcher's emitter
		goka.Persist(new(pipeline.GuardStateCodec)),
	)
}

// Run runs the processor until ctx ends or it fails, deletes idle voters
// every minute meanwhile, then sends what is still batched and finishes the
// emitter.
func (p *Guard) Run(ctx context.Context) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		p.pruneEvery(pctx, pruneEvery)
	}()
	err := p.Processor.Run(pctx)
	cancel()
	<-pruned
	p.g.batch.finish()
	if ferr := p.emitter.Finish(); ferr != nil && err == nil {
		err = fmt.Errorf("guard: finish ballots emitter: %w", ferr)
	}
	return err
}

// pruneEvery visits the table every interval, but only when votes were
// decided since the last visit or it kept voters: an idle guard with an
// empty table costs nothing.
func (p *Guard) pruneEvery(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !p.Recovered() || (p.g.decided.Load() == 0 && p.g.kept.Load() == 0) {
			continue
		}
		p.g.decided.Store(0)
		p.g.kept.Store(0)
		if err := p.VisitAll(ctx, PruneVisitor, nil); err != nil && ctx.Err() == nil {
			p.g.kept.Store(1) // try again next time
		}
	}
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
		g.batch.add(ctx.Partition(), pipeline.Ballot{
			Offset: ctx.Offset(), ParedaoID: v.ParedaoID, ParticipantID: v.ParticipantID, AcceptedAt: v.AcceptedAt,
		}, ctx.DeferCommit())
	}
	if changed {
		ctx.SetValue(state)
	}
	g.observe(ctx.Partition(), v.AcceptedAt.UnixMilli())
	g.count(outcome)
}

func (g *guard) observe(partition int32, accepted int64) {
	g.decided.Add(1)
	g.mu.Lock()
	if accepted > g.latest[partition] {
		g.latest[partition] = accepted
	}
	g.mu.Unlock()
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
			Challenge: pipeline.ChallengeHash(v.ChallengeID), Offset: offset,
			AcceptedAt: v.AcceptedAt.UnixMilli(), ExpiresAt: v.ExpiresAt.Unix(),
		})
		boundGuard(state, max(pipeline.GuardEntriesMax, g.cfg.VotesPerMinute), v.ExpiresAt.Unix(), acked)
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
	case v.ExpiresAt.Unix() <= state.Floor:
		return OutcomeSuperseded
	}
	challenge := pipeline.ChallengeHash(v.ChallengeID)
	accepted := v.AcceptedAt.UnixMilli()
	recent := 0
	for _, e := range state.Entries {
		if e.Challenge == challenge {
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

// prunable tells whether entry e is needed neither for replay detection
// (challenge expired) nor for the rate cap (older than a minute), with a
// margin for clocks that disagree, at now (unix ms, event time), and its vote
// is complete (below acked): after a crash a vote at or above acked is
// processed again and must find its entry, whatever its age.
func prunable(e pipeline.GuardEntry, now, acked int64) bool {
	margin := keepMargin.Milliseconds()
	return e.Offset < acked && e.ExpiresAt*1000+margin < now && e.AcceptedAt+rateWindow.Milliseconds()+margin < now
}

// pruneGuard forgets the prunable entries; "now" is the acceptance time of
// the vote at hand.
func pruneGuard(state *pipeline.GuardState, now, acked int64) {
	kept := state.Entries[:0]
	for _, e := range state.Entries {
		if !prunable(e, now, acked) {
			kept = append(kept, e)
		}
	}
	clear(state.Entries[len(kept):])
	state.Entries = kept
}

// boundGuard keeps at most limit entries: while there are more, the
// complete entries (below acked) of the earliest expiry second before
// newest go, and Floor rises to that second, so their challenges, and any
// older one, stay refused (superseded). Entries still in flight stay (the
// bound is exceeded only while they are); so do the entries of newest's
// second, the one the voter's next challenge may share.
func boundGuard(state *pipeline.GuardState, limit int, newest, acked int64) {
	for len(state.Entries) > limit {
		floor := int64(-1)
		for _, e := range state.Entries {
			if e.Offset < acked && e.ExpiresAt < newest && (floor < 0 || e.ExpiresAt < floor) {
				floor = e.ExpiresAt
			}
		}
		if floor < 0 {
			return
		}
		state.Floor = max(state.Floor, floor)
		kept := state.Entries[:0]
		for _, e := range state.Entries {
			if e.Offset >= acked || e.ExpiresAt > floor {
				kept = append(kept, e)
			}
		}
		clear(state.Entries[len(kept):])
		state.Entries = kept
	}
}

// pruneVoter deletes a voter (a tombstone in the table topic) whose every
// entry is prunable at the newest acceptance time guard decided in its
// partition, and whose votes are all complete: no later vote can need its
// state (a challenge it used is expired past the margin, so refused as
// expired), so the table follows the active voters.
func (g *guard) pruneVoter(ctx goka.Context, _ any) {
	state, _ := ctx.Value().(*pipeline.GuardState)
	if state == nil {
		return
	}
	acked := ackedOf(g.cfg.Acked, ctx.Partition())
	g.mu.Lock()
	now := g.latest[ctx.Partition()]
	g.mu.Unlock()
	if state.LastOffset >= acked || now == 0 {
		g.kept.Add(1)
		return
	}
	for _, e := range state.Entries {
		if !prunable(e, now, acked) {
			g.kept.Add(1)
			return
		}
	}
	ctx.Delete()
	g.cfg.Metrics.votersPruned.Inc()
}

func (g *guard) count(outcome string) { g.cfg.Metrics.guardVotes.WithLabelValues(outcome).Inc() }

// errBatcherClosed fails a ballot added after the processor stopped.
var errBatcherClosed = errors.New("guard: ballot batcher closed")

// batcher gathers the ballots of each VotesStream partition and sends them
// as one BallotBatch at max ballots or every after the first. Each ballot's
// done (its message's deferred commit) is called once its batch is
// acknowledged, or failed.
type batcher struct {
	emit    func(key string, b *pipeline.BallotBatch) (*goka.Promise, error)
	acked   func(int32) int64
	max     int
	every   time.Duration
	parts   int
	metrics *Metrics

	mu     sync.Mutex
	open   map[int32]*openBatch
	keys   map[int32]string
	closed bool
}

type openBatch struct {
	ballots []pipeline.Ballot
	dones   []func(error)
	timer   *time.Timer
}

func newBatcher(cfg GuardConfig, emit func(string, *pipeline.BallotBatch) (*goka.Promise, error)) *batcher {
	return &batcher{emit: emit, acked: cfg.Acked, max: cfg.BatchMax, every: cfg.BatchEvery, parts: cfg.Partitions,
		metrics: cfg.Metrics, open: map[int32]*openBatch{}, keys: map[int32]string{}}
}

func (b *batcher) add(partition int32, ballot pipeline.Ballot, done func(error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		done(errBatcherClosed)
		return
	}
	ob := b.open[partition]
	if ob == nil {
		ob = &openBatch{}
		b.open[partition] = ob
		ob.timer = time.AfterFunc(b.every, func() { b.flushIf(partition, ob) })
	}
	ob.ballots = append(ob.ballots, ballot)
	ob.dones = append(ob.dones, done)
	if len(ob.ballots) >= b.max {
		ob.timer.Stop()
		b.flushLocked(partition)
	}
}

// flushIf sends ob if it is still the open batch of partition.
func (b *batcher) flushIf(partition int32, ob *openBatch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open[partition] == ob {
		b.flushLocked(partition)
	}
}

func (b *batcher) flushLocked(partition int32) {
	ob := b.open[partition]
	delete(b.open, partition)
	if ob == nil || len(ob.ballots) == 0 {
		return
	}
	key, ok := b.keys[partition]
	if !ok {
		key = pipeline.SourceKey(partition, b.parts)
		b.keys[partition] = key
	}
	// Every vote below the mark is complete: its batch was acknowledged
	// before this one is sent, so it stands earlier in the key's partition.
	batch := &pipeline.BallotBatch{SourcePartition: partition, AckedBelow: ackedOf(b.acked, partition), Ballots: ob.ballots}
	dones := ob.dones
	finish := func(err error) {
		for _, d := range dones {
			d(err)
		}
	}
	b.metrics.batches.Inc()
	b.metrics.batchBallots.Add(float64(len(ob.ballots)))
	p, err := b.emit(key, batch)
	if err != nil {
		finish(fmt.Errorf("guard: send ballot batch of partition %d: %w", partition, err))
		return
	}
	p.Then(finish)
}

// finish sends every open batch; later ballots fail.
func (b *batcher) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for p, ob := range b.open {
		ob.timer.Stop()
		b.flushLocked(p)
	}
	b.closed = true
}
