package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/paredao/paredao/load"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/altcha-org/altcha-lib-go"

	phttp "github.com/paredao/paredao/http"
)

const hostileSecret = "hostile-secret-0123456789abcdef0123456789"

// mint makes a challenge signed with key (the server's, or another) with the
// given salt parameters and returns the solved base64 payload.
func mint(t *testing.T, key string, alg altcha.Algorithm, expires *time.Time, params url.Values) string {
	t.Helper()
	c, err := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: alg, MaxNumber: 20, HMACKey: key, Expires: expires, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	return solved(t, &load.Challenge{Algorithm: c.Algorithm, Challenge: c.Challenge, MaxNumber: c.MaxNumber, Salt: c.Salt, Signature: c.Signature}, nil)
}

func solved(t *testing.T, c *load.Challenge, mutate func(*altcha.Payload)) string {
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

type rawResp struct {
	status int
	code   string
	header http.Header
	body   string
}

// send posts body to path with headers and decodes the error code.
func send(t *testing.T, method, target string, headers map[string]string, body io.Reader) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer closeQuiet(resp.Body)
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	// The API's errors are JSON; net/http's own refusals (431, or 400 on a
	// request it cannot parse) are plain text, without a code.
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Errorf("%s %s: %d with a JSON body that does not parse: %v: %s", method, target, resp.StatusCode, err, b)
		}
	}
	return rawResp{resp.StatusCode, e.Error.Code, resp.Header, string(b)}
}

// The public endpoint under attack: every hostile request gets its contract
// status and error code, and nothing is counted.
func TestHostileRequests(t *testing.T) {
	env := runEnv(t, t.TempDir())
	env["PAREDAO_SECRET"] = hostileSecret
	env["PAREDAO_PRODUCTION_TOKEN"] = "hostile-token"
	env["PAREDAO_ADDRESS_VOTES_PER_MINUTE"] = "150" // challenges: 300 per minute per address
	env["PAREDAO_VOTES_PER_MINUTE"] = "0"
	env["PAREDAO_POW_MAX_NUMBER"] = "20"
	p := start(t, env, "run")
	const token = "hostile-token"
	key := phttp.ChallengeKey([]byte(hostileSecret))
	votes := p.http + "/api/v1/paredoes/demo/votes"

	// A second paredão (for "payload for another paredão") and a closed one.
	now := time.Now().UTC()
	for _, id := range []string{"other", "gone"} {
		st, b := authPost(t, p.http+"/api/v1/production/paredoes", token, map[string]any{
			"id": id, "title": id, "opensAt": now.Add(-time.Minute), "closesAt": now.Add(time.Hour),
			"participants": []map[string]string{{"id": "ana", "name": "Ana"}, {"id": "zeca", "name": "Zeca"}},
		})
		if st != http.StatusCreated {
			t.Fatalf("create %s: %d %s", id, st, b)
		}
	}
	if st, b := authPost(t, p.http+"/api/v1/production/paredoes/gone/close", token, nil); st != http.StatusOK {
		t.Fatalf("close: %d %s", st, b)
	}

	// Voter A with a real cookie and challenge.
	voterA := load.NewVoter(p.http, nil)
	chA, err := voterA.FetchChallenge(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	cookieA := voterA.Cookie()
	idA, _, _ := strings.Cut(cookieA, ".")
	voterB := load.NewVoter(p.http, nil)
	if _, err := voterB.FetchChallenge(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	cookieB := voterB.Cookie()
	fresh := func() string { // a valid payload for voter A on demo
		c, err := voterA.FetchChallenge(context.Background(), "demo")
		if err != nil {
			t.Fatal(err)
		}
		return solved(t, c, nil)
	}
	exp := time.Now().Add(time.Minute)
	past := time.Now().Add(-time.Second)
	paramsA := url.Values{"p": {"demo"}, "v": {idA}}
	otherParedao := func() string {
		c, err := voterA.FetchChallenge(context.Background(), "other")
		if err != nil {
			t.Fatal(err)
		}
		return solved(t, c, nil)
	}()
	body := func(participant, payload string) string {
		b, _ := json.Marshal(map[string]string{"participantId": participant, "altcha": payload})
		return string(b)
	}
	jsonCT := map[string]string{"Content-Type": "application/json", "Cookie": "paredao_voter=" + cookieA}

	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		status  int
		code    string
	}{
		{"missing proof of work", "POST", votes, jsonCT, body("ana", ""), 403, "invalid_challenge"},
		{"no altcha field", "POST", votes, jsonCT, `{"participantId":"ana"}`, 400, "invalid_request"},
		{"non-base64 proof of work", "POST", votes, jsonCT, body("ana", "%%%not base64"), 403, "invalid_challenge"},
		{"non-JSON proof of work", "POST", votes, jsonCT, body("ana", base64.StdEncoding.EncodeToString([]byte("hello"))), 403, "invalid_challenge"},
		{"wrong number", "POST", votes, jsonCT, body("ana", solved(t, chA, func(pl *altcha.Payload) { pl.Number = (pl.Number + 1) % 21 })), 403, "invalid_challenge"},
		{"foreign signature", "POST", votes, jsonCT, body("ana", mint(t, "not the server key", altcha.SHA256, &exp, paramsA)), 403, "invalid_challenge"},
		{"tampered expiry", "POST", votes, jsonCT, body("ana", solved(t, chA, func(pl *altcha.Payload) { pl.Salt = strings.Replace(pl.Salt, "expires=", "expires=1", 1) })), 403, "invalid_challenge"},
		{"tampered voter", "POST", votes, map[string]string{"Content-Type": "application/json", "Cookie": "paredao_voter=" + cookieB}, body("ana", solved(t, chA, func(pl *altcha.Payload) {
			pl.Salt = strings.Replace(pl.Salt, "v="+idA, "v="+strings.Split(cookieB, ".")[0], 1)
		})), 403, "invalid_challenge"},
		{"tampered paredao", "POST", p.http + "/api/v1/paredoes/other/votes", jsonCT, body("ana", solved(t, chA, func(pl *altcha.Payload) { pl.Salt = strings.Replace(pl.Salt, "p=demo", "p=other", 1) })), 403, "invalid_challenge"},
		{"algorithm changed", "POST", votes, jsonCT, body("ana", solved(t, chA, func(pl *altcha.Payload) { pl.Algorithm = "SHA-1" })), 403, "invalid_challenge"},
		{"SHA-1 challenge with the server key", "POST", votes, jsonCT, body("ana", mint(t, key, altcha.SHA1, &exp, paramsA)), 403, "invalid_challenge"},
		{"expired", "POST", votes, jsonCT, body("ana", mint(t, key, altcha.SHA256, &past, paramsA)), 403, "invalid_challenge"},
		{"no expiry", "POST", votes, jsonCT, body("ana", mint(t, key, altcha.SHA256, nil, paramsA)), 403, "invalid_challenge"},
		{"voter A's payload with voter B's cookie", "POST", votes, map[string]string{"Content-Type": "application/json", "Cookie": "paredao_voter=" + cookieB}, body("ana", fresh()), 403, "invalid_challenge"},
		{"forged voter cookie", "POST", votes, map[string]string{"Content-Type": "application/json", "Cookie": "paredao_voter=" + idA + ".AAAAAAAAAAAAAAAAAAAAAA"}, body("ana", fresh()), 403, "invalid_challenge"},
		{"no cookie", "POST", votes, map[string]string{"Content-Type": "application/json"}, body("ana", fresh()), 403, "invalid_challenge"},
		{"payload for another paredão", "POST", votes, jsonCT, body("ana", otherParedao), 403, "invalid_challenge"},
		{"unknown paredão", "POST", p.http + "/api/v1/paredoes/nope/votes", jsonCT, body("ana", fresh()), 404, "not_found"},
		{"unknown participant", "POST", votes, jsonCT, body("zeca", fresh()), 422, "unknown_participant"},
		{"paredão closed", "POST", p.http + "/api/v1/paredoes/gone/votes", jsonCT, body("ana", fresh()), 409, "paredao_not_open"},
		{"wrong JSON types", "POST", votes, jsonCT, `{"participantId":42,"altcha":true}`, 400, "invalid_request"},
		{"null", "POST", votes, jsonCT, `null`, 400, "invalid_request"},
		{"null fields", "POST", votes, jsonCT, `{"participantId":null,"altcha":null}`, 400, "invalid_request"},
		{"huge strings", "POST", votes, jsonCT, body(strings.Repeat("a", 3000), "x"), 422, "unknown_participant"},
		{"NUL bytes", "POST", votes, jsonCT, body("an\x00a", fresh()), 422, "unknown_participant"},
		{"invalid UTF-8", "POST", votes, jsonCT, "{\"participantId\":\"an\xffa\",\"altcha\":\"x\"}", 400, "invalid_request"},
		{"extra fields", "POST", votes, jsonCT, `{"participantId":"ana","altcha":"x","admin":true}`, 400, "invalid_request"},
		{"trailing data", "POST", votes, jsonCT, body("ana", fresh()) + `{}`, 400, "invalid_request"},
		{"empty body", "POST", votes, jsonCT, ``, 400, "invalid_request"},
		{"wrong content type", "POST", votes, map[string]string{"Content-Type": "text/plain", "Cookie": "paredao_voter=" + cookieA}, body("ana", fresh()), 415, "unsupported_media_type"},
		{"no content type", "POST", votes, map[string]string{"Cookie": "paredao_voter=" + cookieA}, body("ana", fresh()), 415, "unsupported_media_type"},
		{"foreign Origin", "POST", votes, map[string]string{"Content-Type": "application/json", "Cookie": "paredao_voter=" + cookieA, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, body("ana", fresh()), 403, "cross_origin"},
		{"wrong method", "PUT", votes, jsonCT, body("ana", fresh()), 405, "method_not_allowed"},
		{"report without token", "GET", p.http + "/api/v1/production/paredoes/demo/report", nil, "", 401, "unauthorized"},
		{"report with a wrong token", "GET", p.http + "/api/v1/production/paredoes/demo/report", map[string]string{"Authorization": "Bearer nope"}, "", 401, "unauthorized"},
		{"report with the token in the query", "GET", p.http + "/api/v1/production/paredoes/demo/report?token=" + token + "&access_token=" + token, nil, "", 401, "unauthorized"},
		{"create without token", "POST", p.http + "/api/v1/production/paredoes", map[string]string{"Content-Type": "application/json"}, `{}`, 401, "unauthorized"},
		{"close with a basic auth token", "POST", p.http + "/api/v1/production/paredoes/demo/close", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+token))}, "", 401, "unauthorized"},
		{"path traversal on static files", "GET", p.http + "/static/..%2f..%2f..%2fetc%2fpasswd", nil, "", 404, "not_found"},
		{"path traversal with dots", "GET", p.http + "/static/%2e%2e/%2e%2e/go.mod", nil, "", 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, tc.path, tc.headers, strings.NewReader(tc.body))
			if r.status != tc.status || r.code != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", r.status, r.code, tail(r.body, 300), tc.status, tc.code)
			}
			if strings.Contains(r.body, "root:") || strings.Contains(r.body, "module github.com") {
				t.Fatalf("leaked a file: %s", r.body)
			}
		})
	}

	t.Run("10 MB body", func(t *testing.T) {
		r := send(t, "POST", votes, jsonCT, io.LimitReader(zeroReader{}, 10<<20))
		if r.status != 413 || r.code != "body_too_large" {
			t.Fatalf("got %d %q", r.status, r.code)
		}
	})
	t.Run("oversized headers", func(t *testing.T) {
		r := send(t, "GET", p.http+"/api/v1/paredoes", map[string]string{"X-Big": strings.Repeat("a", 64<<10)}, nil)
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("got %d", r.status)
		}
	})
	t.Run("slowloris headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.http, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer closeQuiet(conn)
		if _, err := fmt.Fprint(conn, "GET /api/v1/paredoes HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := fmt.Fprint(conn, "X-Slow: 1\r\n"); err != nil {
				break // the server hung up on us
			}
			buf := make([]byte, 1)
			if err := conn.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Read(buf); err != nil && !isTimeout(err) {
				break
			}
			if time.Since(start) > 15*time.Second {
				t.Fatal("the server kept a slow header connection open for 15 s")
			}
		}
		if time.Since(start) < 4*time.Second {
			t.Fatalf("closed after %v, before the header timeout", time.Since(start))
		}
	})
	t.Run("same payload twice", func(t *testing.T) {
		pl := fresh()
		first := send(t, "POST", votes, jsonCT, strings.NewReader(body("ana", pl)))
		second := send(t, "POST", votes, jsonCT, strings.NewReader(body("ana", pl)))
		if first.status != 202 || second.status != 409 || second.code != "challenge_used" {
			t.Fatalf("first %d, second %d %q", first.status, second.status, second.code)
		}
	})
	t.Run("same payload 50 times concurrently", func(t *testing.T) {
		pl := fresh()
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := send(t, "POST", votes, jsonCT, strings.NewReader(body("bruno", pl)))
				mu.Lock()
				codes[r.status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[202] != 1 || codes[409] != 49 {
			t.Fatalf("statuses %v, want one 202 and 49 409", codes)
		}
	})
	t.Run("rotated X-Forwarded-For from an untrusted peer", func(t *testing.T) {
		limited := 0
		for i := range 400 {
			r := send(t, "GET", p.http+"/api/v1/challenge?paredao=demo", map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i%250)}, nil)
			if r.status == 429 {
				if r.code != "rate_limited" || r.header.Get("Retry-After") == "" {
					t.Fatalf("429 without its code or Retry-After: %q %v", r.code, r.header)
				}
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("400 challenges from one address with rotated X-Forwarded-For were never limited")
		}
	})

	// Nothing but the two votes acknowledged above was counted.
	waitFor(t, 20*time.Second, "the report", func() (bool, string) {
		r := getReport(t, p.http, "demo", token)
		got := map[string]int64{}
		for _, x := range r.Participants {
			got[x.ID] = x.Votes
		}
		return r.Total == 2 && got["ana"] == 1 && got["bruno"] == 1, fmt.Sprint(got)
	})
	time.Sleep(2 * time.Second) // anything stray would have arrived by now
	r := getReport(t, p.http, "demo", token)
	if r.Total != 2 {
		t.Fatalf("hostile requests were counted: total %d", r.Total)
	}
	for _, id := range []string{"other", "gone"} {
		if r := getReport(t, p.http, id, token); r.Total != 0 {
			t.Fatalf("%s counted %d", id, r.Total)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'a'
	}
	return len(b), nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
