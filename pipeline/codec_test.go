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
		{"ballot", BallotCodec{}, &Ballot{VoteID: "c1", ParedaoID: "p1", ParticipantID: "ana", AcceptedAt: when, SourcePartition: 7, SourceOffset: 123456789, AckedBelow: 123456700}},
		{"window", WindowRecordCodec{}, &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 42}},
		{"late window", WindowRecordCodec{}, &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 1, LateID: "2/99"}},
		{"guard state", GuardStateCodec{}, &GuardState{LastOffset: 99, Entries: []GuardEntry{{ChallengeID: "c1", Offset: 98, AcceptedAt: 1, ExpiresAt: 2}}}},
		{"empty guard state", GuardStateCodec{}, &GuardState{LastOffset: -1}},
		{"tally state", TallyStateCodec{}, &TallyState{Total: 10, MaxAcceptedAt: when.UnixMilli(), Floor: 1000, Sources: []SourceOffsets{{0, 5, []int64{7, 9}}, {3, 9, nil}}, Windows: []WindowCount{{1020, 4}, {1080, 6}},
			Pending: []PendingRecord{{At: 77, Start: 960, Count: 3}, {At: 78, Start: 900, Count: 1, LateID: "0/4"}}}},
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
		s.MarkSeen(int32(i), int64(i)*1e6, int64(i)*1e6-3)
	}
	b.ReportAllocs()
	for b.Loop() {
		data, _ := TallyStateCodec{}.Encode(s)
		if _, err := (TallyStateCodec{}).Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// A ballot is counted once whatever order its partition's ballots arrive in:
// one that comes after a later one (a failed send retried after a later send
// succeeded) is counted, a copy of one counted is not, and the acknowledged
// floor forgets what can only come again as a copy.
func TestTallyStateSeen(t *testing.T) {
	type arrival struct {
		offset, ackedBelow int64
		seen               bool // what Seen says before MarkSeen
	}
	tests := []struct {
		name     string
		arrivals []arrival
		applied  []int64 // Applied of partition 4 at the end
		floor    int64
	}{
		{"in order", []arrival{{10, 10, false}, {12, 11, false}, {15, 13, false}}, []int64{15}, 13},
		{"an earlier ballot after a later one", []arrival{{10, 5, false}, {12, 5, false}, {11, 5, false}, {12, 5, true}, {10, 5, true}}, []int64{10, 11, 12}, 5},
		{"copies below the floor", []arrival{{10, 5, false}, {20, 18, false}, {10, 5, true}, {17, 5, true}}, []int64{20}, 18},
		{"a floor never moves down", []arrival{{30, 25, false}, {26, 3, false}, {24, 3, true}}, []int64{26, 30}, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &TallyState{}
			s.MarkSeen(1, 99, 50) // another partition never interferes
			for i, a := range tc.arrivals {
				if got := s.Seen(4, a.offset); got != a.seen {
					t.Fatalf("arrival %d (offset %d): Seen = %v, want %v", i, a.offset, got, a.seen)
				}
				if !a.seen {
					s.MarkSeen(4, a.offset, a.ackedBelow)
				}
			}
			so := s.source(4, false)
			if !reflect.DeepEqual(so.Applied, tc.applied) || so.Floor != tc.floor {
				t.Fatalf("partition 4: floor %d applied %v, want floor %d applied %v", so.Floor, so.Applied, tc.floor, tc.applied)
			}
			if !s.Seen(1, 99) || s.Seen(1, 100) {
				t.Fatal("partition 1 lost its offsets")
			}
		})
	}
}
