package http

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/altcha-org/altcha-lib-go"

	"github.com/paredao/paredao/pipeline"
)

// The curve: level 0 up to the threshold, one more per 4 times more.
func TestLevelOf(t *testing.T) {
	for _, tc := range []struct {
		rate      float64
		threshold int
		want      int
	}{
		{0, 30, 0}, {30, 30, 0}, {31, 30, 1}, {120, 30, 1}, {121, 30, 2}, {480, 30, 2},
		{481, 30, 3}, {1920, 30, 3}, {1921, 30, 4}, {1e12, 30, MaxDifficultyLevel},
		{1e6, 0, 0}, // no threshold: not counted
	} {
		if got := levelOf(tc.rate, tc.threshold); got != tc.want {
			t.Errorf("levelOf(%v, %d) = %d, want %d", tc.rate, tc.threshold, got, tc.want)
		}
	}
	for k, want := range []int64{1000, 4000, 16000, 64000, 256000} {
		if got := maxNumberAt(1000, k); got != want {
			t.Errorf("maxNumberAt(1000, %d) = %d, want %d", k, got, want)
		}
	}
}

func TestAddressPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7": "203.0.113.0/24", "203.0.113.200": "203.0.113.0/24",
		"::ffff:203.0.113.9": "203.0.113.0/24", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"garbage": "garbage",
	} {
		if got := addressPrefix(in); got != want {
			t.Errorf("addressPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func testDifficulty(maxLevel, cookie, prefix, size int) *difficulty {
	return newDifficulty(Config{PowMaxNumber: 1000, PowMaxLevel: maxLevel, PowCookiePerMin: cookie,
		PowPrefixPerMin: prefix, PowCacheSize: size}, NewMetrics(nil))
}

// A source's level rises with its rate, the higher of cookie and prefix
// wins, it is capped, and it falls back once the source is quiet.
func TestDifficultyRisesAndFallsBack(t *testing.T) {
	d := testDifficulty(4, 20, 100, 1<<10)
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	// A person: one challenge every 6 s for ten minutes stays at level 0.
	for i := range 100 {
		if k, n := d.next("person", "198.51.100.1", t0.Add(time.Duration(i)*6*time.Second)); k != 0 || n != 1000 {
			t.Fatalf("person's challenge %d: level %d maxnumber %d", i, k, n)
		}
	}
	// A script: 2000 challenges in 10 s on one cookie climbs to the cap.
	var levels []int
	for i := range 2000 {
		k, _ := d.next("script", "203.0.113.5", t0.Add(time.Duration(i)*5*time.Millisecond))
		if i%100 == 99 {
			levels = append(levels, k)
		}
	}
	for i := 1; i < len(levels); i++ {
		if levels[i] < levels[i-1] {
			t.Fatalf("level fell while hammering: %v", levels)
		}
	}
	if levels[len(levels)-1] != 4 {
		t.Fatalf("levels %v, want the cap 4", levels)
	}
	// Another cookie on the same /24 pays the prefix's level.
	if k, _ := d.next("neighbour", "203.0.113.77", t0.Add(10*time.Second)); k < 3 {
		t.Fatalf("same /24, new cookie: level %d", k)
	}
	// Another /24 with a fresh cookie is untouched.
	if k, _ := d.next("other", "203.0.114.5", t0.Add(10*time.Second)); k != 0 {
		t.Fatalf("other /24: level %d", k)
	}
	// Quiet for half a minute: lower; for two minutes: back to the base.
	half, _ := d.next("script", "203.0.113.5", t0.Add(100*time.Second))
	if half >= 4 {
		t.Fatalf("after 90 s quiet: level %d", half)
	}
	if k, n := d.next("script", "203.0.113.5", t0.Add(4*time.Minute)); k != 0 || n != 1000 {
		t.Fatalf("after minutes of quiet: level %d maxnumber %d", k, n)
	}
	var total uint64
	for k := range d.handed {
		total += d.handed[k].Load()
	}
	if total != 100+2000+2+2 || d.handed[4].Load() == 0 {
		t.Fatalf("handed out %d challenges, %d at level 4", total, d.handed[4].Load())
	}
}

// Level 0 configured: the difficulty is fixed and nothing is tracked.
func TestDifficultyFixed(t *testing.T) {
	d := testDifficulty(0, 10, 100, 1<<10)
	now := time.Now()
	for i := range 1000 {
		if k, n := d.next("script", "203.0.113.5", now.Add(time.Duration(i)*time.Millisecond)); k != 0 || n != 1000 {
			t.Fatalf("level %d maxnumber %d", k, n)
		}
	}
	if n := d.activity.len(); n != 0 {
		t.Fatalf("%d keys tracked", n)
	}
}

// The activity map holds about its size in keys however many sources come.
func TestActivityBounded(t *testing.T) {
	const size = 1024
	d := testDifficulty(4, 10, 100, size)
	now := time.Now()
	for i := range 200_000 {
		d.next("voter"+strconv.Itoa(i), "10."+strconv.Itoa(i>>16&255)+"."+strconv.Itoa(i>>8&255)+".1", now)
	}
	if n := d.activity.len(); n > size+2*shards {
		t.Fatalf("%d keys held, bound %d", n, size)
	}
}

// The sliding minute: a burst counts fully at once, half as much half a
// minute into the next minute, nothing two minutes later.
func TestActivityRate(t *testing.T) {
	a := newActivity(1<<10, NewMetrics(nil).cacheEntries.WithLabelValues("t"), NewMetrics(nil).evictions.WithLabelValues("t"))
	t0 := time.Unix(0, 0).Add(1000 * time.Minute)
	var r float64
	for range 60 {
		r = a.record("k", t0)
	}
	if r != 60 {
		t.Fatalf("rate %v after 60 events", r)
	}
	if r := a.record("k", t0.Add(90*time.Second)); r != 31 { // 60 × ½ + 1
		t.Fatalf("rate %v half a minute into the next minute", r)
	}
	if r := a.record("k", t0.Add(5*time.Minute)); r != 1 {
		t.Fatalf("rate %v after minutes of quiet", r)
	}
}

// The difficulty is in the signed salt: a payload whose salt claims a lower
// maxnumber than its challenge was issued with is refused (the signature
// binds the salt), and so is a number above the challenge's own maxnumber.
func TestPowVerifyBindsDifficulty(t *testing.T) {
	p := testPow()
	now := time.Now()
	c, err := p.issueWith("voterA", "p1", now, 4000)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxNumber != 4000 || !strings.Contains(c.Salt, "&m=4000&") {
		t.Fatalf("challenge %+v", c)
	}
	if _, e := p.verify(payloadFor(t, c, nil), "voterA", "p1", now); e != nil {
		t.Fatalf("good payload at level 1: %v", e)
	}
	lowered := payloadFor(t, c, func(pl *altcha.Payload) { pl.Salt = strings.Replace(pl.Salt, "&m=4000&", "&m=50&", 1) })
	if _, e := p.verify(lowered, "voterA", "p1", now); e == nil || e.Code != "invalid_challenge" {
		t.Fatalf("lowered maxnumber: %v", e)
	}
	dropped := payloadFor(t, c, func(pl *altcha.Payload) { pl.Salt = strings.Replace(pl.Salt, "&m=4000", "", 1) })
	if _, e := p.verify(dropped, "voterA", "p1", now); e == nil {
		t.Fatal("maxnumber dropped from the salt: accepted")
	}
	// Signed with the server's key, but the number is above its m.
	number := int64(3000)
	exp := now.Add(time.Minute)
	over, err := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: 4000, HMACKey: p.key, Number: &number,
		Expires: &exp, Params: url.Values{"m": {"50"}, "p": {"p1"}, "v": {"voterA"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, e := p.verify(payloadFor(t, Challenge(over), nil), "voterA", "p1", now); e == nil || e.Code != "invalid_challenge" {
		t.Fatalf("number above the challenge's maxnumber: %v", e)
	}
	for _, m := range []string{"", "x", "0", "-5"} {
		bad, _ := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: 10, HMACKey: p.key,
			Expires: &exp, Params: url.Values{"m": {m}, "p": {"p1"}, "v": {"voterA"}}})
		if _, e := p.verify(payloadFor(t, Challenge(bad), nil), "voterA", "p1", now); e == nil {
			t.Fatalf("m=%q accepted", m)
		}
	}
}

type countEmitter struct{}

func (countEmitter) EmitVote(context.Context, *pipeline.Vote) error { return nil }

type noStandings struct{}

func (noStandings) Snapshot(string) pipeline.Standings { return pipeline.Standings{} }
func (noStandings) Changed() <-chan struct{}           { return nil }

// Through the handlers: GET /api/v1/challenge and the 202's nextChallenge
// hand out rising maxnumbers to a hammering /24 (X-Forwarded-For from a
// trusted proxy) and the base to another; difficultyLevels counts them.
func TestChallengeDifficultyAdapts(t *testing.T) {
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10, PowMaxLevel: 3,
		PowCookiePerMin: 5, PowPrefixPerMin: 20, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		Deps{Catalog: newOpenCatalog(), Emitter: countEmitter{}, Standings: noStandings{}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(xff, cookie string) (Challenge, string) {
		rec := challengeFrom(s, "127.0.0.1:5555", false, "X-Forwarded-For", xff, "Cookie", cookie)
		if rec.Code != http.StatusOK {
			t.Fatalf("challenge: %d %s", rec.Code, rec.Body)
		}
		var c Challenge
		if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if ck := voterCookieOf(rec); ck != nil {
			cookie = ck.Name + "=" + ck.Value
		}
		return c, cookie
	}
	c, cookie := get("203.0.113.9", "")
	if c.MaxNumber != 10 {
		t.Fatalf("first challenge: maxnumber %d", c.MaxNumber)
	}
	// Votes in a row: each 202's nextChallenge is harder, up to the cap.
	var seen []int64
	for range 100 {
		body := `{"participantId":"ana","altcha":"` + payloadFor(t, c, nil) + `"}`
		req := httptest.NewRequest(http.MethodPost, "/api/v1/paredoes/demo/votes", strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:5555"
		req.Header.Set("X-Forwarded-For", "203.0.113.10")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("vote: %d %s", rec.Code, rec.Body)
		}
		var resp struct{ NextChallenge *Challenge }
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.NextChallenge == nil {
			t.Fatalf("202 without nextChallenge: %s", rec.Body)
		}
		c = *resp.NextChallenge
		seen = append(seen, c.MaxNumber)
	}
	if seen[0] != 10 || seen[len(seen)-1] != 10<<6 {
		t.Fatalf("nextChallenge maxnumbers %v", seen)
	}
	// 102 challenges on the /24: level 2 (80 < 102 ≤ 320), whatever the cookie.
	if c, _ := get("203.0.113.200", ""); c.MaxNumber != 10<<4 {
		t.Fatalf("same /24, new cookie: maxnumber %d", c.MaxNumber)
	}
	if c, _ := get("198.51.100.9", ""); c.MaxNumber != 10 {
		t.Fatalf("quiet /24: maxnumber %d", c.MaxNumber)
	}
	levels := s.difficultyLevels()
	if len(levels) != 4 || levels[0] == 0 || levels[3] == 0 || levels[0]+levels[1]+levels[2]+levels[3] != 103 {
		t.Fatalf("levels handed out %v", levels)
	}
}

// BenchmarkDifficultyNext: what the adaptive difficulty adds to each
// challenge issued (two counts in the activity map).
func BenchmarkDifficultyNext(b *testing.B) {
	d := testDifficulty(4, 30, 1200, 1<<18)
	now := time.Now()
	voters := make([]string, 4096)
	for i := range voters {
		voters[i] = "voter" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.next(voters[i%len(voters)], "203.0.113.7", now)
	}
}
