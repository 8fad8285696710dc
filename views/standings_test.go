package views

import (
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

func newTestStandings() *Standings {
	return &Standings{
		now: time.Now, keys: map[string]*keyState{}, totals: map[string]map[string]int64{},
		changed: make(chan struct{}),
	}
}

func counts(cs ...pipeline.ParticipantCount) *pipeline.TallyState {
	return &pipeline.TallyState{Counts: cs}
}

func total(paredao, participant string, n int64) pipeline.ParticipantCount {
	return pipeline.ParticipantCount{ParedaoID: paredao, ParticipantID: participant, Total: n}
}

// Updates fold into totals by difference: the keys (source partitions) add
// up, a key's new value replaces its old one, a deletion takes its votes
// away.
func TestStandingsFold(t *testing.T) {
	s := newTestStandings()
	k0, k1 := pipeline.SourceKey(0, 12), pipeline.SourceKey(1, 12)
	s.apply(k0, counts(total("p1", "ana", 3)))
	s.apply(k1, counts(total("p1", "ana", 4), total("p1", "bia", 2), total("p2", "ana", 100)))
	s.apply(k0, counts(total("p1", "ana", 5), total("p1", "bia", 1)))
	tot := s.totals["p1"]
	if tot["ana"] != 9 || tot["bia"] != 3 || s.totals["p2"]["ana"] != 100 {
		t.Fatalf("totals %v %v", tot, s.totals["p2"])
	}
	s.apply(k1, nil)
	if s.totals["p1"]["ana"] != 5 || s.totals["p1"]["bia"] != 1 || s.totals["p2"]["ana"] != 0 {
		t.Fatalf("after delete %v %v", s.totals["p1"], s.totals["p2"])
	}
	s.apply("p1/ana/0", counts(total("p1", "ana", 7)))
	if s.totals["p1"]["ana"] != 5 {
		t.Fatalf("a bad key was counted: %v", s.totals)
	}
	if p1 := s.totals["p1"]; p1["ana"]+p1["bia"] != 6 {
		t.Fatalf("p1 %v", p1)
	}
}

// ShardWindows returns each key's windows of a paredão from a time on, the
// shard being the key's source partition.
func TestStandingsShardWindows(t *testing.T) {
	s := newTestStandings()
	base := time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC).Unix()
	c := total("p1", "ana", 5)
	c.Windows = []pipeline.WindowCount{{Start: base, Count: 2}, {Start: base + 60, Count: 3}}
	other := total("p2", "ana", 9)
	other.Windows = []pipeline.WindowCount{{Start: base + 60, Count: 9}}
	s.apply(pipeline.SourceKey(2, 12), counts(c, other))
	got := s.ShardWindows("p1", time.Unix(base+60, 0))
	if len(got) != 1 || got[0].Votes != 3 || got[0].Shard != 2 || got[0].ParticipantID != "ana" {
		t.Fatalf("%+v", got)
	}
}

func BenchmarkStandingsApply(b *testing.B) {
	s := newTestStandings()
	keys := make([]string, 12)
	for i := range keys {
		keys[i] = pipeline.SourceKey(int32(i), 12)
	}
	st := counts(total("p1", "ana", 0), total("p1", "bia", 0), total("p1", "caio", 0))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st.Counts[i%3].Total = int64(i)
		s.apply(keys[i%len(keys)], st)
	}
}
