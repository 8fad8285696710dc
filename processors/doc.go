// Package processors holds Paredão's goka processor groups, one file each:
//
//   - guard (guard.go), keyed by voter: drops replayed proofs of work, votes
//     over the per-voter cap and votes outside the paredão's opening hours,
//     and emits a ballot per vote let through;
//   - tally (tally.go), keyed by paredão/participant/shard: counts ballots
//     exactly once, keeps tumbling-window counts and sends closed windows to
//     the sink.
//
// Each constructor returns the group graph and takes goka options, so tests
// pass goka.WithTester and production passes the Kafka builders. It imports
// pipeline, goka and the Prometheus client only.
package processors
