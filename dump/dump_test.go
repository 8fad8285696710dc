package dump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/paredao/paredao/pipeline"
)

var at = time.Date(2026, 11, 28, 21, 30, 15, 123456789, time.UTC)

// cluster is a kfake cluster over TCP with the pipeline's votes (two
// partitions), guard-table and an "other" topic.
func cluster(t *testing.T) ([]string, *kgo.Client) {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, string(pipeline.VotesStream)),
		kfake.SeedTopics(1, string(pipeline.GuardTable), "other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kc.ListenAddrs(), cl
}

func produce(t *testing.T, cl *kgo.Client, topic string, p int32, key, value []byte) {
	t.Helper()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: p, Key: key, Value: value, Timestamp: at}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func lines(t *testing.T, out string) []Record {
	t.Helper()
	var recs []Record
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// --from-beginning --exit prints every record up to the high watermarks
// taken at the start, values decoded whatever their encoding: protobuf,
// the hand-written encoding of earlier releases, a tombstone, garbage.
func TestDumpFromBeginning(t *testing.T) {
	brokers, cl := cluster(t)
	v := &pipeline.Vote{ID: "vote-1", ParedaoID: "demo", ParticipantID: "ana", VoterID: "voter-1", ChallengeID: "c1", AcceptedAt: at, ExpiresAt: at.Add(time.Minute)}
	b, _ := pipeline.VoteCodec{}.Encode(v)
	produce(t, cl, "votes", 0, []byte("voter-1"), b)
	legacy, err := os.ReadFile("../pipeline/testdata/legacy/vote.bin") // written by the release before protobuf
	if err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "votes", 1, []byte("v1"), legacy)
	produce(t, cl, "votes", 1, []byte{0xff, 0xfe}, []byte{0x00, 0x01})
	g, _ := pipeline.GuardStateCodec{}.Encode(&pipeline.GuardState{LastOffset: 7})
	produce(t, cl, "guard-table", 0, []byte("voter-1"), g)
	produce(t, cl, "guard-table", 0, []byte("voter-1"), nil)

	var out bytes.Buffer
	if err := Run(context.Background(), Options{Brokers: brokers, Topic: "votes", FromBeginning: true, Exit: true}, &out); err != nil {
		t.Fatal(err)
	}
	recs := lines(t, out.String())
	if len(recs) != 3 {
		t.Fatalf("%d records:\n%s", len(recs), out.String())
	}
	byPos := map[[2]int64]Record{}
	for _, r := range recs {
		byPos[[2]int64{int64(r.Partition), r.Offset}] = r
	}
	r := byPos[[2]int64{0, 0}]
	var val map[string]any
	if err := json.Unmarshal(r.Value, &val); err != nil {
		t.Fatalf("protobuf vote: %v: %s", err, r.Value)
	}
	if r.Topic != "votes" || *r.Key != "voter-1" || r.Message != "paredao.v1.Vote" || r.Format != "protobuf" || !r.Timestamp.Equal(at.Truncate(time.Millisecond)) ||
		val["id"] != "vote-1" || val["participantId"] != "ana" || val["acceptedAtUnixNano"] != strconv.FormatInt(at.UnixNano(), 10) {
		t.Fatalf("protobuf vote: %+v %v", r, val)
	}
	r = byPos[[2]int64{1, 0}]
	val = nil
	if err := json.Unmarshal(r.Value, &val); err != nil {
		t.Fatalf("legacy vote: %v: %s", err, r.Value)
	}
	if r.Format != "legacy" || val["id"] != "c1" || val["participantId"] != "ana" {
		t.Fatalf("legacy vote: %+v %s", r, r.Value)
	}
	r = byPos[[2]int64{1, 1}]
	if r.Error == "" || r.ValueBase64 != "AAE=" || r.KeyBase64 != "//4=" || r.Key != nil || string(r.Value) != "null" {
		t.Fatalf("garbage: %+v", r)
	}

	out.Reset()
	if err := Run(context.Background(), Options{Brokers: brokers, Topic: "guard-table", FromBeginning: true, Exit: true}, &out); err != nil {
		t.Fatal(err)
	}
	recs = lines(t, out.String())
	if len(recs) != 2 || !strings.Contains(string(recs[0].Value), `"lastOffset":"7"`) || string(recs[1].Value) != "null" || recs[1].Error != "" {
		t.Fatalf("guard-table:\n%s", out.String())
	}

	// a topic without a format: values as base64, with an error
	produce(t, cl, "other", 0, nil, []byte("hello"))
	out.Reset()
	if err := Run(context.Background(), Options{Brokers: brokers, Topic: "other", FromBeginning: true, Exit: true}, &out); err != nil {
		t.Fatal(err)
	}
	if recs = lines(t, out.String()); len(recs) != 1 || recs[0].ValueBase64 != "aGVsbG8=" || recs[0].Error == "" || recs[0].Key != nil {
		t.Fatalf("other:\n%s", out.String())
	}

	// without --from-beginning, --exit prints nothing: it starts at the end
	out.Reset()
	if err := Run(context.Background(), Options{Brokers: brokers, Topic: "votes", Exit: true}, &out); err != nil || out.Len() != 0 {
		t.Fatalf("from the end: %v %q", err, out.String())
	}
}

// Without --from-beginning the dump starts at the end and follows: it
// prints the records written after it started, until interrupted.
func TestDumpFollows(t *testing.T) {
	brokers, cl := cluster(t)
	before, _ := pipeline.VoteCodec{}.Encode(&pipeline.Vote{ID: "before", ParticipantID: "ana"})
	produce(t, cl, "votes", 0, nil, before)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Brokers: brokers, Topic: "votes"}, w) }()

	after, _ := pipeline.VoteCodec{}.Encode(&pipeline.Vote{ID: "after", ParticipantID: "bia"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		produce(t, cl, "votes", 1, nil, after) // again until seen: the dump may not have taken its offsets yet
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		s := out.String()
		mu.Unlock()
		if strings.Contains(s, `"id":"after"`) {
			if strings.Contains(s, `"before"`) {
				t.Fatalf("printed a record from before it started:\n%s", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the record written after the start never printed:\n%s", s)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// A topic the brokers do not have is an error, ErrUnknownTopic, and is not created.
func TestDumpUnknownTopic(t *testing.T) {
	brokers, _ := cluster(t)
	err := Run(context.Background(), Options{Brokers: brokers, Topic: "nope", FromBeginning: true, Exit: true}, &bytes.Buffer{})
	if !errors.Is(err, ErrUnknownTopic) || !strings.Contains(err.Error(), "votes") {
		t.Fatalf("unknown topic: %v", err)
	}
	if err := Run(context.Background(), Options{Brokers: brokers, Topic: "nope", Exit: true}, &bytes.Buffer{}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("created by the first dump? %v", err)
	}
}
