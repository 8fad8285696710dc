package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/audit"
	"github.com/paredao/paredao/pipeline"
)

// AuditStore keeps recounts: their runs, certificates, Merkle leaves and
// index (the sink's SQL store).
type AuditStore interface {
	PutAuditRun(ctx context.Context, r pipeline.AuditRun) error
	LastAuditRun(ctx context.Context, paredaoID string, done bool) (*pipeline.AuditRun, error)
	PutAuditChunks(ctx context.Context, runID string, chunks []pipeline.AuditChunk) error
	PutAuditIndex(ctx context.Context, runID string, rows []pipeline.AuditIndexRow) error
	AuditChunk(ctx context.Context, runID string, tree int, chunk int64) (*pipeline.AuditChunk, error)
	AuditRoots(ctx context.Context, runID string, tree int) ([][]byte, error)
	AuditIndexRow(ctx context.Context, runID string, key int64) (*pipeline.AuditIndexRow, error)
}

// AuditConfig is what a recount started from the production API reads and
// how it decides: the pipeline's rules.
type AuditConfig struct {
	Brokers        []string      // the Kafka cluster of the votes log
	VotesPerMinute int           // the pipeline's per-voter cap
	Window         time.Duration // the pipeline's window
	// Grace is how long after a paredão closes a recount may start: votes
	// accepted before the close are in the log by then (the emit timeout).
	Grace time.Duration
	// Keep is how long after it closes a paredão's votes must stay in the
	// log (PAREDAO_AUDIT_DAYS); Retention is the votes topic's (0:
	// forever). A paredão they cannot both hold is refused at creation.
	Keep, Retention time.Duration
}

// auditableSpan refuses a paredão whose votes the votes topic would delete
// before Keep after it closes: its first vote (at its opening, or now) and
// the minute of voter history before it must outlive closesAt + Keep.
func (c AuditConfig) auditableSpan(p *pipeline.Paredao, now time.Time) error {
	if c.Retention <= 0 {
		return nil
	}
	first := p.OpensAt
	if first.Before(now) {
		first = now
	}
	if need := p.ClosesAt.Sub(first) + c.Keep + time.Hour; need > c.Retention {
		return errorf(http.StatusUnprocessableEntity, "paredao_too_long", fmt.Sprintf(
			"the votes topic keeps votes %s: a paredão open %s could not be recounted %s after it closes; shorten it or raise PAREDAO_VOTES_RETENTION",
			c.Retention, p.ClosesAt.Sub(first).Round(time.Minute), c.Keep))
	}
	return nil
}

// staleRun: a running recount whose row was not written for this long was
// interrupted (its replica stopped); it writes its progress every second.
const staleRun = 30 * time.Second

var (
	errNotRecounted   = errorf(http.StatusNotFound, "not_recounted", "this paredão has not been recounted yet")
	errNoReceipt      = errorf(http.StatusNotFound, "receipt_not_found", "no vote with this id in the votes log up to the recount's cut")
	errInvalidVoteID  = errorf(http.StatusBadRequest, "invalid_vote_id", "a vote id is 1 to 64 letters, digits, '-' or '_'")
	errParedaoOpen    = errorf(http.StatusConflict, "paredao_open", "a recount starts once the paredão has closed")
	errRecountRunning = errorf(http.StatusConflict, "recount_running", "a recount of this paredão is running")
)

// auditRun is a recount as the production API shows it.
type auditRun struct {
	ID          string       `json:"id"`
	Status      string       `json:"status"` // running, done, failed
	StartedAt   time.Time    `json:"startedAt"`
	FinishedAt  *time.Time   `json:"finishedAt"`
	Read        int64        `json:"read"`
	Total       int64        `json:"total"`
	Rate        float64      `json:"rate"`
	SecondsLeft int64        `json:"secondsLeft"`
	Error       string       `json:"error"`
	Equal       *bool        `json:"equal"`
	Differences []audit.Diff `json:"differences"`
	Certificate *certSummary `json:"certificate"`
}

// certSummary is what receipts and the dashboard show of a certificate.
type certSummary struct {
	MadeAt      time.Time `json:"madeAt"`
	CountedRoot string    `json:"countedRoot"`
	RefusedRoot string    `json:"refusedRoot"`
	Counted     int64     `json:"counted"`
	Refused     int64     `json:"refused"`
}

// storedRun is an audit_runs row's data.
type storedRun struct {
	Run         auditRun           `json:"run"`
	Certificate *audit.Certificate `json:"certificate,omitempty"`
}

func summary(c *audit.Certificate) *certSummary {
	return &certSummary{MadeAt: c.MadeAt, CountedRoot: c.Merkle.CountedRoot, RefusedRoot: c.Merkle.RefusedRoot,
		Counted: c.Merkle.Counted, Refused: c.Merkle.Refused}
}

// audits holds what the web tier keeps of recounts in memory: the runs it
// runs, and the chunk roots of recent trees (a proof needs them all).
type audits struct {
	mu      sync.Mutex
	running map[string]bool // paredão → a recount runs here
	roots   map[string][]audit.Hash
	order   []string // roots keys, oldest first
}

const rootsCached = 8

func (s *Server) lastRun(ctx context.Context, paredaoID string, done bool) (*pipeline.AuditRun, *storedRun, error) {
	row, err := s.deps.Audit.LastAuditRun(ctx, paredaoID, done)
	if err != nil {
		s.deps.Log.Error("audit store", "err", err)
		return nil, nil, unavailable(2 * time.Second)
	}
	if row == nil {
		return nil, nil, nil
	}
	var sr storedRun
	if err := json.Unmarshal(row.Data, &sr); err != nil {
		s.deps.Log.Error("audit run undecodable", "run", row.ID, "err", err)
		return nil, nil, unavailable(2 * time.Second)
	}
	if sr.Run.Status == "running" && s.deps.Now().Sub(row.UpdatedAt) > staleRun {
		sr.Run.Status, sr.Run.Error = "failed", "interrupted: the replica running it stopped"
	}
	return row, &sr, nil
}

// certified is the last done recount of paredão id and its certificate;
// errNotRecounted when there is none.
func (s *Server) certified(ctx context.Context, id string) (*pipeline.AuditRun, *storedRun, error) {
	if _, err := s.lookup(id); err != nil {
		return nil, nil, err
	}
	row, sr, err := s.lastRun(ctx, id, true)
	switch {
	case err != nil:
		return nil, nil, err
	case sr == nil || sr.Certificate == nil:
		return nil, nil, errNotRecounted
	}
	return row, sr, nil
}

// recountStatus is GET /api/v1/production/paredoes/{id}/recount.
func (s *Server) recountStatus(w http.ResponseWriter, r *http.Request) {
	if _, err := s.lookup(chi.URLParam(r, "id")); err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	_, sr, err := s.lastRun(r.Context(), chi.URLParam(r, "id"), false)
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	var run *auditRun
	if sr != nil {
		run = &sr.Run
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": run})
}

// certificate is GET /api/v1/production/paredoes/{id}/certificate.
func (s *Server) certificate(w http.ResponseWriter, r *http.Request) {
	_, sr, err := s.certified(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="paredao-%s-certificate.json"`, sr.Certificate.Paredao.ID))
	writeJSON(w, http.StatusOK, sr.Certificate)
}

// startRecount is POST /api/v1/production/paredoes/{id}/recount: it starts
// a recount of a closed paredão in the background and answers 202.
func (s *Server) startRecount(w http.ResponseWriter, r *http.Request) {
	p, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	now := s.deps.Now()
	if ready := p.ClosesAt.Add(s.cfg.Audit.Grace); now.Before(ready) {
		e := *errParedaoOpen
		if !now.Before(p.ClosesAt) {
			e.Message = "the paredão has just closed: its last votes reach the log within seconds; retry then"
		}
		e.RetryAfter = ready.Sub(now).Truncate(time.Second) + time.Second
		writeError(w, s.deps.Log, &e)
		return
	}
	s.audits.mu.Lock()
	defer s.audits.mu.Unlock()
	if s.audits.running[p.ID] {
		writeError(w, s.deps.Log, errRecountRunning)
		return
	}
	if _, last, err := s.lastRun(r.Context(), p.ID, false); err != nil {
		writeError(w, s.deps.Log, err)
		return
	} else if last != nil && last.Run.Status == "running" {
		writeError(w, s.deps.Log, errRecountRunning) // on another replica
		return
	}
	sr := &storedRun{Run: auditRun{ID: newRunID(now), Status: "running", StartedAt: now.UTC(), Differences: []audit.Diff{}}}
	if err := s.putRun(r.Context(), p.ID, sr); err != nil {
		writeError(w, s.deps.Log, unavailable(2*time.Second))
		return
	}
	if s.audits.running == nil {
		s.audits.running = map[string]bool{}
	}
	s.audits.running[p.ID] = true
	// The recount outlives the request: its values, not its cancellation.
	go s.recount(context.WithoutCancel(r.Context()), *p, sr)
	writeJSON(w, http.StatusAccepted, map[string]any{"run": sr.Run})
}

func newRunID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func (s *Server) putRun(ctx context.Context, paredaoID string, sr *storedRun) error {
	b, err := json.Marshal(sr)
	if err != nil {
		return err
	}
	err = s.deps.Audit.PutAuditRun(ctx, pipeline.AuditRun{ID: sr.Run.ID, ParedaoID: paredaoID, StartedAt: sr.Run.StartedAt, Status: sr.Run.Status, Data: b})
	if err != nil {
		s.deps.Log.Error("audit run not written", "run", sr.Run.ID, "err", err)
	}
	return err
}

// recount runs in the background: the recount itself (audit.Recount, as
// `paredao recount` does, against this server's own production report),
// then its leaves and index, then the certificate.
func (s *Server) recount(ctx context.Context, p pipeline.Paredao, sr *storedRun) {
	log := s.deps.Log.With("paredao", p.ID, "run", sr.Run.ID)
	defer func() {
		s.audits.mu.Lock()
		delete(s.audits.running, p.ID)
		s.audits.mu.Unlock()
	}()
	log.Info("recount started")
	var mu sync.Mutex // sr
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		log.Error("recount failed", "err", err)
		sr.Run.Status, sr.Run.Error = "failed", err.Error()
		t := s.deps.Now().UTC()
		sr.Run.FinishedAt = &t
		_ = s.putRun(ctx, p.ID, sr)
	}
	last := time.Now()
	progress := func(pr audit.Progress) {
		mu.Lock()
		defer mu.Unlock()
		sr.Run.Read, sr.Run.Total, sr.Run.Rate, sr.Run.SecondsLeft = pr.Read, pr.Total, pr.Rate, int64(pr.Left.Seconds())
		if time.Since(last) >= time.Second || pr.Done {
			last = time.Now()
			_ = s.putRun(ctx, p.ID, sr)
		}
	}
	// The recount's own progress every second keeps the row fresh; a long
	// hashing or archive step does too, with this ticker.
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				mu.Lock()
				_ = s.putRun(ctx, p.ID, sr)
				mu.Unlock()
			}
		}
	}()
	api := &audit.API{URL: "http://paredao.internal", Token: s.cfg.ProductionToken, Client: &http.Client{Transport: handlerTransport{s}}}
	res, err := audit.Recount(ctx, p, api, audit.Options{Brokers: s.cfg.Audit.Brokers, VotesPerMinute: s.cfg.Audit.VotesPerMinute,
		Window: s.cfg.Audit.Window, Minutes: true, Progress: progress, Now: s.deps.Now})
	if err != nil {
		fail(err)
		return
	}
	if err := res.Count.WriteArchive(res.Trees, archive{ctx, s.deps.Audit, sr.Run.ID}); err != nil {
		fail(err)
		return
	}
	mu.Lock()
	defer mu.Unlock()
	equal := len(res.Diffs) == 0
	t := s.deps.Now().UTC()
	sr.Run.Status, sr.Run.FinishedAt, sr.Run.Equal = "done", &t, &equal
	if res.Diffs != nil {
		sr.Run.Differences = res.Diffs
	}
	sr.Certificate = res.Certificate
	sr.Run.Certificate = summary(res.Certificate)
	if err := s.putRun(ctx, p.ID, sr); err != nil {
		log.Error("recount done but not stored", "err", err)
		return
	}
	log.Info("recount done", "counted", res.Certificate.Counted, "equal", equal, "differences", len(res.Diffs))
}

// handlerTransport serves a request with the server itself: the background
// recount reads the production report as `paredao recount` does, without a
// network hop.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// A context from a request being served carries chi's routing state;
	// this request is routed afresh.
	r = r.Clone(context.WithValue(r.Context(), chi.RouteCtxKey, nil))
	r.RemoteAddr = "127.0.0.1:0"
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// archive writes a run's leaves and index to the store.
type archive struct {
	ctx   context.Context
	store AuditStore
	run   string
}

func (a archive) PutAuditChunks(chunks []pipeline.AuditChunk) error {
	return a.store.PutAuditChunks(a.ctx, a.run, chunks)
}

func (a archive) PutAuditIndex(rows []pipeline.AuditIndexRow) error {
	return a.store.PutAuditIndex(a.ctx, a.run, rows)
}

// receipt is GET /api/v1/paredoes/{id}/receipts/{voteId}: what the last
// recount of the paredão says of a vote, with its inclusion proof.
func (s *Server) receipt(w http.ResponseWriter, r *http.Request) {
	if !s.allowAddress(w, r, s.challengeLimit) {
		return
	}
	voteID := chi.URLParam(r, "voteId")
	if !validVoteID(voteID) {
		writeError(w, s.deps.Log, errInvalidVoteID)
		return
	}
	row, sr, err := s.certified(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	rec, err := s.findReceipt(r.Context(), row.ID, sr.Certificate, voteID)
	switch {
	case errors.Is(err, audit.ErrNoLeaf):
		writeError(w, s.deps.Log, errNoReceipt)
		return
	case err != nil:
		s.deps.Log.Error("receipt", "run", row.ID, "err", err)
		writeError(w, s.deps.Log, unavailable(2*time.Second))
		return
	}
	out := map[string]any{"voteId": voteID, "paredaoId": row.ParedaoID, "counted": rec.Counted,
		"reason": rec.Reason, "certificate": summary(sr.Certificate), "proof": rec.Proof}
	if rec.ReplayOf != "" {
		out["replayOf"] = rec.ReplayOf
	}
	writeJSON(w, http.StatusOK, out)
}

func validVoteID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// findReceipt looks voteID up in run's index and proves its leaf.
func (s *Server) findReceipt(ctx context.Context, run string, cert *audit.Certificate, voteID string) (*audit.Receipt, error) {
	key := audit.IndexKey(voteID)
	row, err := s.deps.Audit.AuditIndexRow(ctx, run, key)
	if err != nil || row == nil {
		return nil, errors.Join(err, audit.ErrNoLeaf)
	}
	for _, ref := range audit.FindInRow(*row, key) {
		chunk, err := s.deps.Audit.AuditChunk(ctx, run, ref.Tree, ref.Leaf/audit.ChunkLeaves)
		if err != nil {
			return nil, err
		}
		if chunk == nil {
			continue
		}
		roots, err := s.treeRoots(ctx, run, ref.Tree)
		if err != nil {
			return nil, err
		}
		size := cert.Merkle.Counted
		if ref.Tree == audit.TreeRefused {
			size = cert.Merkle.Refused
		}
		rec, err := audit.MakeReceipt(voteID, ref, chunk.Leaves, roots, size)
		if errors.Is(err, audit.ErrNoLeaf) {
			continue // another id with the same key
		}
		return rec, err
	}
	return nil, audit.ErrNoLeaf
}

// treeRoots returns the chunk roots of a run's tree, cached.
func (s *Server) treeRoots(ctx context.Context, run string, tree int) ([]audit.Hash, error) {
	key := fmt.Sprintf("%s/%d", run, tree)
	s.audits.mu.Lock()
	roots, ok := s.audits.roots[key]
	s.audits.mu.Unlock()
	if ok {
		return roots, nil
	}
	raw, err := s.deps.Audit.AuditRoots(ctx, run, tree)
	if err != nil {
		return nil, err
	}
	roots = make([]audit.Hash, len(raw))
	for i, b := range raw {
		if len(b) != len(roots[i]) {
			return nil, fmt.Errorf("audit: run %s tree %d chunk %d: root of %d bytes", run, tree, i, len(b))
		}
		copy(roots[i][:], b)
	}
	s.audits.mu.Lock()
	defer s.audits.mu.Unlock()
	if s.audits.roots == nil {
		s.audits.roots = map[string][]audit.Hash{}
	}
	if _, ok := s.audits.roots[key]; !ok {
		s.audits.roots[key] = roots
		s.audits.order = append(s.audits.order, key)
		if len(s.audits.order) > rootsCached {
			delete(s.audits.roots, s.audits.order[0])
			s.audits.order = s.audits.order[1:]
		}
	}
	return roots, nil
}
