package pipeline

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
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

// BallotBatch is the ballots guard let through from one VotesStream
// partition over a few milliseconds, on their way to tally: one record for
// many votes. It is keyed by SourceKey(SourcePartition), so one source
// partition's batches stay in order on one BallotsStream partition and in one
// tally key.
type BallotBatch struct {
	SourcePartition int32 // partition of the votes in VotesStream
	// AckedBelow is guard's ordered-commit mark of SourcePartition when it
	// sent the batch: every vote of that partition below it was complete,
	// its batch acknowledged by Kafka, so each of those ballots already
	// stands before this batch in its partition (see TallyState).
	AckedBelow int64
	Ballots    []Ballot // in VotesStream offset order
}

// Ballot is one vote guard let through.
type Ballot struct {
	Offset        int64 // of the vote in VotesStream (SourcePartition)
	ParedaoID     string
	ParticipantID string
	AcceptedAt    time.Time
}

// SourceKey is the BallotsStream and tally key of the ballots of VotesStream
// partition p, chosen among "p<p>", "p<p>.1", "p<p>.2", … as the first that
// goka's default partitioner (FNV-1a 32, as goka.DefaultHasher) puts on
// partition p mod partitions: source partition p is counted by the tally
// partition of the same number, so tally's work spreads like the votes.
func SourceKey(p int32, partitions int) string {
	base := "p" + strconv.Itoa(int(p))
	if partitions <= 1 {
		return base
	}
	want := uint32(int(p) % partitions)
	key := base
	for i := 1; i < 1<<16; i++ {
		h := fnv.New32a()
		_, _ = h.Write([]byte(key)) // a hash.Hash's Write never fails
		if h.Sum32()%uint32(partitions) == want {
			return key
		}
		key = base + "." + strconv.Itoa(i)
	}
	return base
}

// ParseSourceKey returns the VotesStream partition of a SourceKey.
func ParseSourceKey(key string) (int32, error) {
	rest, ok := strings.CutPrefix(key, "p")
	if !ok {
		return 0, fmt.Errorf("tally key %q: want p<partition>", key)
	}
	rest, _, _ = strings.Cut(rest, ".")
	p, err := strconv.ParseInt(rest, 10, 32)
	if err != nil || p < 0 {
		return 0, fmt.Errorf("tally key %q: bad partition", key)
	}
	return int32(p), nil
}

// WindowRecord is what tally emits to WindowsStream.
//
// A count record carries the absolute count of one (key, paredão,
// participant, window): counts only
// grow, so the sink keeps the greatest it has seen and a repeated or stale
// record changes nothing. A late record carries one ballot whose window had
// already left tally's state (see TallyState); the sink adds it once, by LateID.
type WindowRecord struct {
	ParedaoID     string
	ParticipantID string
	Shard         int // the VotesStream partition the votes came from (tally's key)
	WindowStart   time.Time
	Count         int64  // absolute count (count records); 1 for a late record
	LateID        string // non-empty for a late record: "partition/offset" of the vote
}

// Late tells a late record from a count record.
func (w *WindowRecord) Late() bool { return w.LateID != "" }

// VoteCodec encodes Vote as the protobuf message paredao.v1.Vote
// (proto/paredao/v1/vote.proto); it also decodes the hand-written encoding
// of earlier releases.
type VoteCodec struct{}

func (VoteCodec) Encode(value any) ([]byte, error) {
	v, ok := value.(*Vote)
	if !ok {
		return nil, fmt.Errorf("vote codec: unexpected %T", value)
	}
	if err := validUTF8(v.ID, v.ParedaoID, v.ParticipantID, v.VoterID, v.ChallengeID); err != nil {
		return nil, fmt.Errorf("vote codec: %w", err)
	}
	return AppendVote(make([]byte, 0, 128), v), nil
}

// AppendVote appends v's encoding to b: what proto.Marshal writes for
// paredao.v1.Vote. Its strings must be UTF-8 (Encode checks).
func AppendVote(b []byte, v *Vote) []byte {
	return pbuf(b).str(1, v.ID).str(2, v.ParedaoID).str(3, v.ParticipantID).str(4, v.VoterID).str(5, v.ChallengeID).
		int64(6, unixNano(v.AcceptedAt)).int64(7, unixNano(v.ExpiresAt))
}

func (VoteCodec) Decode(data []byte) (any, error) {
	if isLegacy(data) {
		v, err := decodeLegacyVote(data)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
	v, err := decodeVote(data)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func decodeVote(data []byte) (*Vote, error) {
	r := newPread(data, "vote", true)
	v := &Vote{}
	for r.more() {
		switch num, typ := r.next(); {
		case num == 1 && typ == protowire.BytesType:
			v.ID = r.shared()
		case num == 2 && typ == protowire.BytesType:
			v.ParedaoID = r.shared()
		case num == 3 && typ == protowire.BytesType:
			v.ParticipantID = r.shared()
		case num == 4 && typ == protowire.BytesType:
			v.VoterID = r.shared()
		case num == 5 && typ == protowire.BytesType:
			v.ChallengeID = r.shared()
		case num == 6 && typ == protowire.VarintType:
			v.AcceptedAt = fromUnixNano(int64(r.varint()))
		case num == 7 && typ == protowire.VarintType:
			v.ExpiresAt = fromUnixNano(int64(r.varint()))
		default:
			r.skip(num, typ)
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("decode vote: %w", err)
	}
	return v, nil
}

// BallotBatchCodec encodes BallotBatch as paredao.v1.BallotBatch
// (proto/paredao/v1/ballot.proto); it also decodes the hand-written
// encoding of earlier releases.
type BallotBatchCodec struct{}

func (BallotBatchCodec) Encode(value any) ([]byte, error) {
	b, ok := value.(*BallotBatch)
	if !ok {
		return nil, fmt.Errorf("ballot batch codec: unexpected %T", value)
	}
	return AppendBallotBatch(make([]byte, 0, 16+len(b.Ballots)*32), b), nil
}

// AppendBallotBatch appends b's encoding to out: what proto.Marshal writes
// for paredao.v1.BallotBatch.
func AppendBallotBatch(out []byte, b *BallotBatch) []byte {
	e := pbuf(out).int64(1, int64(b.SourcePartition)).int64(2, b.AckedBelow)
	for i := range b.Ballots {
		bl := &b.Ballots[i]
		var start int
		e, start = e.open(3)
		e = e.int64(1, bl.Offset).str(2, bl.ParedaoID).str(3, bl.ParticipantID).int64(4, unixNano(bl.AcceptedAt))
		e = e.close(start)
	}
	return e
}

func (BallotBatchCodec) Decode(data []byte) (any, error) {
	if isLegacy(data) {
		b, err := decodeLegacyBallotBatch(data)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := decodeBallotBatch(data)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func decodeBallotBatch(data []byte) (*BallotBatch, error) {
	r := newPread(data, "ballot batch", false)
	b := &BallotBatch{}
	var seen []string
	for r.more() {
		switch num, typ := r.next(); {
		case num == 1 && typ == protowire.VarintType:
			b.SourcePartition = int32(r.varint())
		case num == 2 && typ == protowire.VarintType:
			b.AckedBelow = int64(r.varint())
		case num == 3 && typ == protowire.BytesType:
			if b.Ballots == nil { // room for all of them at once
				n := 1 + countAfter(r.b, num, typ, 3)
				b.Ballots = make([]Ballot, 0, n)
			}
			s := r.sub()
			b.Ballots = grow(b.Ballots)
			bl := &b.Ballots[len(b.Ballots)-1]
			for s.more() {
				switch num, typ := s.next(); {
				case num == 1 && typ == protowire.VarintType:
					bl.Offset = int64(s.varint())
				case num == 2 && typ == protowire.BytesType:
					bl.ParedaoID = s.strIn(&seen)
				case num == 3 && typ == protowire.BytesType:
					bl.ParticipantID = s.strIn(&seen)
				case num == 4 && typ == protowire.VarintType:
					bl.AcceptedAt = fromUnixNano(int64(s.varint()))
				default:
					s.skip(num, typ)
				}
			}
			r.join(&s)
		default:
			r.skip(num, typ)
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("decode ballot batch: %w", err)
	}
	return b, nil
}

// WindowRecordCodec encodes WindowRecord as paredao.v1.WindowRecord
// (proto/paredao/v1/window.proto); it also decodes the hand-written
// encoding of earlier releases.
type WindowRecordCodec struct{}

func (WindowRecordCodec) Encode(value any) ([]byte, error) {
	w, ok := value.(*WindowRecord)
	if !ok {
		return nil, fmt.Errorf("window codec: unexpected %T", value)
	}
	return AppendWindowRecord(make([]byte, 0, 64), w), nil
}

// AppendWindowRecord appends w's encoding to b: what proto.Marshal writes
// for paredao.v1.WindowRecord.
func AppendWindowRecord(b []byte, w *WindowRecord) []byte {
	return pbuf(b).str(1, w.ParedaoID).str(2, w.ParticipantID).int64(3, int64(int32(w.Shard))).
		int64(4, unixNano(w.WindowStart)).int64(5, w.Count).str(6, w.LateID)
}

func (WindowRecordCodec) Decode(data []byte) (any, error) {
	if isLegacy(data) {
		w, err := decodeLegacyWindowRecord(data)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
	r := newPread(data, "window record", true)
	w := &WindowRecord{}
	for r.more() {
		switch num, typ := r.next(); {
		case num == 1 && typ == protowire.BytesType:
			w.ParedaoID = r.shared()
		case num == 2 && typ == protowire.BytesType:
			w.ParticipantID = r.shared()
		case num == 3 && typ == protowire.VarintType:
			w.Shard = int(int32(r.varint()))
		case num == 4 && typ == protowire.VarintType:
			w.WindowStart = fromUnixNano(int64(r.varint()))
		case num == 5 && typ == protowire.VarintType:
			w.Count = int64(r.varint())
		case num == 6 && typ == protowire.BytesType:
			w.LateID = r.shared()
		default:
			r.skip(num, typ)
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("decode window record: %w", err)
	}
	return w, nil
}

// validUTF8 refuses strings that protobuf readers would refuse.
func validUTF8(ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%q is not UTF-8", s)
		}
	}
	return nil
}
