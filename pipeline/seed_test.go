package pipeline

import (
	"strings"
	"testing"
	"time"
)

// A seed's offsets are from now, to the second; a participant without a
// photo gets photoURL's; a seed that does not validate is refused.
func TestParseSeed(t *testing.T) {
	now := time.Date(2026, 4, 10, 12, 0, 0, 500, time.UTC)
	photo := func(p, x string) string { return "/a/" + p + "/" + x }
	ps, err := ParseSeed([]byte(`[{"id":"demo","title":"Demo","opensIn":"-1h","closesIn":"168h",
		"participants":[{"id":"ana","name":"Ana"},{"id":"bia","name":"Bia","photoUrl":"/p.jpg"}]}]`), "seed.json", now, photo)
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	if !p.OpensAt.Equal(now.Add(-time.Hour).Truncate(time.Second)) || p.ClosesAt.Sub(p.OpensAt) != 169*time.Hour {
		t.Fatalf("opens %v, closes %v", p.OpensAt, p.ClosesAt)
	}
	if p.Participants[0].PhotoURL != "/a/demo/ana" || p.Participants[1].PhotoURL != "/p.jpg" {
		t.Fatalf("photos %+v", p.Participants)
	}
	for _, bad := range []string{`{`, `[{"id":"x","title":"X","opensIn":"soon","closesIn":"1h"}]`, `[{"id":"x","title":"X","opensIn":"1h","closesIn":"-1h"}]`} {
		if _, err := ParseSeed([]byte(bad), "bad.json", now, photo); err == nil || !strings.Contains(err.Error(), "seed") {
			t.Errorf("ParseSeed(%s): %v", bad, err)
		}
	}
}
