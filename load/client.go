package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/altcha-org/altcha-lib-go"
)

// Voter is one anonymous voter speaking the public API: it keeps its
// cookie, solves real proof-of-work challenges and retries a vote whose
// outcome it does not know with the same proof of work, so a vote counts once
// however often it is sent.
type Voter struct {
	base   string
	http   *http.Client
	next   *Challenge // the nextChallenge of the last 202
	cookie string     // the voter cookie's value; "" before the first challenge
}

// cookieName is the voter cookie (http.VoterCookie).
const cookieName = "paredao_voter"

type Challenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	MaxNumber int64  `json:"maxNumber"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

type VoteReply struct {
	Receipt struct {
		VoteID        string    `json:"voteId"`
		ParticipantID string    `json:"participantId"`
		AcceptedAt    time.Time `json:"acceptedAt"`
	} `json:"receipt"`
	NextChallenge *Challenge `json:"nextChallenge"`
	Error         *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// NewVoter is a voter without a cookie yet. It keeps its one cookie itself
// (a cookie jar costs more per request than the rest of the client).
func NewVoter(base string, transport http.RoundTripper) *Voter {
	return &Voter{base: strings.TrimSuffix(base, "/"), http: &http.Client{Transport: transport, Timeout: 10 * time.Second}}
}

// do sends req with the voter cookie and keeps the one the answer sets.
func (c *Voter) do(req *http.Request) (*http.Response, error) {
	if c.cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+c.cookie)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			c.cookie = ck.Value
		}
	}
	return resp, nil
}

// FetchChallenge gets a fresh challenge (and the voter cookie, the first time).
func (c *Voter) FetchChallenge(ctx context.Context, paredao string) (*Challenge, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/challenge?paredao="+paredao, nil)
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }() // response body: read or abandoned, its Close error carries nothing
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("challenge: %d %s", resp.StatusCode, b)
	}
	var ch Challenge
	if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	return &ch, nil
}

// Solve finds the number of a challenge and returns the ALTCHA payload:
// SHA-256 of the salt and each number in turn until it is the challenge,
// without allocating per try.
func Solve(ch *Challenge) (string, error) {
	if ch.Algorithm != string(altcha.SHA256) {
		return "", fmt.Errorf("unexpected algorithm %q", ch.Algorithm)
	}
	var want [sha256.Size]byte
	if n, err := hex.Decode(want[:], []byte(ch.Challenge)); err != nil || n != len(want) {
		return "", fmt.Errorf("challenge %q is not a SHA-256 in hex", ch.Challenge)
	}
	buf := make([]byte, 0, len(ch.Salt)+20)
	buf = append(buf, ch.Salt...)
	for n := int64(0); n <= ch.MaxNumber; n++ {
		if sha256.Sum256(strconv.AppendInt(buf, n, 10)) == want {
			b, _ := json.Marshal(altcha.Payload{Algorithm: ch.Algorithm, Challenge: ch.Challenge, Number: n, Salt: ch.Salt, Signature: ch.Signature})
			return base64.StdEncoding.EncodeToString(b), nil
		}
	}
	return "", fmt.Errorf("no solution for challenge up to %d", ch.MaxNumber)
}

// Post sends one vote attempt.
func (c *Voter) Post(ctx context.Context, paredao, participant, payload string) (int, *VoteReply, time.Duration, error) {
	body := make([]byte, 0, 48+len(participant)+len(payload))
	body = append(body, `{"participantId":`...)
	body = strconv.AppendQuote(body, participant)
	body = append(body, `,"altcha":`...)
	body = strconv.AppendQuote(body, payload)
	body = append(body, '}')
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/paredoes/"+paredao+"/votes", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer func() { _ = resp.Body.Close() }() // response body: read or abandoned, its Close error carries nothing
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, nil, 0, fmt.Errorf("vote reply: %w", err)
	}
	var r VoteReply
	if resp.StatusCode != http.StatusAccepted || !r.decodeAccepted(raw) {
		if err := json.Unmarshal(raw, &r); err != nil {
			return resp.StatusCode, nil, 0, fmt.Errorf("vote reply: %w", err)
		}
	}
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, &r, time.Duration(retry) * time.Second, nil
}

// decodeAccepted reads the two objects of a 202 the voter needs, the
// receipt and the next challenge, without decoding the results between
// them (a third of the generator's CPU otherwise); false when the answer
// does not look as expected, and the caller decodes it all.
func (r *VoteReply) decodeAccepted(raw []byte) bool {
	object := func(field string) []byte {
		i := bytes.Index(raw, []byte(`"`+field+`":{`))
		if i < 0 {
			return nil
		}
		rest := raw[i+len(field)+3:]
		j := bytes.IndexByte(rest, '}') // neither object nests, nor do its strings hold '}'
		if j < 0 {
			return nil
		}
		return rest[:j+1]
	}
	receipt, next := object("receipt"), object("nextChallenge")
	if receipt == nil || next == nil {
		return false
	}
	var ch Challenge
	if json.Unmarshal(receipt, &r.Receipt) != nil || json.Unmarshal(next, &ch) != nil || r.Receipt.VoteID == "" {
		return false
	}
	r.NextChallenge = &ch
	return true
}

// Outcome is what happened to one vote.
type Outcome struct {
	Status   int           // final status; 0 when the outcome stayed unknown
	Attempts int           // requests sent
	Latency  time.Duration // of the final attempt
	Reply    *VoteReply
	Codes    []int // status of every attempt (0: no answer)
	// Reconciled: a retry found the vote already acknowledged (409
	// challenge_used after an unanswered attempt).
	Reconciled bool
	Payload    string // the proof of work sent
}

// ErrInDoubt: the vote's outcome is unknown (no answer before giving up).
var ErrInDoubt = errors.New("vote outcome unknown")

// Cast votes once for participant: a challenge (the last reply's
// nextChallenge when there is one), the proof of work, then the vote, sent
// again with the same proof of work while the answer is 503 or none at all,
// until 202, a refusal, or retryFor has passed.
func (c *Voter) Cast(ctx context.Context, paredao, participant string, retryFor time.Duration) (Outcome, error) {
	ch := c.next
	c.next = nil
	var err error
	if ch == nil {
		if ch, err = c.FetchChallenge(ctx, paredao); err != nil {
			return Outcome{}, err
		}
	}
	payload, err := Solve(ch)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Payload: payload}
	deadline := time.Now().Add(retryFor)
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		status, reply, retryAfter, err := c.Post(ctx, paredao, participant, payload)
		out.Attempts++
		out.Latency = time.Since(start)
		out.Codes = append(out.Codes, status)
		if err == nil && status == http.StatusConflict && out.Attempts > 1 && reply.Error != nil && reply.Error.Code == "challenge_used" {
			// An earlier attempt of this very vote was acknowledged after
			// we stopped waiting for it: the replica remembers its proof
			// of work. The vote stands, once.
			out.Status, out.Reply, out.Reconciled = http.StatusAccepted, reply, true
			return out, nil
		}
		if err == nil && status != http.StatusServiceUnavailable {
			out.Status, out.Reply = status, reply
			if status == http.StatusAccepted {
				c.next = reply.NextChallenge
			}
			return out, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return out, ErrInDoubt
		}
		wait := max(backoff, min(retryAfter, time.Second))
		backoff = min(backoff*2, time.Second)
		select {
		case <-ctx.Done():
			return out, ErrInDoubt
		case <-time.After(wait):
		}
	}
}

// Cookie is the voter cookie's value ("" before the first challenge).
func (c *Voter) Cookie() string { return c.cookie }

// SetCookie makes this client the voter of cookie.
func (c *Voter) SetCookie(value string) { c.cookie = value }
