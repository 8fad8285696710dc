package processors

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
)

// CloseVisitor is the name of tally's visitor that sends closed windows to the
// sink; call Tally.CloseDue and, when it says so, VisitAll(ctx, CloseVisitor,
// now) periodically (goka has no timers).
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
	// (stream.Commits.Acked): every batch below it is complete, its table
	// write and records acknowledged. Records a batch sent are kept in
	// state until it is; nil keeps them all.
	Acked func(partition int32) int64
}

// Tally is tally's goka processor: one key per VotesStream partition
// (pipeline.SourceKey), one table write per ballot batch.
type Tally struct {
	*goka.Processor
	t *tally
}

type tally struct {
	cfg TallyConfig

	// sent is what the close visitor of this processor sent, per key: the
	// count of each (paredão, participant, window). It lives in memory only,
	// so after any restart every closed window in state is sent again
	// (counts are absolute: the sink keeps the greatest), and nothing the
	// visitor marks as done can outlive a send that failed (a failed send
	// fails the processor).
	mu   sync.Mutex
	sent map[string][]sentWindow
	// changed: a batch was applied since the last visit; nextClose: the
	// earliest moment (unix s) a window in state not yet sent closes.
	changed   atomic.Bool
	nextClose atomic.Int64
}

type sentWindow struct {
	paredao, participant string
	start, count         int64
}

// NewTally defines the tally group and returns its processor.
func NewTally(brokers []string, cfg TallyConfig, opts ...goka.ProcessorOption) (*Tally, error) {
	t := newTally(cfg)
	p, err := goka.NewProcessor(brokers, t.graph(), opts...)
	if err != nil {
		return nil, err
	}
	return &Tally{Processor: p, t: t}, nil
}

func newTally(cfg TallyConfig) *tally {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	t := &tally{cfg: cfg, sent: map[string][]sentWindow{}}
	t.changed.Store(true) // a new processor sends every closed window once
	return t
}

// TallyGraph is tally's group graph.
func TallyGraph(cfg TallyConfig) *goka.GroupGraph { return newTally(cfg).graph() }

func (t *tally) graph() *goka.GroupGraph {
	return goka.DefineGroup(pipeline.TallyGroup,
		goka.Input(pipeline.BallotsStream, new(pipeline.BallotBatchCodec), t.countBatch),
		goka.Visitor(CloseVisitor, t.closeWindows),
		goka.Output(pipeline.WindowsStream, new(pipeline.WindowRecordCodec)),
		goka.Persist(new(pipeline.TallyStateCodec)),
	)
}

// CloseDue tells whether a close visit at now can send anything: a batch was
// applied since the last visit, or a window not yet sent has closed. An idle
// tally visits nothing.
func (p *Tally) CloseDue(now time.Time) bool {
	return p.t.changed.Load() || now.Unix() >= p.t.nextClose.Load()
}

// countBatch counts each ballot of a batch once, in one table write. Windows
// retire as the newest acceptance time moves past their end plus the
// horizon: their last count goes to the sink, and a ballot that still
// arrives for them is sent on its own as a late record. Both are kept in
// state as pending until this batch is acknowledged, so the same message
// processed again after a crash sends them again even though its counts are
// in state already. Nothing here reads the wall clock.
func (t *tally) countBatch(ctx goka.Context, msg any) {
	state, _ := ctx.Value().(*pipeline.TallyState)
	if state == nil {
		state = &pipeline.TallyState{Partition: -1, Floor: -1}
	}
	send, changed := t.apply(state, ctx.Offset(), msg.(*pipeline.BallotBatch), ackedOf(t.cfg.Acked, ctx.Partition()))
	for _, r := range send {
		t.emit(ctx, state.Partition, r)
	}
	if changed {
		ctx.SetValue(state)
		t.changed.Store(true)
	}
}

// apply applies the batch at offset of BallotsStream to a key's state. It
// returns the records to send to the sink and whether the state changed.
// Records this very message sent when it was processed before (a crash came
// before they were acknowledged) are sent again; pending records of batches
// below acked (complete) are forgotten.
func (t *tally) apply(state *pipeline.TallyState, offset int64, b *pipeline.BallotBatch, acked int64) (send []pipeline.PendingRecord, changed bool) {
	for _, p := range state.Pending {
		if p.At == offset {
			send = append(send, p)
		}
	}
	if state.Partition < 0 {
		state.Partition = b.SourcePartition
	}
	var records []pipeline.PendingRecord
	counted, late, dup := 0, 0, 0
	for i := range b.Ballots {
		var outcome string
		outcome, records = t.count(state, &b.Ballots[i], b.SourcePartition, b.AckedBelow, records)
		switch outcome {
		case OutcomeCounted:
			counted++
		case OutcomeLate:
			late++
		default:
			dup++
		}
	}
	t.cfg.Metrics.tallyBallots.WithLabelValues(OutcomeCounted).Add(float64(counted))
	t.cfg.Metrics.tallyBallots.WithLabelValues(OutcomeLate).Add(float64(late))
	t.cfg.Metrics.tallyBallots.WithLabelValues(OutcomeDuplicate).Add(float64(dup))
	if dup == len(b.Ballots) && b.AckedBelow <= state.Floor {
		return send, false
	}
	state.RaiseFloor(b.AckedBelow) // the floor moves even when every ballot was seen
	state.Pending = slices.DeleteFunc(state.Pending, func(p pipeline.PendingRecord) bool { return p.At < acked })
	for _, r := range records {
		r.At = offset
		state.Pending = append(state.Pending, r)
		send = append(send, r)
	}
	return send, true
}

func (t *tally) emit(ctx goka.Context, partition int32, p pipeline.PendingRecord) {
	ctx.Emit(pipeline.WindowsStream, ctx.Key(), record(partition, p.ParedaoID, p.ParticipantID, p.Start, p.Count, p.LateID))
	if p.LateID == "" {
		t.cfg.Metrics.windowsEmited.Inc()
	}
}

// count applies one ballot to a key's state and returns its outcome, with
// the records to send to the sink (a late ballot, retired windows) added
// to records.
func (t *tally) count(state *pipeline.TallyState, b *pipeline.Ballot, partition int32, ackedBelow int64, records []pipeline.PendingRecord) (string, []pipeline.PendingRecord) {
	if state.Seen(b.Offset) {
		return OutcomeDuplicate, records
	}
	state.MarkSeen(b.Offset, ackedBelow)
	c := state.Count(b.ParedaoID, b.ParticipantID)
	c.Total++

	outcome := OutcomeCounted
	start := pipeline.WindowStart(b.AcceptedAt, t.cfg.Window).Unix()
	if start < state.WindowFloor {
		records = append(records, pipeline.PendingRecord{ParedaoID: b.ParedaoID, ParticipantID: b.ParticipantID, Start: start, Count: 1,
			LateID: strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(b.Offset, 10)})
		outcome = OutcomeLate
	} else {
		c.Windows[c.Window(start)].Count++
	}
	if accepted := b.AcceptedAt.UnixMilli(); accepted > state.MaxAcceptedAt {
		state.MaxAcceptedAt = accepted
		records = t.retire(state, records)
	}
	return outcome, records
}

// retire moves the window floor to the window that holds MaxAcceptedAt minus
// the window and the horizon, adding the last count of every window below it
// to records.
func (t *tally) retire(state *pipeline.TallyState, records []pipeline.PendingRecord) []pipeline.PendingRecord {
	floor := pipeline.WindowStart(time.UnixMilli(state.MaxAcceptedAt).Add(-t.cfg.Window-t.cfg.Horizon), t.cfg.Window).Unix()
	if floor <= state.WindowFloor {
		return records
	}
	state.WindowFloor = floor
	for i := range state.Counts {
		c := &state.Counts[i]
		n := 0
		for _, w := range c.Windows {
			if w.Start >= floor {
				break
			}
			records = append(records, pipeline.PendingRecord{ParedaoID: c.ParedaoID, ParticipantID: c.ParticipantID, Start: w.Start, Count: w.Count})
			n++
		}
		c.Windows = append(c.Windows[:0], c.Windows[n:]...)
	}
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
		ctx.Emit(pipeline.WindowsStream, ctx.Key(), record(state.Partition, w.paredao, w.participant, w.start, w.count, ""))
		t.cfg.Metrics.windowsEmited.Inc()
	}
}

// BeginVisit is called before a close visit: changes from now on are seen by
// the next one.
func (p *Tally) BeginVisit() {
	p.t.changed.Store(false)
	p.t.nextClose.Store(1 << 62)
}

// toSend returns the closed windows of key not yet sent with their count by
// this processor, and records them as sent.
func (t *tally) toSend(key string, state *pipeline.TallyState, now time.Time) []sentWindow {
	closedBefore := now.Add(-t.cfg.Window - t.cfg.Grace).Unix()
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, known := t.sent[key]
	var sent, out []sentWindow
	next := int64(1 << 62)
	for _, c := range state.Counts {
		for _, w := range c.Windows {
			if w.Start > closedBefore {
				next = min(next, w.Start+int64((t.cfg.Window+t.cfg.Grace)/time.Second))
				break
			}
			sw := sentWindow{paredao: c.ParedaoID, participant: c.ParticipantID, start: w.Start, count: w.Count}
			i := slices.IndexFunc(prev, func(p sentWindow) bool {
				return p.start == w.Start && p.participant == c.ParticipantID && p.paredao == c.ParedaoID
			})
			if i < 0 || prev[i].count != w.Count {
				out = append(out, sw)
				if i < 0 && known { // first sent while this processor follows the key
					t.cfg.Metrics.closeDelay.Observe(now.Sub(time.Unix(w.Start, 0).Add(t.cfg.Window)).Seconds())
				}
			}
			sent = append(sent, sw)
		}
	}
	t.sent[key] = sent
	for {
		cur := t.nextClose.Load()
		if next >= cur || t.nextClose.CompareAndSwap(cur, next) {
			break
		}
	}
	return out
}

// record is a window record of the key counting VotesStream partition
// (TallyState.Partition: the shard the sink and the reports know it by).
func record(partition int32, paredao, participant string, start, count int64, lateID string) *pipeline.WindowRecord {
	return &pipeline.WindowRecord{
		ParedaoID: paredao, ParticipantID: participant, Shard: int(partition),
		WindowStart: time.Unix(start, 0).UTC(), Count: count, LateID: lateID,
	}
}
