package http

import (
	"net/netip"
	"testing"
	"time"
)

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// FuzzParseVote: the vote decoder never panics and either returns both fields
// or a 4xx error.
func FuzzParseVote(f *testing.F) {
	f.Add([]byte(`{"participantId":"ana","altcha":"eyJ9"}`))
	f.Add([]byte(`{"participantId":"ana","altcha":"eyJ9","captcha":"XXXX.DUMMY.TOKEN.XXXX"}`))
	f.Add([]byte(`{"participantId":null}`))
	f.Add([]byte("{\"participantId\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseVote(body)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Status < 400 || e.Status > 499 {
				t.Fatalf("error %v is not a 4xx *Error", err)
			}
			return
		}
		if req.ParticipantID == nil || req.Altcha == nil {
			t.Fatalf("accepted %q without both fields", body)
		}
	})
}

// FuzzVerifyPow: the proof-of-work check never panics and never accepts a
// payload that was not solved for a challenge this server issued.
func FuzzVerifyPow(f *testing.F) {
	p := testPow()
	now := time.Unix(1_800_000_000, 0)
	c, _ := p.issue("voterA", "p1", now)
	f.Add(payloadFor(f, c, nil), "voterA", "p1")
	f.Add("", "voterA", "p1")
	f.Add("eyJhbGdvcml0aG0iOiJTSEEtMjU2In0=", "voterA", "p1")
	f.Fuzz(func(t *testing.T, payload, voter, paredao string) {
		sol, e := p.verify(payload, voter, paredao, now)
		if e != nil {
			if e.Status != 403 || e.Code != "invalid_challenge" {
				t.Fatalf("error %d %s", e.Status, e.Code)
			}
			return
		}
		if voter != "voterA" || paredao != "p1" || sol.id == "" {
			t.Fatalf("accepted payload for voter %q paredao %q", voter, paredao)
		}
	})
}
