package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/paredao/paredao/pipeline"
)

// BenchmarkRecountDecide decodes and decides encoded votes as the recount
// does (pipeline.VoteCodec, then Count.Add): 100,000 voters each voting
// every few seconds with a fresh challenge, one replay in ten. The issue's
// figure is ≥ 200,000 votes/s read and decided.
func BenchmarkRecountDecide(b *testing.B) {
	const voters, n = 100_000, 1 << 20
	records := make([][]byte, n)
	var codec pipeline.VoteCodec
	for i := range n {
		at := testParedao.OpensAt.Add(time.Duration(i) * 5 * time.Millisecond)
		c := fmt.Sprintf("challenge-%d", i)
		if i%10 == 9 {
			c = fmt.Sprintf("challenge-%d", i-voters)
		}
		v := &pipeline.Vote{ID: fmt.Sprintf("vote-%d", i), ParedaoID: "p1", ParticipantID: testParedao.Participants[i%3].ID,
			VoterID: fmt.Sprintf("voter-%d", i%voters), ChallengeID: c, AcceptedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
		records[i], _ = codec.Encode(v)
	}
	b.ReportAllocs()
	b.ResetTimer()
	c := NewCount(testParedao, 10, time.Minute)
	for i := range b.N {
		if i%n == 0 && i > 0 {
			c = NewCount(testParedao, 10, time.Minute)
		}
		val, err := codec.Decode(records[i%n])
		if err != nil {
			b.Fatal(err)
		}
		c.Add(val.(*pipeline.Vote))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}

// BenchmarkRecountRead reads and decides a votes log from a kfake broker
// over TCP (4 partitions, 200,000 votes), as paredao recount does: the
// figure is votes/s read and decided, then hashed into the certificate's
// Merkle trees (SHA-256 of every vote).
func BenchmarkRecountRead(b *testing.B) {
	const n = 200_000
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, string(pipeline.VotesStream)))
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	brokers := kc.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	var codec pipeline.VoteCodec
	for i := range n {
		at := testParedao.OpensAt.Add(time.Duration(i) * 5 * time.Millisecond)
		v := &pipeline.Vote{ID: fmt.Sprintf("vote-%d", i), ParedaoID: "p1", ParticipantID: testParedao.Participants[i%3].ID,
			VoterID: fmt.Sprintf("voter-%d", i%50_000), ChallengeID: fmt.Sprintf("challenge-%d", i), AcceptedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
		val, _ := codec.Encode(v)
		cl.Produce(context.Background(), &kgo.Record{Topic: string(pipeline.VotesStream), Key: []byte(v.VoterID), Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cut, err := TakeCut(brokers)
		if err != nil {
			b.Fatal(err)
		}
		c := NewCount(testParedao, 10, time.Minute)
		if err := Read(context.Background(), brokers, cut, c, nil); err != nil {
			b.Fatal(err)
		}
		if c.Read != n {
			b.Fatalf("read %d votes, want %d", c.Read, n)
		}
		if t := c.Trees(); t.Sizes[TreeCounted]+t.Sizes[TreeRefused] != n {
			b.Fatalf("%d leaves, want %d", t.Sizes[TreeCounted]+t.Sizes[TreeRefused], n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "votes/s")
}
