package pipeline

import (
	"fmt"
	"regexp"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Status of a paredão at a given time.
type Status string

const (
	StatusScheduled Status = "scheduled"
	StatusOpen      Status = "open"
	StatusClosed    Status = "closed"
)

// Paredao is one vote: who may be voted out, and when. It is the value of
// CatalogTable, keyed by ID.
type Paredao struct {
	ID           string        `json:"id"`
	Title        string        `json:"title"`
	OpensAt      time.Time     `json:"opensAt"`
	ClosesAt     time.Time     `json:"closesAt"`
	Participants []Participant `json:"participants"`
}

// Participant is one person on the paredão.
type Participant struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PhotoURL string `json:"photoUrl,omitempty"`
}

// StatusAt tells whether the paredão is scheduled, open or closed at t. A
// paredão is open in [OpensAt, ClosesAt).
func (p *Paredao) StatusAt(t time.Time) Status {
	switch {
	case t.Before(p.OpensAt):
		return StatusScheduled
	case t.Before(p.ClosesAt):
		return StatusOpen
	}
	return StatusClosed
}

// Participant finds a participant by id.
func (p *Paredao) Participant(id string) (Participant, bool) {
	for _, x := range p.Participants {
		if x.ID == id {
			return x, true
		}
	}
	return Participant{}, false
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidID tells whether s may be a paredão or participant id: lower-case
// letters, digits, '-' and '_', at most 64 characters: safe in URLs and SQL
// rows as they are.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Validate checks a paredão before it enters the catalog.
func (p *Paredao) Validate() error {
	switch {
	case !ValidID(p.ID):
		return fmt.Errorf("id %q: use 1-64 lower-case letters, digits, '-' or '_'", p.ID)
	case p.Title == "" || len(p.Title) > 200:
		return fmt.Errorf("title: 1 to 200 characters")
	case p.OpensAt.IsZero() || p.ClosesAt.IsZero():
		return fmt.Errorf("opensAt and closesAt are required")
	case !p.ClosesAt.After(p.OpensAt):
		return fmt.Errorf("closesAt must be after opensAt")
	case len(p.Participants) < 2 || len(p.Participants) > 20:
		return fmt.Errorf("participants: 2 to 20")
	}
	seen := map[string]bool{}
	for _, x := range p.Participants {
		switch {
		case !ValidID(x.ID):
			return fmt.Errorf("participant id %q: use 1-64 lower-case letters, digits, '-' or '_'", x.ID)
		case seen[x.ID]:
			return fmt.Errorf("participant id %q appears twice", x.ID)
		case x.Name == "" || len(x.Name) > 100:
			return fmt.Errorf("participant %q: name of 1 to 100 characters", x.ID)
		case len(x.PhotoURL) > 500:
			return fmt.Errorf("participant %q: photoUrl too long", x.ID)
		}
		seen[x.ID] = true
	}
	return nil
}

// ParedaoCodec encodes Paredao as paredao.v1.Paredao
// (proto/paredao/v1/paredao.proto); it also decodes the JSON of earlier
// releases.
type ParedaoCodec struct{}

func (ParedaoCodec) Encode(value any) ([]byte, error) {
	p, ok := value.(*Paredao)
	if !ok {
		return nil, fmt.Errorf("paredao codec: unexpected %T", value)
	}
	if err := validUTF8(p.ID, p.Title); err != nil {
		return nil, fmt.Errorf("paredao codec: %w", err)
	}
	for _, x := range p.Participants {
		if err := validUTF8(x.ID, x.Name, x.PhotoURL); err != nil {
			return nil, fmt.Errorf("paredao codec: %w", err)
		}
	}
	return AppendParedao(make([]byte, 0, 64+len(p.Participants)*48), p), nil
}

// AppendParedao appends p's encoding to b: what proto.Marshal writes for
// paredao.v1.Paredao. Its strings must be UTF-8 (Encode checks).
func AppendParedao(b []byte, p *Paredao) []byte {
	e := pbuf(b).str(1, p.ID).str(2, p.Title).int64(3, unixNano(p.OpensAt)).int64(4, unixNano(p.ClosesAt))
	for _, x := range p.Participants {
		var start int
		e, start = e.open(5)
		e = e.str(1, x.ID).str(2, x.Name).str(3, x.PhotoURL).close(start)
	}
	return e
}

func (ParedaoCodec) Decode(data []byte) (any, error) {
	if isLegacyJSON(data) {
		p, err := decodeLegacyParedao(data)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	r := newPread(data, "paredao", true)
	p := &Paredao{}
	for r.more() {
		switch num, typ := r.next(); {
		case num == 1 && typ == protowire.BytesType:
			p.ID = r.shared()
		case num == 2 && typ == protowire.BytesType:
			p.Title = r.shared()
		case num == 3 && typ == protowire.VarintType:
			p.OpensAt = fromUnixNano(int64(r.varint()))
		case num == 4 && typ == protowire.VarintType:
			p.ClosesAt = fromUnixNano(int64(r.varint()))
		case num == 5 && typ == protowire.BytesType:
			sub := r.sub()
			var x Participant
			for sub.more() {
				switch num, typ := sub.next(); {
				case num == 1 && typ == protowire.BytesType:
					x.ID = sub.shared()
				case num == 2 && typ == protowire.BytesType:
					x.Name = sub.shared()
				case num == 3 && typ == protowire.BytesType:
					x.PhotoURL = sub.shared()
				default:
					sub.skip(num, typ)
				}
			}
			r.join(&sub)
			p.Participants = append(p.Participants, x)
		default:
			r.skip(num, typ)
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("decode paredao: %w", err)
	}
	return p, nil
}
