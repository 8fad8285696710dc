package http

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CaptchaConfig turns on a hosted captcha checked on every vote in addition
// to the proof of work. The zero value is ALTCHA only.
type CaptchaConfig struct {
	Provider  string        // "" (none), "turnstile", "hcaptcha" or "recaptcha"
	SiteKey   string        // public: the page's widget uses it
	Secret    string        // the siteverify secret
	VerifyURL string        // siteverify endpoint; "" = the provider's own
	Timeout   time.Duration // how long a vote waits for siteverify (default 3 s)
}

// provider is what differs between the hosted captchas: where siteverify is,
// which code says a token was used already, and the origins the page needs
// (a widget script, its frames, and its calls back home).
type provider struct {
	verifyURL string
	script    string // the widget, rendered explicitly, calling paredaoCaptchaReady once loaded
	scriptSrc []string
	frameSrc  []string
	connect   []string
	styleSrc  []string
}

var providers = map[string]provider{
	// https://developers.cloudflare.com/turnstile/get-started/server-side-validation/
	"turnstile": {
		verifyURL: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
		script:    "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit&onload=paredaoCaptchaReady",
		scriptSrc: []string{"https://challenges.cloudflare.com"},
		frameSrc:  []string{"https://challenges.cloudflare.com"},
		connect:   []string{"https://challenges.cloudflare.com"},
	},
	// https://docs.hcaptcha.com/#verify-the-user-response-server-side
	"hcaptcha": {
		verifyURL: "https://api.hcaptcha.com/siteverify",
		script:    "https://js.hcaptcha.com/1/api.js?render=explicit&onload=paredaoCaptchaReady",
		scriptSrc: []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
		frameSrc:  []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
		connect:   []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
		styleSrc:  []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
	},
	// https://developers.google.com/recaptcha/docs/verify (v2: checkbox or invisible)
	"recaptcha": {
		verifyURL: "https://www.google.com/recaptcha/api/siteverify",
		script:    "https://www.google.com/recaptcha/api.js?render=explicit&onload=paredaoCaptchaReady",
		scriptSrc: []string{"https://www.google.com/recaptcha/", "https://www.gstatic.com/recaptcha/"},
		frameSrc:  []string{"https://www.google.com/recaptcha/", "https://recaptcha.google.com/recaptcha/"},
		connect:   []string{"https://www.google.com/recaptcha/"},
	},
}

// basePolicy is the Content-Security-Policy of every answer; the voter page
// widens it for the configured captcha's origins alone (captcha.policy).
const basePolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Captcha tokens the server remembers having verified, and how long: tokens
// live 2 (reCAPTCHA, hCaptcha) to 5 minutes (Turnstile) at the provider.
const (
	captchaMemory    = 1 << 16
	captchaRemember  = 5 * time.Minute
	maxSiteverifyAns = 64 << 10
)

// captcha checks a vote's hosted-captcha token against the provider's
// siteverify API. A nil *captcha (none configured) accepts every vote.
//
// It fails closed: a provider that does not answer within the timeout, or
// answers something other than its JSON, refuses the vote with 503
// unavailable before anything is written (the vote is not emitted, its proof
// of work not claimed), so the voter may send it again with a fresh token.
// A captcha configured to keep machines out stays on when the provider is
// slow or unreachable; an outage of the provider is an outage of voting,
// which the operator ends by unsetting PAREDAO_CAPTCHA.
//
// A token counts once: the provider says so (timeout-or-duplicate,
// invalid-or-already-seen-response), and the server remembers the tokens it
// verified (bounded, captchaMemory, for captchaRemember) with the proof of
// work they came with. The same token with another proof of work is refused
// without asking the provider; with the same one, it is the same vote sent
// again after a 503 (the contract's resend), which passes on to the proof of
// work's own replay checks (409 challenge_used, guard).
type captcha struct {
	name     string
	siteKey  string
	secret   string
	endpoint string
	policy   string // the voter page's Content-Security-Policy
	script   string
	timeout  time.Duration
	client   *http.Client
	slots    chan struct{} // siteverify calls in flight at once
	log      *slog.Logger
	failures logEvery

	mu   sync.Mutex
	seen generations[seenToken] // sha256(token) → the proof of work it came with

	checks  *prometheus.CounterVec
	latency prometheus.Histogram
}

type seenToken struct {
	proof   string
	staleAt int64
}

// newCaptcha builds the check cfg asks for: nil when none.
func newCaptcha(cfg CaptchaConfig, inFlight int, log *slog.Logger) (*captcha, error) {
	if cfg.Provider == "" {
		return nil, nil
	}
	p, ok := providers[cfg.Provider]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: captcha %q: turnstile, hcaptcha or recaptcha (or empty for none)", ErrConfig, cfg.Provider)
	case cfg.SiteKey == "" || cfg.Secret == "":
		return nil, fmt.Errorf("%w: captcha %s needs a site key and a secret", ErrConfig, cfg.Provider)
	}
	endpoint := p.verifyURL
	if cfg.VerifyURL != "" {
		endpoint = cfg.VerifyURL
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: captcha verify URL %q is not an http(s) URL", ErrConfig, endpoint)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	c := &captcha{
		name: cfg.Provider, siteKey: cfg.SiteKey, secret: cfg.Secret, endpoint: endpoint,
		policy: widen(p), script: p.script, timeout: cfg.Timeout, log: log,
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		slots: make(chan struct{}, max(inFlight, 1)),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paredao_http_captcha_checks_total",
			Help: "Hosted-captcha checks of votes, by outcome: accepted, resent (a token verified before, with the same proof of work), missing, refused, replayed, unavailable.",
		}, []string{"provider", "outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "paredao_http_captcha_verify_seconds", Help: "Time for the captcha provider's siteverify to answer.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 3, 5},
		}),
	}
	for _, o := range []string{"accepted", "resent", "missing", "refused", "replayed", "unavailable"} {
		c.checks.WithLabelValues(c.name, o)
	}
	return c, nil
}

// widen is basePolicy with p's origins for scripts, frames, calls (and, for
// hCaptcha, styles); 'self' stays in each.
func widen(p provider) string {
	var b strings.Builder
	b.WriteString(basePolicy)
	add := func(directive string, origins []string) {
		if len(origins) > 0 {
			b.WriteString("; " + directive + " 'self' " + strings.Join(origins, " "))
		}
	}
	add("script-src", p.scriptSrc)
	add("frame-src", p.frameSrc)
	add("connect-src", p.connect)
	add("style-src", p.styleSrc)
	return b.String()
}

// pagePolicy is the Content-Security-Policy for a request: widened for the
// captcha on the voter page only.
// unchecked logs a siteverify that failed, at most once every 5 s.
func (c *captcha) unchecked(err error) {
	c.failures.note(c.log, "captcha could not be checked (votes answered 503)", "provider", c.name, "last_err", err)
}

func (c *captcha) pagePolicy(r *http.Request) string {
	if c == nil || r.URL.Path != "/" {
		return basePolicy
	}
	return c.policy
}

// Collectors are the captcha's metrics (none without a captcha).
func (c *captcha) collectors() []prometheus.Collector {
	if c == nil {
		return nil
	}
	return []prometheus.Collector{c.checks, c.latency}
}

// Captcha refusals: 403 invalid_challenge, as the contract has every failed
// anti-robot check.
var (
	errCaptchaMissing  = invalidChallenge("a captcha token is required: complete the captcha and vote again")
	errCaptchaInvalid  = invalidChallenge("the captcha token is invalid: complete the captcha again and vote")
	errCaptchaReplayed = invalidChallenge("the captcha token expired or was used already: complete the captcha again and vote")
)

// errCaptchaUnavailable answers a vote whose token the provider could not
// check in time: nothing was written, so unlike Kafka's 503 the outcome is
// known.
var errCaptchaUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", RetryAfter: 2 * time.Second,
	Message: "the captcha could not be checked right now and this vote was not recorded; complete the captcha again and vote in a moment"}

// check verifies token, sent with the proof of work proof from addr.
func (c *captcha) check(ctx context.Context, token *string, proof, addr string, now time.Time) error {
	if c == nil {
		return nil
	}
	if token == nil || *token == "" {
		c.checks.WithLabelValues(c.name, "missing").Inc()
		return errCaptchaMissing
	}
	sum := sha256.Sum256([]byte(*token))
	key := string(sum[:])
	c.mu.Lock()
	seen, ok := c.seen.get(key)
	c.mu.Unlock()
	if ok && seen.staleAt > now.Unix() {
		if seen.proof == proof {
			c.checks.WithLabelValues(c.name, "resent").Inc()
			return nil
		}
		c.checks.WithLabelValues(c.name, "replayed").Inc()
		return errCaptchaReplayed
	}
	err := c.verify(ctx, *token, addr)
	switch err {
	case nil:
		c.checks.WithLabelValues(c.name, "accepted").Inc()
		stale := now.Add(captchaRemember).Unix()
		c.mu.Lock()
		c.seen.put(key, seenToken{proof: proof, staleAt: stale}, stale, now.Unix(), captchaMemory/2)
		c.mu.Unlock()
		return nil
	case errCaptchaReplayed:
		c.checks.WithLabelValues(c.name, "replayed").Inc()
	case errCaptchaUnavailable:
		c.checks.WithLabelValues(c.name, "unavailable").Inc()
	default:
		c.checks.WithLabelValues(c.name, "refused").Inc()
	}
	return err
}

// siteverifyAnswer is what the three providers answer alike.
type siteverifyAnswer struct {
	Success    *bool    `json:"success"`
	ErrorCodes []string `json:"error-codes"`
	Hostname   string   `json:"hostname"`
}

// verify asks the provider about token: nil, a 403 refusal, or
// errCaptchaUnavailable.
func (c *captcha) verify(ctx context.Context, token, addr string) error {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	default:
		c.unchecked(errors.New("too many siteverify calls in flight"))
		return errCaptchaUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	form := url.Values{"secret": {c.secret}, "response": {token}}
	if addr != "" {
		form.Set("remoteip", addr)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("captcha siteverify request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	res, err := c.client.Do(req)
	if err != nil {
		c.unchecked(err)
		return errCaptchaUnavailable
	}
	defer func() { _ = res.Body.Close() }() // response body: read or abandoned, its Close error carries nothing
	var ans siteverifyAnswer
	err = json.NewDecoder(io.LimitReader(res.Body, maxSiteverifyAns)).Decode(&ans)
	c.latency.Observe(time.Since(start).Seconds())
	if res.StatusCode != http.StatusOK || err != nil || ans.Success == nil {
		c.unchecked(fmt.Errorf("siteverify answered %s (%v)", res.Status, err))
		return errCaptchaUnavailable
	}
	if *ans.Success {
		return nil
	}
	return c.refusal(ans.ErrorCodes)
}

// refusal maps the provider's error codes to an answer. A token that is
// missing, malformed or forged is the voter's (403); one expired or seen
// before, too (403, saying so); a secret the provider does not know, or its
// own trouble, is ours: logged, and the vote refused 503 (fail closed).
func (c *captcha) refusal(codes []string) error {
	replayed := false
	for _, code := range codes {
		switch code {
		case "missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch", "invalid-sitekey", "internal-error":
			c.unchecked(fmt.Errorf("siteverify refused our request: %s", strings.Join(codes, ", ")))
			return errCaptchaUnavailable
		case "timeout-or-duplicate", "invalid-or-already-seen-response", "expired-input-response", "already-seen-response":
			replayed = true
		case "missing-input-response":
			return errCaptchaMissing
		}
	}
	if replayed {
		return errCaptchaReplayed
	}
	return errCaptchaInvalid // invalid-input-response, bad-request, no code at all
}

// captchaJSON tells the voter page which widget to show: "captcha" is null
// when none is configured (ALTCHA only).
type captchaJSON struct {
	Provider string `json:"provider"`
	SiteKey  string `json:"siteKey"`
	Script   string `json:"script"`
}

type clientConfigJSON struct {
	Captcha *captchaJSON `json:"captcha"`
}

// clientConfig answers GET /api/v1/config: what the voter page needs to know
// of the server's configuration.
func (s *Server) clientConfig(w http.ResponseWriter, r *http.Request) {
	var out clientConfigJSON
	if c := s.captcha; c != nil {
		out.Captcha = &captchaJSON{Provider: c.name, SiteKey: c.siteKey, Script: c.script}
	}
	writeJSON(w, http.StatusOK, out)
}
