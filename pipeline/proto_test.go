package pipeline

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/paredao/paredao/pipeline/pb"
)

// fromProto is ToProto's inverse: what the codecs decode from a message.
func fromProto(m proto.Message) any {
	switch m := m.(type) {
	case *pb.Vote:
		return &Vote{ID: m.Id, ParedaoID: m.ParedaoId, ParticipantID: m.ParticipantId, VoterID: m.VoterId, ChallengeID: m.ChallengeId,
			AcceptedAt: fromUnixNano(m.AcceptedAtUnixNano), ExpiresAt: fromUnixNano(m.ExpiresAtUnixNano)}
	case *pb.BallotBatch:
		b := &BallotBatch{SourcePartition: m.SourcePartition, AckedBelow: m.AckedBelow}
		for _, x := range m.Ballots {
			b.Ballots = append(b.Ballots, Ballot{Offset: x.Offset, ParedaoID: x.ParedaoId, ParticipantID: x.ParticipantId, AcceptedAt: fromUnixNano(x.AcceptedAtUnixNano)})
		}
		return b
	case *pb.WindowRecord:
		return &WindowRecord{ParedaoID: m.ParedaoId, ParticipantID: m.ParticipantId, Shard: int(m.Shard), WindowStart: fromUnixNano(m.WindowStartUnixNano), Count: m.Count, LateID: m.LateId}
	case *pb.Paredao:
		p := &Paredao{ID: m.Id, Title: m.Title, OpensAt: fromUnixNano(m.OpensAtUnixNano), ClosesAt: fromUnixNano(m.ClosesAtUnixNano)}
		for _, x := range m.Participants {
			p.Participants = append(p.Participants, Participant{ID: x.Id, Name: x.Name, PhotoURL: x.PhotoUrl})
		}
		return p
	case *pb.GuardState:
		s := &GuardState{LastOffset: m.GetLastOffset(), Floor: m.FloorUnixSeconds}
		for _, e := range m.Entries {
			s.Entries = append(s.Entries, GuardEntry{Challenge: e.ChallengeHash, Offset: s.LastOffset - e.OffsetBeforeLast,
				AcceptedAt: e.AcceptedAtUnixMs, ExpiresAt: e.ExpiresAfterSeconds + e.AcceptedAtUnixMs/1000})
		}
		return s
	case *pb.TallyState:
		s := &TallyState{Partition: m.GetPartition(), Floor: m.Floor, MaxAcceptedAt: m.MaxAcceptedAtUnixMs, WindowFloor: m.WindowFloorUnixSeconds}
		prev := s.Floor
		for _, d := range m.AppliedDeltas {
			prev += d
			s.Applied = append(s.Applied, prev)
		}
		for _, c := range m.Counts {
			pc := ParticipantCount{ParedaoID: c.ParedaoId, ParticipantID: c.ParticipantId, Total: c.Total}
			for _, w := range c.Windows {
				pc.Windows = append(pc.Windows, WindowCount{Start: w.StartUnixSeconds, Count: w.Count})
			}
			s.Counts = append(s.Counts, pc)
		}
		for _, p := range m.Pending {
			s.Pending = append(s.Pending, PendingRecord{At: p.BatchOffset, ParedaoID: p.ParedaoId, ParticipantID: p.ParticipantId,
				Start: p.StartUnixSeconds, Count: p.Count, LateID: p.LateId})
		}
		return s
	}
	panic("unexpected message")
}

// gen makes random values: strings of every kind (empty, ASCII, accented,
// long), integers of every size and sign, times from the zero time to 2200.
type gen struct{ r *rand.Rand }

func (g gen) str() string {
	switch g.r.IntN(6) {
	case 0:
		return ""
	case 1:
		return "ana"
	case 2:
		return "paredão-ç-" + string(rune('a'+g.r.IntN(26)))
	case 3:
		return string(bytes.Repeat([]byte{'x'}, 100+g.r.IntN(300))) // a length of two bytes
	}
	b := make([]byte, g.r.IntN(30))
	for i := range b {
		b[i] = byte(' ' + g.r.IntN(95))
	}
	return string(b)
}

func (g gen) i64() int64 {
	switch g.r.IntN(5) {
	case 0:
		return 0
	case 1:
		return int64(g.r.IntN(300)) - 100
	case 2:
		return -g.r.Int64()
	}
	return g.r.Int64() >> g.r.IntN(63)
}

func (g gen) i32() int32 { return int32(g.i64()) }

func (g gen) time() time.Time {
	if g.r.IntN(8) == 0 {
		return time.Time{}
	}
	return time.Unix(0, 1+g.r.Int64N(7258118400e9)).UTC() // to 2200
}

func (g gen) n(max int) int { return g.r.IntN(max + 1) }

func (g gen) vote() *Vote {
	return &Vote{ID: g.str(), ParedaoID: g.str(), ParticipantID: g.str(), VoterID: g.str(), ChallengeID: g.str(), AcceptedAt: g.time(), ExpiresAt: g.time()}
}

func (g gen) batch() *BallotBatch {
	b := &BallotBatch{SourcePartition: g.i32(), AckedBelow: g.i64()}
	for range g.n(40) {
		b.Ballots = append(b.Ballots, Ballot{Offset: g.i64(), ParedaoID: g.str(), ParticipantID: g.str(), AcceptedAt: g.time()})
	}
	return b
}

func (g gen) window() *WindowRecord {
	return &WindowRecord{ParedaoID: g.str(), ParticipantID: g.str(), Shard: int(g.i32()), WindowStart: g.time(), Count: g.i64(), LateID: g.str()}
}

func (g gen) paredao() *Paredao {
	p := &Paredao{ID: g.str(), Title: g.str(), OpensAt: g.time(), ClosesAt: g.time()}
	for range g.n(5) {
		p.Participants = append(p.Participants, Participant{ID: g.str(), Name: g.str(), PhotoURL: g.str()})
	}
	return p
}

func (g gen) guard() *GuardState {
	s := &GuardState{LastOffset: g.i64(), Floor: g.i64()}
	for range g.n(12) {
		s.Entries = append(s.Entries, GuardEntry{Challenge: g.r.Uint64() >> g.r.IntN(64), Offset: g.i64(), AcceptedAt: g.i64(), ExpiresAt: g.i64()})
	}
	return s
}

func (g gen) tally() *TallyState {
	s := &TallyState{Partition: g.i32(), Floor: g.i64(), MaxAcceptedAt: g.i64(), WindowFloor: g.i64()}
	for range g.n(300) {
		s.Applied = append(s.Applied, g.i64())
	}
	for range g.n(4) {
		c := ParticipantCount{ParedaoID: g.str(), ParticipantID: g.str(), Total: g.i64()}
		for range g.n(20) {
			c.Windows = append(c.Windows, WindowCount{Start: g.i64(), Count: g.i64()})
		}
		s.Counts = append(s.Counts, c)
	}
	for range g.n(3) {
		s.Pending = append(s.Pending, PendingRecord{At: g.i64(), ParedaoID: g.str(), ParticipantID: g.str(), Start: g.i64(), Count: g.i64(), LateID: g.str()})
	}
	return s
}

type codecCase struct {
	name   string
	codec  interface{ Decode([]byte) (any, error) }
	random func(gen) any
	append func([]byte, any) []byte
}

func codecCases() []codecCase {
	return []codecCase{
		{"vote", VoteCodec{}, func(g gen) any { return g.vote() }, func(b []byte, v any) []byte { return AppendVote(b, v.(*Vote)) }},
		{"ballot batch", BallotBatchCodec{}, func(g gen) any { return g.batch() }, func(b []byte, v any) []byte { return AppendBallotBatch(b, v.(*BallotBatch)) }},
		{"window", WindowRecordCodec{}, func(g gen) any { return g.window() }, func(b []byte, v any) []byte { return AppendWindowRecord(b, v.(*WindowRecord)) }},
		{"paredao", ParedaoCodec{}, func(g gen) any { return g.paredao() }, func(b []byte, v any) []byte { return AppendParedao(b, v.(*Paredao)) }},
		{"guard state", GuardStateCodec{}, func(g gen) any { return g.guard() }, func(b []byte, v any) []byte { return AppendGuardState(b, v.(*GuardState)) }},
		{"tally state", TallyStateCodec{}, func(g gen) any { return g.tally() }, func(b []byte, v any) []byte { return AppendTallyState(b, v.(*TallyState)) }},
	}
}

// The hand-written encoders write exactly what proto.Marshal (deterministic)
// writes for the generated message, and the decoders read what
// proto.Unmarshal reads: for thousands of random values, and for records
// with fields a newer release added, fields out of order, repeated scalars
// and unpacked lists (which proto.Unmarshal accepts too).
func TestProtoEquivalence(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	det := proto.MarshalOptions{Deterministic: true}
	for _, tc := range codecCases() {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 2000 {
				v := tc.random(g)
				m, err := ToProto(v)
				if err != nil {
					t.Fatal(err)
				}
				want, err := det.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				prefix := []byte("prefix")
				got := tc.append(prefix, v)[len(prefix):]
				if !bytes.Equal(got, want) {
					t.Fatalf("value %d %+v:\n got %x\nwant %x", i, v, got, want)
				}
				back, err := tc.codec.Decode(got)
				if err != nil {
					t.Fatalf("value %d: %v", i, err)
				}
				if !reflect.DeepEqual(back, v) {
					t.Fatalf("value %d: decoded %+v, want %+v", i, back, v)
				}

				// what proto.Unmarshal makes of other writers' records
				other := append(bytes.Clone(want), unknownFields(g)...)
				if g.r.IntN(2) == 0 { // a second record merged in: scalars replaced, lists appended
					w2, _ := det.Marshal(must(ToProto(tc.random(g))))
					other = append(other, w2...)
				}
				other = unpack(other, m.ProtoReflect().New().Interface())
				pm := m.ProtoReflect().New().Interface()
				if err := proto.Unmarshal(other, pm); err != nil {
					t.Fatal(err)
				}
				got2, err := tc.codec.Decode(other)
				if err != nil {
					t.Fatalf("value %d: %v (%x)", i, err, other)
				}
				if want2 := fromProto(pm); !reflect.DeepEqual(got2, want2) {
					t.Fatalf("value %d: decoded %+v, proto.Unmarshal %+v", i, got2, want2)
				}
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// unknownFields are fields of numbers no message uses (yet), of every wire type.
func unknownFields(g gen) []byte {
	var b []byte
	for range g.n(3) {
		num := protowire.Number(20 + g.r.IntN(1000))
		switch g.r.IntN(4) {
		case 0:
			b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), g.r.Uint64())
		case 1:
			b = protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), g.str())
		case 2:
			b = protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), g.r.Uint32())
		case 3:
			b = protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), g.r.Uint64())
		}
	}
	return b
}

// unpack rewrites the top-level packed lists of a record (TallyState's
// applied_deltas) unpacked, as a writer may; other records are unchanged.
func unpack(b []byte, m proto.Message) []byte {
	if _, ok := m.(*pb.TallyState); !ok {
		return b
	}
	var out []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		k := protowire.ConsumeFieldValue(num, typ, b[n:])
		if num == 3 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[n:])
			for len(v) > 0 {
				x, j := protowire.ConsumeVarint(v)
				out = protowire.AppendVarint(protowire.AppendTag(out, 3, protowire.VarintType), x)
				v = v[j:]
			}
		} else {
			out = append(out, b[:n+k]...)
		}
		b = b[n+k:]
	}
	return out
}

// Every topic of the pipeline has a format, and DecodeProto reads both
// encodings of it.
func TestFormats(t *testing.T) {
	names := map[string]string{"votes": "paredao.v1.Vote", "ballots": "paredao.v1.BallotBatch", "windows": "paredao.v1.WindowRecord",
		"paredoes": "paredao.v1.Paredao", "guard-table": "paredao.v1.GuardState", "tally-table": "paredao.v1.TallyState"}
	if len(Formats()) != len(names) {
		t.Fatalf("%d formats", len(Formats()))
	}
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for i, tc := range codecCases() {
		f := Formats()[i]
		if names[f.Topic] != f.Message {
			t.Fatalf("topic %s: message %s", f.Topic, f.Message)
		}
		if ff, ok := FormatOf(f.Topic); !ok || ff.Message != f.Message {
			t.Fatalf("FormatOf(%s) = %v, %v", f.Topic, ff, ok)
		}
		v := tc.random(g)
		want := must(ToProto(v))
		m, legacy, err := f.DecodeProto(tc.append(nil, v))
		if err != nil || legacy || !proto.Equal(m, want) {
			t.Fatalf("%s: %v %v %v", f.Topic, m, legacy, err)
		}
		old, err := legacyEncode(legacyValues()[legacyName(f.Topic)])
		if err != nil {
			t.Fatal(err)
		}
		m, legacy, err = f.DecodeProto(old)
		if err != nil || !legacy || !proto.Equal(m, must(ToProto(legacyValues()[legacyName(f.Topic)]))) {
			t.Fatalf("%s legacy: %v %v %v", f.Topic, m, legacy, err)
		}
	}
	if _, ok := FormatOf("nope"); ok {
		t.Fatal("format of an unknown topic")
	}
}

func legacyName(topic string) string {
	return map[string]string{"votes": "vote", "ballots": "ballot_batch", "windows": "window", "paredoes": "paredao",
		"guard-table": "guard_state", "tally-table": "tally_state"}[topic]
}
