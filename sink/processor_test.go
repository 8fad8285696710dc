package sink

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paredao/paredao/pipeline"
)

var windowsTopic = string(pipeline.WindowsStream)

// running is a sink processor started on the goka tester.
type running struct {
	p       *Processor
	tt      *tester.Tester
	metrics *Metrics
	stop    func() error // cancels Run and returns its error; idempotent
}

func startProcessor(t *testing.T, store Store, cfg Config) *running {
	t.Helper()
	tt := tester.New(t)
	cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	p, err := NewProcessor(nil, store, cfg, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	return run(t, p, tt, cfg.Metrics)
}

func run(t *testing.T, p *Processor, tt *tester.Tester, m *Metrics) *running {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() }) // a test that cares about Run's error checks stop itself
	return &running{p: p, tt: tt, metrics: m, stop: stop}
}

// consumeAsync delivers msg in a goroutine: tt.Consume returns only once the
// message is committed (or the consumer session ended), and a test of
// buffering must go on before that. The returned func waits for it.
func consumeAsync(tt *tester.Tester, key string, msg any) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tt.Consume(windowsTopic, key, msg)
	}()
	return func() { <-done }
}

func keyOf(r *pipeline.WindowRecord) string {
	return pipeline.SourceKey(shard32(r.Shard), 12)
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("%s is not a counter or gauge", m.Desc())
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProcessorWritesBeforeCommit: a record consumed is in the store when its
// message is committed (tt.Consume returns only then), and a record delivered
// twice changes nothing.
func TestProcessorWritesBeforeCommit(t *testing.T) {
	store := openSQLiteStore(t)
	r := startProcessor(t, store, Config{BatchSize: 10, FlushInterval: 10 * time.Millisecond})

	c := count("p1", "ana", 3, at(0), 5)
	l := late("p1", "ana", at(0), "2/40")
	r.tt.Consume(windowsTopic, keyOf(c), c)
	equal(t, "shards after one record", shards(t, store, "p1", at(0), at(1)), []ShardRow{shardRow("ana", 3, at(0), 5)})
	r.tt.Consume(windowsTopic, keyOf(l), l)
	equal(t, "minutes after a late record", minutes(t, store, "p1", at(0), at(1)), []CountRow{row(at(0), "ana", 6)})

	r.tt.Consume(windowsTopic, keyOf(c), c)
	r.tt.Consume(windowsTopic, keyOf(l), l)
	equal(t, "minutes after both delivered twice", minutes(t, store, "p1", at(0), at(1)), []CountRow{row(at(0), "ana", 6)})

	if !r.p.Recovered() {
		t.Error("Recovered() = false while running")
	}
	if got := value(t, r.metrics.records); got != 4 {
		t.Errorf("records_total = %v, want 4", got)
	}
	if got := value(t, r.metrics.batches); got < 1 || got > 4 {
		t.Errorf("batches_total = %v, want 1 to 4", got)
	}
	if got := value(t, r.metrics.pending); got != 0 {
		t.Errorf("pending = %v, want 0", got)
	}
	if value(t, r.metrics.lastFlush) == 0 {
		t.Error("last flush timestamp not set")
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestProcessorFlushesFullBatch: a full batch is written at once, without
// waiting for the flush interval.
func TestProcessorFlushesFullBatch(t *testing.T) {
	store := openSQLiteStore(t)
	r := startProcessor(t, store, Config{BatchSize: 1, FlushInterval: time.Hour})
	for shard := range 3 {
		rec := count("p1", "bia", shard, at(1), int64(shard+1))
		r.tt.Consume(windowsTopic, keyOf(rec), rec) // returns once committed: an hour early
	}
	equal(t, "minutes", minutes(t, store, "p1", at(0), at(2)), []CountRow{row(at(1), "bia", 6)})
	if got := value(t, r.metrics.batches); got != 3 {
		t.Errorf("batches_total = %v, want 3", got)
	}
}

// TestProcessorFlushesOnShutdown: a record still buffered when the context
// ends is written before Run returns.
func TestProcessorFlushesOnShutdown(t *testing.T) {
	store := openSQLiteStore(t)
	r := startProcessor(t, store, Config{BatchSize: 100, FlushInterval: time.Hour})
	c := count("p1", "ana", 0, at(0), 2)
	delivered := consumeAsync(r.tt, keyOf(c), c)
	waitFor(t, "the record buffered", func() bool { return value(t, r.metrics.pending) == 1 })
	equal(t, "minutes before shutdown", minutes(t, store, "p1", at(0), at(3)), nil)
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	delivered()
	equal(t, "minutes after shutdown", minutes(t, store, "p1", at(0), at(3)), []CountRow{row(at(0), "ana", 2)})
	if got := value(t, r.metrics.pending); got != 0 {
		t.Errorf("pending = %v, want 0", got)
	}
}

// flakyStore is a real store whose Apply fails while failures is positive
// (negative: always): the database going away under the sink.
type flakyStore struct {
	Store
	mu       sync.Mutex
	failures int
	calls    int
}

func (f *flakyStore) Apply(ctx context.Context, records []*pipeline.WindowRecord) error {
	f.mu.Lock()
	f.calls++
	fail := f.failures != 0
	if f.failures > 0 {
		f.failures--
	}
	f.mu.Unlock()
	if fail {
		return errors.New("connection refused")
	}
	return f.Store.Apply(ctx, records)
}

func (f *flakyStore) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// TestProcessorRetriesFailedWrite: a failed write is counted and retried, and
// the message is committed only after the write that succeeded.
func TestProcessorRetriesFailedWrite(t *testing.T) {
	store := &flakyStore{Store: openSQLiteStore(t), failures: 2}
	r := startProcessor(t, store, Config{BatchSize: 1, FlushInterval: 10 * time.Millisecond})
	c := count("p1", "ana", 0, at(0), 9)
	r.tt.Consume(windowsTopic, keyOf(c), c) // returns when committed
	if got := store.Calls(); got != 3 {
		t.Fatalf("committed after %d Apply calls, want 3 (two failures, then the write)", got)
	}
	equal(t, "shards", shards(t, store, "p1", at(0), at(1)), []ShardRow{shardRow("ana", 0, at(0), 9)})
	if got := value(t, r.metrics.errors); got != 2 {
		t.Errorf("apply_errors_total = %v, want 2", got)
	}
	if got := value(t, r.metrics.records); got != 1 {
		t.Errorf("records_total = %v, want 1", got)
	}
}

// TestProcessorNeverCommitsUnwritten: when the store stays down through
// shutdown, Run says so and the records stay uncommitted (Kafka delivers them
// again), never dropped.
func TestProcessorNeverCommitsUnwritten(t *testing.T) {
	store := &flakyStore{Store: openSQLiteStore(t), failures: -1}
	tt := tester.New(t)
	m := NewMetrics(nil)
	p, err := NewProcessor(nil, store, Config{BatchSize: 1, FlushInterval: 10 * time.Millisecond, Metrics: m}, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	p.shutdownTimeout = 300 * time.Millisecond
	r := run(t, p, tt, m)
	c := count("p1", "ana", 0, at(0), 9)
	delivered := consumeAsync(tt, keyOf(c), c)
	waitFor(t, "a failed write", func() bool { return value(t, m.errors) >= 1 })
	begin := time.Now()
	err = r.stop()
	delivered()
	if err == nil || !strings.Contains(err.Error(), "1 records left unwritten and uncommitted") {
		t.Fatalf("Run = %v, want an error about the unwritten record", err)
	}
	// goka waits up to a minute for deferred commits; released with an
	// error, they let it stop at once.
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Run took %v to stop", took)
	}
	if got := value(t, m.records); got != 0 {
		t.Errorf("records_total = %v, want 0", got)
	}
	if got := value(t, m.pending); got != 0 {
		t.Errorf("pending = %v, want 0 (released)", got)
	}
	equal(t, "minutes", minutes(t, store, "p1", at(0), at(1)), nil)
}

// TestProcessorRejectsInvalidRecords: a record that can never be stored (tally
// could not parse its key; a tombstone) is counted and logged, committed so it
// cannot block the partition, and stores nothing.
func TestProcessorRejectsInvalidRecords(t *testing.T) {
	store := openSQLiteStore(t)
	r := startProcessor(t, store, Config{BatchSize: 10, FlushInterval: 10 * time.Millisecond})
	bad := &pipeline.WindowRecord{ParedaoID: "p1/ana", WindowStart: at(0), Count: 3}
	r.tt.Consume(windowsTopic, "p1/ana", bad)
	r.tt.Consume(windowsTopic, "p1/ana/0", nil)
	good := count("p1", "ana", 0, at(0), 1)
	r.tt.Consume(windowsTopic, keyOf(good), good)
	equal(t, "minutes", minutes(t, store, "p1", at(0), at(1)), []CountRow{row(at(0), "ana", 1)})
	if got := value(t, r.metrics.rejected.WithLabelValues(reasonInvalid)); got != 1 {
		t.Errorf("rejected{invalid} = %v, want 1", got)
	}
	if got := value(t, r.metrics.rejected.WithLabelValues(reasonNotRecord)); got != 1 {
		t.Errorf("rejected{not_record} = %v, want 1", got)
	}
}

// TestProcessorGraph: the sink is the group SinkGroup reading WindowsStream,
// stateless.
func TestProcessorGraph(t *testing.T) {
	p, err := NewProcessor(nil, openSQLiteStore(t), Config{}, goka.WithTester(tester.New(t)))
	if err != nil {
		t.Fatal(err)
	}
	g := p.Graph()
	if g.Group() != pipeline.SinkGroup {
		t.Errorf("group = %s, want %s", g.Group(), pipeline.SinkGroup)
	}
	in := g.InputStreams()
	if len(in) != 1 || in[0].Topic() != windowsTopic {
		t.Errorf("inputs = %v, want [%s]", in, windowsTopic)
	}
	if _, ok := in[0].Codec().(*pipeline.WindowRecordCodec); !ok {
		t.Errorf("input codec = %T, want *pipeline.WindowRecordCodec", in[0].Codec())
	}
	if g.GroupTable() != nil {
		t.Error("the sink keeps a group table; it must be stateless")
	}
	if len(g.OutputStreams()) != 0 {
		t.Error("the sink emits; it must only write to SQL")
	}
}

// TestConfigValidate: negative sizes are refused; zero takes the defaults.
func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{BatchSize: -1}, {FlushInterval: -time.Second}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", c)
		}
		if _, err := NewProcessor(nil, openSQLiteStore(t), c); err == nil {
			t.Errorf("%+v: NewProcessor accepted it", c)
		}
	}
	d := Config{}.withDefaults()
	if d.BatchSize != DefaultBatchSize || d.FlushInterval != DefaultFlushInterval || d.Log == nil || d.Metrics == nil {
		t.Errorf("defaults = %+v", d)
	}
}
