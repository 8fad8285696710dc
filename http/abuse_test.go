package http

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// checkBounds asserts Space-Saving's guarantees against the true counts:
// every key held has count-err ≤ true ≤ count and err ≤ total/k, and every
// key with more than total/k votes is held.
func checkBounds(t *testing.T, h *heavyHitters, truth map[string]int64) {
	t.Helper()
	held := map[string]bool{}
	for _, e := range h.heap {
		held[e.key] = true
		if tr := truth[e.key]; e.count < tr || e.count-e.err > tr {
			t.Errorf("%s: count %d err %d, true %d", e.key, e.count, e.err, tr)
		}
		if e.err*int64(h.k) > h.total {
			t.Errorf("%s: err %d over total/k = %d/%d", e.key, e.err, h.total, h.k)
		}
	}
	for key, tr := range truth {
		if tr*int64(h.k) > h.total && !held[key] {
			t.Errorf("%s has %d of %d votes (over total/k) and is not held", key, tr, h.total)
		}
	}
}

// The heavy-hitters summary is exact while its counters suffice, keeps its
// error under total/k beyond, and never holds more than k keys.
func TestHeavyHitters(t *testing.T) {
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.2, 1, 5000)
	tests := []struct {
		name  string
		k     int
		n     int
		key   func(i int) string
		exact bool
	}{
		{"small input is exact", 10, 40, func(i int) string { return fmt.Sprint(i % 7) }, true},
		{"exactly k keys is exact", 8, 800, func(i int) string { return fmt.Sprint(i % 8) }, true},
		{"skewed traffic, few counters", 20, 20000, func(int) string { return fmt.Sprint(zipf.Uint64()) }, false},
		{"one hammering source among many", 50, 20000, func(i int) string {
			if i%3 == 0 {
				return "hammer"
			}
			return fmt.Sprint(i)
		}, false},
		{"all distinct: memory stays k", 100, 100000, func(i int) string { return fmt.Sprint(i) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHeavyHitters(tc.k)
			truth := map[string]int64{}
			for i := range tc.n {
				k := tc.key(i)
				h.add(k)
				truth[k]++
			}
			if len(h.heap) > tc.k || len(h.index) > tc.k {
				t.Fatalf("holds %d keys (%d indexed), bound %d", len(h.heap), len(h.index), tc.k)
			}
			if h.total != int64(tc.n) {
				t.Fatalf("total %d, want %d", h.total, tc.n)
			}
			checkBounds(t, h, truth)
			if tc.exact {
				for _, e := range h.heap {
					if e.err != 0 || e.count != truth[e.key] {
						t.Errorf("%s: %d±%d, want exactly %d", e.key, e.count, e.err, truth[e.key])
					}
				}
				if len(h.heap) != len(truth) || h.floor() != 0 && len(truth) < tc.k {
					t.Errorf("holds %d keys of %d", len(h.heap), len(truth))
				}
			}
		})
	}
}

// Minutes merged over the hour keep the guarantee: a source's votes are an
// upper bound within maxError, and maxError ≤ the hour's votes / k.
func TestMergeHittersBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const k, minutes = 30, 60
	truth := map[string]int64{}
	var hs []*heavyHitters
	for m := range minutes {
		h := newHeavyHitters(k)
		for i := range 500 {
			key := fmt.Sprint(rng.IntN(2000))
			switch {
			case i%4 == 0:
				key = "steady" // a quarter of every minute
			case m >= 50 && i%2 == 1:
				key = "late" // half of the last ten minutes
			}
			h.add(key)
			truth[key]++
		}
		hs = append(hs, h)
	}
	top, total := mergeHitters(hs, 10)
	if total != minutes*500 {
		t.Fatalf("total %d", total)
	}
	if len(top) != 10 || top[0].key != "steady" || top[1].key != "late" {
		t.Fatalf("top %+v", top[:2])
	}
	for _, c := range top {
		if tr := truth[c.key]; c.votes < tr || c.votes-c.maxError > tr || c.maxError*k > total {
			t.Errorf("%s: %d (maxError %d), true %d, total %d", c.key, c.votes, c.maxError, tr, total)
		}
	}
	// Exact when every minute fits its counters.
	a, b := newHeavyHitters(5), newHeavyHitters(5)
	for _, key := range []string{"x", "x", "y"} {
		a.add(key)
	}
	for _, key := range []string{"x", "z"} {
		b.add(key)
	}
	top, total = mergeHitters([]*heavyHitters{a, b}, 10)
	want := []sourceCount{{"x", 3, 0}, {"y", 1, 0}, {"z", 1, 0}}
	if total != 5 || fmt.Sprint(top) != fmt.Sprint(want) {
		t.Fatalf("got %v (total %d), want %v", top, total, want)
	}
}

type abuseClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *abuseClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *abuseClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A minute stays in the report for an hour and is gone after; a paredão
// nobody voted on for an hour lets go of its log; unknown ids get none.
func TestAbuseLogExpiresAfterAnHour(t *testing.T) {
	clock := &abuseClock{t: time.Date(2026, 12, 1, 20, 0, 30, 0, time.UTC)}
	book := newAbuseBook(testSecret, clock.now, func(id string) bool { return id != "unknown" })
	if book.of("unknown") != nil {
		t.Fatal("a log for an id the catalog does not know")
	}
	book.of("unknown").vote("rate_limited", "p", "v") // a nil log takes votes and ignores them
	l := book.of("demo")
	l.vote("", "203.0.113.0/24", "v1")
	l.vote("invalid_challenge", "203.0.113.0/24", "")
	l.difficulty(2)

	at := func(d time.Duration) AbuseReport { clock.add(d); return l.report(10) }
	rep := at(0)
	if len(rep.Minutes) != abuseMinutes || rep.Votes != 2 || len(rep.TopPrefixes) != 1 || len(rep.TopVoters) != 1 {
		t.Fatalf("now: %+v", rep)
	}
	last := rep.Minutes[abuseMinutes-1]
	if !last.Minute.Equal(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)) || last.Accepted != 1 || last.Refused["invalid_challenge"] != 1 || last.Difficulty["2"] != 1 {
		t.Fatalf("this minute: %+v", last)
	}
	rep = at(59 * time.Minute)
	if first := rep.Minutes[0]; first.Accepted != 1 || rep.Votes != 2 {
		t.Fatalf("59 minutes on: %+v, %d votes", first, rep.Votes)
	}
	l.vote("", "198.51.100.0/24", "") // at 20:59
	rep = at(time.Minute)             // 21:00: the 20:00 minute has left the hour
	if rep.Votes != 1 || rep.TopPrefixes[0].Prefix != "198.51.100.0/24" || len(rep.TopVoters) != 0 {
		t.Fatalf("an hour on: %+v", rep)
	}
	for i, m := range rep.Minutes {
		if i != abuseMinutes-2 && (m.Accepted != 0 || len(m.Refused) != 0 || len(m.Difficulty) != 0) {
			t.Fatalf("minute %s shows %+v", m.Minute, m)
		}
	}
	l.vote("rate_limited", "198.51.100.0/24", "") // 21:00 reuses the bucket of 20:00
	if rep = at(0); rep.Minutes[abuseMinutes-1].Accepted != 0 || rep.Minutes[abuseMinutes-1].Refused["rate_limited"] != 1 || rep.Votes != 2 {
		t.Fatalf("the reused bucket: %+v", rep.Minutes[abuseMinutes-1])
	}
	clock.add(time.Hour)
	book.of("other") // a new log sweeps idle ones
	if _, ok := book.logs["demo"]; ok || len(book.logs) != 1 {
		t.Fatalf("logs after an idle hour: %v", book.logs)
	}
}

// abuseCatalog holds one open paredão.
type abuseCatalog struct{ p *pipeline.Paredao }

func (c abuseCatalog) Get(id string) *pipeline.Paredao {
	if id == c.p.ID {
		return c.p
	}
	return nil
}
func (c abuseCatalog) List() []*pipeline.Paredao { return []*pipeline.Paredao{c.p} }
func (abuseCatalog) Recovered() bool             { return true }

type nopEmitter struct{}

func (nopEmitter) EmitVote(context.Context, *pipeline.Vote) error { return nil }

type zeroStandings struct{}

func (zeroStandings) Snapshot(string) pipeline.Standings { return pipeline.Standings{} }
func (zeroStandings) Changed() <-chan struct{}           { return nil }

// The abuse report shows refused votes by the reason answered, the
// difficulty handed out, and a prefix hammering the vote endpoint at the top
// of the sources; it needs the production token.
func TestAbuseReportShowsRefusalsAndTopSources(t *testing.T) {
	now := time.Now()
	p := &pipeline.Paredao{ID: "demo", Title: "Demo", OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(time.Hour),
		Participants: []pipeline.Participant{{ID: "ana", Name: "Ana"}, {ID: "bia", Name: "Bia"}}}
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "tok", PowMaxNumber: 10, VotesPerMinute: 5},
		Deps{Catalog: abuseCatalog{p}, Emitter: nopEmitter{}, Standings: zeroStandings{}})
	if err != nil {
		t.Fatal(err)
	}
	do := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		return rec
	}
	type client struct {
		addr   string
		cookie *http.Cookie
	}
	challenge := func(c *client) Challenge {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/challenge?paredao=demo", nil)
		r.RemoteAddr = c.addr
		if c.cookie != nil {
			r.AddCookie(c.cookie)
		}
		rec := do(r)
		if rec.Code != 200 {
			t.Fatalf("challenge: %d %s", rec.Code, rec.Body)
		}
		for _, ck := range rec.Result().Cookies() {
			if ck.Name == VoterCookie {
				c.cookie = ck
			}
		}
		var ch Challenge
		if err := json.Unmarshal(rec.Body.Bytes(), &ch); err != nil {
			t.Fatalf("challenge %s: %v", rec.Body.Bytes(), err)
		}
		return ch
	}
	vote := func(c *client, altcha, site string) int {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/paredoes/demo/votes", strings.NewReader(`{"participantId":"ana","altcha":"`+altcha+`"}`))
		r.RemoteAddr = c.addr
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Sec-Fetch-Site", site)
		r.AddCookie(c.cookie)
		return do(r).Code
	}

	hammer := &client{addr: "203.0.113.77:4000"}
	var first string
	for i := range 12 { // 5 accepted, then the per-voter cap
		pl := payloadFor(t, challenge(hammer), nil)
		if i == 0 {
			first = pl
		}
		want := http.StatusAccepted
		if i >= 5 {
			want = http.StatusTooManyRequests
		}
		if got := vote(hammer, pl, "same-origin"); got != want {
			t.Fatalf("hammer vote %d: %d, want %d", i, got, want)
		}
	}
	for range 3 {
		if got := vote(hammer, "garbage", "same-origin"); got != http.StatusForbidden {
			t.Fatalf("garbage proof: %d", got)
		}
	}
	if got := vote(hammer, first, "same-origin"); got != http.StatusConflict {
		t.Fatalf("replayed proof: %d", got)
	}
	if got := vote(&client{addr: "203.0.113.8:1", cookie: hammer.cookie}, "x", "cross-site"); got != http.StatusForbidden {
		t.Fatalf("cross-site vote: %d", got)
	}
	person := &client{addr: "198.51.100.7:5000"}
	for range 2 {
		if got := vote(person, payloadFor(t, challenge(person), nil), "same-origin"); got != http.StatusAccepted {
			t.Fatalf("person's vote: %d", got)
		}
	}

	get := func(auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/production/paredoes/demo/abuse", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return do(r)
	}
	for _, auth := range []string{"", "Bearer wrong", "tok"} {
		if rec := get(auth); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"unauthorized"`) {
			t.Fatalf("with %q: %d %s", auth, rec.Code, rec.Body)
		}
	}
	rec := get("Bearer tok")
	if rec.Code != 200 {
		t.Fatalf("abuse: %d %s", rec.Code, rec.Body)
	}
	var rep AbuseReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	var accepted int64
	refused, levels := map[string]int64{}, map[string]int64{}
	for _, m := range rep.Minutes {
		accepted += m.Accepted
		for r, n := range m.Refused {
			refused[r] += n
		}
		for l, n := range m.Difficulty {
			levels[l] += n
		}
	}
	wantRefused := map[string]int64{"rate_limited": 7, "invalid_challenge": 3, "challenge_used": 1, "cross_origin": 1}
	if accepted != 7 || fmt.Sprint(refused) != fmt.Sprint(wantRefused) {
		t.Errorf("accepted %d, refused %v; want 7, %v", accepted, refused, wantRefused)
	}
	// 14 challenges fetched, and a next challenge with each of the 7 votes accepted.
	if fmt.Sprint(levels) != fmt.Sprint(map[string]int64{"0": 21}) {
		t.Errorf("difficulty %v", levels)
	}
	if rep.Votes != 19 || len(rep.TopPrefixes) != 2 || len(rep.TopVoters) != 2 {
		t.Fatalf("report %s", rec.Body)
	}
	top := rep.TopPrefixes[0]
	if top.Prefix != "203.0.113.0/24" || top.Votes != 17 || top.MaxError != 0 || top.Share != 0.8947 {
		t.Errorf("top prefix %+v", top)
	}
	if v := rep.TopVoters[0]; v.Votes != 17 || len(v.Voter) != 8 || strings.Contains(hammer.cookie.Value, v.Voter) {
		t.Errorf("top voter %+v (cookie %s)", v, hammer.cookie.Value)
	}
	if rep.Replica == "" || rep.ParedaoID != "demo" || rep.Counters != abuseCounters || rep.Exactness == "" {
		t.Errorf("report header %+v", rep)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/production/paredoes/nope/abuse", nil)
	r.Header.Set("Authorization", "Bearer tok")
	if rec := do(r); rec.Code != http.StatusNotFound {
		t.Errorf("unknown paredão: %d", rec.Code)
	}
	r = httptest.NewRequest(http.MethodGet, "/api/v1/production/paredoes/demo/abuse?top=0", nil)
	r.Header.Set("Authorization", "Bearer tok")
	if rec := do(r); rec.Code != http.StatusBadRequest {
		t.Errorf("top=0: %d", rec.Code)
	}
}

// Votes and reports from many goroutines at once lose no count (run with -race).
func TestAbuseLogConcurrent(t *testing.T) {
	clock := &abuseClock{t: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)}
	book := newAbuseBook(testSecret, clock.now, func(string) bool { return true })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				l := book.of("demo")
				l.vote("", fmt.Sprintf("10.%d.%d.0/24", g, i%50), book.voterID(fmt.Sprint(i)))
				l.difficulty(i % 3)
				if i%100 == 0 {
					l.report(10)
				}
			}
		}()
	}
	wg.Wait()
	rep := book.of("demo").report(10)
	if rep.Votes != 8000 || rep.Minutes[abuseMinutes-1].Accepted != 8000 || len(rep.TopPrefixes) != 10 || rep.TopPrefixes[0].Votes != 20 {
		t.Fatalf("after 8000 votes: %d votes, top %+v", rep.Votes, rep.TopPrefixes[0])
	}
}

func BenchmarkAbuseVote(b *testing.B) {
	book := newAbuseBook(testSecret, time.Now, func(string) bool { return true })
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("203.0.%d.0/24", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		book.of("demo").vote("", keys[i%len(keys)], book.voterID(keys[i%len(keys)]))
	}
}
