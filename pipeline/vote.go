package pipeline

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Vote is what the web tier emits to VotesStream, keyed by VoterID, once the
// proof of work checked out. The web tier answers 202 only after Kafka
// acknowledged it.
type Vote struct {
	ID            string    // unique id, also the receipt's voteId
	ParedaoID     string    // the paredão voted in
	ParticipantID string    // the participant voted out
	VoterID       string    // the anonymous voter from the signed cookie
	ChallengeID   string    // identifies the proof of work used (replays share it)
	AcceptedAt    time.Time // the web tier's clock when it accepted the vote
	ExpiresAt     time.Time // when the challenge stops being valid
}

// Ballot is a vote guard let through, on its way to tally. It carries the
// vote's position in VotesStream so tally can tell a re-emitted ballot from a
// new one.
type Ballot struct {
	VoteID          string
	ParedaoID       string
	ParticipantID   string
	AcceptedAt      time.Time
	SourcePartition int32 // partition of the vote in VotesStream
	SourceOffset    int64 // offset of the vote in VotesStream
	// AckedBelow is guard's ordered-commit mark of SourcePartition when it
	// emitted the ballot: every vote of that partition below it was complete,
	// its ballot acknowledged by Kafka, so each of those ballots already
	// stands before this one in its partition (see TallyState.Sources).
	AckedBelow int64
}

// Shard spreads one participant over shards keys: a hot participant (most of
// the country voting one person out) would otherwise be one key, one partition
// and one processor core.
func (b *Ballot) Shard(shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(b.VoteID))
	return int(h.Sum32() % uint32(shards))
}

// BallotKey is the key of a ballot and of tally's table.
func BallotKey(paredaoID, participantID string, shard int) string {
	return paredaoID + "/" + participantID + "/" + strconv.Itoa(shard)
}

// ParseBallotKey splits a BallotKey. Ids never contain '/' (see ValidID).
func ParseBallotKey(key string) (paredaoID, participantID string, shard int, err error) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 {
		return "", "", 0, fmt.Errorf("ballot key %q: want paredao/participant/shard", key)
	}
	shard, err = strconv.Atoi(parts[2])
	if err != nil || shard < 0 {
		return "", "", 0, fmt.Errorf("ballot key %q: bad shard", key)
	}
	return parts[0], parts[1], shard, nil
}

// WindowRecord is what tally emits to WindowsStream.
//
// A count record carries the absolute count of one (key, window): counts only
// grow, so the sink keeps the greatest it has seen and a repeated or stale
// record changes nothing. A late record carries one ballot whose window had
// already left tally's state (see TallyState); the sink adds it once, by LateID.
type WindowRecord struct {
	ParedaoID     string
	ParticipantID string
	Shard         int
	WindowStart   time.Time
	Count         int64  // absolute count (count records); 1 for a late record
	LateID        string // non-empty for a late record: "partition/offset" of the vote
}

// Late tells a late record from a count record.
func (w *WindowRecord) Late() bool { return w.LateID != "" }

// VoteCodec encodes Vote.
type VoteCodec struct{}

func (VoteCodec) Encode(value any) ([]byte, error) {
	v, ok := value.(*Vote)
	if !ok {
		return nil, fmt.Errorf("vote codec: unexpected %T", value)
	}
	return AppendVote(make([]byte, 0, 128), v), nil
}

// AppendVote appends v's encoding to b.
func AppendVote(b []byte, v *Vote) []byte {
	e := enc(b).uvarint(wireVersion).str(v.ID).str(v.ParedaoID).str(v.ParticipantID).
		str(v.VoterID).str(v.ChallengeID).varint(v.AcceptedAt.UnixMilli()).varint(v.ExpiresAt.Unix())
	return e
}

func (VoteCodec) Decode(data []byte) (any, error) {
	d := dec{b: data}
	d.version()
	v := &Vote{ID: d.str(), ParedaoID: d.str(), ParticipantID: d.str(), VoterID: d.str(), ChallengeID: d.str()}
	v.AcceptedAt = time.UnixMilli(d.varint()).UTC()
	v.ExpiresAt = time.Unix(d.varint(), 0).UTC()
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode vote: %w", err)
	}
	return v, nil
}

// BallotCodec encodes Ballot.
type BallotCodec struct{}

func (BallotCodec) Encode(value any) ([]byte, error) {
	b, ok := value.(*Ballot)
	if !ok {
		return nil, fmt.Errorf("ballot codec: unexpected %T", value)
	}
	e := enc(make([]byte, 0, 96)).uvarint(wireVersion).str(b.VoteID).str(b.ParedaoID).str(b.ParticipantID).
		varint(b.AcceptedAt.UnixMilli()).varint(int64(b.SourcePartition)).varint(b.SourceOffset).varint(b.AckedBelow)
	return e, nil
}

func (BallotCodec) Decode(data []byte) (any, error) {
	d := dec{b: data}
	d.version()
	b := &Ballot{VoteID: d.str(), ParedaoID: d.str(), ParticipantID: d.str()}
	b.AcceptedAt = time.UnixMilli(d.varint()).UTC()
	b.SourcePartition = int32(d.varint())
	b.SourceOffset = d.varint()
	b.AckedBelow = d.varint()
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode ballot: %w", err)
	}
	return b, nil
}

// WindowRecordCodec encodes WindowRecord.
type WindowRecordCodec struct{}

func (WindowRecordCodec) Encode(value any) ([]byte, error) {
	w, ok := value.(*WindowRecord)
	if !ok {
		return nil, fmt.Errorf("window codec: unexpected %T", value)
	}
	e := enc(make([]byte, 0, 64)).uvarint(wireVersion).str(w.ParedaoID).str(w.ParticipantID).
		uvarint(uint64(w.Shard)).varint(w.WindowStart.Unix()).varint(w.Count).str(w.LateID)
	return e, nil
}

func (WindowRecordCodec) Decode(data []byte) (any, error) {
	d := dec{b: data}
	d.version()
	w := &WindowRecord{ParedaoID: d.str(), ParticipantID: d.str(), Shard: int(d.uvarint())}
	w.WindowStart = time.Unix(d.varint(), 0).UTC()
	w.Count = d.varint()
	w.LateID = d.str()
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode window record: %w", err)
	}
	return w, nil
}
