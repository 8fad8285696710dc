// Package stream is the Kafka runtime every tier of Paredão shares: one
// *sarama.Config passed through goka's builders, ordered commits for every
// consumer group (Commits), topic creation, the embedded Kafka-protocol
// broker (kfake), and the supervisor that restarts a processor after a
// failure and drops local state that was not closed cleanly.
//
// It imports goka, sarama, goleveldb and kfake, and nothing of the pipeline:
// cmd/paredao tells it which topics to create.
package stream
