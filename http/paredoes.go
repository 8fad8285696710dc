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
	p, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(p, s.deps.Now()))
}

// lookup finds a paredão in this replica's catalog: errNotFound when the
// catalog, caught up with its topic, does not have it; errCatalogLoading
// while it has not caught up yet.
func (s *Server) lookup(id string) (*pipeline.Paredao, error) {
	if p := s.deps.Catalog.Get(id); p != nil {
		return p, nil
	}
	if !s.deps.Catalog.Recovered() {
		return nil, errCatalogLoading
	}
	return nil, errNotFound
}
