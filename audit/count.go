package audit

import (
	"encoding/binary"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// Bucket is one participant's votes in one time span (an hour or a window).
type Bucket struct {
	Participant string
	Start       time.Time // UTC
}

// Count is the recount of one paredão: every vote of the log goes through
// Add in log order (the voter rules need every paredão's votes: the cap and
// the challenges are the voter's), and those of the paredão are counted.
type Count struct {
	Paredao pipeline.Paredao
	Window  time.Duration // the report's window (PAREDAO_WINDOW)

	Total        int64
	Participants map[string]int64
	Hours        map[Bucket]int64
	Minutes      map[Bucket]int64
	Refused      map[string]int64 // votes of the paredão not counted, by reason
	Read         int64            // votes read, every paredão

	decider *Decider
	// counted and refused are the leaves of the certificate's trees per
	// votes partition, in offset order: a counted vote's id; a refused
	// one's id, a space and its reason, and for a replay a space and the id
	// of the vote it replays.
	counted, refused map[int32]*leafLog
}

// leafLog is a partition's leaves, each a uvarint length and its bytes:
// about 25 bytes a vote instead of a string's 40.
type leafLog struct {
	data []byte
	n    int64
}

func (l *leafLog) add(parts ...string) {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	l.data = binary.AppendUvarint(l.data, uint64(size))
	for _, p := range parts {
		l.data = append(l.data, p...)
	}
	l.n++
}

// each calls f with every leaf in order.
func (l *leafLog) each(f func(leaf string)) {
	b := l.data
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		f(string(b[k : k+int(n)]))
		b = b[k+int(n):]
	}
}

func (c *Count) leaf(trees map[int32]*leafLog, partition int32) *leafLog {
	l := trees[partition]
	if l == nil {
		l = &leafLog{}
		trees[partition] = l
	}
	return l
}

// NewCount recounts p with the per-voter cap votesPerMinute and windows of
// window.
func NewCount(p pipeline.Paredao, votesPerMinute int, window time.Duration) *Count {
	if window <= 0 {
		window = time.Minute
	}
	c := &Count{Paredao: p, Window: window, Participants: map[string]int64{}, Hours: map[Bucket]int64{},
		Minutes: map[Bucket]int64{}, Refused: map[string]int64{}, decider: NewDecider(votesPerMinute),
		counted: map[int32]*leafLog{}, refused: map[int32]*leafLog{}}
	for _, x := range p.Participants {
		c.Participants[x.ID] = 0
	}
	return c
}

// Add decides v, the next vote of its voter in log order, and counts it if
// it is of the paredão and counts. It returns the reason (ReasonCounted or
// why not). A vote that passes the voter rules stays the voter's entry
// whatever its paredão, as in guard; one of the recounted paredão then
// counts only when accepted in [opensAt, closesAt) for one of its
// participants.
func (c *Count) Add(v *pipeline.Vote) string { return c.AddIn(0, v) }

// AddIn is Add for a vote read from votes partition partition.
func (c *Count) AddIn(partition int32, v *pipeline.Vote) string {
	c.Read++
	reason := c.decider.DecideIn(partition, v)
	if v.ParedaoID != c.Paredao.ID {
		return reason
	}
	if reason == ReasonCounted {
		if _, ok := c.Participants[v.ParticipantID]; !ok {
			reason = ReasonUnknownParticipant
		} else if v.AcceptedAt.Before(c.Paredao.OpensAt) || !v.AcceptedAt.Before(c.Paredao.ClosesAt) {
			reason = ReasonClosed
		}
	}
	if reason != ReasonCounted {
		c.Refused[reason]++
		if reason == ReasonReplay {
			c.leaf(c.refused, partition).add(v.ID, " ", reason, " ", c.decider.ReplayOf)
		} else {
			c.leaf(c.refused, partition).add(v.ID, " ", reason)
		}
		return reason
	}
	c.leaf(c.counted, partition).add(v.ID)
	at := v.AcceptedAt.UTC()
	c.Total++
	c.Participants[v.ParticipantID]++
	c.Hours[Bucket{v.ParticipantID, at.Truncate(time.Hour)}]++
	c.Minutes[Bucket{v.ParticipantID, at.Truncate(c.Window)}]++
	return reason
}
