package pipeline

import (
	"strconv"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"google.golang.org/protobuf/proto"
)

func benchVote() *Vote {
	return &Vote{ID: "0123456789abcdef01234567", ParedaoID: "demo", ParticipantID: "ana", VoterID: "hUodiFobP48JAPzNemgFXA",
		ChallengeID: "0123456789abcdef01234567", AcceptedAt: when, ExpiresAt: when.Add(2 * time.Minute).Truncate(time.Second)}
}

// benchBatch is a full batch: 1,000 ballots of one partition over 50 ms,
// three participants.
func benchBatch() *BallotBatch {
	b := &BallotBatch{SourcePartition: 7, AckedBelow: 5e8, Ballots: make([]Ballot, 1000)}
	for i := range b.Ballots {
		b.Ballots[i] = Ballot{Offset: 5e8 + int64(i), ParedaoID: "demo", ParticipantID: []string{"ana", "bia", "caio"}[i%3],
			AcceptedAt: when.Add(time.Duration(i) * 50 * time.Microsecond)}
	}
	return b
}

// benchGuard is a voter's value at the bound.
func benchGuard() *GuardState {
	s := &GuardState{LastOffset: 5e8, Floor: when.Unix()}
	for i := range GuardEntriesMax {
		s.Entries = append(s.Entries, GuardEntry{Challenge: ChallengeHash("c" + strconv.Itoa(i)), Offset: 5e8 - int64(i)*3,
			AcceptedAt: when.UnixMilli() + int64(i)*1000, ExpiresAt: when.Unix() + int64(i) + 300})
	}
	return s
}

// benchTally is a busy key: three participants, 16 windows each, 200
// offsets above the floor, two pending records.
func benchTally() *TallyState {
	s := &TallyState{Partition: 3, Floor: 1e6, MaxAcceptedAt: when.UnixMilli(), WindowFloor: 1000}
	for _, p := range []string{"ana", "bia", "caio"} {
		c := s.Count("demo", p)
		for w := range 16 {
			c.Windows = append(c.Windows, WindowCount{Start: 1000 + int64(w)*60, Count: 1e4})
		}
	}
	for i := range 200 {
		s.MarkSeen(1e6+int64(i)*2, 1e6)
	}
	s.Pending = []PendingRecord{{At: 77, ParedaoID: "demo", ParticipantID: "ana", Start: 960, Count: 3}, {At: 78, ParedaoID: "demo", ParticipantID: "bia", Start: 900, Count: 1, LateID: "0/4"}}
	return s
}

func benchCodec(b *testing.B, c goka.Codec, v any) {
	data, err := c.Encode(v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Encode(v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	b.Run("vote", func(b *testing.B) { benchCodec(b, VoteCodec{}, benchVote()) })
	b.Run("ballot-batch-1000", func(b *testing.B) { benchCodec(b, BallotBatchCodec{}, benchBatch()) })
	b.Run("window", func(b *testing.B) {
		benchCodec(b, WindowRecordCodec{}, &WindowRecord{ParedaoID: "demo", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 4242})
	})
	b.Run("guard-state", func(b *testing.B) { benchCodec(b, GuardStateCodec{}, benchGuard()) })
	b.Run("tally-state", func(b *testing.B) { benchCodec(b, TallyStateCodec{}, benchTally()) })
	b.Run("paredao", func(b *testing.B) {
		benchCodec(b, ParedaoCodec{}, &Paredao{ID: "demo", Title: "Paredão", OpensAt: when, ClosesAt: when.Add(time.Hour),
			Participants: []Participant{{ID: "ana", Name: "Ana", PhotoURL: "/a.svg"}, {ID: "bia", Name: "Bia", PhotoURL: "/b.svg"}, {ID: "caio", Name: "Caio"}}})
	})
}

// BenchmarkGenerated is the alternative the codecs do not take: the
// generated code (convert, proto.MarshalOptions.MarshalAppend; Unmarshal,
// convert), for comparison with BenchmarkCodec.
func BenchmarkGenerated(b *testing.B) {
	for _, tc := range []struct {
		name string
		v    any
	}{{"vote", benchVote()}, {"ballot-batch-1000", benchBatch()}, {"guard-state", benchGuard()}, {"tally-state", benchTally()}} {
		m := must(ToProto(tc.v))
		data := must(proto.Marshal(m))
		b.Run(tc.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, len(data))
			for b.Loop() {
				m, _ := ToProto(tc.v)
				if _, err := (proto.MarshalOptions{}).MarshalAppend(buf[:0], m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := m.ProtoReflect().New().Interface()
				if err := proto.Unmarshal(data, m); err != nil {
					b.Fatal(err)
				}
				_ = fromProto(m)
			}
		})
	}
}

// BenchmarkLegacy is the hand-written encoding of the previous releases
// (its encoders kept in legacy_encode_test.go, as their codecs called them),
// to compare with BenchmarkCodec on the same machine.
func BenchmarkLegacy(b *testing.B) {
	for _, tc := range []struct {
		name   string
		encode func() []byte
		decode func([]byte) error
	}{
		{"vote", func() []byte { return legacyAppendVote(make([]byte, 0, 128), benchVote()) },
			func(d []byte) error { _, err := decodeLegacyVote(d); return err }},
		{"ballot-batch-1000", func() []byte {
			bb := benchBatch()
			return legacyAppendBallotBatch(make([]byte, 0, 32+len(bb.Ballots)*8), bb)
		},
			func(d []byte) error { _, err := decodeLegacyBallotBatch(d); return err }},
		{"guard-state", func() []byte {
			s := benchGuard()
			return legacyAppendGuardState(make([]byte, 0, 16+len(s.Entries)*20), s)
		},
			func(d []byte) error { _, err := decodeLegacyGuardState(d); return err }},
		{"tally-state", func() []byte {
			s := benchTally()
			return legacyAppendTallyState(make([]byte, 0, 64+len(s.Applied)*2+len(s.Counts)*48), s)
		}, func(d []byte) error { _, err := decodeLegacyTallyState(d); return err }},
	} {
		data := tc.encode()
		b.Run(tc.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	v, bb, g, s := benchVote(), benchBatch(), benchGuard(), benchTally()
	b.Run("vote/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			legacyAppendVote(make([]byte, 0, 128), v)
		}
	})
	b.Run("ballot-batch-1000/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			legacyAppendBallotBatch(make([]byte, 0, 32+len(bb.Ballots)*8), bb)
		}
	})
	b.Run("guard-state/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			legacyAppendGuardState(make([]byte, 0, 16+len(g.Entries)*20), g)
		}
	})
	b.Run("tally-state/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			legacyAppendTallyState(make([]byte, 0, 64+len(s.Applied)*2+len(s.Counts)*48), s)
		}
	})
}
