package http

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const shards = 64

var seed = maphash.MakeSeed()

func shardOf(key string) int { return int(maphash.String(seed, key) % shards) }

// generations is a map bounded to about 2×half entries, in two generations:
// a new key goes into cur; when cur holds half of them, or when prev is gone,
// cur becomes prev and the old prev is dropped. A generation is also dropped
// once every entry in it is stale (the latest staleAt passed), so an entry
// is held about twice its life at most; past the bound, the entries dropped
// early are the oldest ones. Each costs O(1), with one pass over a dropped
// generation to count what it lost.
type generations[V any] struct {
	cur, prev           map[string]V
	curStale, prevStale int64 // the latest staleAt in each generation
}

func (g *generations[V]) get(k string) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.prev[k]
	return v, ok
}

func (g *generations[V]) len() int { return len(g.cur) + len(g.prev) }

func (g *generations[V]) delete(k string) {
	delete(g.cur, k)
	delete(g.prev, k)
}

// replace changes the value of k where it is, if it is.
func (g *generations[V]) replace(k string, v V) {
	if _, ok := g.cur[k]; ok {
		g.cur[k] = v
	} else if _, ok := g.prev[k]; ok {
		g.prev[k] = v
	}
}

// put stores v under k, needed until staleAt, at now, making room first. It
// returns the generation dropped to make room while some of it may still
// have been needed (nil if none), for the caller to count its losses.
func (g *generations[V]) put(k string, v V, staleAt, now int64, half int) (dropped map[string]V) {
	if _, ok := g.cur[k]; ok {
		g.cur[k] = v
		g.curStale = max(g.curStale, staleAt)
		return nil
	}
	delete(g.prev, k)
	if g.prev != nil && g.prevStale <= now {
		g.prev = nil
	}
	if len(g.cur) >= half || (g.prev == nil && len(g.cur) > 0) {
		dropped = g.prev
		g.prev, g.prevStale = g.cur, g.curStale
		g.cur, g.curStale = nil, 0
	}
	if g.cur == nil {
		g.cur = map[string]V{}
	}
	// A copy: k is cut from a request, which it would keep alive.
	g.cur[strings.Clone(k)] = v
	g.curStale = max(g.curStale, staleAt)
	return dropped
}

// usedCache remembers proofs of work used on this replica until they expire,
// to answer 409 challenge_used at once. It is an early answer only, bounded
// in entries (Config.UsedCacheSize; past it the oldest go first): guard is
// what guarantees a replay is never counted. A proof of work this cache
// forgot, or never saw (another replica), is emitted and guard refuses it
// (processors/guard.go; a proof of work is bound to its voter, guard's key):
// judge finds its challenge among the voter's entries (OutcomeReplay); an
// entry leaves the voter's state only once its challenge expired past
// keepMargin (prunable; pow.verify refuses it as expired before that, and
// judge too) or, past GuardEntriesMax entries, below Floor (boundGuard:
// refused as superseded). TestGuardDropsReplays and TestGuardBoundsVoterState
// hold guard to it. Such a replay gets a 202 that counts nothing, which the
// contract allows ("whatever the HTTP tier said"); an honest client resends
// only after a 503 or no answer, whose outcome was unknown.
type usedCache struct {
	half    int // entries per shard generation
	entries prometheus.Gauge
	evicted prometheus.Counter
	shards  [shards]struct {
		sync.Mutex
		generations[int64] // id → expiry, unix seconds
	}
}

func newUsedCache(size int, m *Metrics) *usedCache {
	return &usedCache{half: max(1, size/shards/2),
		entries: m.cacheEntries.WithLabelValues(cacheUsed), evicted: m.evictions.WithLabelValues(cacheUsed)}
}

// claim records id until expires and reports whether it was new.
func (c *usedCache) claim(id string, expires, now time.Time) bool {
	s := &c.shards[shardOf(id)]
	s.Lock()
	defer s.Unlock()
	n := now.Unix()
	if exp, ok := s.get(id); ok && exp > n {
		return false
	}
	before := s.len()
	lost := 0
	for _, exp := range s.put(id, expires.Unix(), expires.Unix(), n, c.half) {
		if exp > n {
			lost++
		}
	}
	c.entries.Add(float64(s.len() - before))
	c.evicted.Add(float64(lost))
	return true
}

// release forgets id (its vote never reached Kafka, the voter may retry).
func (c *usedCache) release(id string) {
	s := &c.shards[shardOf(id)]
	s.Lock()
	before := s.len()
	s.delete(id)
	c.entries.Add(float64(s.len() - before))
	s.Unlock()
}

// voterLimiter applies the per-voter cap at the edge with the rule guard
// applies: at most limit votes accepted in any minute. On one replica it is
// exact, so a vote this replica acknowledges is not one guard then drops for
// the cap; a voter spread over several replicas is still capped by guard. It
// follows at most Config.VoterCacheSize voters (the oldest go first past
// it): a voter forgotten early is capped by guard alone, like one spread
// over replicas.
type voterLimiter struct {
	limit   int
	window  time.Duration
	half    int // voters per shard generation
	entries prometheus.Gauge
	evicted prometheus.Counter
	shards  [shards]struct {
		sync.Mutex
		generations[[]time.Time]
	}
}

func newVoterLimiter(limit int, window time.Duration, size int, m *Metrics) *voterLimiter {
	return &voterLimiter{limit: limit, window: window, half: max(1, size/shards/2),
		entries: m.cacheEntries.WithLabelValues(cacheVoters), evicted: m.evictions.WithLabelValues(cacheVoters)}
}

// take records a vote at now, or returns how long until one is allowed.
func (l *voterLimiter) take(voter string, now time.Time) (retry time.Duration, ok bool) {
	if l.limit <= 0 {
		return 0, true
	}
	s := &l.shards[shardOf(voter)]
	s.Lock()
	defer s.Unlock()
	since := now.Add(-l.window)
	times, _ := s.get(voter)
	times = recent(times, since)
	if ok = len(times) < l.limit; ok {
		times = append(times, now)
	} else {
		retry = times[0].Add(l.window).Sub(now)
	}
	before := s.len()
	lost := 0
	for _, ts := range s.put(voter, times, times[len(times)-1].Add(l.window).UnixNano(), now.UnixNano(), l.half) {
		if len(recent(ts, since)) > 0 {
			lost++
		}
	}
	if d := s.len() - before; d != 0 {
		l.entries.Add(float64(d))
	}
	if lost > 0 {
		l.evicted.Add(float64(lost))
	}
	return retry, ok
}

// give back a vote taken at at (it never reached Kafka).
func (l *voterLimiter) giveBack(voter string, at time.Time) {
	if l.limit <= 0 {
		return
	}
	s := &l.shards[shardOf(voter)]
	s.Lock()
	defer s.Unlock()
	ts, _ := s.get(voter)
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(at) {
			s.replace(voter, append(ts[:i], ts[i+1:]...))
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
