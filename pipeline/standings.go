package pipeline

import "time"

// Standings are a paredão's live totals as the views know them at AsOf.
type Standings struct {
	Totals map[string]int64 // participant → votes
	Total  int64
	AsOf   time.Time
}

// ShardWindow is the absolute count of one window of one tally key.
type ShardWindow struct {
	ParticipantID string
	Shard         int
	Start         time.Time
	Votes         int64
}

// Count is a number of votes for a participant in a window or an hour.
type Count struct {
	Start         time.Time
	ParticipantID string
	Votes         int64
}
