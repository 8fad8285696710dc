package http

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Adaptive difficulty. Every challenge issued (GET /api/v1/challenge and
// the nextChallenge of a 202) counts as activity of its voter cookie and of
// its client's address prefix (/24 for IPv4, /64 for IPv6). Each source's
// rate over the last minute gives it a level: 0 up to its threshold, then
// one more each time the rate is 4 times higher ((T, 4T] → 1, (4T, 16T] → 2,
// ...). The challenge gets the higher of the two levels, capped at MaxLevel,
// and its maxnumber is PowMaxNumber × 4^level: a scripted source pays about
// 4 times more per vote for each 4 times more votes, so its work per minute
// grows with the square of its rate, while a person voting every few seconds
// stays at level 0. The level is written in the challenge's salt (m=),
// which the signature binds: verify checks the number against it.
//
// The counts are a deterrent, per replica and approximate (a sliding
// window over two fixed minutes, in a map bounded in entries); the exact
// per-voter cap is guard's.

// DifficultyFactor is how much maxnumber grows per level.
const DifficultyFactor = 4

// MaxDifficultyLevel bounds Config.PowMaxLevel.
const MaxDifficultyLevel = 10

// difficultyWindow is the period activity is counted over.
const difficultyWindow = time.Minute

// difficulty chooses each challenge's maxnumber from its sources' activity.
type difficulty struct {
	base         int64
	maxLevel     int
	cookiePerMin int // challenges per minute per voter cookie at level 0; 0 = not counted
	prefixPerMin int // challenges per minute per address prefix at level 0; 0 = not counted
	activity     *activity
	handed       [MaxDifficultyLevel + 1]atomic.Uint64 // challenges issued per level
	levels       *prometheus.CounterVec
	counters     []prometheus.Counter // levels' children, per level
}

func newDifficulty(cfg Config, m *Metrics) *difficulty {
	d := &difficulty{base: cfg.PowMaxNumber, maxLevel: min(max(cfg.PowMaxLevel, 0), MaxDifficultyLevel),
		cookiePerMin: cfg.PowCookiePerMin, prefixPerMin: cfg.PowPrefixPerMin,
		levels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_http_challenge_difficulty_total",
			Help: "Challenges issued, by difficulty level (maxnumber = base × 4^level).",
		}, []string{"level"}),
	}
	size := cfg.PowCacheSize
	if size == 0 {
		size = 1 << 18
	}
	d.activity = newActivity(size, m.cacheEntries.WithLabelValues(cacheActive), m.evictions.WithLabelValues(cacheActive))
	for k := 0; k <= d.maxLevel; k++ {
		d.counters = append(d.counters, d.levels.WithLabelValues(strconv.Itoa(k)))
	}
	return d
}

// levelOf is the level of rate (per minute) against threshold: 0 up to it,
// then one more per factor of DifficultyFactor above it.
func levelOf(rate float64, threshold int) int {
	if threshold <= 0 {
		return 0
	}
	k := 0
	for lim := float64(threshold); rate > lim && k < MaxDifficultyLevel; lim *= DifficultyFactor {
		k++
	}
	return k
}

// maxNumberAt is the maxnumber of level k: base × 4^k.
func maxNumberAt(base int64, k int) int64 {
	return base << (2 * k)
}

// next records a challenge for voter from addr at now and returns its level
// and maxnumber.
func (d *difficulty) next(voter, addr string, now time.Time) (int, int64) {
	k := 0
	if d.maxLevel > 0 {
		if d.cookiePerMin > 0 && voter != "" {
			k = levelOf(d.activity.record("v|"+voter, now), d.cookiePerMin)
		}
		if d.prefixPerMin > 0 {
			k = max(k, levelOf(d.activity.record("a|"+addressPrefix(addr), now), d.prefixPerMin))
		}
		k = min(k, d.maxLevel)
	}
	d.handed[k].Add(1)
	d.counters[k].Inc()
	return k, maxNumberAt(d.base, k)
}

// difficultyLevels are the challenges this replica issued at each level
// since it started (index: level), for the abuse panel.
func (s *Server) difficultyLevels() []uint64 {
	out := make([]uint64, s.difficulty.maxLevel+1)
	for k := range out {
		out[k] = s.difficulty.handed[k].Load()
	}
	return out
}

// issueChallenge mints the challenge for voter on paredao at the difficulty
// of its cookie's and address prefix's recent activity.
func (s *Server) issueChallenge(r *http.Request, voter, paredao string, now time.Time) (Challenge, error) {
	level, n := s.difficulty.next(voter, clientAddr(r, s.cfg.TrustedProxies), now)
	c, err := s.pow.issueWith(voter, paredao, now, n)
	if err == nil {
		s.abuse.of(paredao).difficulty(level)
	}
	return c, err
}

// addressPrefix groups IPv4 clients by /24 and IPv6 clients by /64.
func addressPrefix(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

// activity counts events per key over a sliding minute: the count of the
// current fixed minute plus the previous minute's, weighted by how much of
// it the sliding minute still covers. A key quiet for two minutes counts
// nothing and its entry is dropped. Entries are bounded like usedCache's.
type activity struct {
	half    int
	entries prometheus.Gauge
	evicted prometheus.Counter
	shards  [shards]struct {
		sync.Mutex
		generations[counts]
	}
}

// counts are a key's events in minute win and in the one before.
type counts struct {
	win       int64 // minutes since the epoch
	cur, prev uint32
}

func newActivity(size int, entries prometheus.Gauge, evicted prometheus.Counter) *activity {
	return &activity{half: max(1, size/shards/2), entries: entries, evicted: evicted}
}

// record counts one event of key at now and returns its rate per minute,
// this event included.
func (a *activity) record(key string, now time.Time) float64 {
	s := &a.shards[shardOf(key)]
	n := now.UnixNano()
	win := n / int64(difficultyWindow)
	s.Lock()
	defer s.Unlock()
	c, _ := s.get(key)
	switch c.win {
	case win:
	case win - 1:
		c = counts{win: win, prev: c.cur}
	default:
		c = counts{win: win}
	}
	if c.cur < ^uint32(0) {
		c.cur++
	}
	before := s.len()
	lost := 0
	for _, old := range s.put(key, c, (win+2)*int64(difficultyWindow), n, a.half) {
		if old.win >= win-1 {
			lost++
		}
	}
	if d := s.len() - before; d != 0 {
		a.entries.Add(float64(d))
	}
	if lost > 0 {
		a.evicted.Add(float64(lost))
	}
	return c.rate(n)
}

// rate is the events per minute of the sliding minute ending at n (unix ns).
func (c counts) rate(n int64) float64 {
	elapsed := float64(n-c.win*int64(difficultyWindow)) / float64(difficultyWindow)
	return float64(c.cur) + float64(c.prev)*(1-elapsed)
}

// len is the number of keys held.
func (a *activity) len() int {
	n := 0
	for i := range a.shards {
		s := &a.shards[i]
		s.Lock()
		n += s.len()
		s.Unlock()
	}
	return n
}

// MaxPowNumber bounds the highest maxnumber (base × 4^PowMaxLevel): the
// largest integer a browser's number holds exactly.
const MaxPowNumber = 1<<53 - 1
