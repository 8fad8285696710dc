package http

import (
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// The hand-written vote answer is byte for byte what encoding/json writes,
// for plain and awkward strings alike.
func TestAppendVoteResponse(t *testing.T) {
	at := time.Date(2026, 11, 28, 21, 30, 15, 123456789, time.UTC)
	tests := []struct {
		name string
		r    voteResponse
	}{
		{"plain", voteResponse{
			Receipt: Receipt{VoteID: "0123abcd", ParedaoID: "demo", ParticipantID: "ana", AcceptedAt: at},
			Results: standingsJSON{ParedaoID: "demo", Status: pipeline.StatusOpen, AsOf: at.Add(time.Second),
				Participants: []participantJSON{{"ana", "Ana", 33.4}, {"bia", "Bia", 0}, {"caio", "Caio", 66.6}, {"d", "D", 100}}},
			NextChallenge: &Challenge{Algorithm: "SHA-256", Challenge: "ff00", MaxNumber: 100000, Salt: "ab12?expires=1764365415&p=demo&v=x_Y-z", Signature: "99"},
		}},
		{"no next challenge, no participants", voteResponse{
			Receipt: Receipt{VoteID: "v", ParedaoID: "p", ParticipantID: "x", AcceptedAt: at.In(time.FixedZone("BRT", -3*3600))},
			Results: standingsJSON{ParedaoID: "p", Status: pipeline.StatusClosed},
		}},
		{"escapes and unicode", voteResponse{
			Receipt: Receipt{VoteID: "a\"b", ParedaoID: "p\\", ParticipantID: "x\n", AcceptedAt: at},
			Results: standingsJSON{ParedaoID: "p", Status: pipeline.StatusOpen, AsOf: at,
				Participants: []participantJSON{{"joão", "João <b>&</b>", 12.5}, {"sep", "line\u2028sep\u2029", 0.1}, {"bad", "\xff", 87.4}}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := marshal(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendVoteResponse(nil, &tc.r); string(got) != string(want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func BenchmarkAppendVoteResponse(b *testing.B) {
	at := time.Now()
	r := voteResponse{
		Receipt: Receipt{VoteID: "0123456789abcdef01234567", ParedaoID: "demo", ParticipantID: "ana", AcceptedAt: at},
		Results: standingsJSON{ParedaoID: "demo", Status: pipeline.StatusOpen, AsOf: at,
			Participants: []participantJSON{{"ana", "Ana", 33.4}, {"bruno", "Bruno", 33.3}, {"carla", "Carla", 33.3}}},
		NextChallenge: &Challenge{Algorithm: "SHA-256", Challenge: "ff00", MaxNumber: 100000, Salt: "ab12?expires=1764365415&p=demo&v=x", Signature: "99"},
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = appendVoteResponse(buf[:0], &r)
	}
}
