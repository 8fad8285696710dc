package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	phttp "github.com/paredao/paredao/http"
	"github.com/paredao/paredao/load"
)

// turnstileSiteverify is a local server speaking Turnstile's siteverify API
// (form POST of secret, response, remoteip; JSON {success, error-codes,
// challenge_ts, hostname}): the tokens in good succeed once, then
// timeout-or-duplicate; "slow" is answered after the caller gave up; any
// other is invalid-input-response.
func turnstileSiteverify(t *testing.T, secret string, good ...string) *httptest.Server {
	var mu sync.Mutex
	used := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := r.ParseForm(); err != nil {
			t.Errorf("siteverify: %v", err)
		}
		tok := r.PostForm.Get("response")
		mu.Lock()
		defer mu.Unlock()
		var codes []string
		switch {
		case r.PostForm.Get("secret") != secret:
			codes = []string{"invalid-input-secret"}
		case tok == "":
			codes = []string{"missing-input-response"}
		case used[tok]:
			codes = []string{"timeout-or-duplicate"}
		case tok == "slow":
			mu.Unlock()
			select { // past the binary's timeout: it gave up
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			mu.Lock()
			codes = []string{}
		default:
			codes = []string{"invalid-input-response"}
			for _, g := range good {
				if tok == g {
					codes, used[tok] = []string{}, true
				}
			}
		}
		if err := json.NewEncoder(w).Encode(map[string]any{"success": len(codes) == 0, "error-codes": codes,
			"challenge_ts": time.Now().UTC().Format(time.RFC3339), "hostname": "127.0.0.1"}); err != nil {
			t.Logf("siteverify answer: %v", err) // the binary gave up on a slow one and hung up
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// With PAREDAO_CAPTCHA=turnstile the real binary refuses a vote without a
// token, with a forged one or with one used already (403 invalid_challenge),
// or whose siteverify does not answer in time (503 unavailable), and accepts one with a token its siteverify accepts (202); only that vote
// is counted. The voter page learns the captcha from /api/v1/config, and its
// CSP admits Turnstile's origin.
func TestCaptchaEndToEnd(t *testing.T) {
	const secret, token = "turnstile-test-secret", "XXXX.DUMMY.TOKEN.XXXX"
	verify := turnstileSiteverify(t, secret, token)
	env := runEnv(t, t.TempDir())
	env["PAREDAO_CAPTCHA"] = "turnstile"
	env["PAREDAO_CAPTCHA_SITE_KEY"] = "1x00000000000000000000AA"
	env["PAREDAO_CAPTCHA_SECRET"] = secret
	env["PAREDAO_CAPTCHA_VERIFY_URL"] = verify.URL
	env["PAREDAO_CAPTCHA_TIMEOUT"] = "500ms"
	p := start(t, env, "run")
	p.mu.Lock()
	printed := p.stdout.String()
	p.mu.Unlock()
	if strings.Contains(printed, secret) {
		t.Error("the configuration printed the captcha secret")
	}

	var cfg struct {
		Captcha *struct{ Provider, SiteKey string } `json:"captcha"`
	}
	if st := getJSON(t, p.http+"/api/v1/config", &cfg); st != 200 || cfg.Captcha == nil || cfg.Captcha.Provider != "turnstile" || cfg.Captcha.SiteKey != env["PAREDAO_CAPTCHA_SITE_KEY"] {
		t.Fatalf("/api/v1/config: %d %+v", st, cfg.Captcha)
	}
	resp, err := http.Get(p.http + "/")
	if err != nil {
		t.Fatal(err)
	}
	closeQuiet(resp.Body)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' https://challenges.cloudflare.com") ||
		!strings.Contains(csp, "frame-src 'self' https://challenges.cloudflare.com") {
		t.Errorf("voter page CSP %q does not admit Turnstile", csp)
	}

	c := load.NewVoter(p.http, nil)
	vote := func(participant string, captcha *string) (int, string) {
		t.Helper()
		payload := solvedChallenge(t, c, "demo")
		body := map[string]any{"participantId": participant, "altcha": payload}
		if captcha != nil {
			body["captcha"] = *captcha
		}
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, p.http+"/api/v1/paredoes/demo/votes", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", phttp.VoterCookie+"="+c.Cookie()) // as load.Voter sends it
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer closeQuiet(resp.Body)
		raw, _ := io.ReadAll(resp.Body)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("vote: %d %v: %s", resp.StatusCode, err, raw)
		}
		return resp.StatusCode, e.Error.Code
	}

	forged, good := "forged-token", token
	for _, tc := range []struct {
		name    string
		captcha *string
	}{{"no token", nil}, {"forged token", &forged}} {
		if st, code := vote("bruno", tc.captcha); st != http.StatusForbidden || code != "invalid_challenge" {
			t.Fatalf("%s: %d %s, want 403 invalid_challenge", tc.name, st, code)
		}
	}
	slow := "slow"
	if st, code := vote("bruno", &slow); st != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("siteverify timing out: %d %s, want 503 unavailable (fail closed)", st, code)
	}
	if st, code := vote("ana", &good); st != http.StatusAccepted {
		t.Fatalf("with a good token: %d %s, want 202", st, code)
	}
	if st, code := vote("bruno", &good); st != http.StatusForbidden || code != "invalid_challenge" {
		t.Fatalf("token replayed: %d %s, want 403 invalid_challenge", st, code)
	}
	waitFor(t, 30*time.Second, "one vote counted, for ana", showsPercents(t, p.http, map[string]float64{"ana": 100, "bruno": 0, "carla": 0}))

	resp, err = http.Get(p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	closeQuiet(resp.Body)
	for _, m := range []string{
		`paredao_http_captcha_checks_total{outcome="accepted",provider="turnstile"} 1`,
		`paredao_http_captcha_checks_total{outcome="missing",provider="turnstile"} 1`,
		`paredao_http_captcha_checks_total{outcome="refused",provider="turnstile"} 1`,
		`paredao_http_captcha_checks_total{outcome="replayed",provider="turnstile"} 1`,
		`paredao_http_captcha_checks_total{outcome="unavailable",provider="turnstile"} 1`,
		`paredao_http_votes_accepted_total 1`,
	} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// PAREDAO_CAPTCHA is off by default; on, it needs its site key and secret,
// names a known provider, and its secret is masked when printed.
func TestCaptchaConfig(t *testing.T) {
	c, err := loadConfig("run", nil, envOf(nil), io.Discard)
	if err != nil || c.Captcha != "" || c.CaptchaTimeout != 3*time.Second {
		t.Fatalf("default: captcha %q, timeout %v, %v", c.Captcha, c.CaptchaTimeout, err)
	}
	on := map[string]string{"PAREDAO_CAPTCHA": "hcaptcha", "PAREDAO_CAPTCHA_SITE_KEY": "site", "PAREDAO_CAPTCHA_SECRET": "captcha-secret-value", //nolint:gosec // G101: a made-up secret, which the test checks is masked when printed
		"PAREDAO_CAPTCHA_VERIFY_URL": "http://127.0.0.1:1/siteverify", "PAREDAO_CAPTCHA_TIMEOUT": "1500ms"}
	c, err = loadConfig("run", nil, envOf(on), io.Discard)
	if err != nil || c.Captcha != "hcaptcha" || c.CaptchaSiteKey != "site" || c.CaptchaVerify != on["PAREDAO_CAPTCHA_VERIFY_URL"] || c.CaptchaTimeout != 1500*time.Millisecond {
		t.Fatalf("configured: %+v, %v", c, err)
	}
	if strings.Contains(c.String(), "captcha-secret-value") {
		t.Fatalf("the captcha secret printed: %s", c)
	}
	for _, bad := range []map[string]string{
		{"PAREDAO_CAPTCHA": "friendlycaptcha", "PAREDAO_CAPTCHA_SITE_KEY": "k", "PAREDAO_CAPTCHA_SECRET": "s"},
		{"PAREDAO_CAPTCHA": "turnstile", "PAREDAO_CAPTCHA_SECRET": "s"},
		{"PAREDAO_CAPTCHA": "recaptcha", "PAREDAO_CAPTCHA_SITE_KEY": "k"},
		{"PAREDAO_CAPTCHA": "turnstile", "PAREDAO_CAPTCHA_SITE_KEY": "k", "PAREDAO_CAPTCHA_SECRET": "s", "PAREDAO_CAPTCHA_TIMEOUT": "0s"},
	} {
		if _, err := loadConfig("run", nil, envOf(bad), io.Discard); err == nil || !strings.Contains(err.Error(), "captcha") {
			t.Errorf("%v: %v, want a captcha error", bad, err)
		}
	}
}
