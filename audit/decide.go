package audit

import (
	"time"

	"github.com/paredao/paredao/pipeline"
)

// Reasons a vote is or is not counted, as the recount decides them. The
// voter rules (the first six) are guard's, as topology.md states them; the
// last two check a vote of the recounted paredão against its catalog entry,
// which guard never does (the web tier checked it before writing the vote).
const (
	ReasonCounted            = "counted"
	ReasonInvalid            = "invalid_vote" // no paredão, participant or challenge: the web tier never writes one
	ReasonExpired            = "expired"      // accepted after its challenge expired
	ReasonSuperseded         = "superseded"   // challenge expiring at or before the voter's floor
	ReasonReplay             = "replay"       // a proof of work already counted for this voter
	ReasonRateLimited        = "rate_limited" // the voter's cap of votes in the last minute was reached
	ReasonClosed             = "closed"       // passed the voter rules, but accepted outside [opensAt, closesAt)
	ReasonUnknownParticipant = "unknown_participant"
)

// The rules' constants, from topology.md ("Exactly once, stage by stage").
const (
	rateWindowMs = int64(time.Minute / time.Millisecond)     // span of the per-voter cap
	marginMs     = int64(5 * time.Minute / time.Millisecond) // entries are kept this long past need
)

// entry is one accepted challenge of a voter.
type entry struct {
	vote       string // the vote's id (a replay's receipt names it)
	challenge  uint64 // pipeline.ChallengeHash of the challenge id (guard's 64-bit FNV-1a)
	acceptedAt int64  // unix ms
	expiresAt  int64  // unix s
}

type voter struct {
	entries   []entry
	floor     int64 // unix s: a challenge expiring at or before it is superseded
	partition int32 // the votes partition of its votes (the key's)
}

// Decider decides votes by the voter rules, one voter's votes in log order.
// It keeps, per voter, the challenges accepted and not yet forgotten, as
// guard does with every earlier vote complete: the recount reads a log
// whose every record is written, so nothing is "in flight".
type Decider struct {
	cap    int // votes per voter per minute; 0 unlimited
	limit  int // entries kept per voter before the floor rises
	voters map[string]*voter
	// ReplayOf is, after Decide answered ReasonReplay, the id of the vote
	// whose proof of work it replays.
	ReplayOf string
}

// NewDecider returns a Decider for a per-voter cap of votesPerMinute (0:
// unlimited).
func NewDecider(votesPerMinute int) *Decider {
	return &Decider{cap: votesPerMinute, limit: max(pipeline.GuardEntriesMax, votesPerMinute), voters: map[string]*voter{}}
}

// Voters is how many voters the decider holds state for.
func (d *Decider) Voters() int { return len(d.voters) }

// Decide decides v, the next vote of its voter in log order, and returns
// ReasonCounted or why it is not counted. The rules, in order:
//
//  1. Forget the voter's entries past need at v's acceptance time: challenge
//     expired more than 5 minutes ago and accepted more than a minute plus 5
//     minutes ago.
//  2. A vote without paredão, participant or challenge is invalid.
//  3. Accepted after its challenge's expiry: expired.
//  4. Its challenge expires at or before the voter's floor: superseded.
//  5. Its challenge is one of the voter's entries: replay.
//  6. The voter has cap entries accepted in the minute before it (strictly
//     after acceptedAt − 1 min): rate limited.
//  7. Otherwise it counts and becomes an entry; while the voter holds more
//     than max(8, cap) entries, the entries of the earliest expiry second
//     before v's own go and the floor rises to that second.
func (d *Decider) Decide(v *pipeline.Vote) string { return d.DecideIn(0, v) }

// DecideIn is Decide for a vote read from votes partition partition (Sweep
// forgets a voter by its partition's progress).
func (d *Decider) DecideIn(partition int32, v *pipeline.Vote) string {
	s := d.voters[v.VoterID]
	if s == nil {
		s = &voter{partition: partition}
		d.voters[v.VoterID] = s
	}
	now := v.AcceptedAt.UnixMilli()
	s.forget(now)
	expires := v.ExpiresAt.Unix()
	switch {
	case v.ParedaoID == "" || v.ParticipantID == "" || v.ChallengeID == "":
		return ReasonInvalid
	case v.AcceptedAt.After(v.ExpiresAt):
		return ReasonExpired
	case expires <= s.floor:
		return ReasonSuperseded
	}
	h := pipeline.ChallengeHash(v.ChallengeID)
	inMinute := 0
	for _, e := range s.entries {
		if e.challenge == h {
			d.ReplayOf = e.vote
			return ReasonReplay
		}
		if e.acceptedAt > now-rateWindowMs {
			inMinute++
		}
	}
	if d.cap > 0 && inMinute >= d.cap {
		return ReasonRateLimited
	}
	s.entries = append(s.entries, entry{vote: v.ID, challenge: h, acceptedAt: now, expiresAt: expires})
	s.bound(d.limit, expires)
	return ReasonCounted
}

// forget drops the entries neither replay detection nor the cap can need at
// now (unix ms), with the margin.
func (s *voter) forget(now int64) {
	kept := s.entries[:0]
	for _, e := range s.entries {
		if e.expiresAt*1000+marginMs >= now || e.acceptedAt+rateWindowMs+marginMs >= now {
			kept = append(kept, e)
		}
	}
	s.entries = kept
}

// bound keeps at most limit entries by raising the floor to the earliest
// expiry second before newest (unix s, the vote just counted) and dropping
// the entries of that second and any earlier one.
func (s *voter) bound(limit int, newest int64) {
	for len(s.entries) > limit {
		earliest, found := int64(0), false
		for _, e := range s.entries {
			if e.expiresAt < newest && (!found || e.expiresAt < earliest) {
				earliest, found = e.expiresAt, true
			}
		}
		if !found {
			return
		}
		s.floor = max(s.floor, earliest)
		kept := s.entries[:0]
		for _, e := range s.entries {
			if e.expiresAt > earliest {
				kept = append(kept, e)
			}
		}
		s.entries = kept
	}
}

// Sweep forgets the voters none of whose entries is needed any more at their
// partition's now (unix ms: the newest acceptance time read from it; ok
// false: leave the partition's voters alone), as guard's prune visitor
// deletes idle voters: a later vote of theirs with one of those challenges,
// or one at or before the floor, is expired whether the voter is known or
// not (within the 5 min margin of the newest time), so the recount's memory
// follows the active voters without changing a decision.
func (d *Decider) Sweep(now func(partition int32) (int64, bool)) (forgotten int) {
	for id, s := range d.voters {
		t, ok := now(s.partition)
		if !ok {
			continue
		}
		s.forget(t)
		if len(s.entries) == 0 {
			delete(d.voters, id)
			forgotten++
		}
	}
	return forgotten
}
