package http

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/pipeline"
)

// MaxVoteBody is the largest vote body accepted.
const MaxVoteBody = 4 << 10

func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	if !s.allowAddress(w, r, s.challengeLimit) {
		return
	}
	id := r.URL.Query().Get("paredao")
	p, err := s.lookup(id)
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	now := s.deps.Now()
	if p.StatusAt(now) != pipeline.StatusOpen {
		writeError(w, s.deps.Log, errNotOpen)
		return
	}
	voter := s.voters.fromRequest(r)
	if voter == "" {
		// A new voter: capped per address, or one client could mint voters
		// by the million (guard keeps state per voter for a while).
		if !s.allowAddressQuiet(r, s.cookieLimit) {
			s.deps.Metrics.voterCookies.WithLabelValues("rate_limited").Inc()
			writeError(w, s.deps.Log, errNewVoters)
			return
		}
		var cookie string
		voter, cookie = s.voters.issue()
		s.voters.set(w, cookie, s.secureCookie(r))
		s.deps.Metrics.voterCookies.WithLabelValues("issued").Inc()
	}
	c, err := s.issueChallenge(r, voter, id, now)
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	s.deps.Metrics.challenges.Inc()
	writeJSON(w, http.StatusOK, c)
}

// voteRequest is the vote body; pointers tell missing from empty.
type voteRequest struct {
	ParticipantID *string `json:"participantId"`
	Altcha        *string `json:"altcha"`
	Captcha       *string `json:"captcha,omitempty"` // the hosted captcha's token, when one is configured
}

// Receipt tells a voter which vote was acknowledged.
type Receipt struct {
	VoteID        string    `json:"voteId"`
	ParedaoID     string    `json:"paredaoId"`
	ParticipantID string    `json:"participantId"`
	AcceptedAt    time.Time `json:"acceptedAt"`
}

type voteResponse struct {
	Receipt       Receipt       `json:"receipt"`
	Results       standingsJSON `json:"results"`
	NextChallenge *Challenge    `json:"nextChallenge,omitempty"`
}

func (s *Server) vote(w http.ResponseWriter, r *http.Request) {
	v, next, err := s.acceptVote(w, r)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			s.deps.Metrics.rejected(e.Code)
		} else {
			s.deps.Metrics.rejected("internal")
		}
		s.noteVote(r, err)
		writeError(w, s.deps.Log, err)
		return
	}
	s.deps.Metrics.accepted.Inc()
	s.noteVote(r, nil)
	p := s.deps.Catalog.Get(v.ParedaoID)
	resp := voteResponse{
		Receipt: Receipt{VoteID: v.ID, ParedaoID: v.ParedaoID, ParticipantID: v.ParticipantID, AcceptedAt: v.AcceptedAt},
		Results: s.standings(p, v.AcceptedAt), NextChallenge: next,
	}
	writeRawJSON(w, http.StatusAccepted, appendVoteResponse(make([]byte, 0, 768), &resp))
}

// acceptVote runs every check of a vote, cheapest first, and emits it. It
// returns the vote once Kafka acknowledged it.
func (s *Server) acceptVote(w http.ResponseWriter, r *http.Request) (*pipeline.Vote, *Challenge, error) {
	if !s.allowAddressQuiet(r, s.voteLimit) {
		return nil, nil, rateLimited(time.Minute)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, nil, errMediaType
	}
	req, err := decodeVote(http.MaxBytesReader(w, r.Body, MaxVoteBody))
	if err != nil {
		return nil, nil, err
	}
	id := chi.URLParam(r, "id")
	p, err := s.lookup(id)
	if err != nil {
		return nil, nil, err
	}
	now := s.deps.Now().UTC()
	if p.StatusAt(now) != pipeline.StatusOpen {
		return nil, nil, errNotOpen
	}
	if _, ok := p.Participant(*req.ParticipantID); !ok {
		return nil, nil, errParticipant
	}
	voter := s.voters.fromRequest(r)
	if voter == "" {
		return nil, nil, invalidChallenge("no valid voter cookie: fetch a challenge first")
	}
	sol, perr := s.pow.verify(*req.Altcha, voter, id, now)
	if perr != nil {
		return nil, nil, perr
	}
	// After the proof of work, so a captcha check (a call to the provider) is paid for.
	if err := s.captcha.check(r.Context(), req.Captcha, sol.id, clientAddr(r, s.cfg.TrustedProxies), now); err != nil {
		return nil, nil, err
	}
	if !s.used.claim(sol.id, sol.expires, now) {
		return nil, nil, errUsed
	}
	if retry, ok := s.perVoter.take(voter, now); !ok {
		s.used.release(sol.id)
		return nil, nil, rateLimited(retry)
	}
	v := &pipeline.Vote{
		ID: newID(), ParedaoID: id, ParticipantID: *req.ParticipantID, VoterID: voter,
		ChallengeID: sol.id, AcceptedAt: now, ExpiresAt: sol.expires,
	}
	if err := s.emit(r.Context(), v); err != nil {
		s.used.release(sol.id)
		s.perVoter.giveBack(voter, now)
		return nil, nil, err
	}
	next, err := s.issueChallenge(r, voter, id, now)
	if err != nil {
		return v, nil, nil // the vote stands; the client fetches a challenge itself
	}
	return v, &next, nil
}

// emit waits for Kafka's acknowledgement, at most EmitTimeout; past
// MaxInFlight waiting votes it sheds load at once.
func (s *Server) emit(ctx context.Context, v *pipeline.Vote) error {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		return voteUnavailable(time.Second)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.EmitTimeout)
	defer cancel()
	start := time.Now()
	if err := s.deps.Emitter.EmitVote(ctx, v); err != nil {
		s.emitFailures.note(s.deps.Log, "votes not acknowledged by Kafka (answered 503)", "last_err", err)
		return voteUnavailable(2 * time.Second)
	}
	s.deps.Metrics.emit.Observe(time.Since(start).Seconds())
	return nil
}

// decodeVote reads a vote body strictly: valid UTF-8, one JSON object with
// exactly the known fields, of the right types, and nothing after it.
func decodeVote(body io.Reader) (*voteRequest, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, invalidRequest("the body could not be read")
	}
	return parseVote(raw)
}

// parseVote is decodeVote on bytes already read (and the fuzz target).
func parseVote(raw []byte) (*voteRequest, error) {
	if !utf8.Valid(raw) {
		return nil, invalidRequest("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var req voteRequest
	if err := dec.Decode(&req); err != nil {
		return nil, invalidRequest(jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidRequest("unexpected data after the JSON object")
	}
	switch {
	case req.ParticipantID == nil:
		return nil, invalidRequest("participantId is required")
	case req.Altcha == nil:
		return nil, invalidRequest("altcha is required")
	case len(*req.ParticipantID) > 64 || bytes.IndexByte([]byte(*req.ParticipantID), 0) >= 0:
		return nil, errParticipant
	}
	return &req, nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	case errors.As(err, &se):
		return "the body is not valid JSON"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	}
	return "the body must be {\"participantId\": string, \"altcha\": string, \"captcha\"?: string}: " + err.Error()
}

// newID is a random id: 128 bits, hex. A vote's is its receipt id, one
// per accepted request, so a proof of work replayed through another request
// has a receipt of its own, which the recount answers "replay" for; a
// message Kafka got twice keeps its one id.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
