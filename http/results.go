package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/pipeline"
)

type standingsJSON struct {
	ParedaoID    string            `json:"paredaoId"`
	Status       pipeline.Status   `json:"status"`
	AsOf         time.Time         `json:"asOf"`
	Participants []participantJSON `json:"participants"`
}

type participantJSON struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
}

// standings are the public results: percentages only.
func (s *Server) standings(p *pipeline.Paredao, now time.Time) standingsJSON {
	snap := s.deps.Standings.Snapshot(p.ID)
	out := standingsJSON{ParedaoID: p.ID, Status: p.StatusAt(now), AsOf: snap.AsOf, Participants: make([]participantJSON, len(p.Participants))}
	votes := make([]int64, len(p.Participants))
	for i, x := range p.Participants {
		votes[i] = snap.Totals[x.ID]
	}
	tenths := Percentages(votes)
	for i, x := range p.Participants {
		out.Participants[i] = participantJSON{ID: x.ID, Name: x.Name, Percent: float64(tenths[i]) / 10}
	}
	return out
}

// Percentages turns votes into tenths of a percent that add up to exactly
// 1000 when any vote exists (largest remainder), so shares shown with one
// decimal add up to 100.0.
func Percentages(votes []int64) []int64 {
	out := make([]int64, len(votes))
	var total int64
	for _, v := range votes {
		total += v
	}
	if total == 0 {
		return out
	}
	type rem struct {
		i int
		r int64
	}
	rems := make([]rem, len(votes))
	var given int64
	for i, v := range votes {
		out[i] = v * 1000 / total
		given += out[i]
		rems[i] = rem{i, v * 1000 % total}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := int64(0); k < 1000-given; k++ {
		out[rems[k].i]++
	}
	return out
}

func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	p, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, s.standings(p, s.deps.Now()))
}

// resultsStream sends the standings as Server-Sent Events whenever they
// change (at most twice a second), with a comment every 15 s to keep proxies
// from closing the connection.
func (s *Server) resultsStream(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.lookup(id); err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	release, full := s.streams.acquire(addressKey(clientAddr(r, s.cfg.TrustedProxies)))
	if full != nil {
		writeError(w, s.deps.Log, full)
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var last []byte
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		changed := s.deps.Standings.Changed()
		p := s.deps.Catalog.Get(id)
		if p == nil {
			return
		}
		st := s.standings(p, s.deps.Now())
		cmp := st
		cmp.AsOf = time.Time{}
		key, _ := json.Marshal(cmp)
		if !bytes.Equal(key, last) {
			last = key
			b, _ := json.Marshal(st)
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second)) // ErrNotSupported (a writer without deadlines): no deadline then
			if _, err := fmt.Fprintf(w, "event: standings\ndata: %s\n\n", b); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second)) // as above
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-changed:
			select {
			case <-r.Context().Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}
