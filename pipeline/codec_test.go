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
		{"ballot batch", BallotBatchCodec{}, &BallotBatch{SourcePartition: 7, AckedBelow: 123456700, Ballots: []Ballot{
			{Offset: 123456701, ParedaoID: "p1", ParticipantID: "ana", AcceptedAt: when},
			{Offset: 123456705, ParedaoID: "p1", ParticipantID: "bia", AcceptedAt: when.Add(-time.Second)},
			{Offset: 123456690, ParedaoID: "p2", ParticipantID: "ana", AcceptedAt: when.Add(time.Second)},
			{Offset: 123456706, ParedaoID: "p1", ParticipantID: "ana", AcceptedAt: when},
		}}},
		{"empty ballot batch", BallotBatchCodec{}, &BallotBatch{SourcePartition: 0, AckedBelow: -1}},
		{"window", WindowRecordCodec{}, &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 42}},
		{"late window", WindowRecordCodec{}, &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 1, LateID: "2/99"}},
		{"guard state", GuardStateCodec{}, &GuardState{LastOffset: 99, Floor: 1700000000, Entries: []GuardEntry{
			{Challenge: ChallengeHash("c1"), Offset: 98, AcceptedAt: when.UnixMilli(), ExpiresAt: when.Unix() + 120},
			{Challenge: 1<<64 - 1, Offset: 99, AcceptedAt: 1, ExpiresAt: 0},
		}}},
		{"empty guard state", GuardStateCodec{}, &GuardState{LastOffset: -1}},
		{"tally state", TallyStateCodec{}, &TallyState{Partition: 3, Floor: 5, Applied: []int64{7, 9}, MaxAcceptedAt: when.UnixMilli(), WindowFloor: 960,
			Counts:  []ParticipantCount{{"p1", "ana", 10, []WindowCount{{1020, 4}, {1080, 6}}}, {"p1", "bia", 3, nil}},
			Pending: []PendingRecord{{At: 77, ParedaoID: "p1", ParticipantID: "ana", Start: 960, Count: 3}, {At: 78, ParedaoID: "p1", ParticipantID: "bia", Start: 900, Count: 1, LateID: "0/4"}}}},
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
			// A protobuf record cut at a field boundary is a valid record
			// (of fewer fields); cut inside a field, it is corrupt.
			for cut := 0; cut < len(b); cut++ {
				if _, err := tc.codec.Decode(b[:cut]); err != nil && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decoding %d of %d bytes: %v", cut, len(b), err)
				}
			}
			if _, err := tc.codec.Decode(b[:len(b)-1]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decoding %d of %d bytes: %v", len(b)-1, len(b), err)
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
	// A busy key: three participants, 16 windows each, a batch of offsets above the floor.
	s := &TallyState{Partition: 3, Floor: 1e6, MaxAcceptedAt: when.UnixMilli(), WindowFloor: 1000}
	for _, p := range []string{"ana", "bia", "caio"} {
		c := s.Count("demo", p)
		for w := range 16 {
			c.Windows = append(c.Windows, WindowCount{Start: 1000 + int64(w)*60, Count: 1e4})
		}
	}
	for i := range 200 {
		s.MarkSeen(1e6+int64(i)*2, 1e6)
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
		applied  []int64 // Applied at the end
		floor    int64
	}{
		{"in order", []arrival{{10, 10, false}, {12, 11, false}, {15, 13, false}}, []int64{15}, 13},
		{"an earlier ballot after a later one", []arrival{{10, 5, false}, {12, 5, false}, {11, 5, false}, {12, 5, true}, {10, 5, true}}, []int64{10, 11, 12}, 5},
		{"copies below the floor", []arrival{{10, 5, false}, {20, 18, false}, {10, 5, true}, {17, 5, true}}, []int64{20}, 18},
		{"a floor never moves down", []arrival{{30, 25, false}, {26, 3, false}, {24, 3, true}}, []int64{26, 30}, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &TallyState{Floor: -1}
			for i, a := range tc.arrivals {
				if got := s.Seen(a.offset); got != a.seen {
					t.Fatalf("arrival %d (offset %d): Seen = %v, want %v", i, a.offset, got, a.seen)
				}
				if !a.seen {
					s.MarkSeen(a.offset, a.ackedBelow)
				}
			}
			if !reflect.DeepEqual(s.Applied, tc.applied) || s.Floor != tc.floor {
				t.Fatalf("floor %d applied %v, want floor %d applied %v", s.Floor, s.Applied, tc.floor, tc.applied)
			}
		})
	}
}

// SourceKey puts each source partition's key on the partition of the same
// number under goka's default partitioner, and ParseSourceKey reads it back.
func TestSourceKey(t *testing.T) {
	for _, parts := range []int{1, 4, 12, 32} {
		for p := range int32(40) {
			key := SourceKey(p, parts)
			h := goka.DefaultHasher()()
			if _, err := h.Write([]byte(key)); err != nil {
				t.Fatal(err)
			}
			if parts > 1 && int(h.Sum32()%uint32(parts)) != int(p)%parts {
				t.Fatalf("SourceKey(%d, %d) = %q lands on partition %d", p, parts, key, h.Sum32()%uint32(parts))
			}
			if got, err := ParseSourceKey(key); err != nil || got != p {
				t.Fatalf("ParseSourceKey(%q) = %d, %v", key, got, err)
			}
		}
	}
	for _, bad := range []string{"", "7", "p", "p-1", "px.1", "demo/ana/0"} {
		if _, err := ParseSourceKey(bad); err == nil {
			t.Errorf("ParseSourceKey(%q) accepted", bad)
		}
	}
}

// A guard value stays small: at the bound, a voter's value is under 200 bytes.
func TestGuardStateSize(t *testing.T) {
	s := &GuardState{LastOffset: 5e8, Floor: when.Unix()}
	for i := range GuardEntriesMax {
		s.Entries = append(s.Entries, GuardEntry{Challenge: ChallengeHash(string(rune('a' + i))), Offset: 5e8 - int64(i)*3,
			AcceptedAt: when.UnixMilli() + int64(i)*1000, ExpiresAt: when.Unix() + int64(i) + 300})
	}
	b, _ := GuardStateCodec{}.Encode(s)
	if len(b) > 200 {
		t.Fatalf("%d entries encode to %d bytes, want ≤ 200", len(s.Entries), len(b))
	}
}

// A vote written by the releases before protobuf (wire version 2 or 3,
// the same fields) still decodes: the votes log survives an upgrade; other
// versions do not.
func TestVoteDecodesVersion2(t *testing.T) {
	v := &Vote{ID: "c1", ParedaoID: "p1", ParticipantID: "ana", VoterID: "v1", ChallengeID: "c1", AcceptedAt: when, ExpiresAt: when.Add(time.Minute).Truncate(time.Second)}
	b := legacyAppendVote(nil, v)
	for version, ok := range map[byte]bool{2: true, 3: true, 1: false, 4: false} {
		b[0] = version
		got, err := VoteCodec{}.Decode(b)
		if ok && (err != nil || !reflect.DeepEqual(got, v)) {
			t.Fatalf("version %d: %+v, %v", version, got, err)
		}
		if !ok && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("version %d decoded: %v", version, err)
		}
	}
}
