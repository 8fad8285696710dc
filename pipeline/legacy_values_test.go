package pipeline

import "time"

// legacyValues are the values whose encodings by the hand-written wire
// format (wire version 3, before Protocol Buffers) were written to
// testdata/legacy/<name>.bin by that release's codecs.
func legacyValues() map[string]any {
	return map[string]any{
		"vote": &Vote{ID: "c1", ParedaoID: "p1", ParticipantID: "ana", VoterID: "v1", ChallengeID: "c1", AcceptedAt: when, ExpiresAt: when.Add(2 * time.Minute).Truncate(time.Second)},
		"ballot_batch": &BallotBatch{SourcePartition: 7, AckedBelow: 123456700, Ballots: []Ballot{
			{Offset: 123456701, ParedaoID: "p1", ParticipantID: "ana", AcceptedAt: when},
			{Offset: 123456705, ParedaoID: "p1", ParticipantID: "bia", AcceptedAt: when.Add(-time.Second)},
			{Offset: 123456690, ParedaoID: "p2", ParticipantID: "ana", AcceptedAt: when.Add(time.Second)},
			{Offset: 123456706, ParedaoID: "p1", ParticipantID: "ana", AcceptedAt: when},
		}},
		"ballot_batch_empty": &BallotBatch{SourcePartition: 0, AckedBelow: -1},
		"window":             &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 42},
		"window_late":        &WindowRecord{ParedaoID: "p1", ParticipantID: "ana", Shard: 3, WindowStart: when.Truncate(time.Minute), Count: 1, LateID: "2/99"},
		"guard_state": &GuardState{LastOffset: 99, Floor: 1700000000, Entries: []GuardEntry{
			{Challenge: ChallengeHash("c1"), Offset: 98, AcceptedAt: when.UnixMilli(), ExpiresAt: when.Unix() + 120},
			{Challenge: 1<<64 - 1, Offset: 99, AcceptedAt: 1, ExpiresAt: 0},
		}},
		"guard_state_empty": &GuardState{LastOffset: -1},
		"tally_state": &TallyState{Partition: 3, Floor: 5, Applied: []int64{7, 9}, MaxAcceptedAt: when.UnixMilli(), WindowFloor: 960,
			Counts:  []ParticipantCount{{"p1", "ana", 10, []WindowCount{{1020, 4}, {1080, 6}}}, {"p1", "bia", 3, nil}},
			Pending: []PendingRecord{{At: 77, ParedaoID: "p1", ParticipantID: "ana", Start: 960, Count: 3}, {At: 78, ParedaoID: "p1", ParticipantID: "bia", Start: 900, Count: 1, LateID: "0/4"}}},
		"tally_state_empty": &TallyState{Partition: -1, Floor: -1},
		"paredao":           &Paredao{ID: "p1", Title: "P", OpensAt: when, ClosesAt: when.Add(time.Hour), Participants: []Participant{{ID: "ana", Name: "Ana", PhotoURL: "/a.svg"}, {ID: "bia", Name: "Bia"}}},
	}
}
