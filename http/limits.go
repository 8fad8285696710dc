package http

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

const shards = 64

var seed = maphash.MakeSeed()

func shardOf(key string) int { return int(maphash.String(seed, key) % shards) }

// usedCache remembers proofs of work used on this replica until they expire,
// to answer 409 challenge_used at once. It is best effort (one replica, bounded
// size): guard is what guarantees a replay is never counted.
type usedCache struct {
	max    int
	shards [shards]struct {
		sync.Mutex
		m map[string]int64 // id → expiry, unix seconds
	}
}

func newUsedCache(max int) *usedCache {
	c := &usedCache{max: max / shards}
	for i := range c.shards {
		c.shards[i].m = map[string]int64{}
	}
	return c
}

// claim records id until expires and reports whether it was new.
func (c *usedCache) claim(id string, expires, now time.Time) bool {
	s := &c.shards[shardOf(id)]
	s.Lock()
	defer s.Unlock()
	if exp, ok := s.m[id]; ok && exp > now.Unix() {
		return false
	}
	if len(s.m) >= c.max {
		for k, exp := range s.m {
			if exp <= now.Unix() {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.max {
			return true // full of live entries: forget nothing, let guard judge
		}
	}
	// A copy: id is cut from the decoded payload, which it would keep alive.
	s.m[strings.Clone(id)] = expires.Unix()
	return true
}

// release forgets id (its vote never reached Kafka, the voter may retry).
func (c *usedCache) release(id string) {
	s := &c.shards[shardOf(id)]
	s.Lock()
	delete(s.m, id)
	s.Unlock()
}

// voterLimiter applies the per-voter cap at the edge with the rule guard
// applies: at most limit votes accepted in any minute. On one replica it is
// exact, so a vote this replica acknowledges is not one guard then drops for
// the cap; a voter spread over several replicas is still capped by guard.
type voterLimiter struct {
	limit  int
	window time.Duration
	shards [shards]struct {
		sync.Mutex
		m       map[string][]time.Time
		inserts int
	}
}

func newVoterLimiter(limit int, window time.Duration) *voterLimiter {
	l := &voterLimiter{limit: limit, window: window}
	for i := range l.shards {
		l.shards[i].m = map[string][]time.Time{}
	}
	return l
}

// take records a vote at now, or returns how long until one is allowed.
func (l *voterLimiter) take(voter string, now time.Time) (retry time.Duration, ok bool) {
	if l.limit <= 0 {
		return 0, true
	}
	s := &l.shards[shardOf(voter)]
	s.Lock()
	defer s.Unlock()
	times := recent(s.m[voter], now.Add(-l.window))
	if len(times) >= l.limit {
		s.m[voter] = times
		return times[0].Add(l.window).Sub(now), false
	}
	s.m[voter] = append(times, now)
	if s.inserts++; s.inserts%4096 == 0 {
		for k, ts := range s.m {
			if len(recent(ts, now.Add(-l.window))) == 0 {
				delete(s.m, k)
			}
		}
	}
	return 0, true
}

// give back a vote taken at at (it never reached Kafka).
func (l *voterLimiter) giveBack(voter string, at time.Time) {
	if l.limit <= 0 {
		return
	}
	s := &l.shards[shardOf(voter)]
	s.Lock()
	defer s.Unlock()
	ts := s.m[voter]
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(at) {
			s.m[voter] = append(ts[:i], ts[i+1:]...)
			return
		}
	}
}

// recent drops the times at or before since (times are in order).
func recent(times []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(since) {
		i++
	}
	return times[i:]
}
