package http

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/altcha-org/altcha-lib-go"
)

// Challenge is an ALTCHA v1 challenge as the widget reads it.
type Challenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	MaxNumber int64  `json:"maxNumber"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// pow issues and checks proof-of-work challenges. The salt carries the voter,
// the paredão and an expiry; the signature binds the salt, so none can be
// changed. altcha-lib-go accepts a payload any number of times and accepts
// challenges without expiry: replays are the pipeline's business (and a
// best-effort cache here), a missing expiry is refused here.
type pow struct {
	key       string
	maxNumber int64
	ttl       time.Duration
}

// issue mints an ALTCHA v1 challenge the way altcha-lib-go's
// CreateChallenge does (TestIssueMatchesAltcha): a salt of 12 random bytes in
// hex with the parameters expires, m (its maxnumber), p and v URL-encoded in
// that order and a closing '&', a secret number in [0, maxNumber], the challenge
// hex(SHA-256(salt + number)) and the signature hex(HMAC-SHA-256(key,
// challenge)); without the library's reflection and big integers, on the
// path of every vote (each 202 carries the next challenge). issue mints at
// the base difficulty; issueWith at maxNumber, which the salt carries (m=,
// bound by the signature) for verify to check the number against.
func (p pow) issue(voter, paredao string, now time.Time) (Challenge, error) {
	return p.issueWith(voter, paredao, now, p.maxNumber)
}

func (p pow) issueWith(voter, paredao string, now time.Time, maxNumber int64) (Challenge, error) {
	if maxNumber < 0 || maxNumber == math.MaxInt64 {
		return Challenge{}, fmt.Errorf("create challenge: maxNumber %d out of range", maxNumber)
	}
	var rnd [20]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return Challenge{}, fmt.Errorf("create challenge: %w", err)
	}
	salt := make([]byte, 0, 64+len(paredao)+len(voter))
	salt = hex.AppendEncode(salt, rnd[:12])
	salt = append(salt, "?expires="...)
	salt = strconv.AppendInt(salt, now.Add(p.ttl).Unix(), 10)
	salt = append(salt, "&m="...)
	salt = strconv.AppendInt(salt, maxNumber, 10)
	salt = append(salt, "&p="...)
	salt = append(salt, url.QueryEscape(paredao)...)
	salt = append(salt, "&v="...)
	salt = append(salt, url.QueryEscape(voter)...)
	salt = append(salt, '&')
	number := binary.LittleEndian.Uint64(rnd[12:]) % uint64(maxNumber+1)
	sum := sha256.Sum256(strconv.AppendUint(salt, number, 10))
	challenge := hex.EncodeToString(sum[:])
	mac := hmac.New(sha256.New, []byte(p.key))
	mac.Write([]byte(challenge))
	return Challenge{Algorithm: string(altcha.SHA256), Challenge: challenge, MaxNumber: maxNumber,
		Salt: string(salt), Signature: hex.EncodeToString(mac.Sum(nil))}, nil
}

// solved is a checked proof of work.
type solved struct {
	id      string // the salt's nonce: one per issued challenge
	expires time.Time
}

// verify checks a base64 ALTCHA payload for voter and paredao at now.
func (p pow) verify(payload, voter, paredao string, now time.Time) (solved, *Error) {
	if payload == "" {
		return solved{}, invalidChallenge("the proof of work (altcha) is missing")
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return solved{}, invalidChallenge("the proof of work is not base64")
	}
	// The ALTCHA widget adds "took" (its solving time, in ms) to the five
	// fields of the payload: accepted and ignored. Any other field is refused.
	var wire struct {
		altcha.Payload
		Took *float64 `json:"took"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wire); err != nil || dec.More() {
		return solved{}, invalidChallenge("the proof of work is not an ALTCHA payload")
	}
	pl := wire.Payload
	if pl.Algorithm != string(altcha.SHA256) {
		return solved{}, invalidChallenge("the proof of work must use SHA-256")
	}
	params := altcha.ExtractParams(pl)
	exp, err := strconv.ParseInt(params.Get("expires"), 10, 64)
	// The challenge's own difficulty (m=, signed with the salt); a challenge
	// without one is at the base difficulty.
	maxNumber, merr := p.maxNumber, error(nil)
	if params.Has("m") {
		maxNumber, merr = strconv.ParseInt(params.Get("m"), 10, 64)
	}
	switch {
	case err != nil:
		return solved{}, invalidChallenge("the challenge has no expiry")
	case now.Unix() > exp:
		return solved{}, invalidChallenge("the challenge expired; fetch a new one")
	case params.Get("v") != voter || voter == "":
		return solved{}, invalidChallenge("the challenge was issued to another voter")
	case params.Get("p") != paredao:
		return solved{}, invalidChallenge("the challenge was issued for another paredão")
	case merr != nil || maxNumber < 1:
		return solved{}, invalidChallenge("the challenge's difficulty is not a number")
	case pl.Number < 0 || pl.Number > maxNumber:
		return solved{}, invalidChallenge("the proof of work is wrong")
	}
	ok, err := altcha.VerifySolutionSafe(pl, p.key, false)
	if err != nil || !ok {
		return solved{}, invalidChallenge("the proof of work is wrong")
	}
	nonce, _, _ := strings.Cut(pl.Salt, "?")
	return solved{id: nonce, expires: time.Unix(exp, 0)}, nil
}

// ChallengeKey is the HMAC key challenges are signed with, derived from the
// secret (tests and tools that mint challenges use it).
func ChallengeKey(secret []byte) string { return string(derive(secret, "altcha")) }

// VoterCookieValue is the signed cookie value of voter id, as the server sets
// it (id: 22 base64url characters).
func VoterCookieValue(secret []byte, id string) string {
	return id + "." + voters{key: derive(secret, "voter-cookie")}.mac(id)
}
