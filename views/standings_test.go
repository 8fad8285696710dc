package views

import (
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

func newTestStandings() *Standings {
	return &Standings{
		now: time.Now, keys: map[string]*keyState{}, totals: map[string]map[string]int64{},
		byParedao: map[string]map[string]struct{}{}, version: map[string]uint64{}, changed: make(chan struct{}),
	}
}

// Updates fold into totals by difference: shards add up, a key's new value
// replaces its old one, a deletion takes its votes away.
func TestStandingsFold(t *testing.T) {
	s := newTestStandings()
	s.apply(pipeline.BallotKey("p1", "ana", 0), &pipeline.TallyState{Total: 3})
	s.apply(pipeline.BallotKey("p1", "ana", 1), &pipeline.TallyState{Total: 4})
	s.apply(pipeline.BallotKey("p1", "bia", 0), &pipeline.TallyState{Total: 2})
	s.apply(pipeline.BallotKey("p1", "ana", 0), &pipeline.TallyState{Total: 5})
	s.apply(pipeline.BallotKey("p2", "ana", 0), &pipeline.TallyState{Total: 100})
	tot := s.totals["p1"]
	if tot["ana"] != 9 || tot["bia"] != 2 {
		t.Fatalf("totals %v", tot)
	}
	s.apply(pipeline.BallotKey("p1", "bia", 0), nil)
	if s.totals["p1"]["bia"] != 0 || s.totals["p2"]["ana"] != 100 {
		t.Fatalf("after delete %v %v", s.totals["p1"], s.totals["p2"])
	}
	s.apply("not/a key", &pipeline.TallyState{Total: 7})
	if len(s.totals) != 2 {
		t.Fatalf("a bad key was counted: %v", s.totals)
	}
}

// ShardWindows returns each key's windows from a time on.
func TestStandingsShardWindows(t *testing.T) {
	s := newTestStandings()
	base := time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC).Unix()
	s.apply(pipeline.BallotKey("p1", "ana", 2), &pipeline.TallyState{Total: 5, Windows: []pipeline.WindowCount{{Start: base, Count: 2}, {Start: base + 60, Count: 3}}})
	got := s.ShardWindows("p1", time.Unix(base+60, 0))
	if len(got) != 1 || got[0].Votes != 3 || got[0].Shard != 2 || got[0].ParticipantID != "ana" {
		t.Fatalf("%+v", got)
	}
}

func BenchmarkStandingsApply(b *testing.B) {
	s := newTestStandings()
	keys := make([]string, 36)
	for i := range keys {
		keys[i] = pipeline.BallotKey("p1", []string{"ana", "bia", "caio"}[i%3], i/3)
	}
	st := &pipeline.TallyState{Windows: make([]pipeline.WindowCount, 4)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st.Total = int64(i)
		s.apply(keys[i%len(keys)], st)
	}
}
