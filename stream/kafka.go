package stream

import (
	"context"
	"fmt"
	"hash"
	"log/slog"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/rcrowley/go-metrics"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

func init() {
	// sarama records client metrics in go-metrics sample heaps on every
	// request; nothing reads them here, and they cost CPU on the vote path.
	metrics.UseNilMetrics = true
}

// Config is what every Kafka client of a process shares.
type Config struct {
	Brokers     []string
	Partitions  int // of every topic the pipeline creates
	Replication int // of every topic the pipeline creates
	// Retention of each stream the pipeline creates: 0 (or absent)
	// DefaultRetention, negative forever.
	Retention map[goka.Stream]time.Duration
	// AlignRetention: EnsureTopics alters an existing stream whose
	// retention.ms differs to its Retention, for a cluster whose topics
	// this program owns (the embedded broker). Otherwise the difference is
	// logged and the cluster's topic config stays (change it there).
	AlignRetention bool
	Log            *slog.Logger
}

// Kafka builds every Kafka client of a process from one *sarama.Config.
type Kafka struct {
	cfg    Config
	sarama *sarama.Config
	tm     *goka.TopicManagerConfig
	log    *slog.Logger
}

// New returns the Kafka clients' builders of a process.
func New(cfg Config) *Kafka {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	sc := goka.DefaultConfig()
	sc.MetricRegistry = metrics.NewRegistry()
	sc.Version = sarama.V2_8_0_0
	// Groups start at the oldest offset: a vote sent before the first start
	// of a processor is counted, not skipped.
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	sc.Consumer.Fetch.Default = 1 << 20
	// Let a fetch wait for more records: fewer, larger fetches under load,
	// and an idle consumer asks 4 times a second, not 100 (idle CPU); a
	// record waits at most MaxWaitTime per stage when traffic is thin.
	sc.Consumer.Fetch.Min = 32 << 10
	sc.Consumer.MaxWaitTime = 250 * time.Millisecond
	sc.Consumer.Group.Session.Timeout = 10 * time.Second
	sc.Consumer.Group.Heartbeat.Interval = time.Second
	sc.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	// The idempotent producer keeps each partition in order and writes a
	// retried batch once.
	sc.Producer.Idempotent = true
	sc.Net.MaxOpenRequests = 1
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Retry.Max = 5
	sc.Producer.Retry.Backoff = 200 * time.Millisecond
	sc.Producer.Timeout = 2 * time.Second
	sc.Producer.Compression = sarama.CompressionNone
	// Flush every millisecond (or at 64 KiB): a vote waits at most that long
	// for its batch, and under load each request carries many records
	// instead of one, which is what the broker's and the consumers' CPU
	// pay for. (goka's default of 100 ms caps a waiting handler at ~600/s.)
	sc.Producer.Flush.Frequency = time.Millisecond
	sc.Producer.Flush.Bytes = 64 << 10
	sc.Producer.Flush.Messages = 0
	sc.Producer.MaxMessageBytes = 1 << 20
	sc.ChannelBufferSize = 4096
	sc.Net.DialTimeout = 2 * time.Second
	// Longer than a group rebalance: JoinGroup waits for it.
	sc.Net.ReadTimeout = 30 * time.Second
	sc.Net.WriteTimeout = 10 * time.Second
	sc.Metadata.Retry.Max = 5
	sc.Metadata.Retry.Backoff = 200 * time.Millisecond
	sc.Metadata.RefreshFrequency = time.Minute

	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication = cfg.Replication
	tm.Stream.Replication = cfg.Replication
	tm.Stream.Retention = DefaultRetention // EnsureTopics sets each stream's own
	tm.CreateTopicTimeout = 10 * time.Second
	tm.MismatchBehavior = goka.TMConfigMismatchBehaviorWarn
	return &Kafka{cfg: cfg, sarama: sc, tm: tm, log: cfg.Log}
}

// Brokers are the bootstrap brokers.
func (k *Kafka) Brokers() []string { return k.cfg.Brokers }

// clientConfig copies the shared config for one client, so builders never
// write to a config another client uses.
func (k *Kafka) clientConfig(clientID string) *sarama.Config {
	c := *k.sarama
	c.ClientID = clientID
	return &c
}

func (k *Kafka) producerBuilder() goka.ProducerBuilder {
	return func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		c := k.clientConfig(clientID)
		c.Producer.Partitioner = sarama.NewCustomHashPartitioner(hasher)
		return goka.NewProducer(brokers, c)
	}
}

func (k *Kafka) topicManagerBuilder() goka.TopicManagerBuilder {
	return func(brokers []string) (goka.TopicManager, error) {
		return goka.NewTopicManager(brokers, k.clientConfig("paredao-topics"), k.tm)
	}
}

// consumerGroupBuilder builds consumer groups whose commits go through
// commits, in order.
func (k *Kafka) consumerGroupBuilder(commits *Commits) goka.ConsumerGroupBuilder {
	return func(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
		g, err := sarama.NewConsumerGroup(brokers, group, k.clientConfig(clientID))
		if err != nil {
			return nil, err
		}
		return commits.Group(g), nil
	}
}

func (k *Kafka) consumerBuilder() goka.SaramaConsumerBuilder {
	return func(brokers []string, clientID string) (sarama.Consumer, error) {
		return sarama.NewConsumer(brokers, k.clientConfig(clientID))
	}
}

// ProcessorOptions are the options of a processor whose local state lives
// under dir and whose commits go through commits (one Commits per group and
// process). Every processor of the pipeline is built with them: ordered
// commits are not optional.
func (k *Kafka) ProcessorOptions(dir string, commits *Commits) []goka.ProcessorOption {
	return []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(k.consumerGroupBuilder(commits)),
		goka.WithConsumerSaramaBuilder(k.consumerBuilder()),
		goka.WithProducerBuilder(k.producerBuilder()),
		goka.WithTopicManagerBuilder(k.topicManagerBuilder()),
		goka.WithStorageBuilder(WriteBackBuilder(dir, &opt.Options{
			// No fsync per write: the table topic is the durable copy, and an
			// unclean stop drops this store anyway (see Supervisor).
			NoSync: true,
			// One store per partition and group (and lookup): keep each small.
			WriteBuffer:        1 << 20,
			BlockCacheCapacity: 1 << 20,
			// Bounded files: 24 stores (12 partitions, 2 groups) at
			// goleveldb's default of 500 open tables each could take 12,000.
			OpenFilesCacheCapacity: 32,
		}, writeBackMax)),
		goka.WithLogger(gokaLogger{k.log}),
	}
}

// ViewOptions are the options of every goka view: reconnect by themselves.
func (k *Kafka) ViewOptions() []goka.ViewOption {
	return []goka.ViewOption{
		goka.WithViewConsumerSaramaBuilder(k.consumerBuilder()),
		goka.WithViewTopicManagerBuilder(k.topicManagerBuilder()),
		goka.WithViewLogger(gokaLogger{k.log}),
		goka.WithViewAutoReconnect(),
		goka.WithViewBackoffResetTimeout(10 * time.Second),
		goka.WithViewBackoffBuilder(func() (goka.Backoff, error) {
			return goka.NewSimpleBackoff(500*time.Millisecond, 2*time.Second), nil
		}),
	}
}

// EmitterOptions are the options of every goka emitter.
func (k *Kafka) EmitterOptions() []goka.EmitterOption {
	return []goka.EmitterOption{
		goka.WithEmitterProducerBuilder(k.producerBuilder()),
		goka.WithEmitterTopicManagerBuilder(k.topicManagerBuilder()),
		goka.WithEmitterLogger(gokaLogger{k.log}),
	}
}

// Topics lists the topics EnsureTopics creates.
type Topics struct {
	Streams []goka.Stream // cleanup.policy delete, retention.ms from Config.Retention
	Tables  []goka.Table  // compacted
}

// DefaultRetention is the retention of a stream Config.Retention does not name.
const DefaultRetention = 14 * 24 * time.Hour

// retentionMs is d as retention.ms: -1 keeps forever.
func retentionMs(d time.Duration) string {
	switch {
	case d == 0:
		d = DefaultRetention
	case d < 0:
		return "-1"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// EnsureTopics creates the topics when missing, retrying while the cluster
// is not ready, until ctx ends or 30 attempts failed. Processors create their
// own group tables too; doing it first lets views start before any
// processor ran.
func (k *Kafka) EnsureTopics(ctx context.Context, topics Topics) error {
	var last error
	for attempt := 0; attempt < 30; attempt++ {
		if last = k.tryEnsureTopics(topics); last == nil {
			return nil
		}
		k.log.Warn("topics not ready, retrying", "err", last)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("ensure topics: %w", last)
}

func (k *Kafka) tryEnsureTopics(topics Topics) error {
	tm, err := k.topicManagerBuilder()(k.cfg.Brokers)
	if err != nil {
		return fmt.Errorf("topic manager: %w", err)
	}
	defer func() { _ = tm.Close() }() // every creation was answered already; Close only drops the connections
	for _, s := range topics.Streams {
		config := map[string]string{"cleanup.policy": "delete", "retention.ms": retentionMs(k.cfg.Retention[s])}
		if err := tm.EnsureTopicExists(string(s), k.cfg.Partitions, k.cfg.Replication, config); err != nil {
			return fmt.Errorf("stream %s: %w", s, err)
		}
	}
	if err := k.checkRetention(topics); err != nil {
		return err
	}
	for _, t := range topics.Tables {
		if err := tm.EnsureTableExists(string(t), k.cfg.Partitions); err != nil {
			return fmt.Errorf("table %s: %w", t, err)
		}
	}
	return nil
}

// describeTopicConfig is the configuration of topic (only the names given,
// all of it without), an error when the broker answered one for the topic.
func describeTopicConfig(admin sarama.ClusterAdmin, topic string, names ...string) ([]sarama.ConfigEntry, error) {
	results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic, ConfigNames: names}}, sarama.DescribeConfigsOptions{})
	if err != nil {
		return nil, err
	}
	var entries []sarama.ConfigEntry
	for _, r := range results {
		if r.Name != topic {
			continue
		}
		if r.ErrorCode != sarama.ErrNoError {
			return nil, &sarama.DescribeConfigError{Err: r.ErrorCode, ErrMsg: r.ErrorMsg}
		}
		entries = append(entries, r.Configs...)
	}
	return entries, nil
}

// checkRetention compares each stream's retention.ms with Config.Retention:
// aligns it (AlignRetention) or logs the difference.
func (k *Kafka) checkRetention(topics Topics) error {
	admin, err := sarama.NewClusterAdmin(k.cfg.Brokers, k.clientConfig("paredao-topics"))
	if err != nil {
		return fmt.Errorf("cluster admin: %w", err)
	}
	defer func() { _ = admin.Close() }() // every request was answered already; Close only drops the connections
	for _, s := range topics.Streams {
		want := retentionMs(k.cfg.Retention[s])
		entries, err := describeTopicConfig(admin, string(s), "retention.ms")
		if err != nil {
			return fmt.Errorf("stream %s: describe config: %w", s, err)
		}
		has := ""
		for _, e := range entries {
			if e.Name == "retention.ms" {
				has = e.Value
			}
		}
		if has == want {
			continue
		}
		if !k.cfg.AlignRetention {
			k.log.Warn("stream retention differs from the configured one; the cluster's topic config stays (change it there)",
				"topic", s, "retention_ms", has, "configured_ms", want)
			continue
		}
		err = admin.IncrementalAlterConfig(sarama.TopicResource, string(s), map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &want},
		}, false)
		if err != nil {
			return fmt.Errorf("stream %s: set retention.ms %s: %w", s, want, err)
		}
		k.log.Info("stream retention changed", "topic", s, "from_ms", has, "to_ms", want)
	}
	return nil
}

// gokaLogger adapts slog to goka's logger.
type gokaLogger struct{ log *slog.Logger }

func (l gokaLogger) Print(v ...any)                 { l.log.Debug(fmt.Sprint(v...)) }
func (l gokaLogger) Println(v ...any)               { l.log.Debug(fmt.Sprint(v...)) }
func (l gokaLogger) Printf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l gokaLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l gokaLogger) PrefixDebugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}
func (l gokaLogger) Prefix(string) goka.Logger      { return l }
func (l gokaLogger) CurrentPrefix() string          { return "" }
func (l gokaLogger) StackPrefix(string) goka.Logger { return l }
func (l gokaLogger) Panicf(format string, v ...any) {
	panic(fmt.Sprintf(format, v...))
}
