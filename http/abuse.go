package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// Abuse in sight: per paredão and per web replica, the last hour minute by
// minute — votes accepted, votes refused by reason, the difficulty levels of
// the challenges handed out — and the sources (address prefixes, voter
// cookies) that sent the most votes. Served by
// GET /api/v1/production/paredoes/{id}/abuse.
//
// Counts per minute are exact for this replica. The top sources come from a
// Space-Saving summary of abuseCounters counters per minute, merged over the
// hour: a source's votes are overestimated by at most its maxError, and
// every maxError is at most the hour's votes / abuseCounters. Memory is
// bounded whatever the audience: 60 minutes × 2 summaries × abuseCounters
// counters per paredão voted on in the last hour.

const (
	abuseMinutes  = 60   // minutes kept
	abuseCounters = 1000 // Space-Saving counters per minute and kind of source
	abuseTopMax   = 100  // most sources one answer lists (?top=)
	abuseTopDef   = 10
)

// heavyHitters is a Space-Saving summary (Metwally, Agrawal, El Abbadi,
// 2005): at most k counters; a new key when all are taken replaces the
// smallest, inheriting its count as its error. For every key counted,
// count-err ≤ true count ≤ count, and err ≤ total/k.
type heavyHitters struct {
	k     int
	total int64
	index map[string]int // key → position in heap
	heap  []hitter       // min-heap by count
}

type hitter struct {
	key        string
	count, err int64
}

func newHeavyHitters(k int) *heavyHitters {
	return &heavyHitters{k: k, index: make(map[string]int)}
}

func (h *heavyHitters) add(key string) {
	h.total++
	if i, ok := h.index[key]; ok {
		h.heap[i].count++
		h.down(i)
		return
	}
	if len(h.heap) < h.k {
		h.heap = append(h.heap, hitter{key: key, count: 1})
		h.index[key] = len(h.heap) - 1
		h.up(len(h.heap) - 1)
		return
	}
	low := h.heap[0]
	delete(h.index, low.key)
	h.heap[0] = hitter{key: key, count: low.count + 1, err: low.count}
	h.index[key] = 0
	h.down(0)
}

// floor is the most votes a key the summary does not hold may have had: 0
// while a counter is free, the smallest count once all are taken.
func (h *heavyHitters) floor() int64 {
	if len(h.heap) < h.k || len(h.heap) == 0 {
		return 0
	}
	return h.heap[0].count
}

func (h *heavyHitters) less(i, j int) bool { return h.heap[i].count < h.heap[j].count }

func (h *heavyHitters) swap(i, j int) {
	h.heap[i], h.heap[j] = h.heap[j], h.heap[i]
	h.index[h.heap[i].key] = i
	h.index[h.heap[j].key] = j
}

func (h *heavyHitters) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *heavyHitters) down(i int) {
	for {
		l, m := 2*i+1, i
		if l < len(h.heap) && h.less(l, m) {
			m = l
		}
		if r := l + 1; r < len(h.heap) && h.less(r, m) {
			m = r
		}
		if m == i {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// sourceCount is a source's votes over several summaries: votes is an upper
// bound of the true count, votes-maxError a lower bound.
type sourceCount struct {
	key             string
	votes, maxError int64
}

// mergeHitters merges summaries of disjoint streams (the minutes of an
// hour): a key a summary does not hold gets that summary's floor, as count
// and as error, so the upper bound stays an upper bound. The error of any
// key is at most Σ total/k. It answers the n largest and the total.
func mergeHitters(hs []*heavyHitters, n int) ([]sourceCount, int64) {
	var total, floors int64
	sums := make(map[string]*sourceCount)
	for _, h := range hs {
		total += h.total
		floors += h.floor()
		for _, e := range h.heap {
			c := sums[e.key]
			if c == nil {
				c = &sourceCount{key: e.key}
				sums[e.key] = c
			}
			// every key gets Σ floors below; a summary holding it counts its own
			c.votes += e.count - h.floor()
			c.maxError += e.err - h.floor()
		}
	}
	out := make([]sourceCount, 0, len(sums))
	for _, c := range sums {
		c.votes += floors
		c.maxError += floors
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].votes != out[j].votes {
			return out[i].votes > out[j].votes
		}
		return out[i].key < out[j].key
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, total
}

// abuseMinute is one minute of one paredão on this replica.
type abuseMinute struct {
	minute     int64 // Unix minute; 0: never written
	accepted   int64
	refused    map[string]int64
	difficulty map[int]int64
	prefixes   *heavyHitters
	voters     *heavyHitters
}

// abuseLog is the last hour of one paredão on this replica. Its methods do
// nothing on a nil log (a paredão this replica does not know).
type abuseLog struct {
	mu      sync.Mutex
	now     func() time.Time
	k       int
	last    int64 // Unix minute of the last write
	minutes [abuseMinutes]abuseMinute
}

// at returns the bucket of Unix minute m, emptied if it held an older minute.
// The caller holds l.mu.
func (l *abuseLog) at(m int64) *abuseMinute {
	b := &l.minutes[m%abuseMinutes]
	if b.minute != m {
		*b = abuseMinute{minute: m, refused: map[string]int64{}, difficulty: map[int]int64{},
			prefixes: newHeavyHitters(l.k), voters: newHeavyHitters(l.k)}
	}
	l.last = m
	return b
}

func unixMinute(t time.Time) int64 { return t.Unix() / 60 }

// vote counts a vote: accepted when reason is "", else refused for reason
// (the error code answered). prefix and voter are its sources; voter is ""
// without a valid voter cookie.
func (l *abuseLog) vote(reason, prefix, voter string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.at(unixMinute(l.now()))
	if reason == "" {
		b.accepted++
	} else {
		b.refused[reason]++
	}
	b.prefixes.add(prefix)
	if voter != "" {
		b.voters.add(voter)
	}
}

// difficulty counts a challenge handed out at level (0 is the base
// difficulty, PowMaxNumber). The adaptive difficulty calls it with the level
// it chose, once per challenge issued.
func (l *abuseLog) difficulty(level int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at(unixMinute(l.now())).difficulty[level]++
}

// AbuseReport is the answer of GET /production/paredoes/{id}/abuse.
type AbuseReport struct {
	ParedaoID   string        `json:"paredaoId"`
	Replica     string        `json:"replica"`
	AsOf        time.Time     `json:"asOf"`
	Minutes     []AbuseMinute `json:"minutes"`
	Votes       int64         `json:"votes"` // vote requests of the hour, accepted or refused
	TopPrefixes []AbuseSource `json:"topPrefixes"`
	TopVoters   []AbuseSource `json:"topVoters"`
	Counters    int           `json:"counters"` // Space-Saving counters per minute
	// Unlisted is the most votes a prefix (or voter) the summaries do not
	// hold can have had in the hour.
	UnlistedPrefixMax int64  `json:"unlistedPrefixMax"`
	UnlistedVoterMax  int64  `json:"unlistedVoterMax"`
	Exactness         string `json:"exactness"`
}

// AbuseMinute is one minute of an AbuseReport.
type AbuseMinute struct {
	Minute     time.Time        `json:"minute"`
	Accepted   int64            `json:"accepted"`
	Refused    map[string]int64 `json:"refused"`
	Difficulty map[string]int64 `json:"difficulty"`
}

// AbuseSource is a top source: a prefix ("203.0.113.0/24", "2001:db8::/64")
// or a voter (a short keyed hash of the voter id, never the cookie).
type AbuseSource struct {
	Prefix   string  `json:"prefix,omitempty"`
	Voter    string  `json:"voter,omitempty"`
	Votes    int64   `json:"votes"`
	Share    float64 `json:"share"` // votes / the hour's votes, 0 to 1
	MaxError int64   `json:"maxError"`
}

const abuseExactness = "Figures of this web replica only: ask every replica and add them up, or read paredao_http_votes_rejected_total from Prometheus. " +
	"Per-minute counts are exact. Top sources come from a Space-Saving summary per minute merged over the hour: " +
	"votes overestimates a source's true count by at most maxError (true count is between votes-maxError and votes), " +
	"and maxError is at most the hour's votes divided by counters. Votes are vote requests, accepted or refused."

// report answers the last hour, oldest minute first, with the n top sources.
func (l *abuseLog) report(n int) AbuseReport {
	now := unixMinute(l.now())
	rep := AbuseReport{Minutes: make([]AbuseMinute, 0, abuseMinutes), Counters: l.k, Exactness: abuseExactness,
		TopPrefixes: []AbuseSource{}, TopVoters: []AbuseSource{}}
	var prefixes, voters []*heavyHitters
	l.mu.Lock()
	defer l.mu.Unlock()
	for m := now - abuseMinutes + 1; m <= now; m++ {
		am := AbuseMinute{Minute: time.Unix(m*60, 0).UTC(), Refused: map[string]int64{}, Difficulty: map[string]int64{}}
		if b := &l.minutes[m%abuseMinutes]; b.minute == m {
			am.Accepted = b.accepted
			for r, c := range b.refused {
				am.Refused[r] = c
			}
			for d, c := range b.difficulty {
				am.Difficulty[strconv.Itoa(d)] = c
			}
			prefixes = append(prefixes, b.prefixes)
			voters = append(voters, b.voters)
		}
		rep.Minutes = append(rep.Minutes, am)
	}
	top, total := mergeHitters(prefixes, n)
	rep.Votes = total
	for _, c := range top {
		rep.TopPrefixes = append(rep.TopPrefixes, AbuseSource{Prefix: c.key, Votes: c.votes, Share: share(c.votes, total), MaxError: c.maxError})
	}
	top, _ = mergeHitters(voters, n)
	for _, c := range top {
		rep.TopVoters = append(rep.TopVoters, AbuseSource{Voter: c.key, Votes: c.votes, Share: share(c.votes, total), MaxError: c.maxError})
	}
	for _, h := range prefixes {
		rep.UnlistedPrefixMax += h.floor()
	}
	for _, h := range voters {
		rep.UnlistedVoterMax += h.floor()
	}
	return rep
}

func share(votes, total int64) float64 {
	if total == 0 {
		return 0
	}
	s := float64(votes) / float64(total)
	if s > 1 { // an upper bound can pass the total
		s = 1
	}
	return float64(int64(s*10000+0.5)) / 10000
}

// abuseBook holds the logs of the paredões voted on in the last hour. Only
// paredões of the catalog get one, so ids made up by a client cost nothing.
type abuseBook struct {
	mu      sync.RWMutex
	now     func() time.Time
	known   func(id string) bool
	k       int
	logs    map[string]*abuseLog
	replica string
	key     []byte // hashes voter ids into the short ids shown
}

func newAbuseBook(secret []byte, now func() time.Time, known func(string) bool) *abuseBook {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return &abuseBook{now: now, known: known, k: abuseCounters, logs: map[string]*abuseLog{},
		replica: host, key: derive(secret, "abuse-voter")}
}

// of returns paredão id's log, nil when the catalog does not know id. A new
// log first drops the logs nobody wrote in the last hour.
func (b *abuseBook) of(id string) *abuseLog {
	if b == nil {
		return nil
	}
	b.mu.RLock()
	l := b.logs[id]
	b.mu.RUnlock()
	if l != nil {
		return l
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.logs[id]; l != nil {
		return l
	}
	if !b.known(id) {
		return nil
	}
	now := unixMinute(b.now())
	for pid, l := range b.logs {
		l.mu.Lock()
		idle := l.last <= now-abuseMinutes
		l.mu.Unlock()
		if idle {
			delete(b.logs, pid)
		}
	}
	l = &abuseLog{now: b.now, k: b.k}
	b.logs[id] = l
	return l
}

// voterID is the short id shown for a voter: 8 characters of a keyed hash,
// so the dashboard can follow a cookie without being able to present it.
func (b *abuseBook) voterID(voter string) string {
	if voter == "" {
		return ""
	}
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte(voter))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:6])
}

// noteVote counts the answer to a vote request in its paredão's abuse log:
// accepted when err is nil, else refused by the error's code.
func (s *Server) noteVote(r *http.Request, err error) {
	l := s.abuse.of(chi.URLParam(r, "id"))
	if l == nil {
		return
	}
	reason := ""
	if err != nil {
		reason = "internal"
		var e *Error
		if errors.As(err, &e) {
			reason = e.Code
		}
	}
	l.vote(reason, addressPrefix(clientAddr(r, s.cfg.TrustedProxies)), s.abuse.voterID(s.voters.fromRequest(r)))
}

func (s *Server) abuseReport(w http.ResponseWriter, r *http.Request) {
	p, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	n := abuseTopDef
	if q := r.URL.Query().Get("top"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 1 || v > abuseTopMax {
			writeError(w, s.deps.Log, invalidRequest("top must be a number from 1 to 100"))
			return
		}
		n = v
	}
	l := s.abuse.of(p.ID)
	var rep AbuseReport
	if l != nil {
		rep = l.report(n)
	} else {
		rep = (&abuseLog{now: s.deps.Now, k: s.abuse.k}).report(n)
	}
	rep.ParedaoID, rep.Replica, rep.AsOf = p.ID, s.abuse.replica, s.deps.Now().UTC()
	writeJSON(w, http.StatusOK, rep)
}
