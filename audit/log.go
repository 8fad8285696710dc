package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/paredao/paredao/pipeline"
)

// ErrLogTooShort: retention deleted votes the recount would need.
var ErrLogTooShort = errors.New("audit: the votes log no longer reaches back to the paredão's first vote")

// PartitionCut is where the recount reads one VotesStream partition: from
// Earliest (the log start) up to, not including, High (the high watermark
// when the recount started).
type PartitionCut struct {
	Partition int32
	Earliest  int64
	High      int64
}

// TakeCut lists VotesStream's partitions with their log start and high
// watermark now.
func TakeCut(brokers []string) ([]PartitionCut, error) {
	cfg := sarama.NewConfig()
	cfg.ClientID = "paredao-recount"
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: connect: %w", err)
	}
	defer func() { _ = client.Close() }() // the offsets are read: a failed close changes nothing
	topic := string(pipeline.VotesStream)
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("audit: partitions of %s: %w", topic, err)
	}
	cut := make([]PartitionCut, 0, len(parts))
	for _, p := range parts {
		first, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("audit: log start of %s/%d: %w", topic, p, err)
		}
		high, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("audit: high watermark of %s/%d: %w", topic, p, err)
		}
		cut = append(cut, PartitionCut{Partition: p, Earliest: first, High: high})
	}
	sort.Slice(cut, func(i, j int) bool { return cut[i].Partition < cut[j].Partition })
	return cut, nil
}

// lookback is how long before a paredão opens the log must reach when a
// partition lost records to retention: a vote's fate depends on its voter's
// votes of the minute before (the cap), so the first remaining record must
// be at least that old when the paredão opens.
const lookback = time.Minute

// sweepEvery is how many votes Read decides between two sweeps of idle
// voters (Decider.Sweep).
const sweepEvery = 1 << 20

// Progress is how far a Read is.
type Progress struct {
	Read, Total int64   // votes read, votes to read
	Rate        float64 // votes per second so far
	Left        time.Duration
	Voters      int  // voters the decider holds
	Done        bool // the last report
}

func (p Progress) String() string {
	word := "recount:"
	if p.Done {
		word = "recount: done,"
	}
	return fmt.Sprintf("%s %d/%d votes read, %.0f votes/s, %s left, %d voters", word, p.Read, p.Total, p.Rate, p.Left, p.Voters)
}

// Read reads every partition of cut in offset order, decodes each vote with
// pipeline.VoteCodec and passes it to c.Add; progress (nil: none) is called
// every second and once at the end. It fails with ErrLogTooShort when a partition's log
// start is above 0 (records deleted by retention) and its first remaining
// record was accepted later than a minute before the paredão opened, or no
// record remains.
func Read(ctx context.Context, brokers []string, cut []PartitionCut, c *Count, progress func(Progress)) error {
	offsets := map[int32]kgo.Offset{}
	want := int64(0)
	for _, pc := range cut {
		if pc.Earliest > 0 && pc.Earliest >= pc.High {
			return fmt.Errorf("%w: partition %d: offsets below %d were deleted and no record remains", ErrLogTooShort, pc.Partition, pc.Earliest)
		}
		if pc.High > pc.Earliest {
			offsets[pc.Partition] = kgo.NewOffset().At(pc.Earliest)
			want += pc.High - pc.Earliest
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("paredao-recount"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{string(pipeline.VotesStream): offsets}),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		return fmt.Errorf("audit: kafka client: %w", err)
	}
	defer cl.Close()
	high := map[int32]PartitionCut{}
	for _, pc := range cut {
		high[pc.Partition] = pc
	}
	next := map[int32]int64{} // next offset wanted per partition still open
	for p := range offsets {
		next[p] = high[p].Earliest
	}
	var codec pipeline.VoteCodec
	start := time.Now()
	last := start
	read := int64(0)
	newest := map[int32]int64{} // newest acceptance time read per partition (unix ms)
	swept := int64(0)
	report := func(final bool) {
		if progress == nil {
			return
		}
		el := time.Since(start).Seconds()
		rate := float64(read) / max(el, 1e-9)
		left := time.Duration(0)
		if rate > 0 {
			left = time.Duration(float64(want-read) / rate * float64(time.Second)).Round(time.Second)
		}
		progress(Progress{Read: read, Total: want, Rate: rate, Left: left, Voters: c.decider.Voters(), Done: final})
	}
	for len(next) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("audit: fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var rerr error
		fetches.EachRecord(func(r *kgo.Record) {
			want, open := next[r.Partition]
			if rerr != nil || !open || r.Offset < want {
				return
			}
			pc := high[r.Partition]
			if r.Offset >= pc.High {
				delete(next, r.Partition)
				return
			}
			val, err := codec.Decode(r.Value)
			if err != nil {
				rerr = fmt.Errorf("audit: votes/%d@%d: %w", r.Partition, r.Offset, err)
				return
			}
			v := val.(*pipeline.Vote)
			if want == pc.Earliest && pc.Earliest > 0 && v.AcceptedAt.Add(lookback).After(c.Paredao.OpensAt) {
				rerr = fmt.Errorf("%w: partition %d starts at offset %d (earlier records deleted by retention), accepted %s; paredão %s opened %s",
					ErrLogTooShort, r.Partition, pc.Earliest, v.AcceptedAt.UTC().Format(time.RFC3339), c.Paredao.ID, c.Paredao.OpensAt.UTC().Format(time.RFC3339))
				return
			}
			c.AddIn(r.Partition, v)
			if at := v.AcceptedAt.UnixMilli(); at > newest[r.Partition] {
				newest[r.Partition] = at
			}
			read++
			if r.Offset+1 >= pc.High {
				delete(next, r.Partition)
			} else {
				next[r.Partition] = r.Offset + 1
			}
		})
		if rerr != nil {
			return rerr
		}
		if read-swept >= sweepEvery {
			swept = read
			c.decider.Sweep(func(p int32) (int64, bool) { t, ok := newest[p]; return t, ok })
		}
		if now := time.Now(); now.Sub(last) >= time.Second {
			last = now
			report(false)
		}
	}
	report(true)
	return nil
}
