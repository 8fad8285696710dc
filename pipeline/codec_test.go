package pipeline

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka"
)

var when = time.Date(2026, 11, 28, 21, 30, 15, 123e6, time.UTC)

// Every codec decodes what it encoded, and refuses corrupt input with ErrCorrupt.
func TestCodecsRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		codec goka.Codec
		value any
	}{
		{"vote", VoteCodec{}, &Vote{ID: "c1", ParedaoID: "p1", ParticipantID: "ana", VoterID: "v1", ChallengeID: "c1", AcceptedAt: when, ExpiresAt: when.Add(2 * time.Minute).Truncate(time.Second)}},
		{"ballot", BallotCodec{}, &Ballot{VoteID: "c1", ParedaoID: "p1", ParticipantID: "ana", AcceptedAt: when, SourcePartition: 7, SourceOffset: 123456789}},
		{"window", WindowRecordCodec{}, &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 42}},
		{"late window", WindowRecordCodec{}, &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 1, LateID: "2/99"}},
		{"guard state", GuardStateCodec{}, &GuardState{LastOffset: 99, Entries: []GuardEntry{{ChallengeID: "c1", Offset: 98, AcceptedAt: 1, ExpiresAt: 2}}}},
		{"empty guard state", GuardStateCodec{}, &GuardState{LastOffset: -1}},
		{"tally state", TallyStateCodec{}, &TallyState{Total: 10, MaxAcceptedAt: when.UnixMilli(), Floor: 1000, Sources: []SourceOffset{{0, 5}, {3, 9}}, Windows: []WindowCount{{1020, 4, 4}, {1080, 6, 0}}}},
		{"paredao", ParedaoCodec{}, &Paredao{ID: "p1", Title: "P", OpensAt: when, ClosesAt: when.Add(time.Hour), Participants: []Participant{{ID: "ana", Name: "Ana", PhotoURL: "/a.svg"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.codec.Encode(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.codec.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.value) {
				t.Fatalf("got %+v, want %+v", got, tc.value)
			}
			if _, ok := tc.codec.(ParedaoCodec); ok {
				return
			}
			for cut := 0; cut < len(b); cut++ {
				if _, err := tc.codec.Decode(b[:cut]); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decoding %d of %d bytes: %v", cut, len(b), err)
				}
			}
			if _, err := tc.codec.Decode(append(b, 0)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("trailing byte: %v", err)
			}
			if _, err := tc.codec.Encode("not the type"); err == nil {
				t.Fatal("encoded a string")
			}
		})
	}
}

// Windows are aligned to the window size in UTC.
func TestWindowStart(t *testing.T) {
	tests := []struct {
		t    time.Time
		size time.Duration
		want time.Time
	}{
		{when, time.Minute, time.Date(2026, 11, 28, 21, 30, 0, 0, time.UTC)},
		{when, time.Hour, time.Date(2026, 11, 28, 21, 0, 0, 0, time.UTC)},
		{when, 2 * time.Second, time.Date(2026, 11, 28, 21, 30, 14, 0, time.UTC)},
		{time.Date(2026, 11, 28, 21, 30, 0, 0, time.UTC), time.Minute, time.Date(2026, 11, 28, 21, 30, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		if got := WindowStart(tc.t, tc.size); !got.Equal(tc.want) {
			t.Errorf("WindowStart(%v, %v) = %v, want %v", tc.t, tc.size, got, tc.want)
		}
	}
}

func BenchmarkVoteCodec(b *testing.B) {
	v := &Vote{ID: "0123456789abcdef01234567", ParedaoID: "demo", ParticipantID: "ana", VoterID: "hUodiFobP48JAPzNemgFXA", ChallengeID: "0123456789abcdef01234567", AcceptedAt: when, ExpiresAt: when}
	b.ReportAllocs()
	for b.Loop() {
		data, _ := VoteCodec{}.Encode(v)
		if _, err := (VoteCodec{}).Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTallyStateCodec(b *testing.B) {
	s := &TallyState{Total: 1e6, MaxAcceptedAt: when.UnixMilli(), Floor: 1000, Windows: make([]WindowCount, 16)}
	for i := range 12 {
		s.MarkSeen(int32(i), int64(i)*1e6)
	}
	b.ReportAllocs()
	for b.Loop() {
		data, _ := TallyStateCodec{}.Encode(s)
		if _, err := (TallyStateCodec{}).Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
