package stream

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startTestBroker starts the embedded broker on dir with a fast
// maintenance loop.
func startTestBroker(t *testing.T, addr, dir string) *Broker {
	t.Helper()
	b, err := StartBroker(BrokerConfig{Addr: addr, DataDir: dir, Topics: []string{"stream", "votes", "table"},
		KeepLast: []string{"votes"}, MaintainEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// produce writes one record with the given timestamp to topic.
func produce(t *testing.T, addr, topic, key, value string, ts time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Timestamp: ts}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// startOffset is the log start offset of topic's partition 0.
func startOffset(t *testing.T, addr, topic string) int64 {
	t.Helper()
	c, err := sarama.NewClient([]string{addr}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }() // a read-only client
	off, err := c.GetOffset(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

// waitUntil waits up to 25 s for cond.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The embedded broker applies each stream's retention, also after a restart
// from its data dir (kfake's own cleaner only runs once a topic was created
// in the same run); it never empties a votes partition (kfake would start
// it again at offset 0 after a restart: offsets reused, new votes taken for
// counted ones) and never drops a table's records for their age (kfake
// applies its 7-day default retention to compacted topics too). A changed
// retention reaches an existing stream on the next EnsureTopics.
func TestBrokerRetention(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	b := startTestBroker(t, addr, dir)
	ensure := func(retention time.Duration) {
		t.Helper()
		k := New(Config{Brokers: []string{addr}, Partitions: 1, Replication: 1, AlignRetention: true,
			Retention: map[goka.Stream]time.Duration{"stream": retention, "votes": retention}})
		topics := Topics{Streams: []goka.Stream{"stream", "votes"}, Tables: []goka.Table{"table"}}
		if err := k.EnsureTopics(context.Background(), topics); err != nil {
			t.Fatal(err)
		}
	}
	ensure(time.Hour)
	produce(t, addr, "table", "paredao", "created a month ago", time.Now().Add(-30*24*time.Hour))
	produce(t, addr, "votes", "v", "two hours old, the last", time.Now().Add(-2*time.Hour))
	produce(t, addr, "stream", "v", "two hours old", time.Now().Add(-2*time.Hour))
	produce(t, addr, "stream", "v", "new", time.Now())
	time.Sleep(300 * time.Millisecond) // rounds of maintenance
	if p := b.PartitionInfos("votes")[0]; p.LogStartOffset != 0 || p.HighWatermark != 1 {
		t.Fatalf("the idle votes partition's last record: start %d, high watermark %d; want 0, 1", p.LogStartOffset, p.HighWatermark)
	}
	if off := startOffset(t, addr, "stream"); off != 0 {
		t.Fatalf("retention ran while a votes partition held only its last, expired record (stream start %d)", off)
	}
	b.Close()

	// After a restart the votes partition goes on from offset 1; its new
	// record lets retention run.
	b = startTestBroker(t, addr, dir)
	ensure(time.Hour)
	if p := b.PartitionInfos("votes")[0]; p.HighWatermark != 1 {
		t.Fatalf("votes high watermark %d after a restart, want 1", p.HighWatermark)
	}
	produce(t, addr, "votes", "v", "new", time.Now())
	waitUntil(t, "retention", func() bool { return startOffset(t, addr, "votes") == 1 && startOffset(t, addr, "stream") == 1 })

	// The stream's retention changed to 15 minutes.
	ensure(15 * time.Minute)
	produce(t, addr, "stream", "v", "twenty minutes old", time.Now().Add(-20*time.Minute))
	produce(t, addr, "stream", "v", "new", time.Now())
	waitUntil(t, "the changed retention", func() bool { return startOffset(t, addr, "stream") == 3 })
	if off := startOffset(t, addr, "table"); off != 0 {
		t.Fatalf("the table's month-old record was dropped (start offset %d)", off)
	}
	admin, err := sarama.NewClusterAdmin([]string{addr}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }() // a read-only admin client
	entries, err := describeTopicConfig(admin, "stream")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == "retention.ms" && e.Value != fmt.Sprint((15*time.Minute).Milliseconds()) {
			t.Fatalf("retention.ms %s, want 15 minutes", e.Value)
		}
	}
}

// Compaction waits for room on the disk: kfake rewrites a table partition's
// segments after deleting them, and a write that fails there loses records.
func TestBrokerCompactionNeedsRoom(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	b := startTestBroker(t, addr, dir)
	if err := b.CreateTopic("table", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		produce(t, addr, "table", "k", fmt.Sprint(i), time.Now())
	}
	records := func() int {
		n := 0
		for _, p := range b.PartitionInfos("table") {
			n += int(p.HighWatermark - p.LogStartOffset)
		}
		return n
	}
	if _, _, ok := b.compactionRoom(); !ok {
		t.Skip("the test's temporary dir has too little room to compact")
	}
	waitUntil(t, "compaction", func() bool { return records() < 3 })

	// With less room than the rewrite needs, compaction is postponed.
	b.Close()
	b, err := StartBroker(BrokerConfig{Addr: addr, DataDir: dir, Topics: []string{"table"}, MaintainEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	before := records()
	for i := range 3 {
		produce(t, addr, "table", "k", fmt.Sprint(i), time.Now())
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b.cfg.DataDir = filepath.Join(notDir, "data") // free space unknown (ENOTDIR): no room
	b.maintain()
	if got := records(); got != before+3 || !b.low {
		t.Fatalf("compacted without room: %d records, want %d (low %v)", got, before+3, b.low)
	}
	b.cfg.DataDir = dir
	b.maintain()
	if got := records(); got >= before+3 || b.low {
		t.Fatalf("not compacted with room again: %d records (low %v)", got, b.low)
	}
}
