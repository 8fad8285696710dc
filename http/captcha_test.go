package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// fakeSiteverify speaks a captcha provider's siteverify API over HTTP as its
// documentation says: a form POST of secret, response and remoteip, answered
// with JSON {success, error-codes, challenge_ts, hostname, ...}. Tokens it
// issued succeed once; again they are refused with the provider's code for a
// duplicate; "slow-" tokens are answered after the caller gave up; anything
// else is invalid-input-response.
type fakeSiteverify struct {
	provider, secret string
	srv              *httptest.Server

	mu       sync.Mutex
	redeemed map[string]bool
	calls    int
	remoteIP string
}

func newFakeSiteverify(t *testing.T, provider string) *fakeSiteverify {
	f := &fakeSiteverify{provider: provider, secret: "s3cret-" + provider, redeemed: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// issue mints a token the fake provider will accept once.
func (f *fakeSiteverify) issue(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := f.provider + "-token-" + name + "-" + newID()
	f.redeemed[tok] = false
	return tok
}

func (f *fakeSiteverify) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeSiteverify) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	answer := func(ok bool, codes ...string) {
		body := map[string]any{"success": ok, "error-codes": codes}
		if ok {
			body["challenge_ts"] = time.Now().UTC().Format(time.RFC3339)
			body["hostname"] = "paredao.example"
			switch f.provider {
			case "turnstile":
				body["action"], body["cdata"] = "", ""
				body["metadata"] = map[string]any{"interactive": false}
			case "hcaptcha":
				body["credit"] = false
			}
		}
		if !ok && len(codes) == 0 {
			delete(body, "error-codes")
		}
		_ = json.NewEncoder(w).Encode(body) // a map of plain values; a client that timed out is gone
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.ParseForm() != nil {
		answer(false, "bad-request")
		return
	}
	f.mu.Lock()
	f.calls++
	f.remoteIP = r.PostForm.Get("remoteip")
	f.mu.Unlock()
	secret, tok := r.PostForm.Get("secret"), r.PostForm.Get("response")
	switch {
	case secret == "":
		answer(false, "missing-input-secret")
		return
	case secret != f.secret:
		answer(false, "invalid-input-secret")
		return
	case tok == "":
		answer(false, "missing-input-response")
		return
	case strings.HasPrefix(tok, "slow-"):
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		answer(true)
		return
	}
	f.mu.Lock()
	used, known := f.redeemed[tok]
	if known {
		f.redeemed[tok] = true
	}
	f.mu.Unlock()
	switch {
	case !known:
		answer(false, "invalid-input-response")
	case used && f.provider == "hcaptcha":
		answer(false, "invalid-or-already-seen-response")
	case used:
		answer(false, "timeout-or-duplicate")
	default:
		answer(true)
	}
}

// captchaEmitter counts the votes that reach Kafka; fail makes the next
// emits fail (Kafka did not acknowledge).
type captchaEmitter struct {
	mu    sync.Mutex
	votes []*pipeline.Vote
	fail  int
}

func (e *captchaEmitter) EmitVote(_ context.Context, v *pipeline.Vote) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail > 0 {
		e.fail--
		return errors.New("kafka: not acknowledged")
	}
	e.votes = append(e.votes, v)
	return nil
}

func (e *captchaEmitter) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.votes)
}

type captchaStandings struct{}

func (captchaStandings) Snapshot(string) pipeline.Standings { return pipeline.Standings{} }
func (captchaStandings) Changed() <-chan struct{}           { return nil }

const captchaTestTimeout = 300 * time.Millisecond

func captchaServer(t *testing.T, cfg CaptchaConfig, em *captchaEmitter) *Server {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = captchaTestTimeout
	}
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10, Captcha: cfg},
		Deps{Catalog: newOpenCatalog(), Emitter: em, Standings: captchaStandings{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// captchaVoter is a browser on one server: its voter cookie and the proofs
// of work it solves.
type captchaVoter struct {
	t      *testing.T
	s      *Server
	cookie *http.Cookie
}

const captchaVoterAddr = "198.51.100.20:5555"

// proof fetches a challenge and solves it.
func (v *captchaVoter) proof() string {
	v.t.Helper()
	var header []string
	if v.cookie != nil {
		header = []string{"Cookie", v.cookie.Name + "=" + v.cookie.Value}
	}
	rec := challengeFrom(v.s, captchaVoterAddr, false, header...)
	if rec.Code != http.StatusOK {
		v.t.Fatalf("challenge: %d %s", rec.Code, rec.Body)
	}
	if c := voterCookieOf(rec); c != nil {
		v.cookie = c
	}
	var c Challenge
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		v.t.Fatal(err)
	}
	return payloadFor(v.t, c, nil)
}

// vote sends a vote for ana with proof and, unless nil, the captcha token.
func (v *captchaVoter) vote(proof string, token *string) *httptest.ResponseRecorder {
	v.t.Helper()
	body := map[string]any{"participantId": "ana", "altcha": proof}
	if token != nil {
		body["captcha"] = *token
	}
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/paredoes/demo/votes", strings.NewReader(string(b)))
	req.RemoteAddr = captchaVoterAddr
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(v.cookie)
	rec := httptest.NewRecorder()
	v.s.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) (code, msg string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return body.Error.Code, body.Error.Message
}

// wantRefused checks a refusal's status, code and a word of its message.
func wantRefused(t *testing.T, rec *httptest.ResponseRecorder, status int, code, word string) {
	t.Helper()
	gotCode, msg := errorOf(t, rec)
	if rec.Code != status || gotCode != code || !strings.Contains(msg, word) {
		t.Fatalf("got %d %s %q, want %d %s with %q", rec.Code, gotCode, msg, status, code, word)
	}
}

// With a hosted captcha configured, a vote needs a token its provider
// accepts, once, besides the proof of work: a missing, forged, expired or
// replayed token is refused 403 invalid_challenge, a provider that does not
// answer in time refuses it 503 unavailable (fail closed) — and a refused
// vote counts nothing: it never reaches Kafka. Against a local server that
// speaks each provider's siteverify API.
func TestCaptchaVotes(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, f *fakeSiteverify, s *Server, em *captchaEmitter)
	}{
		{"accepted token", func(t *testing.T, f *fakeSiteverify, s *Server, em *captchaEmitter) {
			v := &captchaVoter{t: t, s: s}
			tok := f.issue("good")
			if rec := v.vote(v.proof(), &tok); rec.Code != http.StatusAccepted {
				t.Fatalf("vote: %d %s", rec.Code, rec.Body)
			}
			if em.count() != 1 || f.callCount() != 1 {
				t.Fatalf("emitted %d, siteverify calls %d; want 1, 1", em.count(), f.callCount())
			}
			if f.remoteIP != "198.51.100.20" {
				t.Errorf("remoteip %q, want the voter's address", f.remoteIP)
			}
		}},
		{"no token", func(t *testing.T, f *fakeSiteverify, s *Server, em *captchaEmitter) {
			v := &captchaVoter{t: t, s: s}
			wantRefused(t, v.vote(v.proof(), nil), 403, "invalid_challenge", "captcha token is required")
			empty := ""
			wantRefused(t, v.vote(v.proof(), &empty), 403, "invalid_challenge", "captcha token is required")
			if f.callCount() != 0 || em.count() != 0 {
				t.Errorf("siteverify asked %d times about no token, %d votes emitted", f.callCount(), em.count())
			}
		}},
		{"forged token", func(t *testing.T, f *fakeSiteverify, s *Server, em *captchaEmitter) {
			v := &captchaVoter{t: t, s: s}
			forged := f.provider + "-token-made-up"
			wantRefused(t, v.vote(v.proof(), &forged), 403, "invalid_challenge", "invalid")
			if em.count() != 0 {
				t.Fatal("a vote with a forged token reached Kafka")
			}
		}},
		{"provider timing out", func(t *testing.T, f *fakeSiteverify, s *Server, em *captchaEmitter) {
			v := &captchaVoter{t: t, s: s}
			slow := "slow-" + f.issue("slow")
			proof := v.proof()
			start := time.Now()
			rec := v.vote(proof, &slow)
			if took := time.Since(start); took > captchaTestTimeout+time.Second {
				t.Errorf("the vote waited %v for siteverify; the bound is %v", took, captchaTestTimeout)
			}
			wantRefused(t, rec, 503, "unavailable", "not recorded")
			if rec.Header().Get("Retry-After") == "" || em.count() != 0 {
				t.Errorf("503: Retry-After %q, emitted %d", rec.Header().Get("Retry-After"), em.count())
			}
			// Nothing was written or claimed: the same proof of work with a
			// fresh token is a vote.
			tok := f.issue("after-timeout")
			if rec := v.vote(proof, &tok); rec.Code != http.StatusAccepted || em.count() != 1 {
				t.Fatalf("the same proof of work after the timeout: %d %s, emitted %d", rec.Code, rec.Body, em.count())
			}
		}},
		{"replayed token", func(t *testing.T, f *fakeSiteverify, s *Server, em *captchaEmitter) {
			v := &captchaVoter{t: t, s: s}
			tok := f.issue("once")
			if rec := v.vote(v.proof(), &tok); rec.Code != http.StatusAccepted {
				t.Fatalf("first vote: %d %s", rec.Code, rec.Body)
			}
			calls := f.callCount()
			// The same token with a new proof of work: this replica remembers it.
			wantRefused(t, v.vote(v.proof(), &tok), 403, "invalid_challenge", "used already")
			if f.callCount() != calls {
				t.Errorf("siteverify asked again about a token this replica remembers")
			}
			// Another replica does not: the provider says it was seen.
			other := &captchaVoter{t: t, s: captchaServer(t, CaptchaConfig{Provider: f.provider, SiteKey: "site", Secret: f.secret, VerifyURL: f.srv.URL}, em)}
			wantRefused(t, other.vote(other.proof(), &tok), 403, "invalid_challenge", "used already")
			if em.count() != 1 {
				t.Fatalf("emitted %d votes for one token, want 1", em.count())
			}
		}},
		{"resent after Kafka failed", func(t *testing.T, f *fakeSiteverify, s *Server, em *captchaEmitter) {
			// The contract's resend: a 503 whose outcome is unknown, then the
			// same body. The token was verified with this proof of work: it
			// passes on to the proof of work's own checks.
			v := &captchaVoter{t: t, s: s}
			tok := f.issue("resend")
			proof := v.proof()
			em.mu.Lock()
			em.fail = 1
			em.mu.Unlock()
			wantRefused(t, v.vote(proof, &tok), 503, "unavailable", "unknown")
			if rec := v.vote(proof, &tok); rec.Code != http.StatusAccepted {
				t.Fatalf("resent: %d %s", rec.Code, rec.Body)
			}
			if rec := v.vote(proof, &tok); rec.Code != http.StatusConflict {
				t.Fatalf("resent after its 202: %d %s, want 409 challenge_used", rec.Code, rec.Body)
			}
			if em.count() != 1 || f.callCount() != 1 {
				t.Fatalf("emitted %d, siteverify calls %d; want 1, 1", em.count(), f.callCount())
			}
		}},
	}
	for _, provider := range []string{"turnstile", "hcaptcha", "recaptcha"} {
		for _, tc := range cases {
			t.Run(provider+"/"+tc.name, func(t *testing.T) {
				f := newFakeSiteverify(t, provider)
				em := &captchaEmitter{}
				s := captchaServer(t, CaptchaConfig{Provider: provider, SiteKey: "site-" + provider, Secret: f.secret, VerifyURL: f.srv.URL}, em)
				tc.run(t, f, s, em)
			})
		}
	}
}

// A provider that cannot answer as its API says — down, answering 500 or
// not JSON, or refusing our secret — refuses the vote 503 unavailable and
// writes nothing (fail closed): the captcha is not switched off by an outage.
func TestCaptchaFailsClosed(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream trouble", http.StatusBadGateway)
	}))
	defer broken.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>challenge page</html>"))
	}))
	defer html.Close()
	f := newFakeSiteverify(t, "turnstile")
	for _, tc := range []struct{ name, url, secret string }{
		{"unreachable", down.URL, f.secret},
		{"502", broken.URL, f.secret},
		{"not JSON", html.URL, f.secret},
		{"wrong secret", f.srv.URL, "not-our-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em := &captchaEmitter{}
			s := captchaServer(t, CaptchaConfig{Provider: "turnstile", SiteKey: "site", Secret: tc.secret, VerifyURL: tc.url}, em)
			v := &captchaVoter{t: t, s: s}
			tok := f.issue(tc.name)
			wantRefused(t, v.vote(v.proof(), &tok), 503, "unavailable", "not recorded")
			if em.count() != 0 {
				t.Fatal("a vote the captcha did not pass reached Kafka")
			}
		})
	}
}

// Each provider's error codes map to the contract's answers.
func TestCaptchaErrorCodes(t *testing.T) {
	c, err := newCaptcha(CaptchaConfig{Provider: "hcaptcha", SiteKey: "k", Secret: "s"}, 1, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		codes []string
		want  error
	}{
		{nil, errCaptchaInvalid},
		{[]string{"invalid-input-response"}, errCaptchaInvalid},
		{[]string{"bad-request"}, errCaptchaInvalid},
		{[]string{"missing-input-response"}, errCaptchaMissing},
		{[]string{"timeout-or-duplicate"}, errCaptchaReplayed},
		{[]string{"invalid-or-already-seen-response"}, errCaptchaReplayed},
		{[]string{"invalid-input-secret"}, errCaptchaUnavailable},
		{[]string{"missing-input-secret"}, errCaptchaUnavailable},
		{[]string{"sitekey-secret-mismatch"}, errCaptchaUnavailable},
		{[]string{"internal-error"}, errCaptchaUnavailable},
	} {
		if got := c.refusal(tc.codes); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.codes, got, tc.want)
		}
	}
	for _, e := range []*Error{errCaptchaInvalid, errCaptchaMissing, errCaptchaReplayed} {
		if e.Status != 403 || e.Code != "invalid_challenge" {
			t.Errorf("%v: want 403 invalid_challenge", e)
		}
	}
}

// The page learns the captcha from GET /api/v1/config, and the voter page's
// CSP admits that provider's origins alone; other pages, and a server
// without a captcha, keep the strict policy, and a vote needs no token.
func TestCaptchaPageConfigAndCSP(t *testing.T) {
	get := func(s *Server, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	// What each provider's documentation asks a CSP to admit.
	want := map[string]map[string][]string{
		"turnstile": {
			"script-src":  {"https://challenges.cloudflare.com"},
			"frame-src":   {"https://challenges.cloudflare.com"},
			"connect-src": {"https://challenges.cloudflare.com"},
		},
		"hcaptcha": {
			"script-src":  {"https://hcaptcha.com", "https://*.hcaptcha.com"},
			"frame-src":   {"https://hcaptcha.com", "https://*.hcaptcha.com"},
			"connect-src": {"https://hcaptcha.com", "https://*.hcaptcha.com"},
			"style-src":   {"https://hcaptcha.com", "https://*.hcaptcha.com"},
		},
		"recaptcha": {
			"script-src":  {"https://www.google.com/recaptcha/", "https://www.gstatic.com/recaptcha/"},
			"frame-src":   {"https://www.google.com/recaptcha/", "https://recaptcha.google.com/recaptcha/"},
			"connect-src": {"https://www.google.com/recaptcha/"},
		},
	}
	directives := func(csp string) map[string][]string {
		out := map[string][]string{}
		for _, d := range strings.Split(csp, ";") {
			f := strings.Fields(d)
			if len(f) > 0 {
				out[f[0]] = f[1:]
			}
		}
		return out
	}
	for provider, own := range want {
		s := captchaServer(t, CaptchaConfig{Provider: provider, SiteKey: "site-" + provider, Secret: "x"}, &captchaEmitter{})
		csp := get(s, "/").Header().Get("Content-Security-Policy")
		got := directives(csp)
		for d, origins := range own {
			if strings.Join(got[d], " ") != "'self' "+strings.Join(origins, " ") {
				t.Errorf("%s: %s %v, want 'self' %v", provider, d, got[d], origins)
			}
		}
		for _, d := range []string{"default-src", "img-src", "object-src", "base-uri", "form-action", "frame-ancestors"} {
			if strings.Join(got[d], " ") != strings.Join(directives(basePolicy)[d], " ") {
				t.Errorf("%s: %s changed: %v", provider, d, got[d])
			}
		}
		if len(got) != len(own)+6 || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", provider, csp)
		}
		if got := get(s, "/production").Header().Get("Content-Security-Policy"); got != basePolicy {
			t.Errorf("%s: production CSP widened: %q", provider, got)
		}
		var cfg clientConfigJSON
		rec := get(s, "/api/v1/config")
		if err := json.Unmarshal(rec.Body.Bytes(), &cfg); err != nil || rec.Code != 200 || cfg.Captcha == nil ||
			cfg.Captcha.Provider != provider || cfg.Captcha.SiteKey != "site-"+provider {
			t.Fatalf("%s: config %d %s", provider, rec.Code, rec.Body)
		}
		// The widget script is one the CSP admits.
		admitted := false
		for _, src := range own["script-src"] {
			host := strings.TrimPrefix(src, "https://*.")
			admitted = admitted || strings.HasPrefix(cfg.Captcha.Script, src) ||
				(host != src && strings.HasPrefix(cfg.Captcha.Script, "https://") && strings.HasSuffix(strings.SplitN(cfg.Captcha.Script[8:], "/", 2)[0], "."+host))
		}
		if !admitted {
			t.Errorf("%s: script %s is not in script-src %v", provider, cfg.Captcha.Script, own["script-src"])
		}
		if strings.Contains(rec.Body.String(), `"x"`) {
			t.Errorf("%s: the config endpoint shows the secret: %s", provider, rec.Body)
		}
	}

	em := &captchaEmitter{}
	plain := captchaServer(t, CaptchaConfig{}, em)
	if got := get(plain, "/").Header().Get("Content-Security-Policy"); got != basePolicy {
		t.Errorf("ALTCHA only: CSP %q", got)
	}
	if rec := get(plain, "/api/v1/config"); strings.TrimSpace(rec.Body.String()) != `{"captcha":null}` {
		t.Errorf("ALTCHA only: config %s", rec.Body)
	}
	v := &captchaVoter{t: t, s: plain}
	if rec := v.vote(v.proof(), nil); rec.Code != http.StatusAccepted || em.count() != 1 {
		t.Fatalf("ALTCHA only, no token: %d %s", rec.Code, rec.Body)
	}
}

// A captcha is configured completely or refused at start.
func TestCaptchaConfigRefused(t *testing.T) {
	for _, cfg := range []CaptchaConfig{
		{Provider: "friendlycaptcha", SiteKey: "k", Secret: "s"},
		{Provider: "turnstile", Secret: "s"},
		{Provider: "hcaptcha", SiteKey: "k"},
		{Provider: "recaptcha", SiteKey: "k", Secret: "s", VerifyURL: "ftp://example.com/verify"},
	} {
		_, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10, Captcha: cfg}, Deps{Catalog: newOpenCatalog()})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
}
