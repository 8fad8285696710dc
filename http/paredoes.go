package http

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/pipeline"
)

// paredaoJSON is a paredão as the API shows it.
type paredaoJSON struct {
	ID           string                 `json:"id"`
	Title        string                 `json:"title"`
	Status       pipeline.Status        `json:"status"`
	OpensAt      time.Time              `json:"opensAt"`
	ClosesAt     time.Time              `json:"closesAt"`
	Participants []pipeline.Participant `json:"participants"`
}

func toJSON(p *pipeline.Paredao, now time.Time) paredaoJSON {
	return paredaoJSON{ID: p.ID, Title: p.Title, Status: p.StatusAt(now), OpensAt: p.OpensAt.UTC(), ClosesAt: p.ClosesAt.UTC(), Participants: p.Participants}
}

func (s *Server) listParedoes(w http.ResponseWriter, r *http.Request) {
	now := s.deps.Now()
	list := s.deps.Catalog.List()
	out := make([]paredaoJSON, 0, len(list))
	for _, p := range list {
		out = append(out, toJSON(p, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getParedao(w http.ResponseWriter, r *http.Request) {
	p := s.deps.Catalog.Get(chi.URLParam(r, "id"))
	if p == nil {
		writeError(w, s.deps.Log, errNotFound)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(p, s.deps.Now()))
}
