package pipeline

import (
	"fmt"

	"github.com/lovoo/goka"
	"google.golang.org/protobuf/proto"

	"github.com/paredao/paredao/pipeline/pb"
)

// A Format is how the values of one of the pipeline's topics are encoded:
// the protobuf message (proto/paredao/v1) and the goka codec.
type Format struct {
	Topic   string
	Message string // the message's full name, e.g. "paredao.v1.Vote"
	Codec   goka.Codec
	new     func() proto.Message
	legacy  func([]byte) bool
}

// Formats lists the format of every topic of the pipeline, streams then
// tables (topology.md).
func Formats() []Format {
	fs := []Format{
		{Topic: string(VotesStream), Codec: VoteCodec{}, new: func() proto.Message { return new(pb.Vote) }, legacy: isLegacy},
		{Topic: string(BallotsStream), Codec: BallotBatchCodec{}, new: func() proto.Message { return new(pb.BallotBatch) }, legacy: isLegacy},
		{Topic: string(WindowsStream), Codec: WindowRecordCodec{}, new: func() proto.Message { return new(pb.WindowRecord) }, legacy: isLegacy},
		{Topic: string(CatalogTable), Codec: ParedaoCodec{}, new: func() proto.Message { return new(pb.Paredao) }, legacy: isLegacyJSON},
		{Topic: string(GuardTable), Codec: GuardStateCodec{}, new: func() proto.Message { return new(pb.GuardState) }, legacy: isLegacy},
		{Topic: string(TallyTable), Codec: TallyStateCodec{}, new: func() proto.Message { return new(pb.TallyState) }, legacy: isLegacy},
	}
	for i := range fs {
		fs[i].Message = string(fs[i].new().ProtoReflect().Descriptor().FullName())
	}
	return fs
}

// FormatOf returns the format of topic.
func FormatOf(topic string) (Format, bool) {
	for _, f := range Formats() {
		if f.Topic == topic {
			return f, true
		}
	}
	return Format{}, false
}

// New returns an empty message of the topic's values.
func (f Format) New() proto.Message { return f.new() }

// DecodeProto decodes a value of f's topic as its protobuf message. A
// value in the encoding of earlier releases (legacy true) is decoded by the
// codec and converted.
func (f Format) DecodeProto(data []byte) (m proto.Message, legacy bool, err error) {
	if f.legacy(data) {
		v, err := f.Codec.Decode(data)
		if err != nil {
			return nil, true, err
		}
		m, err := ToProto(v)
		return m, true, err
	}
	m = f.new()
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, false, err
	}
	return m, false, nil
}

// ToProto converts a value of the pipeline (*Vote, *BallotBatch,
// *WindowRecord, *Paredao, *GuardState, *TallyState) to its protobuf
// message: what its codec writes.
func ToProto(value any) (proto.Message, error) {
	switch v := value.(type) {
	case *Vote:
		return &pb.Vote{Id: v.ID, ParedaoId: v.ParedaoID, ParticipantId: v.ParticipantID, VoterId: v.VoterID, ChallengeId: v.ChallengeID,
			AcceptedAtUnixNano: unixNano(v.AcceptedAt), ExpiresAtUnixNano: unixNano(v.ExpiresAt)}, nil
	case *BallotBatch:
		m := &pb.BallotBatch{SourcePartition: v.SourcePartition, AckedBelow: v.AckedBelow}
		for _, b := range v.Ballots {
			m.Ballots = append(m.Ballots, &pb.Ballot{Offset: b.Offset, ParedaoId: b.ParedaoID, ParticipantId: b.ParticipantID, AcceptedAtUnixNano: unixNano(b.AcceptedAt)})
		}
		return m, nil
	case *WindowRecord:
		return &pb.WindowRecord{ParedaoId: v.ParedaoID, ParticipantId: v.ParticipantID, Shard: int32(v.Shard),
			WindowStartUnixNano: unixNano(v.WindowStart), Count: v.Count, LateId: v.LateID}, nil
	case *Paredao:
		m := &pb.Paredao{Id: v.ID, Title: v.Title, OpensAtUnixNano: unixNano(v.OpensAt), ClosesAtUnixNano: unixNano(v.ClosesAt)}
		for _, x := range v.Participants {
			m.Participants = append(m.Participants, &pb.Participant{Id: x.ID, Name: x.Name, PhotoUrl: x.PhotoURL})
		}
		return m, nil
	case *GuardState:
		m := &pb.GuardState{LastOffset: proto.Int64(v.LastOffset), FloorUnixSeconds: v.Floor}
		for _, e := range v.Entries {
			m.Entries = append(m.Entries, &pb.GuardEntry{ChallengeHash: e.Challenge, OffsetBeforeLast: v.LastOffset - e.Offset,
				AcceptedAtUnixMs: e.AcceptedAt, ExpiresAfterSeconds: e.ExpiresAt - e.AcceptedAt/1000})
		}
		return m, nil
	case *TallyState:
		m := &pb.TallyState{Partition: proto.Int32(v.Partition), Floor: v.Floor, MaxAcceptedAtUnixMs: v.MaxAcceptedAt, WindowFloorUnixSeconds: v.WindowFloor}
		prev := v.Floor
		for _, off := range v.Applied {
			m.AppliedDeltas = append(m.AppliedDeltas, off-prev)
			prev = off
		}
		for _, c := range v.Counts {
			pc := &pb.ParticipantCount{ParedaoId: c.ParedaoID, ParticipantId: c.ParticipantID, Total: c.Total}
			for _, w := range c.Windows {
				pc.Windows = append(pc.Windows, &pb.WindowCount{StartUnixSeconds: w.Start, Count: w.Count})
			}
			m.Counts = append(m.Counts, pc)
		}
		for _, p := range v.Pending {
			m.Pending = append(m.Pending, &pb.PendingRecord{BatchOffset: p.At, ParedaoId: p.ParedaoID, ParticipantId: p.ParticipantID,
				StartUnixSeconds: p.Start, Count: p.Count, LateId: p.LateID})
		}
		return m, nil
	}
	return nil, fmt.Errorf("to proto: unexpected %T", value)
}
