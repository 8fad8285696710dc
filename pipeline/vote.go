package pipeline

import (
	"fmt"
	"hash/fnv"
	"slices"
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
		h.Write([]byte(key))
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
	d.versionIn(2, wireVersion) // a vote is encoded as in version 2: the votes log survives the upgrade
	v := &Vote{ID: d.str(), ParedaoID: d.str(), ParticipantID: d.str(), VoterID: d.str(), ChallengeID: d.str()}
	v.AcceptedAt = time.UnixMilli(d.varint()).UTC()
	v.ExpiresAt = time.Unix(d.varint(), 0).UTC()
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode vote: %w", err)
	}
	return v, nil
}

// BallotBatchCodec encodes BallotBatch. The (paredão, participant) pairs
// are written once each, the ballots as an index into them and deltas.
type BallotBatchCodec struct{}

func (BallotBatchCodec) Encode(value any) ([]byte, error) {
	b, ok := value.(*BallotBatch)
	if !ok {
		return nil, fmt.Errorf("ballot batch codec: unexpected %T", value)
	}
	return AppendBallotBatch(make([]byte, 0, 32+len(b.Ballots)*8), b), nil
}

// AppendBallotBatch appends b's encoding to out.
func AppendBallotBatch(out []byte, b *BallotBatch) []byte {
	type pair struct{ paredao, participant string }
	var pairs []pair
	index := make([]int, len(b.Ballots))
	for i, bl := range b.Ballots {
		j := slices.Index(pairs, pair{bl.ParedaoID, bl.ParticipantID})
		if j < 0 {
			j = len(pairs)
			pairs = append(pairs, pair{bl.ParedaoID, bl.ParticipantID})
		}
		index[i] = j
	}
	e := enc(out).uvarint(wireVersion).varint(int64(b.SourcePartition)).varint(b.AckedBelow).uvarint(uint64(len(pairs)))
	for _, p := range pairs {
		e = e.str(p.paredao).str(p.participant)
	}
	e = e.uvarint(uint64(len(b.Ballots)))
	prevOff, prevAt := b.AckedBelow, int64(0)
	for i, bl := range b.Ballots {
		at := bl.AcceptedAt.UnixMilli()
		e = e.uvarint(uint64(index[i])).varint(bl.Offset - prevOff).varint(at - prevAt)
		prevOff, prevAt = bl.Offset, at
	}
	return e
}

func (BallotBatchCodec) Decode(data []byte) (any, error) {
	d := dec{b: data}
	d.version()
	b := &BallotBatch{SourcePartition: int32(d.varint()), AckedBelow: d.varint()}
	type pair struct{ paredao, participant string }
	pairs := make([]pair, d.count(2))
	for i := range pairs {
		pairs[i] = pair{d.str(), d.str()}
	}
	if n := d.count(3); n > 0 {
		b.Ballots = make([]Ballot, n)
		prevOff, prevAt := b.AckedBelow, int64(0)
		for i := range n {
			j := d.uvarint()
			if j >= uint64(len(pairs)) {
				d.fail("pair index")
				break
			}
			prevOff += d.varint()
			prevAt += d.varint()
			b.Ballots[i] = Ballot{Offset: prevOff, ParedaoID: pairs[j].paredao, ParticipantID: pairs[j].participant, AcceptedAt: time.UnixMilli(prevAt).UTC()}
		}
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode ballot batch: %w", err)
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
