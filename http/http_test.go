package http

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/altcha-org/altcha-lib-go"

	"github.com/paredao/paredao/pipeline"
)

// Shares shown with one decimal add up to exactly 100.0 whenever a vote exists.
func TestPercentagesAddUp(t *testing.T) {
	tests := [][]int64{
		{1, 1, 1}, {2, 1}, {160, 96, 65}, {0, 0, 0}, {1, 0, 0}, {999999, 1, 1}, {3, 3, 3, 3, 3, 3, 3}, {7},
	}
	for _, votes := range tests {
		got := Percentages(votes)
		var sum, total int64
		for i, v := range got {
			sum += v
			total += votes[i]
			if v < 0 || v > 1000 {
				t.Fatalf("%v -> %v", votes, got)
			}
		}
		if total > 0 && sum != 1000 {
			t.Fatalf("%v -> %v sums to %d tenths", votes, got, sum)
		}
		if total == 0 && sum != 0 {
			t.Fatalf("%v -> %v without votes", votes, got)
		}
	}
	if got := Percentages([]int64{160, 96, 64}); got[0] != 500 || got[1] != 300 || got[2] != 200 {
		t.Fatalf("exact split: %v", got)
	}
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func testPow() pow {
	return pow{key: ChallengeKey(testSecret), maxNumber: 50, ttl: 2 * time.Minute}
}

func payloadFor(t testing.TB, c Challenge, mutate func(*altcha.Payload)) string {
	t.Helper()
	sol, err := altcha.SolveChallenge(c.Challenge, c.Salt, altcha.Algorithm(c.Algorithm), int(c.MaxNumber), 0, nil)
	if err != nil || sol == nil {
		t.Fatalf("solve: %v", err)
	}
	pl := altcha.Payload{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: int64(sol.Number), Salt: c.Salt, Signature: c.Signature}
	if mutate != nil {
		mutate(&pl)
	}
	b, _ := json.Marshal(pl)
	return base64.StdEncoding.EncodeToString(b)
}

// Every way a proof of work can be wrong is refused with invalid_challenge.
func TestPowVerify(t *testing.T) {
	p := testPow()
	now := time.Now()
	c, err := p.issue("voterA", "p1", now)
	if err != nil {
		t.Fatal(err)
	}
	good := payloadFor(t, c, nil)
	noExpiry, _ := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: 50, HMACKey: p.key, Params: url.Values{"p": {"p1"}, "v": {"voterA"}}})
	foreign, _ := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: 50, HMACKey: "another key", Expires: ptr(now.Add(time.Minute)), Params: url.Values{"p": {"p1"}, "v": {"voterA"}}})
	expired, _ := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: 50, HMACKey: p.key, Expires: ptr(now.Add(-time.Second)), Params: url.Values{"p": {"p1"}, "v": {"voterA"}}})
	sha1, _ := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA1, MaxNumber: 50, HMACKey: p.key, Expires: ptr(now.Add(time.Minute)), Params: url.Values{"p": {"p1"}, "v": {"voterA"}}})
	tests := []struct {
		name, payload, voter, paredao string
		ok                            bool
	}{
		{"good", good, "voterA", "p1", true},
		{"missing", "", "voterA", "p1", false},
		{"not base64", "%%%", "voterA", "p1", false},
		{"not json", base64.StdEncoding.EncodeToString([]byte("hello")), "voterA", "p1", false},
		{"unknown field", base64.StdEncoding.EncodeToString([]byte(`{"algorithm":"SHA-256","x":1}`)), "voterA", "p1", false},
		{"wrong number", payloadFor(t, c, func(pl *altcha.Payload) { pl.Number = (pl.Number + 1) % 51 }), "voterA", "p1", false},
		{"negative number", payloadFor(t, c, func(pl *altcha.Payload) { pl.Number = -1 }), "voterA", "p1", false},
		{"foreign signature", payloadFor(t, Challenge(foreign), nil), "voterA", "p1", false},
		{"tampered expiry", payloadFor(t, c, func(pl *altcha.Payload) { pl.Salt = strings.Replace(pl.Salt, "expires=", "expires=9", 1) }), "voterA", "p1", false},
		{"tampered voter", payloadFor(t, c, func(pl *altcha.Payload) { pl.Salt = strings.Replace(pl.Salt, "v=voterA", "v=voterB", 1) }), "voterB", "p1", false},
		{"tampered paredao", payloadFor(t, c, func(pl *altcha.Payload) { pl.Salt = strings.Replace(pl.Salt, "p=p1", "p=p2", 1) }), "voterA", "p2", false},
		{"algorithm changed", payloadFor(t, c, func(pl *altcha.Payload) { pl.Algorithm = "SHA-1" }), "voterA", "p1", false},
		{"sha-1 challenge", payloadFor(t, Challenge(sha1), nil), "voterA", "p1", false},
		{"expired", payloadFor(t, Challenge(expired), nil), "voterA", "p1", false},
		{"no expiry", payloadFor(t, Challenge(noExpiry), nil), "voterA", "p1", false},
		{"another voter's payload", good, "voterB", "p1", false},
		{"another paredao", good, "voterA", "p2", false},
		{"no voter", good, "", "p1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sol, e := p.verify(tc.payload, tc.voter, tc.paredao, now)
			if tc.ok != (e == nil) {
				t.Fatalf("verify = %v, want ok=%v", e, tc.ok)
			}
			if e != nil && (e.Status != http.StatusForbidden || e.Code != "invalid_challenge") {
				t.Fatalf("error %d %s, want 403 invalid_challenge", e.Status, e.Code)
			}
			if tc.ok && (sol.id == "" || sol.expires.Before(now)) {
				t.Fatalf("solved %+v", sol)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The vote decoder takes exactly one object with the two known string fields.
func TestParseVote(t *testing.T) {
	tests := []struct {
		body   string
		status int
	}{
		{`{"participantId":"ana","altcha":"x"}`, 0},
		{`{"participantId":"ana","altcha":"x","captcha":"0.tok-en_"}`, 0},
		{`{"participantId":"ana","altcha":"x","captcha":null}`, 0},
		{`{"participantId":"ana","altcha":"x","captcha":1}`, 400},
		{`{"participantId":"ana","altcha":"x","captcha":["t"]}`, 400},
		{`{"participantId":"ana","captcha":"t"}`, 400},
		{`{"participantId":"ana","altcha":"x","captcha":"t","captcha2":"t"}`, 400},
		{`{"participantId":"ana"}`, 400},
		{`{"altcha":"x"}`, 400},
		{`{"participantId":null,"altcha":"x"}`, 400},
		{`{"participantId":1,"altcha":"x"}`, 400},
		{`{"participantId":"ana","altcha":["x"]}`, 400},
		{`{"participantId":"ana","altcha":"x","extra":1}`, 400},
		{`{"participantId":"ana","altcha":"x"} {}`, 400},
		{`{"participantId":"ana","altcha":"x"}garbage`, 400},
		{`[]`, 400},
		{``, 400},
		{`{"participantId":"ana`, 400},
		{"{\"participantId\":\"an\xffa\",\"altcha\":\"x\"}", 400},
		{`{"participantId":"an\u0000a","altcha":"x"}`, 422},
		{`{"participantId":"` + strings.Repeat("a", 3000) + `","altcha":"x"}`, 422},
	}
	for _, tc := range tests {
		_, err := parseVote([]byte(tc.body))
		var e *Error
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%q: %v", tc.body, err)
		case tc.status != 0 && (!errors.As(err, &e) || e.Status != tc.status):
			t.Errorf("%q: %v, want %d", tc.body, err, tc.status)
		}
	}
}

type panicCatalog struct{}

func (panicCatalog) Get(string) *pipeline.Paredao { panic("boom") }
func (panicCatalog) List() []*pipeline.Paredao    { return nil }
func (panicCatalog) Recovered() bool              { return true }

// A panic in a handler answers a generic 500 JSON error and the server keeps serving.
func TestRecovererAnswers500(t *testing.T) {
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10}, Deps{Catalog: panicCatalog{}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/paredoes/x", nil))
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"code":"internal"`) || strings.Contains(rec.Body.String(), "boom") {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/paredoes", nil))
	if rec.Code != 200 {
		t.Fatalf("after a panic: %d", rec.Code)
	}
}

// The client address comes from X-Forwarded-For only through trusted proxies.
func TestClientAddr(t *testing.T) {
	trusted := []netipPrefix{mustPrefix("10.0.0.0/8")}
	tests := []struct {
		remote, xff, want string
	}{
		{"203.0.113.7:1234", "", "203.0.113.7"},
		{"203.0.113.7:1234", "1.2.3.4", "203.0.113.7"},
		{"10.1.2.3:1234", "1.2.3.4", "1.2.3.4"},
		{"10.1.2.3:1234", "9.9.9.9, 1.2.3.4, 10.0.0.5", "1.2.3.4"},
		{"10.1.2.3:1234", "garbage", "10.1.2.3"},
		{"[::ffff:203.0.113.7]:1", "", "203.0.113.7"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, trusted); got != tc.want {
			t.Errorf("%s / %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// The widget's own "took" field is accepted; any other extra field is not.
func TestPowAcceptsWidgetTook(t *testing.T) {
	p := testPow()
	now := time.Now()
	c, _ := p.issue("voterA", "p1", now)
	raw, _ := base64.StdEncoding.DecodeString(payloadFor(t, c, nil))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["took"] = 12.5
	b, _ := json.Marshal(m)
	if _, e := p.verify(base64.StdEncoding.EncodeToString(b), "voterA", "p1", now); e != nil {
		t.Fatalf("took refused: %v", e)
	}
	delete(m, "took")
	m["bonus"] = 1
	b, _ = json.Marshal(m)
	if _, e := p.verify(base64.StdEncoding.EncodeToString(b), "voterA", "p1", now); e == nil {
		t.Fatal("an unknown field was accepted")
	}
}

// emptyCatalog knows no paredão; loaded tells whether it caught up.
type emptyCatalog struct{ loaded bool }

func (emptyCatalog) Get(string) *pipeline.Paredao { return nil }
func (emptyCatalog) List() []*pipeline.Paredao    { return nil }
func (c emptyCatalog) Recovered() bool            { return c.loaded }

// A replica that has not read its catalog yet answers 503 for a paredão it
// does not know, never 404: a client retrying a vote that another replica
// wrote keeps retrying instead of taking a refusal. Once loaded, 404.
func TestUnknownParedaoWhileCatalogLoads(t *testing.T) {
	for _, tc := range []struct {
		loaded bool
		want   int
	}{{false, http.StatusServiceUnavailable}, {true, http.StatusNotFound}} {
		s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10}, Deps{Catalog: emptyCatalog{tc.loaded}})
		if err != nil {
			t.Fatal(err)
		}
		for _, req := range []*http.Request{
			httptest.NewRequest(http.MethodGet, "/api/v1/challenge?paredao=demo", nil),
			httptest.NewRequest(http.MethodGet, "/api/v1/paredoes/demo/results", nil),
			httptest.NewRequest(http.MethodPost, "/api/v1/paredoes/demo/votes", strings.NewReader(`{"participantId":"ana","altcha":"x"}`)),
		} {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("loaded %v: %s %s = %d %s, want %d", tc.loaded, req.Method, req.URL, rec.Code, rec.Body, tc.want)
			}
			if tc.want == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s %s: 503 without Retry-After", req.Method, req.URL)
			}
		}
	}
}

// A challenge issue mints is the one altcha-lib-go's CreateChallenge makes
// from the same salt and number, and verifies with the library.
func TestIssueMatchesAltcha(t *testing.T) {
	p := pow{key: "k3y", maxNumber: 1000, ttl: 2 * time.Minute}
	now := time.Date(2026, 11, 28, 21, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ voter, paredao string }{{"hUodiFobP48JAPzNemgFXA", "demo"}, {"a b&c=d", "p-1_x"}} {
		c, err := p.issue(tc.voter, tc.paredao, now)
		if err != nil {
			t.Fatal(err)
		}
		sol, err := altcha.SolveChallenge(c.Challenge, c.Salt, altcha.SHA256, int(c.MaxNumber), 0, nil)
		if err != nil || sol == nil {
			t.Fatalf("no solution for %+v: %v", c, err)
		}
		number := int64(sol.Number)
		exp := now.Add(p.ttl)
		nonce, _, _ := strings.Cut(c.Salt, "?")
		lib, err := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: p.maxNumber, HMACKey: p.key,
			Salt: nonce, Number: &number, Expires: &exp, Params: url.Values{"m": {strconv.FormatInt(p.maxNumber, 10)}, "p": {tc.paredao}, "v": {tc.voter}}})
		if err != nil {
			t.Fatal(err)
		}
		if Challenge(lib) != c {
			t.Fatalf("issue  %+v\nlibrary %+v", c, lib)
		}
		ok, err := altcha.VerifySolutionSafe(altcha.Payload{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: number, Salt: c.Salt, Signature: c.Signature}, p.key, false) // expiry: checked by verify itself
		if err != nil || !ok {
			t.Fatalf("the library refuses the solved challenge: %v", err)
		}
		if got := altcha.ExtractParams(altcha.Payload{Salt: c.Salt}); got.Get("v") != tc.voter || got.Get("p") != tc.paredao || got.Get("expires") != strconv.FormatInt(exp.Unix(), 10) {
			t.Fatalf("params %v", got)
		}
	}
}
