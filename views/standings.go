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
// adds the difference between the key's new and old totals per participant
// (a key is one VotesStream partition, pipeline.SourceKey), so answering
// costs no scan of the table.
type Standings struct {
	view *goka.View
	now  func() time.Time

	mu        sync.RWMutex
	keys      map[string]*keyState        // tally key → last value
	totals    map[string]map[string]int64 // paredão → participant → votes
	lastFresh time.Time
	changed   chan struct{}
}

type keyState struct {
	partition int32
	counts    []pipeline.ParticipantCount
}

// NewStandings creates the view of tally's table.
func NewStandings(brokers []string, opts ...goka.ViewOption) (*Standings, error) {
	s := &Standings{
		now:     time.Now,
		keys:    map[string]*keyState{},
		totals:  map[string]map[string]int64{},
		changed: make(chan struct{}),
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
	partition, err := pipeline.ParseSourceKey(key)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.keys[key]
	if old == nil {
		old = &keyState{partition: partition}
		s.keys[key] = old
	}
	var counts []pipeline.ParticipantCount
	if next != nil {
		counts = next.Counts
	}
	for _, c := range old.counts {
		s.add(c.ParedaoID, c.ParticipantID, -c.Total)
	}
	for _, c := range counts {
		s.add(c.ParedaoID, c.ParticipantID, c.Total)
	}
	old.counts = counts
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Standings) add(paredao, participant string, n int64) {
	t := s.totals[paredao]
	if t == nil {
		t = map[string]int64{}
		s.totals[paredao] = t
	}
	t[participant] += n
}

// Snapshot returns the standings of a paredão. AsOf is now while the view
// follows its table, and the last time it did when it does not (Kafka down).
func (s *Standings) Snapshot(paredaoID string) pipeline.Standings {
	asOf := s.asOf()
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := pipeline.Standings{Totals: make(map[string]int64, len(s.totals[paredaoID])), AsOf: asOf}
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
// start at or after from, per key (the shard is the key's VotesStream
// partition): absolute counts, comparable with the sink's rows for the same
// (participant, shard, window).
func (s *Standings) ShardWindows(paredaoID string, from time.Time) []pipeline.ShardWindow {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []pipeline.ShardWindow
	for _, k := range s.keys {
		for _, c := range k.counts {
			if c.ParedaoID != paredaoID {
				continue
			}
			for _, w := range c.Windows {
				if w.Start >= from.Unix() {
					out = append(out, pipeline.ShardWindow{ParticipantID: c.ParticipantID, Shard: int(k.partition), Start: time.Unix(w.Start, 0).UTC(), Votes: w.Count})
				}
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
