package pipeline

import (
	"encoding/json"
	"fmt"
	"time"
)

// seedEntry is a paredão in a seed file: absolute times, or offsets from start-up.
type seedEntry struct {
	Paredao
	OpensIn  string `json:"opensIn"`
	ClosesIn string `json:"closesIn"`
}

// ParseSeed reads a seed file, data, named name in errors: a JSON array of
// paredões whose opensIn and closesIn, when set, are durations from now
// (to the second, UTC) instead of opensAt and closesAt. A participant
// without a photo gets photoURL(paredão id, participant id). Each paredão
// is validated.
func ParseSeed(data []byte, name string, now time.Time, photoURL func(paredaoID, participantID string) string) ([]*Paredao, error) {
	var entries []seedEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("parse seed %s: %w", name, err)
	}
	out := make([]*Paredao, 0, len(entries))
	for _, e := range entries {
		p := e.Paredao
		for _, f := range []struct {
			rel string
			abs *time.Time
		}{{e.OpensIn, &p.OpensAt}, {e.ClosesIn, &p.ClosesAt}} {
			if f.rel == "" {
				continue
			}
			d, err := time.ParseDuration(f.rel)
			if err != nil {
				return nil, fmt.Errorf("seed %s: %w", p.ID, err)
			}
			*f.abs = now.Add(d).UTC().Truncate(time.Second)
		}
		for i := range p.Participants {
			if p.Participants[i].PhotoURL == "" {
				p.Participants[i].PhotoURL = photoURL(p.ID, p.Participants[i].ID)
			}
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("seed %s: %w", p.ID, err)
		}
		out = append(out, &p)
	}
	return out, nil
}
