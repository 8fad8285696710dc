package pipeline

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// GuardState is guard's value for one voter. Its size is bounded: at most
// GuardEntriesMax entries (more only while votes are in flight, see guard),
// each a few bytes, whatever the voter's rate.
//
// LastOffset is the highest VotesStream offset already decided for this
// voter: a vote at or below it is the same message processed again (after a
// crash or rebalance), never a new one. Entries are the votes let through that
// still matter: for replay detection until their challenge expired, and for
// the per-voter rate cap for a minute. Floor stands for the entries dropped
// to keep the bound: a challenge expiring at or before it is refused
// (superseded), since it is older than every challenge the voter used since.
type GuardState struct {
	LastOffset int64
	Floor      int64 // unix seconds; 0: none
	Entries    []GuardEntry
}

// GuardEntriesMax bounds GuardState.Entries, with the per-voter cap when
// it is higher (guard keeps the last minute's votes for it): a voter's value
// stays under ~200 bytes, whatever the voter's rate. A person holds at most
// a challenge or two at once; a challenge older than the voter's last 8
// used ones is refused (superseded).
const GuardEntriesMax = 8

// GuardEntry is one vote guard let through.
type GuardEntry struct {
	Challenge  uint64 // ChallengeHash of the vote's challenge
	Offset     int64
	AcceptedAt int64 // unix milliseconds
	ExpiresAt  int64 // unix seconds
}

// ChallengeHash is the 64-bit FNV-1a hash of a challenge id: guard keeps
// hashes, 8 bytes each, not the ids.
func ChallengeHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

// NewGuardState is the state of a voter never seen.
func NewGuardState() *GuardState { return &GuardState{LastOffset: -1} }

// GuardStateCodec encodes GuardState.
type GuardStateCodec struct{}

func (GuardStateCodec) Encode(value any) ([]byte, error) {
	s, ok := value.(*GuardState)
	if !ok {
		return nil, fmt.Errorf("guard state codec: unexpected %T", value)
	}
	return AppendGuardState(make([]byte, 0, 16+len(s.Entries)*20), s), nil
}

// AppendGuardState appends s's encoding to b: entries as the challenge hash
// and small deltas.
func AppendGuardState(b []byte, s *GuardState) []byte {
	e := enc(b).uvarint(wireVersion).varint(s.LastOffset).varint(s.Floor).uvarint(uint64(len(s.Entries)))
	for _, en := range s.Entries {
		e = binary.LittleEndian.AppendUint64(e, en.Challenge)
		e = e.varint(s.LastOffset - en.Offset).varint(en.AcceptedAt).varint(en.ExpiresAt - en.AcceptedAt/1000)
	}
	return e
}

func (GuardStateCodec) Decode(data []byte) (any, error) {
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

// TallyState is tally's value for one SourceKey: the ballots of one
// VotesStream partition.
//
// Floor and Applied tell which ballots were counted: every offset below
// Floor, and the offsets in Applied. A batch's AckedBelow says that every
// ballot of the partition below it was acknowledged before the batch was
// sent, so stands earlier in this key's partition and was seen already: the
// floor moves up to it and Applied keeps only the ballots above it. A ballot
// that arrives after a later one (a failed batch sent again after a later one
// succeeded) is still counted once: dedupe is by what was applied, not by the
// highest offset.
//
// Counts hold, per paredão and participant, the total and the windows not
// yet retired, oldest first; WindowFloor is the start of the oldest window
// that may still be held: a ballot for an earlier window is late and travels
// to the sink alone. The floor moves with MaxAcceptedAt, the newest
// acceptance time counted (event time, never the wall clock).
//
// Pending holds what a batch sent to the sink from the ballot callback (a
// retired window's last count, a late ballot) until that batch's work is
// acknowledged: the batch processed again after a crash sends it again.
type TallyState struct {
	Partition     int32 // the VotesStream partition
	Floor         int64 // every offset below was counted
	Applied       []int64
	MaxAcceptedAt int64 // unix milliseconds
	WindowFloor   int64 // unix seconds, a window start
	Counts        []ParticipantCount
	Pending       []PendingRecord
}

// ParticipantCount is what one tally key counted for one participant.
type ParticipantCount struct {
	ParedaoID     string
	ParticipantID string
	Total         int64
	Windows       []WindowCount
}

// WindowCount is one window's count.
type WindowCount struct {
	Start int64 // unix seconds
	Count int64
}

// PendingRecord is a record sent by the batch at offset At of
// BallotsStream, kept until that batch is acknowledged.
type PendingRecord struct {
	At            int64 // BallotsStream offset of the batch that sent it
	ParedaoID     string
	ParticipantID string
	Start         int64 // window start, unix seconds
	Count         int64
	LateID        string // a late ballot's vote position; "" for a window's last count
}

// Seen reports whether the vote at offset was counted already.
func (s *TallyState) Seen(offset int64) bool {
	if offset < s.Floor {
		return true
	}
	_, found := slices.BinarySearch(s.Applied, offset)
	return found
}

// RaiseFloor records that every vote below ackedBelow was counted.
func (s *TallyState) RaiseFloor(ackedBelow int64) {
	if ackedBelow > s.Floor {
		s.Floor = ackedBelow
		n, _ := slices.BinarySearch(s.Applied, s.Floor)
		s.Applied = append(s.Applied[:0], s.Applied[n:]...)
	}
}

// MarkSeen records the vote at offset as counted, and that every vote below
// ackedBelow was counted.
func (s *TallyState) MarkSeen(offset, ackedBelow int64) {
	s.RaiseFloor(ackedBelow)
	if offset < s.Floor {
		return
	}
	if n := len(s.Applied); n == 0 || s.Applied[n-1] < offset {
		s.Applied = append(s.Applied, offset) // the usual case: in order
		return
	}
	if i, found := slices.BinarySearch(s.Applied, offset); !found {
		s.Applied = slices.Insert(s.Applied, i, offset)
	}
}

// Count returns the count of (paredão, participant), adding it when missing;
// Counts stay sorted.
func (s *TallyState) Count(paredaoID, participantID string) *ParticipantCount {
	i, found := slices.BinarySearchFunc(s.Counts, [2]string{paredaoID, participantID}, func(c ParticipantCount, k [2]string) int {
		return cmp.Or(cmp.Compare(c.ParedaoID, k[0]), cmp.Compare(c.ParticipantID, k[1]))
	})
	if !found {
		s.Counts = slices.Insert(s.Counts, i, ParticipantCount{ParedaoID: paredaoID, ParticipantID: participantID})
	}
	return &s.Counts[i]
}

// Window returns the index of the window starting at start, adding it when
// missing, keeping Windows sorted.
func (c *ParticipantCount) Window(start int64) int {
	n := len(c.Windows)
	if n > 0 && c.Windows[n-1].Start == start {
		return n - 1 // the usual case: the newest window
	}
	i, found := slices.BinarySearchFunc(c.Windows, start, func(w WindowCount, t int64) int { return cmp.Compare(w.Start, t) })
	if !found {
		c.Windows = slices.Insert(c.Windows, i, WindowCount{Start: start})
	}
	return i
}

// TallyStateCodec encodes TallyState.
type TallyStateCodec struct{}

func (TallyStateCodec) Encode(value any) ([]byte, error) {
	s, ok := value.(*TallyState)
	if !ok {
		return nil, fmt.Errorf("tally state codec: unexpected %T", value)
	}
	return AppendTallyState(make([]byte, 0, 64+len(s.Applied)*2+len(s.Counts)*48), s), nil
}

// AppendTallyState appends s's encoding to b.
func AppendTallyState(b []byte, s *TallyState) []byte {
	e := enc(b).uvarint(wireVersion).varint(int64(s.Partition)).varint(s.Floor).uvarint(uint64(len(s.Applied)))
	prev := s.Floor
	for _, off := range s.Applied {
		e = e.varint(off - prev)
		prev = off
	}
	e = e.varint(s.MaxAcceptedAt).varint(s.WindowFloor).uvarint(uint64(len(s.Counts)))
	for _, c := range s.Counts {
		e = e.str(c.ParedaoID).str(c.ParticipantID).varint(c.Total).uvarint(uint64(len(c.Windows)))
		prev := s.WindowFloor
		for _, w := range c.Windows {
			e = e.varint(w.Start - prev).varint(w.Count)
			prev = w.Start
		}
	}
	e = e.uvarint(uint64(len(s.Pending)))
	for _, p := range s.Pending {
		e = e.varint(p.At).str(p.ParedaoID).str(p.ParticipantID).varint(p.Start).varint(p.Count).str(p.LateID)
	}
	return e
}

func (TallyStateCodec) Decode(data []byte) (any, error) {
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

// WindowStart is the start of the tumbling window of size that holds t.
func WindowStart(t time.Time, size time.Duration) time.Time {
	return t.Truncate(size).UTC()
}
