package http

import (
	"testing"
	"time"
)

func BenchmarkParseVote(b *testing.B) {
	body := []byte(`{"participantId":"ana","altcha":"eyJhbGdvcml0aG0iOiJTSEEtMjU2IiwiY2hhbGxlbmdlIjoiYWJjIn0="}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseVote(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPow(b *testing.B) {
	p := testPow()
	now := time.Now()
	c, _ := p.issue("voterA", "p1", now)
	payload := payloadFor(b, c, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, e := p.verify(payload, "voterA", "p1", now); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkIssueChallenge(b *testing.B) {
	p := testPow()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.issue("voterA", "p1", now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPercentages(b *testing.B) {
	votes := []int64{1234567, 987654, 55555}
	b.ReportAllocs()
	for b.Loop() {
		Percentages(votes)
	}
}
