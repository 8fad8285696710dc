package http

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func (c *usedCache) size() int {
	n := 0
	for i := range c.shards {
		c.shards[i].Lock()
		n += c.shards[i].len()
		c.shards[i].Unlock()
	}
	return n
}

func (l *voterLimiter) size() int {
	n := 0
	for i := range l.shards {
		l.shards[i].Lock()
		n += l.shards[i].len()
		l.shards[i].Unlock()
	}
	return n
}

// The used-challenge cache holds at most its size in entries, whatever the
// number of live proofs of work: past it the oldest are forgotten (counted as
// evictions) and the newest are still refused at once. A forgotten one is
// accepted here again and left to guard, which refuses replays exactly
// (processors: TestGuardDropsReplays, TestGuardBoundsVoterState).
func TestUsedCacheIsBounded(t *testing.T) {
	const size = shards * 8
	m := NewMetrics(nil)
	c := newUsedCache(size, m)
	now := time.Unix(1_800_000_000, 0)
	expires := now.Add(2 * time.Minute)
	const n = 100 * size
	for i := range n {
		if !c.claim(fmt.Sprint("nonce-", i), expires, now) {
			t.Fatalf("nonce %d refused on its first use", i)
		}
		if got := c.size(); got > size {
			t.Fatalf("after %d claims the cache holds %d entries, bound %d", i+1, got, size)
		}
	}
	entries := gaugeValue(t, m.cacheEntries.WithLabelValues(cacheUsed))
	if int(entries) != c.size() {
		t.Errorf("paredao_http_cache_entries{cache=used_challenges} = %v, the cache holds %d", entries, c.size())
	}
	if evicted := counterValue(t, m.evictions.WithLabelValues(cacheUsed)); int(evicted)+c.size() != n {
		t.Errorf("evictions %v + held %d != %d claimed, all still live", evicted, c.size(), n)
	}
	// The newest of each shard is certainly held: the last claim is refused again.
	if c.claim(fmt.Sprint("nonce-", n-1), expires, now) {
		t.Error("the newest proof of work was accepted twice")
	}
	if !c.claim("nonce-0", expires, now) {
		t.Error("the oldest proof of work, evicted, is still refused here: the cache is not bounded the way it says")
	}
	c.release("nonce-0")
	if !c.claim("nonce-0", expires, now) {
		t.Error("a released proof of work is refused")
	}
}

// Expired proofs of work leave the cache without size pressure, and are not
// counted as evictions.
func TestUsedCacheDropsExpired(t *testing.T) {
	m := NewMetrics(nil)
	c := newUsedCache(1<<20, m)
	now := time.Unix(1_800_000_000, 0)
	const n = shards * 50
	for i := range n {
		c.claim(fmt.Sprint("old-", i), now.Add(time.Minute), now)
	}
	if c.size() != n {
		t.Fatalf("holds %d, want %d", c.size(), n)
	}
	later := now.Add(time.Minute + time.Second)
	for i := range n {
		c.claim(fmt.Sprint("new-", i), later.Add(time.Minute), later)
	}
	if c.size() != n {
		t.Errorf("holds %d after the first %d expired, want the %d new ones", c.size(), n, n)
	}
	if !c.claim("old-1", later.Add(time.Minute), later) {
		t.Error("an expired proof of work is still refused")
	}
	if e := counterValue(t, m.evictions.WithLabelValues(cacheUsed)); e != 0 {
		t.Errorf("%v evictions counted for expired entries", e)
	}
	if g := gaugeValue(t, m.cacheEntries.WithLabelValues(cacheUsed)); int(g) != c.size() {
		t.Errorf("gauge %v, holds %d", g, c.size())
	}
}

// The edge's per-voter cap follows at most its size in voters, still caps a
// voter it holds exactly, and forgets voters idle for its window.
func TestVoterLimiterIsBounded(t *testing.T) {
	const size = shards * 8
	m := NewMetrics(nil)
	l := newVoterLimiter(2, time.Minute, size, m)
	now := time.Unix(1_800_000_000, 0)
	const n = 50 * size
	for i := range n {
		if _, ok := l.take(fmt.Sprint("voter-", i), now); !ok {
			t.Fatalf("voter %d capped on its first vote", i)
		}
		if got := l.size(); got > size {
			t.Fatalf("after %d voters the limiter holds %d, bound %d", i+1, got, size)
		}
	}
	if e := counterValue(t, m.evictions.WithLabelValues(cacheVoters)); int(e)+l.size() != n {
		t.Errorf("evictions %v + held %d != %d voters, all within the minute", e, l.size(), n)
	}
	last := fmt.Sprint("voter-", n-1)
	if _, ok := l.take(last, now.Add(time.Second)); !ok {
		t.Fatal("second vote of the newest voter capped")
	}
	retry, ok := l.take(last, now.Add(2*time.Second))
	if ok || retry != time.Minute-2*time.Second {
		t.Fatalf("third vote in a minute: ok %v, retry %v; want capped, retry 58s", ok, retry)
	}
	l.giveBack(last, now.Add(time.Second))
	if _, ok := l.take(last, now.Add(3*time.Second)); !ok {
		t.Fatal("a vote given back still counts against the cap")
	}

}

// Voters idle for the cap's window leave the limiter without size pressure,
// and are not counted as evictions.
func TestVoterLimiterDropsIdle(t *testing.T) {
	m := NewMetrics(nil)
	l := newVoterLimiter(10, time.Minute, 1<<18, m)
	now := time.Unix(1_800_000_000, 0)
	const n = shards * 50
	for i := range n {
		l.take(fmt.Sprint("early-", i), now)
	}
	later := now.Add(time.Minute)
	for i := range n {
		l.take(fmt.Sprint("late-", i), later)
	}
	if l.size() != n {
		t.Errorf("holds %d, want only the %d voters of the last minute", l.size(), n)
	}
	if e := counterValue(t, m.evictions.WithLabelValues(cacheVoters)); e != 0 {
		t.Errorf("%v idle voters counted as evictions", e)
	}
	if g := gaugeValue(t, m.cacheEntries.WithLabelValues(cacheVoters)); int(g) != l.size() {
		t.Errorf("gauge %v, holds %d", g, l.size())
	}
}
