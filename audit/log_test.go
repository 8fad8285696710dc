package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/paredao/paredao/pipeline"
)

// votesCluster is a kfake cluster over TCP whose votes topic has two
// partitions: on each, 10 votes of p1 a second apart from at, each its own
// voter and challenge.
func votesCluster(t *testing.T, at time.Time) []string {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, string(pipeline.VotesStream)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers := kc.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var codec pipeline.VoteCodec
	for p := range int32(2) {
		for i := range 10 {
			v := &pipeline.Vote{ID: fmt.Sprintf("v%d-%d", p, i), ParedaoID: "p1", ParticipantID: "ana", VoterID: fmt.Sprintf("voter%d-%d", p, i),
				ChallengeID: fmt.Sprintf("c%d-%d", p, i), AcceptedAt: at.Add(time.Duration(i) * time.Second), ExpiresAt: at.Add(time.Hour)}
			b, _ := codec.Encode(v)
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: string(pipeline.VotesStream), Partition: p, Key: []byte(v.VoterID), Value: b}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return brokers
}

// deleteBelow deletes partition's records below offset, as retention does.
func deleteBelow(t *testing.T, brokers []string, partition int32, offset int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = string(pipeline.VotesStream)
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("delete records: error code %d", code)
	}
}

// The recount reads every partition up to the cut, and refuses when
// retention deleted records it may need: the first remaining record of a
// partition that lost some must be at least a minute older than the
// paredão's opening; it says where the log starts.
func TestReadRefusesALogCutByRetention(t *testing.T) {
	at := time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)
	brokers := votesCluster(t, at)
	read := func(opens time.Time) (*Count, error) {
		cut, err := TakeCut(brokers)
		if err != nil {
			t.Fatal(err)
		}
		p := pipeline.Paredao{ID: "p1", OpensAt: opens, ClosesAt: at.Add(time.Hour), Participants: []pipeline.Participant{{ID: "ana"}}}
		c := NewCount(p, 10, time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return c, Read(ctx, brokers, cut, c, nil)
	}
	c, err := read(at)
	if err != nil || c.Total != 20 || c.Read != 20 {
		t.Fatalf("whole log: total %d, read %d, err %v; want 20", c.Total, c.Read, err)
	}

	deleteBelow(t, brokers, 1, 4) // partition 1 now starts with the vote accepted at at+4s
	_, err = read(at)
	if !errors.Is(err, ErrLogTooShort) || !strings.Contains(err.Error(), "partition 1 starts at offset 4") {
		t.Fatalf("paredão opened before the log start: err %v, want ErrLogTooShort naming partition 1", err)
	}
	if _, err := read(at.Add(4*time.Second + 59*time.Second)); !errors.Is(err, ErrLogTooShort) {
		t.Fatalf("opened less than a minute after the log start: err %v, want ErrLogTooShort", err)
	}
	c, err = read(at.Add(4*time.Second + time.Minute))
	if err != nil || c.Total != 0 || c.Read != 16 {
		t.Fatalf("opened a minute after the log start: total %d, read %d, err %v; want 0 counted of 16 read", c.Total, c.Read, err)
	}
}
