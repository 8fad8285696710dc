// Package audit recounts a paredão from the raw votes log, independently of
// the pipeline: a plain Kafka consumer reads VotesStream from its earliest
// offsets up to a cut taken at start, a Decider of its own decides every
// vote again by the rules topology.md writes down (it does not call guard),
// and the counts per participant, hour and minute are compared with the
// production report.
//
// It imports pipeline (the vocabulary and codecs), sarama and franz-go, and
// none of processors, views, sink or http.
package audit
