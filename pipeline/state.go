package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
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
// stays bounded whatever the voter's rate, ~200 bytes at 8 entries and ~240
// at a cap of 10. A person holds at most
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

// GuardStateCodec encodes GuardState as paredao.v1.GuardState
// (proto/paredao/v1/guard.proto); it also decodes the hand-written encoding
// of earlier releases.
type GuardStateCodec struct{}

func (GuardStateCodec) Encode(value any) ([]byte, error) {
	s, ok := value.(*GuardState)
	if !ok {
		return nil, fmt.Errorf("guard state codec: unexpected %T", value)
	}
	return AppendGuardState(make([]byte, 0, 16+len(s.Entries)*24), s), nil
}

// AppendGuardState appends s's encoding to b, what proto.Marshal writes for
// paredao.v1.GuardState: entries as the challenge hash and small deltas.
func AppendGuardState(b []byte, s *GuardState) []byte {
	e := pbuf(b).present(1, s.LastOffset).int64(2, s.Floor)
	for _, en := range s.Entries {
		var start int
		e, start = e.open(3)
		e = e.fixed64(1, en.Challenge).sint64(2, s.LastOffset-en.Offset).int64(3, en.AcceptedAt).sint64(4, en.ExpiresAt-en.AcceptedAt/1000)
		e = e.close(start)
	}
	return e
}

func (GuardStateCodec) Decode(data []byte) (any, error) {
	if isLegacy(data) {
		s, err := decodeLegacyGuardState(data)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	r := newPread(data, "guard state", false)
	s := &GuardState{}
	// entries hold deltas from LastOffset, which may come after them
	type raw struct{ back, expiresAfter int64 }
	var deltas [GuardEntriesMax]raw
	var more []raw
	for r.more() {
		switch num, typ := r.next(); {
		case num == 1 && typ == protowire.VarintType:
			s.LastOffset = int64(r.varint())
		case num == 2 && typ == protowire.VarintType:
			s.Floor = int64(r.varint())
		case num == 3 && typ == protowire.BytesType:
			if s.Entries == nil {
				n := 1 + countAfter(r.b, num, typ, 3)
				s.Entries = make([]GuardEntry, 0, n)
			}
			sub := r.sub()
			s.Entries = grow(s.Entries)
			en := &s.Entries[len(s.Entries)-1]
			var d raw
			for sub.more() {
				switch num, typ := sub.next(); {
				case num == 1 && typ == protowire.Fixed64Type:
					en.Challenge = sub.fixed64()
				case num == 2 && typ == protowire.VarintType:
					d.back = protowire.DecodeZigZag(sub.varint())
				case num == 3 && typ == protowire.VarintType:
					en.AcceptedAt = int64(sub.varint())
				case num == 4 && typ == protowire.VarintType:
					d.expiresAfter = protowire.DecodeZigZag(sub.varint())
				default:
					sub.skip(num, typ)
				}
			}
			r.join(&sub)
			if i := len(s.Entries) - 1; i < len(deltas) {
				deltas[i] = d
			} else {
				more = append(more, d)
			}
		default:
			r.skip(num, typ)
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("decode guard state: %w", err)
	}
	for i := range s.Entries {
		d := raw{}
		if i < len(deltas) {
			d = deltas[i]
		} else {
			d = more[i-len(deltas)]
		}
		en := &s.Entries[i]
		en.Offset = s.LastOffset - d.back
		en.ExpiresAt = d.expiresAfter + en.AcceptedAt/1000
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

// TallyStateCodec encodes TallyState as paredao.v1.TallyState
// (proto/paredao/v1/tally.proto); it also decodes the hand-written encoding
// of earlier releases.
type TallyStateCodec struct{}

func (TallyStateCodec) Encode(value any) ([]byte, error) {
	s, ok := value.(*TallyState)
	if !ok {
		return nil, fmt.Errorf("tally state codec: unexpected %T", value)
	}
	size := 32 + len(s.Applied)*2 + len(s.Pending)*48
	for i := range s.Counts {
		size += 24 + len(s.Counts[i].ParedaoID) + len(s.Counts[i].ParticipantID) + len(s.Counts[i].Windows)*12
	}
	return AppendTallyState(make([]byte, 0, size), s), nil
}

// AppendTallyState appends s's encoding to b: what proto.Marshal writes for
// paredao.v1.TallyState.
func AppendTallyState(b []byte, s *TallyState) []byte {
	e := pbuf(b).present(1, int64(s.Partition)).int64(2, s.Floor)
	if len(s.Applied) > 0 {
		var start int
		e, start = e.open(3)
		prev := s.Floor
		for _, off := range s.Applied {
			e = protowire.AppendVarint(e, protowire.EncodeZigZag(off-prev))
			prev = off
		}
		e = e.close(start)
	}
	e = e.int64(4, s.MaxAcceptedAt).int64(5, s.WindowFloor)
	for i := range s.Counts {
		c := &s.Counts[i]
		var start int
		e, start = e.open(6)
		e = e.str(1, c.ParedaoID).str(2, c.ParticipantID).int64(3, c.Total)
		for _, w := range c.Windows {
			var ws int
			e, ws = e.open(4)
			e = e.int64(1, w.Start).int64(2, w.Count).close(ws)
		}
		e = e.close(start)
	}
	for i := range s.Pending {
		p := &s.Pending[i]
		var start int
		e, start = e.open(7)
		e = e.int64(1, p.At).str(2, p.ParedaoID).str(3, p.ParticipantID).int64(4, p.Start).int64(5, p.Count).str(6, p.LateID)
		e = e.close(start)
	}
	return e
}

func (TallyStateCodec) Decode(data []byte) (any, error) {
	if isLegacy(data) {
		s, err := decodeLegacyTallyState(data)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	r := newPread(data, "tally state", true)
	s := &TallyState{}
	// applied offsets are deltas from Floor, which may come after them
	var applied []int64
	appendDelta := func(v uint64) { applied = append(applied, protowire.DecodeZigZag(v)) }
	for r.more() {
		switch num, typ := r.next(); {
		case num == 1 && typ == protowire.VarintType:
			s.Partition = int32(r.varint())
		case num == 2 && typ == protowire.VarintType:
			s.Floor = int64(r.varint())
		case num == 3 && typ == protowire.VarintType:
			appendDelta(r.varint())
		case num == 3 && typ == protowire.BytesType:
			packed := r.sub()
			if applied == nil {
				applied = make([]int64, 0, len(packed.b))
			}
			for packed.more() {
				appendDelta(packed.varint())
			}
			r.join(&packed)
		case num == 4 && typ == protowire.VarintType:
			s.MaxAcceptedAt = int64(r.varint())
		case num == 5 && typ == protowire.VarintType:
			s.WindowFloor = int64(r.varint())
		case num == 6 && typ == protowire.BytesType:
			if s.Counts == nil {
				s.Counts = make([]ParticipantCount, 0, 1+countAfter(r.b, num, typ, 6))
			}
			sub := r.sub()
			s.Counts = grow(s.Counts)
			c := &s.Counts[len(s.Counts)-1]
			for sub.more() {
				switch num, typ := sub.next(); {
				case num == 1 && typ == protowire.BytesType:
					c.ParedaoID = sub.shared()
				case num == 2 && typ == protowire.BytesType:
					c.ParticipantID = sub.shared()
				case num == 3 && typ == protowire.VarintType:
					c.Total = int64(sub.varint())
				case num == 4 && typ == protowire.BytesType:
					if c.Windows == nil {
						c.Windows = make([]WindowCount, 0, 1+countAfter(sub.b, num, typ, 4))
					}
					ws := sub.sub()
					c.Windows = grow(c.Windows)
					w := &c.Windows[len(c.Windows)-1]
					for ws.more() {
						switch num, typ := ws.next(); {
						case num == 1 && typ == protowire.VarintType:
							w.Start = int64(ws.varint())
						case num == 2 && typ == protowire.VarintType:
							w.Count = int64(ws.varint())
						default:
							ws.skip(num, typ)
						}
					}
					sub.join(&ws)
				default:
					sub.skip(num, typ)
				}
			}
			r.join(&sub)
		case num == 7 && typ == protowire.BytesType:
			if s.Pending == nil {
				s.Pending = make([]PendingRecord, 0, 1+countAfter(r.b, num, typ, 7))
			}
			sub := r.sub()
			s.Pending = grow(s.Pending)
			p := &s.Pending[len(s.Pending)-1]
			for sub.more() {
				switch num, typ := sub.next(); {
				case num == 1 && typ == protowire.VarintType:
					p.At = int64(sub.varint())
				case num == 2 && typ == protowire.BytesType:
					p.ParedaoID = sub.shared()
				case num == 3 && typ == protowire.BytesType:
					p.ParticipantID = sub.shared()
				case num == 4 && typ == protowire.VarintType:
					p.Start = int64(sub.varint())
				case num == 5 && typ == protowire.VarintType:
					p.Count = int64(sub.varint())
				case num == 6 && typ == protowire.BytesType:
					p.LateID = sub.shared()
				default:
					sub.skip(num, typ)
				}
			}
			r.join(&sub)
		default:
			r.skip(num, typ)
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("decode tally state: %w", err)
	}
	if len(applied) > 0 {
		prev := s.Floor
		for i, d := range applied {
			prev += d
			applied[i] = prev
		}
		s.Applied = applied
	}
	return s, nil
}

// WindowStart is the start of the tumbling window of size that holds t.
func WindowStart(t time.Time, size time.Duration) time.Time {
	return t.Truncate(size).UTC()
}
