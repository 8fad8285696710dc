package stream

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BrokerConfig configures the embedded Kafka-protocol broker.
type BrokerConfig struct {
	// Addr is host:port of the first broker; broker i listens on port+i.
	Addr string
	// Count is the number of brokers in the cluster (default 1).
	Count int
	// DataDir persists the log; "" keeps it in memory only.
	DataDir string
	// Topics names the pipeline's topics, whose retention and compaction
	// the broker runs (see Broker.maintain).
	Topics []string
	// KeepLast names the streams none of whose partitions retention may
	// empty: those whose consumers' state holds their offsets (the votes).
	KeepLast []string
	// MaintainEvery is how often retention and compaction run (default a
	// minute).
	MaintainEvery time.Duration
	Log           *slog.Logger
}

// Broker is the embedded broker: a kfake cluster and the loop that applies
// retention and compacts its tables. Close stops both.
type Broker struct {
	*kfake.Cluster
	cfg        BrokerConfig
	stop       chan struct{}
	done       chan struct{}
	closeOnce  sync.Once
	stopReaper func() // ReapSilentMembers
	low        bool   // compaction postponed for want of room (logged once)
	idle       string // retention postponed for this partition (logged once)
}

// compactReserve is the room compaction leaves free on top of what it
// rewrites.
const compactReserve = 16 << 20

// StartBroker starts the embedded broker (franz-go's kfake): Count brokers
// on consecutive ports from Addr, persisted under DataDir. Every
// MaintainEvery the broker applies each topic's retention.ms (streams) and
// compacts the tables (see maintain). Close the broker to stop it.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	if cfg.Count == 0 {
		cfg.Count = 1
	}
	if cfg.MaintainEvery <= 0 {
		cfg.MaintainEvery = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port+cfg.Count-1 > 65535 {
		return nil, fmt.Errorf("broker address %q: want a port from 1 to %d", cfg.Addr, 65536-cfg.Count)
	}
	ports := make([]int, cfg.Count)
	for i := range ports {
		ports[i] = port + i
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(cfg.Count),
		kfake.Ports(ports...),
		// kfake listens on 127.0.0.1:port; keep the host asked for.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.ClusterID("paredao"),
		kfake.WithLogger(&kfakeLogger{log: cfg.Log, seen: map[string]logSeen{}}),
		kfake.BrokerConfigs(map[string]string{
			// kfake's own cleaner runs compactAll (compaction and retention)
			// on a ticker that exists only after a topic was created or
			// altered in this run (never after a restart from DataDir), and
			// it compacts whatever the disk holds. Broker.maintain does it
			// instead: every MaintainEvery, after every restart, and
			// compaction only with room on the disk.
			"log.cleaner.backoff.ms": strconv.FormatInt(int64(10*365*24*time.Hour/time.Millisecond), 10),
			// kfake applies retention.ms to compacted topics too (Kafka
			// does not: cleanup.policy=compact never deletes by age), with a
			// default of 7 days: a table key not written for a week (a
			// paredão in the catalog, a votes partition's tally) would go.
			// Topics without their own retention.ms keep everything; the
			// streams carry theirs (EnsureTopics).
			"log.retention.ms": "-1",
		}),
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("broker data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	cfg.Log.Info("embedded broker listening", "addrs", c.ListenAddrs(), "brokers", cfg.Count, "data_dir", cfg.DataDir)
	b := &Broker{Cluster: c, cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	b.stopReaper = ReapSilentMembers(c, cfg.Log)
	go b.maintainEvery()
	return b, nil
}

// Close stops the maintenance loop, then the cluster (kfake's admin calls
// block forever on a closed cluster).
func (b *Broker) Close() {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.stopReaper()
		b.Cluster.Close()
	})
}

func (b *Broker) maintainEvery() {
	defer close(b.done)
	tick := time.NewTicker(b.cfg.MaintainEvery)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		b.maintain()
	}
}

// maintain applies the streams' retention.ms and compacts the tables, with
// two holds, each logged once:
//
//   - kfake deletes a partition's batches past retention.ms down to none
//     (data.go applyRetention), and a partition left without a segment
//     restarts at offset 0 when the broker starts again (persist.go
//     loadPartition ignores its snapshot without segment files): a votes
//     partition idle past its retention would reuse offsets that guard's
//     and tally's state hold as decided and counted, and the new votes
//     would be dropped. So while a KeepLast partition holds only records
//     past its retention, retention (and compaction, which applies it
//     too: kfake has no finer call) waits until it gets a new record; an
//     idle pipeline writes nothing meanwhile. (Ballots and windows may be
//     emptied: their consumers dedupe by vote offsets and window keys, and
//     a consumer group past the end starts again at the oldest offset.)
//   - kfake compacts a partition by deleting its segment files and writing
//     the survivors anew (persist.go rebuildSegments): a write that fails
//     there loses table records. So compaction runs only while the disk
//     has room for the largest table partition twice over plus
//     compactReserve; otherwise only retention runs (it deletes whole
//     segment files: safe on a full disk, and it makes room).
func (b *Broker) maintain() {
	start := time.Now()
	idle := b.idlePartition(start)
	if idle != b.idle {
		if idle != "" {
			b.cfg.Log.Warn("retention and compaction wait: a votes partition holds only records past its retention; emptied, it would restart at offset 0",
				"partition", idle)
		} else {
			b.cfg.Log.Info("retention and compaction resume: every votes partition holds a record within its retention")
		}
		b.idle = idle
	}
	if idle != "" {
		return
	}
	if need, free, ok := b.compactionRoom(); !ok {
		b.ApplyRetention()
		if !b.low {
			b.low = true
			b.cfg.Log.Warn("disk nearly full: compaction of the tables postponed, retention applied",
				"data_dir", b.cfg.DataDir, "free_bytes", free, "needs_bytes", need)
		}
		return
	}
	if b.low {
		b.low = false
		b.cfg.Log.Info("room on the disk again: compacting the tables", "data_dir", b.cfg.DataDir)
	}
	b.Compact() // compaction, then retention, of every topic
	b.cfg.Log.Debug("retention applied, tables compacted", "took", time.Since(start))
}

// idleMargin keeps the hold on a partition a little before kfake would
// empty it (producer clocks, the time between two rounds).
const idleMargin = 5 * time.Minute

// idlePartition is the first KeepLast partition ("topic-n") whose records
// are all past its topic's retention.ms (less idleMargin); "" if none.
func (b *Broker) idlePartition(now time.Time) string {
	for _, t := range b.cfg.KeepLast {
		ti := b.TopicInfo(t)
		if ti == nil || isCompact(ti) {
			continue
		}
		v := ti.Configs["retention.ms"]
		if v == nil {
			continue // the broker's default: forever (log.retention.ms -1)
		}
		ms, err := strconv.ParseInt(*v, 10, 64)
		if err != nil || ms < 0 {
			continue
		}
		keep := time.Duration(ms)*time.Millisecond - idleMargin
		for _, p := range b.PartitionInfos(t) {
			if p.HighWatermark > p.LogStartOffset && now.Sub(time.UnixMilli(p.MaxTimestamp)) >= keep {
				return fmt.Sprintf("%s-%d", t, p.Partition)
			}
		}
	}
	return ""
}

func isCompact(ti *kfake.TopicInfo) bool {
	v := ti.Configs["cleanup.policy"]
	return v != nil && strings.Contains(*v, "compact")
}

// compactionRoom tells whether the data dir has room to compact: free
// bytes at least twice the largest table partition plus compactReserve.
func (b *Broker) compactionRoom() (need, free int64, ok bool) {
	if b.cfg.DataDir == "" {
		return 0, 0, true
	}
	free, err := FreeBytes(b.cfg.DataDir)
	if err != nil {
		b.cfg.Log.Warn("data dir free space unknown: compaction postponed", "err", err)
		return 0, 0, false
	}
	var largest int64
	for _, t := range b.cfg.Topics {
		if ti := b.TopicInfo(t); ti == nil || !isCompact(ti) {
			continue
		}
		for _, p := range b.PartitionInfos(t) {
			var size int64
			dir := filepath.Join(b.cfg.DataDir, "partitions", fmt.Sprintf("%s-%d", url.PathEscape(t), p.Partition))
			// A file that vanishes meanwhile (compaction replaces segments)
			// is not counted, so the walk itself never fails.
			_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if info, err := d.Info(); err == nil {
						size += info.Size()
					}
				}
				return nil
			})
			largest = max(largest, size)
		}
	}
	need = 2*largest + compactReserve
	return need, free, free >= need
}

// kfakeLogger passes kfake's warnings and errors (a segment that could not
// be written: "persist batch votes-3: write …: no space left on device") to
// slog, each message at most once per logEvery with the count of those held
// back: on a full disk every produce fails. Its info and debug lines (each
// request) are dropped.
type kfakeLogger struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]logSeen // by format: a few dozen at most
}

type logSeen struct {
	at   time.Time
	held int
}

const logEvery = 5 * time.Second

func (l *kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lv slog.Level
	switch level {
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	default:
		return
	}
	now := time.Now()
	l.mu.Lock()
	s := l.seen[format]
	if now.Sub(s.at) < logEvery {
		s.held++
		l.seen[format] = s
		l.mu.Unlock()
		return
	}
	l.seen[format] = logSeen{at: now}
	l.mu.Unlock()
	l.log.Log(context.Background(), lv, "broker: "+fmt.Sprintf(format, args...), "held_back", s.held)
}
