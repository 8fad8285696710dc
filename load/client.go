package load

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
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
	base string
	http *http.Client
	next *Challenge // the nextChallenge of the last 202
}

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

func NewVoter(base string, transport http.RoundTripper) *Voter {
	jar, _ := cookiejar.New(nil)
	return &Voter{base: strings.TrimSuffix(base, "/"), http: &http.Client{Jar: jar, Transport: transport, Timeout: 10 * time.Second}}
}

// FetchChallenge gets a fresh challenge (and the voter cookie, the first time).
func (c *Voter) FetchChallenge(ctx context.Context, paredao string) (*Challenge, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/challenge?paredao="+paredao, nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
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

// Solve finds the number of a challenge and returns the ALTCHA payload.
func Solve(ch *Challenge) (string, error) {
	if ch.Algorithm != string(altcha.SHA256) {
		return "", fmt.Errorf("unexpected algorithm %q", ch.Algorithm)
	}
	sol, err := altcha.SolveChallenge(ch.Challenge, ch.Salt, altcha.SHA256, int(ch.MaxNumber), 0, nil)
	if err != nil || sol == nil {
		return "", fmt.Errorf("no solution for challenge: %v", err)
	}
	b, _ := json.Marshal(altcha.Payload{Algorithm: ch.Algorithm, Challenge: ch.Challenge, Number: int64(sol.Number), Salt: ch.Salt, Signature: ch.Signature})
	return base64.StdEncoding.EncodeToString(b), nil
}

// Post sends one vote attempt.
func (c *Voter) Post(ctx context.Context, paredao, participant, payload string) (int, *VoteReply, time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"participantId": participant, "altcha": payload})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/paredoes/"+paredao+"/votes", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	var r VoteReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return resp.StatusCode, nil, 0, fmt.Errorf("vote reply: %w", err)
	}
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, &r, time.Duration(retry) * time.Second, nil
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
func (c *Voter) Cookie() string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "paredao_voter" {
			return ck.Value
		}
	}
	return ""
}

// SetCookie makes this client the voter of cookie.
func (c *Voter) SetCookie(value string) {
	u, _ := url.Parse(c.base)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "paredao_voter", Value: value, Path: "/"}})
}
