package processors

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
)

// CloseVisitor is the name of tally's visitor that sends closed windows to the
// sink; call Processor.VisitAll(ctx, CloseVisitor, now) periodically (goka has
// no timers).
const CloseVisitor = "close-windows"

// Tally outcomes, as counted in paredao_tally_ballots_total.
const (
	OutcomeCounted   = "counted"
	OutcomeDuplicate = "duplicate"
	OutcomeLate      = "late"
)

// TallyConfig configures tally.
type TallyConfig struct {
	Window  time.Duration // tumbling window size
	Grace   time.Duration // how long past its end a window waits before it is sent to the sink
	Horizon time.Duration // how long past its end a window stays in state for late ballots
	Metrics *Metrics
}

type tally struct {
	cfg TallyConfig
}

// NewTally defines the tally group and returns its processor.
func NewTally(brokers []string, cfg TallyConfig, opts ...goka.ProcessorOption) (*goka.Processor, error) {
	return goka.NewProcessor(brokers, TallyGraph(cfg), opts...)
}

// TallyGraph is tally's group graph.
func TallyGraph(cfg TallyConfig) *goka.GroupGraph {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	t := &tally{cfg: cfg}
	return goka.DefineGroup(pipeline.TallyGroup,
		goka.Input(pipeline.BallotsStream, new(pipeline.BallotCodec), t.countBallot),
		goka.Visitor(CloseVisitor, t.closeWindows),
		goka.Output(pipeline.WindowsStream, new(pipeline.WindowRecordCodec)),
		goka.Persist(new(pipeline.TallyStateCodec)),
	)
}

// countBallot counts a ballot once. A ballot seen already (guard emitted it
// again after a crash) changes nothing. Windows retire as the newest
// acceptance time moves past their end plus the horizon: their last count goes
// to the sink, and a ballot that still arrives for them is sent on its own as
// a late record. Nothing here reads the wall clock.
func (t *tally) countBallot(ctx goka.Context, msg any) {
	b := msg.(*pipeline.Ballot)
	state, _ := ctx.Value().(*pipeline.TallyState)
	if state == nil {
		state = &pipeline.TallyState{}
	}
	outcome, records := t.count(state, ctx.Key(), b)
	t.cfg.Metrics.tallyBallots.WithLabelValues(outcome).Inc()
	if outcome == OutcomeDuplicate {
		return
	}
	for _, r := range records {
		ctx.Emit(pipeline.WindowsStream, ctx.Key(), r)
		if !r.Late() {
			t.cfg.Metrics.windowsEmited.Inc()
		}
	}
	ctx.SetValue(state)
}

// count applies a ballot to a key's state and returns its outcome and the
// records to send to the sink (a late ballot, retired windows).
func (t *tally) count(state *pipeline.TallyState, key string, b *pipeline.Ballot) (outcome string, records []*pipeline.WindowRecord) {
	if state.Seen(b.SourcePartition, b.SourceOffset) {
		return OutcomeDuplicate, nil
	}
	state.MarkSeen(b.SourcePartition, b.SourceOffset)
	state.Total++

	outcome = OutcomeCounted
	start := pipeline.WindowStart(b.AcceptedAt, t.cfg.Window).Unix()
	if start < state.Floor {
		records = append(records, t.record(key, start, 1,
			strconv.Itoa(int(b.SourcePartition))+"/"+strconv.FormatInt(b.SourceOffset, 10)))
		outcome = OutcomeLate
	} else {
		state.Windows[state.Window(start)].Count++
	}
	if accepted := b.AcceptedAt.UnixMilli(); accepted > state.MaxAcceptedAt {
		state.MaxAcceptedAt = accepted
		records = t.retire(state, key, records)
	}
	return outcome, records
}

// retire moves the floor to the window that holds MaxAcceptedAt minus the
// window and the horizon, adding the last count of every window below it to
// records.
func (t *tally) retire(state *pipeline.TallyState, key string, records []*pipeline.WindowRecord) []*pipeline.WindowRecord {
	floor := pipeline.WindowStart(time.UnixMilli(state.MaxAcceptedAt).Add(-t.cfg.Window-t.cfg.Horizon), t.cfg.Window).Unix()
	if floor <= state.Floor {
		return records
	}
	state.Floor = floor
	n := 0
	for _, w := range state.Windows {
		if w.Start >= floor {
			break
		}
		if w.Count != w.Emitted {
			records = append(records, t.record(key, w.Start, w.Count, ""))
		}
		n++
	}
	state.Windows = append(state.Windows[:0], state.Windows[n:]...)
	return records
}

// closeWindows sends the count of every window whose end plus grace is before
// now (the visit's meta, a time.Time) and that changed since it was last sent.
// Counts are absolute, so sending one again is harmless.
func (t *tally) closeWindows(ctx goka.Context, meta any) {
	now, ok := meta.(time.Time)
	if !ok {
		ctx.Fail(fmt.Errorf("close windows: meta is %T, want time.Time", meta))
		return
	}
	state, _ := ctx.Value().(*pipeline.TallyState)
	if state == nil {
		return
	}
	closedBefore := now.Add(-t.cfg.Window - t.cfg.Grace).Unix()
	changed := false
	for i := range state.Windows {
		w := &state.Windows[i]
		if w.Start > closedBefore {
			break
		}
		if w.Count != w.Emitted {
			ctx.Emit(pipeline.WindowsStream, ctx.Key(), t.record(ctx.Key(), w.Start, w.Count, ""))
			t.cfg.Metrics.windowsEmited.Inc()
			if w.Emitted == 0 {
				t.cfg.Metrics.closeDelay.Observe(now.Sub(time.Unix(w.Start, 0).Add(t.cfg.Window)).Seconds())
			}
			w.Emitted = w.Count
			changed = true
		}
	}
	if changed {
		ctx.SetValue(state)
	}
}

func (t *tally) record(key string, start, count int64, lateID string) *pipeline.WindowRecord {
	paredao, participant, shard, err := pipeline.ParseBallotKey(key)
	if err != nil {
		// Keys come from pipeline.BallotKey; keep the record, the sink rejects it loudly.
		paredao = key
	}
	return &pipeline.WindowRecord{
		ParedaoID: paredao, ParticipantID: participant, Shard: shard,
		WindowStart: time.Unix(start, 0).UTC(), Count: count, LateID: lateID,
	}
}
