// Package dump prints the records of a topic of the pipeline as JSON lines,
// their values decoded by the topic's format (pipeline.Formats: the
// protobuf messages of proto/paredao/v1, or the hand-written encoding of
// earlier releases): `paredao dump`, like kcat but decoded.
package dump

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/paredao/paredao/pipeline"
)

// ErrUnknownTopic reports a topic the brokers do not have.
var ErrUnknownTopic = errors.New("unknown topic")

// Options say what to dump.
type Options struct {
	Brokers []string
	Topic   string
	// FromBeginning starts at each partition's earliest offset; else at
	// its high watermark when the dump starts (only records written since).
	FromBeginning bool
	// Exit stops at the high watermarks taken at the start, instead of
	// following the topic until ctx ends.
	Exit bool
	// Timeout bounds the requests to the brokers before the first record
	// (metadata, offsets); 0: 30 s.
	Timeout time.Duration
}

// Record is one line of the dump.
type Record struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Key is the record's key when it is UTF-8, else KeyBase64 holds it;
	// neither for a record without key.
	Key       *string   `json:"key,omitempty"`
	KeyBase64 string    `json:"keyBase64,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	// Message is the protobuf message of the value (e.g. paredao.v1.Vote),
	// Format "protobuf", or "legacy" for the encoding of earlier releases
	// (shown converted to the message).
	Message string `json:"message,omitempty"`
	Format  string `json:"format,omitempty"`
	// Value is the decoded value (protojson); null for a tombstone.
	Value json.RawMessage `json:"value"`
	// ValueBase64 and Error are set for a value that did not decode.
	ValueBase64 string `json:"valueBase64,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Decode makes the dump's line of r.
func Decode(r *kgo.Record) Record {
	out := Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(), Value: json.RawMessage("null")}
	if r.Key != nil {
		if utf8.Valid(r.Key) {
			k := string(r.Key)
			out.Key = &k
		} else {
			out.KeyBase64 = base64.StdEncoding.EncodeToString(r.Key)
		}
	}
	if r.Value == nil {
		return out
	}
	f, ok := pipeline.FormatOf(r.Topic)
	if !ok {
		out.ValueBase64, out.Error = base64.StdEncoding.EncodeToString(r.Value), "no format known for topic "+r.Topic
		return out
	}
	out.Message = f.Message
	m, legacy, err := f.DecodeProto(r.Value)
	if err == nil {
		var js []byte
		if js, err = protojson.Marshal(m); err == nil {
			out.Value, out.Format = js, "protobuf"
			if legacy {
				out.Format = "legacy"
			}
			return out
		}
	}
	out.ValueBase64, out.Error = base64.StdEncoding.EncodeToString(r.Value), err.Error()
	return out
}

// Run writes the records of o.Topic to w, one JSON object a line, in each
// partition's order (partitions interleaved as fetched).
func Run(ctx context.Context, o Options, w io.Writer) error {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...))
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	defer admin.Close()
	rctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	partitions, err := partitionsOf(rctx, admin, o.Topic)
	if err != nil {
		return err
	}
	high, err := listOffsets(rctx, admin, o.Topic, partitions, -1)
	if err != nil {
		return err
	}
	start := map[int32]kgo.Offset{}
	pending := map[int32]int64{} // with Exit: partitions not read to their high watermark yet
	low := map[int32]int64{}
	if o.FromBeginning {
		if low, err = listOffsets(rctx, admin, o.Topic, partitions, -2); err != nil {
			return err
		}
	}
	for _, p := range partitions {
		if o.FromBeginning {
			start[p] = kgo.NewOffset().AtStart()
			if low[p] < high[p] {
				pending[p] = high[p]
			}
		} else {
			start[p] = kgo.NewOffset().At(high[p])
		}
	}
	if o.Exit && len(pending) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: start}))
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	defer cl.Close()
	bw := bufio.NewWriter(w) // flushed, and its error checked, after every fetch
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // interrupted: the dump ends there
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) { ferr = fmt.Errorf("dump: %s partition %d: %w", topic, p, err) })
		if ferr != nil {
			return ferr
		}
		var werr error
		fetches.EachRecord(func(r *kgo.Record) {
			if werr != nil {
				return
			}
			if o.Exit {
				h, ok := pending[r.Partition]
				if !ok || r.Offset >= h {
					return // past the high watermark taken at the start
				}
				if r.Offset+1 >= h {
					delete(pending, r.Partition)
				}
			}
			rec := Decode(r)
			werr = enc.Encode(&rec)
		})
		if werr != nil {
			return fmt.Errorf("dump: %w", werr)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		if o.Exit && len(pending) == 0 {
			return nil
		}
	}
}

// partitionsOf lists topic's partitions, without creating the topic.
func partitionsOf(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("dump: metadata: %w", err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return nil, fmt.Errorf("dump: %w %q: the brokers have no such topic (the pipeline's: %s)", ErrUnknownTopic, topic, known())
			}
			return nil, fmt.Errorf("dump: metadata of %s: %w", topic, err)
		}
		var ps []int32
		for _, p := range t.Partitions {
			ps = append(ps, p.Partition)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		if len(ps) == 0 {
			return nil, fmt.Errorf("dump: %w %q: no partitions", ErrUnknownTopic, topic)
		}
		return ps, nil
	}
	return nil, fmt.Errorf("dump: %w %q (the pipeline's: %s)", ErrUnknownTopic, topic, known())
}

func known() string {
	s := ""
	for i, f := range pipeline.Formats() {
		if i > 0 {
			s += ", "
		}
		s += f.Topic
	}
	return s
}

// listOffsets returns each partition's offset at timestamp: -1 the high
// watermark, -2 the earliest.
func listOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions []int32, timestamp int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, timestamp
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("dump: list offsets: %w", err)
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("dump: offsets of %s partition %d: %w", topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	if len(out) != len(partitions) {
		return nil, fmt.Errorf("dump: offsets of %s: %d of %d partitions", topic, len(out), len(partitions))
	}
	return out, nil
}
