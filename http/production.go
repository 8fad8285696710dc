package http

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/pipeline"
)

// authenticate lets through requests with the production bearer token,
// compared in constant time. A token anywhere else (the query string) is
// never looked at.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		sum := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="paredao-production"`)
			writeError(w, s.deps.Log, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// createRequest is the body of POST /production/paredoes.
type createRequest struct {
	ID           string                 `json:"id"`
	Title        string                 `json:"title"`
	OpensAt      time.Time              `json:"opensAt"`
	ClosesAt     time.Time              `json:"closesAt"`
	Participants []pipeline.Participant `json:"participants"`
}

func (s *Server) createParedao(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeStrict(w, r, 16<<10, &req); err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	p := &pipeline.Paredao{ID: req.ID, Title: req.Title, OpensAt: req.OpensAt.UTC(), ClosesAt: req.ClosesAt.UTC(), Participants: req.Participants}
	if p.ID == "" {
		p.ID = newID()[:12]
	}
	for i := range p.Participants {
		if p.Participants[i].PhotoURL == "" && pipeline.ValidID(p.ID) && pipeline.ValidID(p.Participants[i].ID) {
			p.Participants[i].PhotoURL = AvatarURL(p.ID, p.Participants[i].ID)
		}
	}
	if err := p.Validate(); err != nil {
		writeError(w, s.deps.Log, invalidRequest(err.Error()))
		return
	}
	if err := s.cfg.Audit.auditableSpan(p, s.deps.Now()); err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	if s.deps.Catalog.Get(p.ID) != nil {
		writeError(w, s.deps.Log, errorf(http.StatusConflict, "already_exists", "a paredão with this id exists"))
		return
	}
	if err := s.put(r, p); err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	s.deps.Log.Info("paredao created", "paredao", p.ID, "opens_at", p.OpensAt, "closes_at", p.ClosesAt)
	writeJSON(w, http.StatusCreated, toJSON(p, s.deps.Now()))
}

// closeParedao closes a paredão CloseLead from now and answers once that
// moment has passed: by then every replica knows the new closing time, so no
// replica acknowledges a vote that guard would drop, and every vote after the
// answer is refused.
func (s *Server) closeParedao(w http.ResponseWriter, r *http.Request) {
	catalogEdits.Lock()
	cur, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		catalogEdits.Unlock()
		writeError(w, s.deps.Log, err)
		return
	}
	now := s.deps.Now()
	if cur.StatusAt(now) == pipeline.StatusClosed {
		catalogEdits.Unlock()
		writeJSON(w, http.StatusOK, toJSON(cur, now))
		return
	}
	p := *cur
	p.ClosesAt = now.Add(s.cfg.CloseLead).UTC()
	if p.OpensAt.After(p.ClosesAt) {
		p.OpensAt = p.ClosesAt
	}
	err = s.put(r, &p)
	catalogEdits.Unlock()
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	select {
	case <-r.Context().Done():
		return
	case <-time.After(time.Until(p.ClosesAt)):
	}
	s.deps.Log.Info("paredao closed", "paredao", p.ID, "closes_at", p.ClosesAt)
	writeJSON(w, http.StatusOK, toJSON(&p, s.deps.Now()))
}

// put writes p to the catalog and waits until this replica's view shows it.
func (s *Server) put(r *http.Request, p *pipeline.Paredao) error {
	if err := s.deps.Writer.PutParedao(r.Context(), p); err != nil {
		s.deps.Log.Error("catalog write failed", "paredao", p.ID, "err", err)
		return unavailable(2 * time.Second)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := s.deps.Catalog.Get(p.ID); got != nil && got.ClosesAt.Equal(p.ClosesAt) && got.Title == p.Title && slices.Equal(got.Participants, p.Participants) {
			return nil
		}
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return unavailable(2 * time.Second)
}

// decodeStrict reads one JSON object of at most limit bytes into v.
func decodeStrict(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errMediaType
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is too large")
		}
		return invalidRequest("the body could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidRequest(jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidRequest("unexpected data after the JSON object")
	}
	return nil
}
