package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// GuardState is guard's value for one voter.
//
// LastOffset is the highest VotesStream offset already decided for this
// voter: a vote at or below it is the same message processed again (after a
// crash or rebalance), never a new one. Entries are the votes let through that
// still matter: for replay detection until their challenge expired, and for the
// per-voter rate cap for a minute.
type GuardState struct {
	LastOffset int64
	Entries    []GuardEntry
}

// GuardEntry is one vote guard let through.
type GuardEntry struct {
	ChallengeID string
	Offset      int64
	AcceptedAt  int64 // unix milliseconds
	ExpiresAt   int64 // unix seconds
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
	e := enc(make([]byte, 0, 16+len(s.Entries)*64)).uvarint(wireVersion).varint(s.LastOffset).uvarint(uint64(len(s.Entries)))
	for _, en := range s.Entries {
		e = e.str(en.ChallengeID).varint(en.Offset).varint(en.AcceptedAt).varint(en.ExpiresAt)
	}
	return e, nil
}

func (GuardStateCodec) Decode(data []byte) (any, error) {
	d := dec{b: data}
	d.version()
	s := &GuardState{LastOffset: d.varint()}
	n := d.count(4)
	if n > 0 {
		s.Entries = make([]GuardEntry, n)
	}
	for i := range n {
		s.Entries[i] = GuardEntry{ChallengeID: d.str(), Offset: d.varint(), AcceptedAt: d.varint(), ExpiresAt: d.varint()}
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode guard state: %w", err)
	}
	return s, nil
}

// TallyState is tally's value for one BallotKey.
//
// Sources tell which ballots were counted, per VotesStream partition: every
// offset below Floor, and the offsets in Applied. A ballot's AckedBelow says
// that every ballot of its partition below it was acknowledged before it was
// sent, so stands earlier in this key's partition and was seen already: the
// floor moves up to it and Applied keeps only the few ballots above it. A
// ballot that arrives after a later one of its partition (a failed send
// retried after a later one succeeded) is still counted once: dedupe is by
// what was applied, not by the highest offset.
//
// Windows holds the counts of the windows not yet retired, oldest first;
// Floor is the start of the oldest window that may still be held: a ballot
// for an earlier window is late and travels to the sink alone. The floor
// moves with MaxAcceptedAt, the newest acceptance time counted (event time,
// never the wall clock).
//
// Pending holds what a ballot sent to the sink from the ballot callback (a
// retired window's last count, a late ballot) until that ballot's work is
// acknowledged: the ballot processed again after a crash sends it again.
type TallyState struct {
	Total         int64
	MaxAcceptedAt int64 // unix milliseconds
	Floor         int64 // unix seconds, a window start
	Sources       []SourceOffsets
	Windows       []WindowCount
	Pending       []PendingRecord
}

// SourceOffsets are the ballots counted from one VotesStream partition.
type SourceOffsets struct {
	Partition int32
	Floor     int64   // every offset below was counted
	Applied   []int64 // offsets at or above Floor counted, increasing
}

// WindowCount is one window's count.
type WindowCount struct {
	Start int64 // unix seconds
	Count int64
}

// PendingRecord is a record sent by the ballot at offset At of
// BallotsStream, kept until that ballot is acknowledged.
type PendingRecord struct {
	At     int64 // BallotsStream offset of the ballot that sent it
	Start  int64 // window start, unix seconds
	Count  int64
	LateID string // a late ballot's vote position; "" for a window's last count
}

// source finds (adding it when missing) the sources entry of partition;
// Sources stay sorted by partition.
func (s *TallyState) source(partition int32, add bool) *SourceOffsets {
	i, found := slices.BinarySearchFunc(s.Sources, partition, func(so SourceOffsets, p int32) int { return cmp.Compare(so.Partition, p) })
	if !found {
		if !add {
			return nil
		}
		s.Sources = slices.Insert(s.Sources, i, SourceOffsets{Partition: partition, Floor: -1})
	}
	return &s.Sources[i]
}

// Seen reports whether the vote at (partition, offset) was counted already.
func (s *TallyState) Seen(partition int32, offset int64) bool {
	so := s.source(partition, false)
	if so == nil {
		return false
	}
	_, found := slices.BinarySearch(so.Applied, offset)
	return offset < so.Floor || found
}

// MarkSeen records the vote at (partition, offset) as counted, and that
// every vote of partition below ackedBelow was counted.
func (s *TallyState) MarkSeen(partition int32, offset, ackedBelow int64) {
	so := s.source(partition, true)
	if ackedBelow > so.Floor {
		so.Floor = ackedBelow
		n := 0
		for n < len(so.Applied) && so.Applied[n] < so.Floor {
			n++
		}
		so.Applied = append(so.Applied[:0], so.Applied[n:]...)
	}
	if offset < so.Floor {
		return
	}
	if i, found := slices.BinarySearch(so.Applied, offset); !found {
		so.Applied = slices.Insert(so.Applied, i, offset)
	}
}

// Window returns the index of the window starting at start, adding it when
// missing, keeping Windows sorted.
func (s *TallyState) Window(start int64) int {
	i, found := slices.BinarySearchFunc(s.Windows, start, func(w WindowCount, t int64) int { return cmp.Compare(w.Start, t) })
	if !found {
		s.Windows = slices.Insert(s.Windows, i, WindowCount{Start: start})
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
	return AppendTallyState(make([]byte, 0, 32+len(s.Sources)*12+len(s.Windows)*8), s), nil
}

// AppendTallyState appends s's encoding to b.
func AppendTallyState(b []byte, s *TallyState) []byte {
	e := enc(b).uvarint(wireVersion).varint(s.Total).varint(s.MaxAcceptedAt).varint(s.Floor).uvarint(uint64(len(s.Sources)))
	for _, so := range s.Sources {
		e = e.varint(int64(so.Partition)).varint(so.Floor).uvarint(uint64(len(so.Applied)))
		prev := so.Floor
		for _, off := range so.Applied {
			e = e.varint(off - prev)
			prev = off
		}
	}
	e = e.uvarint(uint64(len(s.Windows)))
	prev := int64(0)
	for _, w := range s.Windows {
		e = e.varint(w.Start - prev).varint(w.Count)
		prev = w.Start
	}
	e = e.uvarint(uint64(len(s.Pending)))
	for _, p := range s.Pending {
		e = e.varint(p.At).varint(p.Start).varint(p.Count).str(p.LateID)
	}
	return e
}

func (TallyStateCodec) Decode(data []byte) (any, error) {
	d := dec{b: data}
	d.version()
	s := &TallyState{Total: d.varint(), MaxAcceptedAt: d.varint(), Floor: d.varint()}
	if n := d.count(3); n > 0 {
		s.Sources = make([]SourceOffsets, n)
		for i := range n {
			so := SourceOffsets{Partition: int32(d.varint()), Floor: d.varint()}
			if m := d.count(1); m > 0 {
				so.Applied = make([]int64, m)
				prev := so.Floor
				for j := range m {
					prev += d.varint()
					so.Applied[j] = prev
				}
			}
			s.Sources[i] = so
		}
	}
	if n := d.count(2); n > 0 {
		s.Windows = make([]WindowCount, n)
		prev := int64(0)
		for i := range n {
			prev += d.varint()
			s.Windows[i] = WindowCount{Start: prev, Count: d.varint()}
		}
	}
	if n := d.count(4); n > 0 {
		s.Pending = make([]PendingRecord, n)
		for i := range n {
			s.Pending[i] = PendingRecord{At: d.varint(), Start: d.varint(), Count: d.varint(), LateID: d.str()}
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
