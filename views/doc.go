// Package views is the read side of the pipeline: goka views of the paredão
// catalog and of tally's table, folded incrementally as table updates arrive
// into in-memory answers (the catalog, the standings, the open windows) with
// the time they are valid for. Views never emit.
//
// It imports pipeline and goka only.
package views
