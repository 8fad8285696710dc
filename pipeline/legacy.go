package pipeline

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The hand-written binary encoding of the releases before Protocol Buffers
// (wire version 3; a vote also version 2), read only: a record still in a
// topic or table when the release that writes protobuf starts (a rolling
// upgrade during a live paredão) is decoded as it was written. Such a
// record starts with its version as a uvarint, byte 0x02 or 0x03, which no
// protobuf record starts with (the tag of field number 0 is invalid). The
// catalog was JSON, which starts with '{' (0x7b: field 15, group start —
// no message of these formats has groups). testdata/legacy holds records
// written by that release (TestLegacyDecode).

// legacyVersion is the last wire version of the hand-written encoding.
const legacyVersion = 3

// isLegacy tells a record in the hand-written encoding from protobuf.
func isLegacy(data []byte) bool { return len(data) > 0 && (data[0] == 2 || data[0] == legacyVersion) }

// isLegacyJSON tells a catalog record in JSON from protobuf.
func isLegacyJSON(data []byte) bool { return len(data) > 0 && data[0] == '{' }

// dec reads the hand-written encoding; the first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a length prefix and bounds it by the bytes left, so a corrupt
// length cannot make a decoder allocate without limit.
func (d *dec) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *dec) version() { d.versionIn(legacyVersion) }

// versionIn accepts any of versions: an encoding that did not change
// across a version (Vote, since version 2) still decodes.
func (d *dec) versionIn(versions ...uint64) {
	v := d.uvarint()
	if d.err == nil && !slices.Contains(versions, v) {
		d.fail("version")
	}
}

func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

func decodeLegacyVote(data []byte) (*Vote, error) {
	d := dec{b: data}
	d.versionIn(2, legacyVersion) // a vote was encoded as in version 2
	v := &Vote{ID: d.str(), ParedaoID: d.str(), ParticipantID: d.str(), VoterID: d.str(), ChallengeID: d.str()}
	v.AcceptedAt = time.UnixMilli(d.varint()).UTC()
	v.ExpiresAt = time.Unix(d.varint(), 0).UTC()
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode vote: %w", err)
	}
	return v, nil
}

// decodeLegacyBallotBatch reads a batch whose (paredão, participant) pairs
// were written once each, the ballots as an index into them and deltas.
func decodeLegacyBallotBatch(data []byte) (*BallotBatch, error) {
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

func decodeLegacyWindowRecord(data []byte) (*WindowRecord, error) {
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

func decodeLegacyGuardState(data []byte) (*GuardState, error) {
	d := dec{b: data}
	d.version()
	s := &GuardState{LastOffset: d.varint(), Floor: d.varint()}
	if n := d.count(11); n > 0 {
		s.Entries = make([]GuardEntry, n)
		for i := range n {
			if len(d.b) < 8 {
				d.fail("challenge")
				break
			}
			en := GuardEntry{Challenge: binary.LittleEndian.Uint64(d.b)}
			d.b = d.b[8:]
			en.Offset = s.LastOffset - d.varint()
			en.AcceptedAt = d.varint()
			en.ExpiresAt = d.varint() + en.AcceptedAt/1000
			s.Entries[i] = en
		}
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode guard state: %w", err)
	}
	return s, nil
}

func decodeLegacyTallyState(data []byte) (*TallyState, error) {
	d := dec{b: data}
	d.version()
	s := &TallyState{Partition: int32(d.varint()), Floor: d.varint()}
	if n := d.count(1); n > 0 {
		s.Applied = make([]int64, n)
		prev := s.Floor
		for i := range n {
			prev += d.varint()
			s.Applied[i] = prev
		}
	}
	s.MaxAcceptedAt, s.WindowFloor = d.varint(), d.varint()
	if n := d.count(4); n > 0 {
		s.Counts = make([]ParticipantCount, n)
		for i := range n {
			c := ParticipantCount{ParedaoID: d.str(), ParticipantID: d.str(), Total: d.varint()}
			if m := d.count(2); m > 0 {
				c.Windows = make([]WindowCount, m)
				prev := s.WindowFloor
				for j := range m {
					prev += d.varint()
					c.Windows[j] = WindowCount{Start: prev, Count: d.varint()}
				}
			}
			s.Counts[i] = c
		}
	}
	if n := d.count(6); n > 0 {
		s.Pending = make([]PendingRecord, n)
		for i := range n {
			s.Pending[i] = PendingRecord{At: d.varint(), ParedaoID: d.str(), ParticipantID: d.str(), Start: d.varint(), Count: d.varint(), LateID: d.str()}
		}
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode tally state: %w", err)
	}
	return s, nil
}

// decodeLegacyParedao reads a catalog entry written as JSON.
func decodeLegacyParedao(data []byte) (*Paredao, error) {
	var p Paredao
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode paredao: %w: %v", ErrCorrupt, err)
	}
	return &p, nil
}
