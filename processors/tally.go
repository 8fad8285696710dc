package processors

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
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
	// Acked is tally's ordered-commit mark of a BallotsStream partition
	// (stream.Commits.Acked): every ballot below it is complete, its table
	// write and records acknowledged. Records a ballot sent are kept in
	// state until it is; nil keeps them all.
	Acked func(partition int32) int64
}

type tally struct {
	cfg TallyConfig

	// sent is what the close visitor of this processor sent, per key: the
	// count of each window. It lives in memory only, so after any restart
	// every closed window in state is sent again (counts are absolute: the
	// sink keeps the greatest), and nothing the visitor marks as done can
	// outlive a send that failed (a failed send fails the processor).
	mu   sync.Mutex
	sent map[string][]pipeline.WindowCount
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
	t := &tally{cfg: cfg, sent: map[string][]pipeline.WindowCount{}}
	return goka.DefineGroup(pipeline.TallyGroup,
		goka.Input(pipeline.BallotsStream, new(pipeline.BallotCodec), t.countBallot),
		goka.Visitor(CloseVisitor, t.closeWindows),
		goka.Output(pipeline.WindowsStream, new(pipeline.WindowRecordCodec)),
		goka.Persist(new(pipeline.TallyStateCodec)),
	)
}

// countBallot counts a ballot once. Windows retire as the newest acceptance
// time moves past their end plus the horizon: their last count goes to the
// sink, and a ballot that still arrives for them is sent on its own as a
// late record. Both are kept in state as pending until this ballot is
// acknowledged, so the same message processed again after a crash sends
// them again even though its count is in state already. Nothing here reads
// the wall clock.
func (t *tally) countBallot(ctx goka.Context, msg any) {
	state, _ := ctx.Value().(*pipeline.TallyState)
	if state == nil {
		state = &pipeline.TallyState{}
	}
	outcome, send, changed := t.apply(state, ctx.Offset(), msg.(*pipeline.Ballot), ackedOf(t.cfg.Acked, ctx.Partition()))
	t.cfg.Metrics.tallyBallots.WithLabelValues(outcome).Inc()
	for _, r := range send {
		t.emit(ctx, r)
	}
	if changed {
		ctx.SetValue(state)
	}
}

// apply applies the ballot at offset of BallotsStream to a key's state. It
// returns the ballot's outcome, the records to send to the sink and whether
// the state changed. Records this very message sent when it was processed
// before (a crash came before they were acknowledged) are sent again;
// pending records of ballots below acked (complete) are forgotten.
func (t *tally) apply(state *pipeline.TallyState, offset int64, b *pipeline.Ballot, acked int64) (outcome string, send []pipeline.PendingRecord, changed bool) {
	for _, p := range state.Pending {
		if p.At == offset {
			send = append(send, p)
		}
	}
	outcome, records := t.count(state, b)
	if outcome == OutcomeDuplicate {
		return outcome, send, false
	}
	state.Pending = slices.DeleteFunc(state.Pending, func(p pipeline.PendingRecord) bool { return p.At < acked })
	for _, r := range records {
		r.At = offset
		state.Pending = append(state.Pending, r)
		send = append(send, r)
	}
	return outcome, send, true
}

func (t *tally) emit(ctx goka.Context, p pipeline.PendingRecord) {
	ctx.Emit(pipeline.WindowsStream, ctx.Key(), t.record(ctx.Key(), p.Start, p.Count, p.LateID))
	if p.LateID == "" {
		t.cfg.Metrics.windowsEmited.Inc()
	}
}

// count applies a ballot to a key's state and returns its outcome and the
// records to send to the sink (a late ballot, retired windows).
func (t *tally) count(state *pipeline.TallyState, b *pipeline.Ballot) (outcome string, records []pipeline.PendingRecord) {
	if state.Seen(b.SourcePartition, b.SourceOffset) {
		return OutcomeDuplicate, nil
	}
	state.MarkSeen(b.SourcePartition, b.SourceOffset, b.AckedBelow)
	state.Total++

	outcome = OutcomeCounted
	start := pipeline.WindowStart(b.AcceptedAt, t.cfg.Window).Unix()
	if start < state.Floor {
		records = append(records, pipeline.PendingRecord{Start: start, Count: 1,
			LateID: strconv.Itoa(int(b.SourcePartition)) + "/" + strconv.FormatInt(b.SourceOffset, 10)})
		outcome = OutcomeLate
	} else {
		state.Windows[state.Window(start)].Count++
	}
	if accepted := b.AcceptedAt.UnixMilli(); accepted > state.MaxAcceptedAt {
		state.MaxAcceptedAt = accepted
		records = t.retire(state, records)
	}
	return outcome, records
}

// retire moves the floor to the window that holds MaxAcceptedAt minus the
// window and the horizon, adding the last count of every window below it to
// records.
func (t *tally) retire(state *pipeline.TallyState, records []pipeline.PendingRecord) []pipeline.PendingRecord {
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
		records = append(records, pipeline.PendingRecord{Start: w.Start, Count: w.Count})
		n++
	}
	state.Windows = append(state.Windows[:0], state.Windows[n:]...)
	return records
}

// closeWindows sends the count of every window whose end plus grace is before
// now (the visit's meta, a time.Time) and that this processor has not sent
// with that count yet. It writes nothing to state: a visit has no input
// offset to tie a write to.
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
	for _, w := range t.toSend(ctx.Key(), state, now) {
		ctx.Emit(pipeline.WindowsStream, ctx.Key(), t.record(ctx.Key(), w.Start, w.Count, ""))
		t.cfg.Metrics.windowsEmited.Inc()
	}
}

// toSend returns the closed windows of key not yet sent with their count by
// this processor, and records them as sent.
func (t *tally) toSend(key string, state *pipeline.TallyState, now time.Time) []pipeline.WindowCount {
	closedBefore := now.Add(-t.cfg.Window - t.cfg.Grace).Unix()
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, known := t.sent[key]
	var sent, out []pipeline.WindowCount
	for _, w := range state.Windows {
		if w.Start > closedBefore {
			break
		}
		i := slices.IndexFunc(prev, func(p pipeline.WindowCount) bool { return p.Start == w.Start })
		if i < 0 || prev[i].Count != w.Count {
			out = append(out, w)
			if i < 0 && known { // first sent while this processor follows the key
				t.cfg.Metrics.closeDelay.Observe(now.Sub(time.Unix(w.Start, 0).Add(t.cfg.Window)).Seconds())
			}
		}
		sent = append(sent, w)
	}
	t.sent[key] = sent
	return out
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
