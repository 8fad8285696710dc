// Package sink writes the closed-window counts that the tally processor emits
// to SQL and answers the report queries over them.
//
// Its place in the pipeline:
//
//	tally ──WindowsStream──▶ sink.Processor (group "sink") ──Apply──▶ Store (PostgreSQL or SQLite)
//	                                                                    ▲
//	                                 reports (Hours, HoursAndDays, Minutes, Shards, Late)
//
// Two kinds of pipeline.WindowRecord arrive, repeated, stale and out of order:
//
//   - a count record carries the absolute count of one (paredão, participant,
//     shard, window). The store keeps the greatest count it has seen, so a
//     repeated or stale record changes nothing;
//   - a late record carries one vote whose window tally had already retired.
//     The store inserts it once by (paredão, LateID) and adds it to its
//     window's total in every report.
//
// Reports aggregate window rows, never raw votes: a paredão of 1.5 billion
// votes over three days with one-minute windows is about 4,320 windows ×
// participants × 12 shards rows, read through primary keys that start with
// (paredao_id, window_start). RollUp folds old minute rows into hourly rows
// and moves the paredão's watermark; count records for windows under the
// watermark are ignored from then on (their count is already folded), late
// records for them still add to the hourly rows once. RollUpDays folds older
// hourly rows into UTC days the same way, with a day watermark that never
// passes the hour watermark: late records for a folded day add to its daily
// row once, and HoursAndDays answers both granularities from one snapshot,
// saying from when hourly detail is kept.
//
// Schema changes are versioned SQL files per dialect under migrations/,
// embedded in the binary and recorded in schema_migrations; Migrate applies
// the missing ones. One contract suite (contract_test.go) runs against both
// stores.
//
// Processor batches records: each callback defers its Kafka commit, a flush
// writes the batch in one transaction and only then commits the offsets, in
// order. A failed write is retried with backoff and never committed, so a
// record is either in the store or will be delivered again.
//
// Metrics (NewMetrics):
//
//	paredao_sink_records_total                 records written to the store
//	paredao_sink_rejected_records_total{reason} records that can never be stored (invalid), logged and skipped
//	paredao_sink_batches_total                 batches written
//	paredao_sink_apply_errors_total            failed writes (each retried)
//	paredao_sink_apply_seconds                 time to write one batch
//	paredao_sink_last_flush_timestamp_seconds  when the last batch was written
//	paredao_sink_pending_records               records buffered, not yet written
//
// The package imports pipeline, goka, pgx, the SQLite driver and the
// Prometheus client; never http, views or processors.
package sink
