package pipeline

import "github.com/lovoo/goka"

// Topics, groups and tables of the pipeline. topology.md draws them.
const (
	// VotesStream carries every vote the web tier acknowledged, keyed by voter.
	VotesStream goka.Stream = "votes"
	// BallotsStream carries the votes guard let through, in batches keyed
	// by SourceKey(votes partition).
	BallotsStream goka.Stream = "ballots"
	// WindowsStream carries closed-window counts and late ballots from tally
	// to the sink, keyed like ballots.
	WindowsStream goka.Stream = "windows"
	// CatalogTable is the compacted topic of paredões, keyed by paredão id.
	// The web tier writes it; every web replica reads it.
	CatalogTable goka.Table = "paredoes"

	// GuardGroup keeps per-voter state: proofs of work used, votes counted.
	GuardGroup goka.Group = "guard"
	// TallyGroup keeps per-(paredão, participant, shard) counts and windows.
	TallyGroup goka.Group = "tally"
	// SinkGroup writes closed windows to SQL.
	SinkGroup goka.Group = "sink"
)

// GuardTable is guard's group table (compacted).
var GuardTable = goka.GroupTable(GuardGroup)

// TallyTable is tally's group table (compacted); views read it.
var TallyTable = goka.GroupTable(TallyGroup)
