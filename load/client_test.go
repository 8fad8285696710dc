package load

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/altcha-org/altcha-lib-go"
)

func challengeOf(t testing.TB, maxNumber int64) *Challenge {
	exp := time.Now().Add(time.Minute)
	c, err := altcha.CreateChallenge(altcha.ChallengeOptions{Algorithm: altcha.SHA256, MaxNumber: maxNumber, HMACKey: "k", Expires: &exp})
	if err != nil {
		t.Fatal(err)
	}
	return &Challenge{Algorithm: c.Algorithm, Challenge: c.Challenge, MaxNumber: c.MaxNumber, Salt: c.Salt, Signature: c.Signature}
}

// Solve finds the number the ALTCHA library accepts, and refuses what it
// cannot solve.
func TestSolve(t *testing.T) {
	for range 20 {
		ch := challengeOf(t, 500)
		payload, err := Solve(ch)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(payload)
		var p altcha.Payload
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if ok, err := altcha.VerifySolutionSafe(p, "k", true); err != nil || !ok {
			t.Fatalf("the library refuses %+v: %v", p, err)
		}
	}
	bad := challengeOf(t, 500)
	bad.Challenge = "00" + bad.Challenge[2:]
	if _, err := Solve(bad); err == nil {
		t.Fatal("solved an impossible challenge")
	}
	bad.Algorithm = "SHA-1"
	if _, err := Solve(bad); err == nil {
		t.Fatal("solved a SHA-1 challenge")
	}
}

// BenchmarkSolve: a challenge of difficulty 10,000; allocations do not grow
// with the number of tries.
func BenchmarkSolve(b *testing.B) {
	chs := make([]*Challenge, 64)
	for i := range chs {
		chs[i] = challengeOf(b, 10000)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Solve(chs[i%len(chs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// The fast read of a 202 finds what a full decoding finds, and gives up on
// an answer of another shape.
func TestDecodeAccepted(t *testing.T) {
	raw := []byte(`{"receipt":{"voteId":"0a1b","paredaoId":"demo","participantId":"ana","acceptedAt":"2026-11-28T21:30:15.123456789Z"},` +
		`"results":{"paredaoId":"demo","status":"open","asOf":"2026-11-28T21:30:16Z","participants":[{"id":"ana","name":"Ana {x}","percent":50},{"id":"bia","name":"Bia","percent":50}]},` +
		`"nextChallenge":{"algorithm":"SHA-256","challenge":"ff","maxNumber":10,"salt":"ab?expires=1&p=demo&v=x&","signature":"99"}}`)
	var fast, full VoteReply
	if !fast.decodeAccepted(raw) {
		t.Fatal("fast read gave up")
	}
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	if fast.Receipt != full.Receipt || *fast.NextChallenge != *full.NextChallenge {
		t.Fatalf("fast %+v %+v\nfull %+v %+v", fast.Receipt, fast.NextChallenge, full.Receipt, full.NextChallenge)
	}
	var other VoteReply
	if other.decodeAccepted([]byte(`{"receipt":{"voteId":"x"}}`)) {
		t.Fatal("read an answer without a next challenge")
	}
}
