package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
)

// Defaults of Config.
const (
	DefaultBatchSize     = 500
	DefaultFlushInterval = 200 * time.Millisecond
)

const (
	// pendingBatches bounds the buffer: once it holds this many batches
	// (a write keeps failing), callbacks wait for room, so goka stops
	// fetching instead of the buffer growing without limit.
	pendingBatches = 4
	// Retries of a failed write back off from minBackoff to maxBackoff.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	// shutdownTimeout bounds the writes after Run's context ends. Records
	// still unwritten then stay uncommitted: Kafka delivers them again.
	shutdownTimeout = 30 * time.Second
)

// Config configures the sink processor. Zero values take the defaults.
type Config struct {
	BatchSize     int           // flush after this many records (default 500)
	FlushInterval time.Duration // or after this long (default 200ms)
	Log           *slog.Logger  // default: discard
	Metrics       *Metrics      // default: NewMetrics(nil)
}

// Validate checks the configuration after defaults.
func (c Config) Validate() error {
	switch {
	case c.BatchSize < 0:
		return fmt.Errorf("sink: batch size %d: want 0 (default) or more", c.BatchSize)
	case c.FlushInterval < 0:
		return fmt.Errorf("sink: flush interval %s: want 0 (default) or more", c.FlushInterval)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	return c
}

// Processor is the goka group pipeline.SinkGroup: it reads
// pipeline.WindowsStream (pipeline.WindowRecordCodec), keeps no table, and
// writes the records to a Store in batches.
//
// Each callback buffers its record and defers the message's commit. A flush,
// when BatchSize records are buffered or every FlushInterval, writes a batch
// with Store.Apply in one transaction and only then commits its messages, in
// order. A failed write is logged, counted and retried with backoff: a record
// is never committed before it is written. Apply is idempotent, so a record
// delivered again after a crash changes nothing.
type Processor struct {
	store           Store
	cfg             Config
	proc            *goka.Processor
	shutdownTimeout time.Duration // shutdownTimeout; tests shorten it

	mu      sync.Mutex
	pending []pendingRecord // in arrival order
	room    chan struct{}   // closed (and replaced) when a flush frees room
	full    chan struct{}   // holds a token when a batch is ready
}

// pendingRecord is a buffered record and its deferred commit.
type pendingRecord struct {
	record *pipeline.WindowRecord
	commit func(error)
}

// NewProcessor defines the sink group and returns its processor. Tests pass
// goka.WithTester; production passes the Kafka builders.
func NewProcessor(brokers []string, store Store, cfg Config, opts ...goka.ProcessorOption) (*Processor, error) {
	if store == nil {
		return nil, errors.New("sink: new processor: nil store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Processor{
		store:           store,
		cfg:             cfg.withDefaults(),
		shutdownTimeout: shutdownTimeout,
		room:            make(chan struct{}),
		full:            make(chan struct{}, 1),
	}
	p.cfg.Log = p.cfg.Log.With("component", "sink")
	graph := goka.DefineGroup(pipeline.SinkGroup,
		goka.Input(pipeline.WindowsStream, new(pipeline.WindowRecordCodec), p.bufferRecord),
	)
	// A nil message (a tombstone: never sent by tally) reaches bufferRecord,
	// which rejects it loudly, rather than failing the decoder.
	opts = append([]goka.ProcessorOption{goka.WithNilHandling(goka.NilProcess)}, opts...)
	proc, err := goka.NewProcessor(brokers, graph, opts...)
	if err != nil {
		return nil, fmt.Errorf("sink: new processor: %w", err)
	}
	p.proc = proc
	return p, nil
}

// Graph is the sink's group graph.
func (p *Processor) Graph() *goka.GroupGraph { return p.proc.Graph() }

// Recovered tells whether the processor is running (it keeps no table, so
// there is nothing else to recover).
func (p *Processor) Recovered() bool { return p.proc.Recovered() }

// Run runs the goka processor and the flusher until ctx ends or goka fails,
// then writes what is still buffered before it returns. Call it once.
func (p *Processor) Run(ctx context.Context) error {
	gokaDone := make(chan struct{})
	flushed := make(chan error, 1)
	go func() { flushed <- p.flushLoop(ctx, gokaDone) }()
	err := p.proc.Run(ctx)
	close(gokaDone)
	err = errors.Join(err, <-flushed)
	if err != nil {
		return fmt.Errorf("sink processor: %w", err)
	}
	return nil
}

// bufferRecord is the callback of WindowsStream: it buffers the record and
// defers its commit to the flush that writes it. A record that can never be
// stored is logged, counted and committed.
func (p *Processor) bufferRecord(ctx goka.Context, msg any) {
	rec, _ := msg.(*pipeline.WindowRecord)
	if rec == nil {
		p.reject(ctx, reasonNotRecord, fmt.Errorf("message is %T, want *pipeline.WindowRecord", msg))
		return
	}
	if err := validRecord(rec); err != nil {
		p.reject(ctx, reasonInvalid, err)
		return
	}
	commit := ctx.DeferCommit()
	limit := pendingBatches * p.cfg.BatchSize
	p.mu.Lock()
	for len(p.pending) >= limit && ctx.Context().Err() == nil {
		room := p.room
		p.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Context().Done(): // stopping: buffer it anyway, the last flush writes it
		}
		p.mu.Lock()
	}
	p.pending = append(p.pending, pendingRecord{record: rec, commit: commit})
	n := len(p.pending)
	p.mu.Unlock()
	p.cfg.Metrics.pending.Inc()
	if n >= p.cfg.BatchSize {
		select {
		case p.full <- struct{}{}:
		default:
		}
	}
}

func (p *Processor) reject(ctx goka.Context, reason string, err error) {
	p.cfg.Metrics.rejected.WithLabelValues(reason).Inc()
	p.cfg.Log.Error("window record rejected", "reason", reason, "key", ctx.Key(),
		"partition", ctx.Partition(), "offset", ctx.Offset(), "err", err)
}

// flushLoop writes batches when one is full and every FlushInterval. Once
// ctx ends it goes on, for shutdownTimeout at most, while goka stops (goka
// waits for the deferred commits of the records it handed over), and flushes
// what is left when goka has returned. Records it could not write by then are
// released with an error: goka commits none of them, and Kafka delivers them
// again.
func (p *Processor) flushLoop(ctx context.Context, gokaDone <-chan struct{}) error {
	ticker := time.NewTicker(p.cfg.FlushInterval)
	defer ticker.Stop()

	writeCtx, stopping := ctx, ctx.Done()
	cancel := context.CancelFunc(func() {})
	defer func() { cancel() }()
	shutdown := func() context.Context {
		if writeCtx == ctx {
			writeCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), p.shutdownTimeout)
		}
		return writeCtx
	}
	abandoned := 0
	for {
		select {
		case <-ticker.C:
		case <-p.full:
		case <-stopping:
			stopping = nil
			shutdown()
		case <-gokaDone:
			err := p.flushAll(shutdown())
			if err != nil {
				abandoned += p.abandon(err)
			}
			if abandoned > 0 {
				return fmt.Errorf("%d records left unwritten and uncommitted: %w", abandoned, err)
			}
			return nil
		}
		// An error here means writeCtx ended: while running, the records
		// stay buffered for the next try; past the shutdown deadline they are
		// released so that goka can stop.
		if err := p.flushAll(writeCtx); err != nil && stopping == nil {
			abandoned += p.abandon(err)
		}
	}
}

// abandon releases every buffered record without writing it: its deferred
// commit gets err, so goka does not commit it. It returns how many it
// released.
func (p *Processor) abandon(err error) int {
	p.mu.Lock()
	left := p.pending
	p.pending = nil
	close(p.room)
	p.room = make(chan struct{})
	p.mu.Unlock()
	if len(left) == 0 {
		return 0
	}
	p.cfg.Metrics.pending.Sub(float64(len(left)))
	p.cfg.Log.Error("store unavailable at shutdown: records left unwritten and uncommitted; Kafka delivers them again",
		"records", len(left), "err", err)
	for _, r := range left {
		r.commit(fmt.Errorf("sink: record not written: %w", err))
	}
	return len(left)
}

// flushAll writes the buffer, batch by batch, until it is empty. It fails
// only when ctx ends before a batch could be written.
func (p *Processor) flushAll(ctx context.Context) error {
	for {
		p.mu.Lock()
		batch := slices.Clone(p.pending[:min(len(p.pending), p.cfg.BatchSize)])
		p.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		if err := p.write(ctx, batch); err != nil {
			return err
		}
		p.mu.Lock()
		// Only the flusher removes records, so the batch is still the head.
		p.pending = slices.Delete(p.pending, 0, len(batch))
		close(p.room)
		p.room = make(chan struct{})
		p.mu.Unlock()
		m := p.cfg.Metrics
		m.pending.Sub(float64(len(batch)))
		m.records.Add(float64(len(batch)))
		m.batches.Inc()
		m.lastFlush.SetToCurrentTime()
		for _, r := range batch {
			r.commit(nil)
		}
		p.cfg.Log.Debug("batch written", "records", len(batch))
	}
}

// write applies a batch, retrying with backoff until it succeeds or ctx ends.
func (p *Processor) write(ctx context.Context, batch []pendingRecord) error {
	records := make([]*pipeline.WindowRecord, len(batch))
	for i, r := range batch {
		records[i] = r.record
	}
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := p.store.Apply(ctx, records)
		p.cfg.Metrics.apply.Observe(time.Since(start).Seconds())
		if err == nil {
			if attempt > 1 {
				p.cfg.Log.Info("batch written after retries", "records", len(records), "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		p.cfg.Metrics.errors.Inc()
		p.cfg.Log.Warn("write batch failed; retrying", "records", len(records), "attempt", attempt, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// StatsWithContext returns the goka processor's statistics (consumer lag per
// partition among them).
func (p *Processor) StatsWithContext(ctx context.Context) *goka.ProcessorStats {
	return p.proc.StatsWithContext(ctx)
}
