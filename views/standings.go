package views

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/paredao/paredao/pipeline"
)

// Standings folds tally's table into per-paredão totals. Each table update
// adds the difference between the key's new and old total, so answering costs
// no scan of the table.
type Standings struct {
	view *goka.View
	now  func() time.Time

	mu        sync.RWMutex
	keys      map[string]*keyState           // tally key → last value
	totals    map[string]map[string]int64    // paredão → participant → votes
	byParedao map[string]map[string]struct{} // paredão → tally keys
	version   map[string]uint64              // paredão → bumps on every change
	lastFresh time.Time
	changed   chan struct{}
}

type keyState struct {
	paredao, participant string
	shard                int
	total                int64
	windows              []pipeline.WindowCount
}

// NewStandings creates the view of tally's table.
func NewStandings(brokers []string, opts ...goka.ViewOption) (*Standings, error) {
	s := &Standings{
		now:       time.Now,
		keys:      map[string]*keyState{},
		totals:    map[string]map[string]int64{},
		byParedao: map[string]map[string]struct{}{},
		version:   map[string]uint64{},
		changed:   make(chan struct{}),
	}
	opts = append([]goka.ViewOption{goka.WithViewStorageBuilder(storage.MemoryBuilder())}, opts...)
	opts = append(opts, goka.WithViewCallback(s.update))
	v, err := goka.NewView(brokers, pipeline.TallyTable, new(pipeline.TallyStateCodec), opts...)
	if err != nil {
		return nil, fmt.Errorf("standings view: %w", err)
	}
	s.view = v
	return s, nil
}

// Run follows tally's table until ctx ends.
func (s *Standings) Run(ctx context.Context) error { return s.view.Run(ctx) }

// Recovered tells whether the view caught up with the table once.
func (s *Standings) Recovered() bool { return s.view.Recovered() }

func (s *Standings) update(ctx goka.UpdateContext, st storage.Storage, key string, value []byte) error {
	var next *pipeline.TallyState
	if value != nil {
		v, err := new(pipeline.TallyStateCodec).Decode(value)
		if err != nil {
			return fmt.Errorf("standings update %q: %w", key, err)
		}
		next = v.(*pipeline.TallyState)
	}
	s.apply(key, next)
	// The fold above is the state; the view's own storage keeps nothing.
	return nil
}

// apply folds one table update into the totals.
func (s *Standings) apply(key string, next *pipeline.TallyState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.keys[key]
	if old == nil {
		paredao, participant, shard, err := pipeline.ParseBallotKey(key)
		if err != nil {
			return
		}
		old = &keyState{paredao: paredao, participant: participant, shard: shard}
		s.keys[key] = old
		if s.byParedao[paredao] == nil {
			s.byParedao[paredao] = map[string]struct{}{}
		}
		s.byParedao[paredao][key] = struct{}{}
	}
	var total int64
	var windows []pipeline.WindowCount
	if next != nil {
		total, windows = next.Total, next.Windows
	}
	t := s.totals[old.paredao]
	if t == nil {
		t = map[string]int64{}
		s.totals[old.paredao] = t
	}
	t[old.participant] += total - old.total
	old.total, old.windows = total, windows
	s.version[old.paredao]++
	close(s.changed)
	s.changed = make(chan struct{})
}

// Snapshot returns the standings of a paredão. AsOf is now while the view
// follows its table, and the last time it did when it does not (Kafka down).
func (s *Standings) Snapshot(paredaoID string) pipeline.Standings {
	asOf := s.asOf()
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := pipeline.Standings{Totals: make(map[string]int64, len(s.totals[paredaoID])), AsOf: asOf, Version: s.version[paredaoID]}
	for p, n := range s.totals[paredaoID] {
		snap.Totals[p] = n
		snap.Total += n
	}
	return snap
}

func (s *Standings) asOf() time.Time {
	now := s.now().UTC()
	if s.view.CurrentState() == goka.ViewStateRunning {
		s.mu.Lock()
		s.lastFresh = now
		s.mu.Unlock()
		return now
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastFresh
}

// Age is how old the standings are: zero while the view follows its table,
// the time since it last did otherwise.
func (s *Standings) Age() time.Duration {
	return max(0, s.now().Sub(s.asOf()))
}

// ShardWindows returns the windows still in tally's state for a paredão that
// start at or after from, per key: absolute counts, comparable with the
// sink's rows for the same (participant, shard, window).
func (s *Standings) ShardWindows(paredaoID string, from time.Time) []pipeline.ShardWindow {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []pipeline.ShardWindow
	for key := range s.byParedao[paredaoID] {
		k := s.keys[key]
		for _, w := range k.windows {
			if w.Start >= from.Unix() {
				out = append(out, pipeline.ShardWindow{ParticipantID: k.participant, Shard: k.shard, Start: time.Unix(w.Start, 0).UTC(), Votes: w.Count})
			}
		}
	}
	return out
}

// Changed returns a channel closed at the next change of any standings.
func (s *Standings) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}
