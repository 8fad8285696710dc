package pipeline

import "time"

// Standings are a paredão's live totals as the views know them at AsOf.
type Standings struct {
	Totals  map[string]int64 // participant → votes
	Total   int64
	AsOf    time.Time
	Version uint64 // changes whenever the totals change
}

// WindowTotals is one window's votes per participant.
type WindowTotals struct {
	Start        time.Time
	Participants map[string]int64
}
