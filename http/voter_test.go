package http

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// openCatalog holds one paredão, open around now.
type openCatalog struct{ p *pipeline.Paredao }

func newOpenCatalog() openCatalog {
	now := time.Now()
	return openCatalog{&pipeline.Paredao{ID: "demo", Title: "Demo", OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(time.Hour),
		Participants: []pipeline.Participant{{ID: "ana", Name: "Ana"}, {ID: "bruno", Name: "Bruno"}}}}
}

func (c openCatalog) Get(id string) *pipeline.Paredao {
	if id == c.p.ID {
		return c.p
	}
	return nil
}
func (c openCatalog) List() []*pipeline.Paredao { return []*pipeline.Paredao{c.p} }
func (openCatalog) Recovered() bool             { return true }

// challengeFrom asks for a challenge from remote, with the headers given
// (name, value, ...), over TLS if tls.
func challengeFrom(s *Server, remote string, overTLS bool, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/challenge?paredao=demo", nil)
	req.RemoteAddr = remote
	if overTLS {
		req.TLS = &tls.ConnectionState{}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func voterCookieOf(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == VoterCookie {
			return c
		}
	}
	return nil
}

// The voter cookie is Secure when the client reached us over TLS, directly or
// through a trusted proxy that terminates TLS and says so; a client cannot
// claim it by sending X-Forwarded-Proto itself. always and never override.
func TestVoterCookieSecure(t *testing.T) {
	const proxy, client = "10.1.2.3:40000", "203.0.113.7:40000"
	tests := []struct {
		name   string
		mode   CookieSecure
		remote string
		tls    bool
		proto  string // X-Forwarded-Proto, "" for none
		want   bool
	}{
		{"plain http", "", client, false, "", false},
		{"tls to us", "", client, true, "", true},
		{"trusted proxy says https", "", proxy, false, "https", true},
		{"trusted proxy says HTTPS", CookieSecureAuto, proxy, false, "HTTPS", true},
		{"trusted proxy says http", CookieSecureAuto, proxy, false, "http", false},
		{"trusted proxy, no header", CookieSecureAuto, proxy, false, "", false},
		{"proxies appended: the client's scheme first", CookieSecureAuto, proxy, false, "https, http", true},
		{"proxies appended: client came over http", CookieSecureAuto, proxy, false, "http,https", false},
		{"untrusted peer claims https", CookieSecureAuto, client, false, "https", false},
		{"always, plain http", CookieSecureAlways, client, false, "", true},
		{"never, even over tls", CookieSecureNever, client, true, "https", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10, CookieSecure: tc.mode,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, Deps{Catalog: newOpenCatalog()})
			if err != nil {
				t.Fatal(err)
			}
			var header []string
			if tc.proto != "" {
				header = []string{"X-Forwarded-Proto", tc.proto}
			}
			rec := challengeFrom(s, tc.remote, tc.tls, header...)
			c := voterCookieOf(rec)
			if rec.Code != http.StatusOK || c == nil {
				t.Fatalf("challenge: %d %s, cookie %v", rec.Code, rec.Body, c)
			}
			if c.Secure != tc.want {
				t.Errorf("Secure = %v, want %v (Set-Cookie: %s)", c.Secure, tc.want, rec.Header().Get("Set-Cookie"))
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie lost HttpOnly or SameSite=Lax: %s", rec.Header().Get("Set-Cookie"))
			}
		})
	}
	if _, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", CookieSecure: "sometimes"}, Deps{}); err == nil {
		t.Error("cookie secure \"sometimes\" accepted")
	}
}

// One address mints at most AddressCookies new voters a minute: beyond it a
// challenge without a cookie is answered 429 rate_limited with Retry-After
// and no cookie; voters it already has, and other addresses, are not held
// back; 0 is no cap.
func TestNewVoterCookiesCappedPerAddress(t *testing.T) {
	const limit = 5
	m := NewMetrics(nil)
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10, AddressCookies: limit},
		Deps{Catalog: newOpenCatalog(), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	const addr = "198.51.100.7:1234"
	var first *http.Cookie
	for i := range limit {
		rec := challengeFrom(s, addr, false)
		c := voterCookieOf(rec)
		if rec.Code != http.StatusOK || c == nil {
			t.Fatalf("new voter %d of %d: %d %s, cookie %v", i+1, limit, rec.Code, rec.Body, c)
		}
		if first == nil {
			first = c
		}
	}
	rec := challengeFrom(s, addr, false)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || voterCookieOf(rec) != nil {
		t.Fatalf("new voter %d: %d, Retry-After %q, cookie %v; want 429, Retry-After, no cookie",
			limit+1, rec.Code, rec.Header().Get("Retry-After"), voterCookieOf(rec))
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "rate_limited" || body.Error.Message == "" {
		t.Fatalf("429 body %s (%v), want {\"error\": {\"code\": \"rate_limited\", \"message\": ...}}", rec.Body, err)
	}
	if rec := challengeFrom(s, addr, false, "Cookie", first.Name+"="+first.Value); rec.Code != http.StatusOK || voterCookieOf(rec) != nil {
		t.Errorf("a voter the address has: %d %s, cookie %v; want 200 without a new cookie", rec.Code, rec.Body, voterCookieOf(rec))
	}
	if rec := challengeFrom(s, "198.51.100.8:1234", false); rec.Code != http.StatusOK || voterCookieOf(rec) == nil {
		t.Errorf("another address: %d %s", rec.Code, rec.Body)
	}
	if got := counterValue(t, m.voterCookies.WithLabelValues("rate_limited")); got != 1 {
		t.Errorf("paredao_http_voter_cookies_total{outcome=rate_limited} = %v, want 1", got)
	}
	if got := counterValue(t, m.voterCookies.WithLabelValues("issued")); got != limit+1 {
		t.Errorf("paredao_http_voter_cookies_total{outcome=issued} = %v, want %d", got, limit+1)
	}

	uncapped, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10}, Deps{Catalog: newOpenCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if rec := challengeFrom(uncapped, addr, false); rec.Code != http.StatusOK || voterCookieOf(rec) == nil {
			t.Fatalf("no cap: new voter %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
}

// A vote Kafka did not acknowledge is answered 503 with a message that says
// its outcome is unknown and that the same vote may be sent again, never that
// it was not counted (it may be).
func TestVoteUnavailableSaysOutcomeUnknown(t *testing.T) {
	e := voteUnavailable(time.Second)
	if e.Status != http.StatusServiceUnavailable || e.Code != "unavailable" || e.RetryAfter <= 0 {
		t.Fatalf("%+v", e)
	}
	for _, want := range []string{"unknown", "same vote", "counts once"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	if strings.Contains(e.Message, "not counted") {
		t.Errorf("message %q says the vote was not counted", e.Message)
	}
}
