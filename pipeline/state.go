package pipeline

import (
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
// Sources holds, per VotesStream partition, the highest vote offset counted:
// guard emits a partition's ballots in offset order (idempotent producer), so
// a ballot at or below it was counted already. Windows holds the counts of the
// windows not yet retired, oldest first; Floor is the start of the oldest
// window that may still be held: a ballot for an earlier window is late and
// travels to the sink alone. The floor moves with MaxAcceptedAt, the newest
// acceptance time counted (event time, never the wall clock), so whether a
// ballot is late depends only on the ballots before it and a replay after a
// crash decides it the same way.
type TallyState struct {
	Total         int64
	MaxAcceptedAt int64 // unix milliseconds
	Floor         int64 // unix seconds, a window start
	Sources       []SourceOffset
	Windows       []WindowCount
}

// SourceOffset is the highest offset counted from one VotesStream partition.
type SourceOffset struct {
	Partition int32
	Offset    int64
}

// WindowCount is one window's count and the count last sent to the sink.
type WindowCount struct {
	Start   int64 // unix seconds
	Count   int64
	Emitted int64
}

// Seen reports whether the vote at (partition, offset) was counted already.
func (s *TallyState) Seen(partition int32, offset int64) bool {
	for _, so := range s.Sources {
		if so.Partition == partition {
			return offset <= so.Offset
		}
	}
	return false
}

// MarkSeen records the vote at (partition, offset) as counted.
func (s *TallyState) MarkSeen(partition int32, offset int64) {
	for i := range s.Sources {
		if s.Sources[i].Partition == partition {
			s.Sources[i].Offset = max(s.Sources[i].Offset, offset)
			return
		}
	}
	s.Sources = append(s.Sources, SourceOffset{Partition: partition, Offset: offset})
	slices.SortFunc(s.Sources, func(a, b SourceOffset) int { return int(a.Partition) - int(b.Partition) })
}

// Window returns the index of the window starting at start, adding it when
// missing, keeping Windows sorted.
func (s *TallyState) Window(start int64) int {
	i, found := slices.BinarySearchFunc(s.Windows, start, func(w WindowCount, t int64) int {
		switch {
		case w.Start < t:
			return -1
		case w.Start > t:
			return 1
		}
		return 0
	})
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
	return AppendTallyState(make([]byte, 0, 32+len(s.Sources)*8+len(s.Windows)*12), s), nil
}

// AppendTallyState appends s's encoding to b.
func AppendTallyState(b []byte, s *TallyState) []byte {
	e := enc(b).uvarint(wireVersion).varint(s.Total).varint(s.MaxAcceptedAt).varint(s.Floor).uvarint(uint64(len(s.Sources)))
	for _, so := range s.Sources {
		e = e.varint(int64(so.Partition)).varint(so.Offset)
	}
	e = e.uvarint(uint64(len(s.Windows)))
	prev := int64(0)
	for _, w := range s.Windows {
		e = e.varint(w.Start - prev).varint(w.Count).varint(w.Emitted)
		prev = w.Start
	}
	return e
}

func (TallyStateCodec) Decode(data []byte) (any, error) {
	d := dec{b: data}
	d.version()
	s := &TallyState{Total: d.varint(), MaxAcceptedAt: d.varint(), Floor: d.varint()}
	if n := d.count(2); n > 0 {
		s.Sources = make([]SourceOffset, n)
		for i := range n {
			s.Sources[i] = SourceOffset{Partition: int32(d.varint()), Offset: d.varint()}
		}
	}
	if n := d.count(3); n > 0 {
		s.Windows = make([]WindowCount, n)
		prev := int64(0)
		for i := range n {
			prev += d.varint()
			s.Windows[i] = WindowCount{Start: prev, Count: d.varint(), Emitted: d.varint()}
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
