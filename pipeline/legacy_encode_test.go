package pipeline

import (
	"encoding/binary"
	"encoding/json"
	"slices"
)

// The encoders of the hand-written encoding (wire version 3) as the last
// release before Protocol Buffers had them, kept to test that their output
// still decodes (TestLegacyDecode); testdata/legacy holds bytes they wrote
// in that release.

type enc []byte

func (e enc) uvarint(v uint64) enc { return binary.AppendUvarint(e, v) }
func (e enc) varint(v int64) enc   { return binary.AppendVarint(e, v) }
func (e enc) str(s string) enc     { return append(e.uvarint(uint64(len(s))), s...) }

func legacyAppendVote(b []byte, v *Vote) []byte {
	return enc(b).uvarint(legacyVersion).str(v.ID).str(v.ParedaoID).str(v.ParticipantID).
		str(v.VoterID).str(v.ChallengeID).varint(v.AcceptedAt.UnixMilli()).varint(v.ExpiresAt.Unix())
}

func legacyAppendBallotBatch(out []byte, b *BallotBatch) []byte {
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
	e := enc(out).uvarint(legacyVersion).varint(int64(b.SourcePartition)).varint(b.AckedBelow).uvarint(uint64(len(pairs)))
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

func legacyAppendWindowRecord(b []byte, w *WindowRecord) []byte {
	return enc(b).uvarint(legacyVersion).str(w.ParedaoID).str(w.ParticipantID).
		uvarint(uint64(w.Shard)).varint(w.WindowStart.Unix()).varint(w.Count).str(w.LateID)
}

func legacyAppendGuardState(b []byte, s *GuardState) []byte {
	e := enc(b).uvarint(legacyVersion).varint(s.LastOffset).varint(s.Floor).uvarint(uint64(len(s.Entries)))
	for _, en := range s.Entries {
		e = binary.LittleEndian.AppendUint64(e, en.Challenge)
		e = e.varint(s.LastOffset - en.Offset).varint(en.AcceptedAt).varint(en.ExpiresAt - en.AcceptedAt/1000)
	}
	return e
}

func legacyAppendTallyState(b []byte, s *TallyState) []byte {
	e := enc(b).uvarint(legacyVersion).varint(int64(s.Partition)).varint(s.Floor).uvarint(uint64(len(s.Applied)))
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

func legacyEncodeParedao(p *Paredao) []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}
