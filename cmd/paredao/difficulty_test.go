package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paredao/paredao/load"
)

// forwardedFor sends every request as if a trusted proxy had forwarded it
// for addr.
type forwardedFor string

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}

// Adaptive difficulty on the real binary: a script hammering from one /24
// sees its maxnumber climb and its votes per second fall, while a person
// voting every 5 s from another /24 keeps the base difficulty all
// along. X-Forwarded-For from 127.0.0.1 (a trusted proxy) plays the two
// prefixes.
func TestAdaptiveDifficulty(t *testing.T) {
	const base = 20000
	env := runEnv(t, t.TempDir())
	env["PAREDAO_TRUSTED_PROXIES"] = "127.0.0.1/32"
	env["PAREDAO_VOTES_PER_MINUTE"] = "0"
	env["PAREDAO_ADDRESS_VOTES_PER_MINUTE"] = "0"
	env["PAREDAO_POW_MAX_NUMBER"] = "20000"
	env["PAREDAO_POW_MAX_LEVEL"] = "4"
	// Low thresholds, for the minute's counts to climb within the test: a
	// person voting every 5 s (12 a minute) stays at level 0.
	env["PAREDAO_POW_COOKIE_PER_MINUTE"] = "12"
	env["PAREDAO_POW_PREFIX_PER_MINUTE"] = "48"
	p := start(t, env, "run")

	const hammerFor = 15 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), hammerFor)
	defer cancel()
	began := time.Now()

	type vote struct {
		at        time.Duration // since began, when acknowledged
		maxNumber int64         // of the next challenge
	}
	var (
		mu      sync.Mutex
		scripts []vote
		person  []vote
		wg      sync.WaitGroup
	)
	fail := make(chan string, 8)
	for _, addr := range []string{"203.0.113.7", "203.0.113.8"} { // two cookies, one /24
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := load.NewVoter(p.http, forwardedFor(addr))
			for ctx.Err() == nil {
				out, err := v.Cast(ctx, "demo", "ana", 0)
				if ctx.Err() != nil {
					return
				}
				if err != nil || out.Status != http.StatusAccepted {
					fail <- "script vote: " + errText(err) + " " + http.StatusText(out.Status)
					return
				}
				mu.Lock()
				scripts = append(scripts, vote{time.Since(began), out.Reply.NextChallenge.MaxNumber})
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() { // a person: a vote every 5 s
		defer wg.Done()
		v := load.NewVoter(p.http, forwardedFor("198.51.100.20"))
		for {
			out, err := v.Cast(context.Background(), "demo", "bruno", 5*time.Second)
			if err != nil || out.Status != http.StatusAccepted {
				fail <- "person's vote: " + errText(err) + " " + http.StatusText(out.Status)
				return
			}
			mu.Lock()
			person = append(person, vote{time.Since(began), out.Reply.NextChallenge.MaxNumber})
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
	wg.Wait()
	select {
	case f := <-fail:
		t.Fatal(f)
	default:
	}

	rate := func(from, to time.Duration) float64 {
		n := 0
		for _, v := range scripts {
			if v.at >= from && v.at < to {
				n++
			}
		}
		return float64(n) / (to - from).Seconds()
	}
	first, last := rate(0, time.Second), rate(hammerFor-5*time.Second, hammerFor)
	top := int64(0)
	for _, v := range scripts {
		top = max(top, v.maxNumber)
	}
	t.Logf("script: %d votes, %.0f votes/s in the first second, %.1f votes/s in the last 5 s, maxnumber up to %d (base %d)",
		len(scripts), first, last, top, base)
	for _, v := range person {
		t.Logf("person: vote at %s, next maxnumber %d", v.at.Round(time.Millisecond), v.maxNumber)
	}
	if top < base<<6 {
		t.Errorf("the script's maxnumber reached %d, want at least level 3 (%d)", top, base<<6)
	}
	if last*3 > first {
		t.Errorf("the script's votes/s fell from %.0f to %.1f only, want at least 3 times fewer", first, last)
	}
	if len(person) < 3 {
		t.Errorf("the person voted %d times in %s", len(person), hammerFor)
	}
	for _, v := range person {
		if v.maxNumber != base {
			t.Errorf("the person got maxnumber %d at %s, want the base %d", v.maxNumber, v.at, base)
		}
	}

	// The levels handed out are on /metrics.
	resp, err := http.Get(p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	closeQuiet(resp.Body)
	for _, level := range []string{"0", "3"} {
		line := `paredao_http_challenge_difficulty_total{level="` + level + `"} `
		i := strings.Index(string(b), line)
		if i < 0 || strings.HasPrefix(string(b[i+len(line):]), "0\n") {
			t.Errorf("/metrics: no challenge at level %s", level)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The adaptive difficulty's settings: defaults, environment, and a curve
// whose top would overflow a browser's number refused.
func TestPowLevelConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := loadConfig("run", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PowMaxLevel != 4 || c.PowCookiePerMin != 30 || c.PowPrefixPerMin != 1200 {
		t.Fatalf("defaults: level %d, cookie %d, prefix %d", c.PowMaxLevel, c.PowCookiePerMin, c.PowPrefixPerMin)
	}
	c, err = loadConfig("run", []string{"--pow-max-level", "2"}, env(map[string]string{"PAREDAO_POW_COOKIE_PER_MINUTE": "5", "PAREDAO_POW_PREFIX_PER_MINUTE": "0"}), io.Discard)
	if err != nil || c.PowMaxLevel != 2 || c.PowCookiePerMin != 5 || c.PowPrefixPerMin != 0 {
		t.Fatalf("set: %+v, %v", c, err)
	}
	for _, args := range [][]string{{"--pow-max-level", "11"}, {"--pow-max-level", "-1"}, {"--pow-max-number", "1000000000000", "--pow-max-level", "10"}} {
		if _, err := loadConfig("run", args, env(nil), io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
