package pipeline

import "time"

// The audit's records in SQL: what a recount of the votes log leaves for
// the production API (its run and certificate) and for receipts (the
// leaves of its Merkle trees and an index by vote id). Package audit makes
// and reads them; the sink stores them as they are.

// AuditRun is one recount of a paredão: Data is its JSON (progress, then
// result and certificate), Status one of "running", "done", "failed".
type AuditRun struct {
	ID        string
	ParedaoID string
	StartedAt time.Time
	Status    string
	Data      []byte
	UpdatedAt time.Time // when the row was last written (set by the store)
}

// AuditChunk is a run of consecutive leaves of one of a recount's Merkle
// trees (Tree 0: counted votes, 1: refused ones): Index is its position
// (leaf Index×chunk size on), Leaves the encoded leaves, Root their tree's
// hash.
type AuditChunk struct {
	Tree   int
	Index  int64
	Leaves []byte
	Root   []byte
}

// AuditIndexRow is a run of a recount's index from vote id to leaf, sorted
// by key: FirstKey is its first entry's key, Entries the fixed-size
// entries.
type AuditIndexRow struct {
	FirstKey int64
	Entries  []byte
}
