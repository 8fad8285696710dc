package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Error is an answer the client caused or should retry: it maps to a status,
// a snake_case code and a message for people.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// Errors of the contract.
var (
	errUnauthorized = errorf(http.StatusUnauthorized, "unauthorized", "a valid production token is required (Authorization: Bearer <token>)")
	errNotFound     = errorf(http.StatusNotFound, "not_found", "no such paredão")
	errNotOpen      = errorf(http.StatusConflict, "paredao_not_open", "this paredão is not open for votes")
	errUsed         = errorf(http.StatusConflict, "challenge_used", "this proof of work was used already; fetch a new challenge")
	errTooLarge     = errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is over 4 KiB")
	errMediaType    = errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
	errCrossOrigin  = errorf(http.StatusForbidden, "cross_origin", "cross-site requests are refused")
	errParticipant  = errorf(http.StatusUnprocessableEntity, "unknown_participant", "no such participant on this paredão")
)

func invalidRequest(msg string) *Error {
	return errorf(http.StatusBadRequest, "invalid_request", msg)
}

func invalidChallenge(msg string) *Error {
	return errorf(http.StatusForbidden, "invalid_challenge", msg)
}

func rateLimited(retry time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many votes in a row; try again in a moment", RetryAfter: retry}
}

// errNewVoters answers a challenge that would mint a voter cookie for an
// address over its per-minute cap of new voters (Config.AddressCookies).
var errNewVoters = &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
	Message: "too many new voters from your address; try again in a minute", RetryAfter: time.Minute}

// voteUnavailable answers a vote Kafka did not acknowledge in time: it may
// still be written and counted, so the message says the outcome is unknown,
// and that sending the same body again is safe (a proof of work counts once).
func voteUnavailable(retry time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", RetryAfter: retry,
		Message: "voting is temporarily unavailable and the outcome of this vote is unknown; sending the same vote again (the same proof of work) is safe: it counts once"}
}

// unavailable answers a request other than a vote that a dependency (Kafka,
// SQL) could not serve.
func unavailable(retry time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "temporarily unavailable; try again in a moment", RetryAfter: retry}
}

// errCatalogLoading answers a paredão this replica cannot tell exists yet: a
// replica that just started and has not read the catalog. A 404 would be a
// refusal, and a client retrying a vote an earlier replica had written would
// stop; a 503 keeps it retrying.
var errCatalogLoading = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
	Message: "this server is starting and does not know the paredões yet; try again", RetryAfter: time.Second}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err: an *Error as it says, anything else as a generic 500
// whose detail goes to the log only.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log.Error("internal error", "err", err)
		e = errorf(http.StatusInternalServerError, "internal", "internal error")
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.Status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	writeRawJSON(w, status, b)
}

// marshal is json.Marshal without HTML escaping (salts carry '&').
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // headers are sent: a failed write is a client gone, nothing left to tell it
}
