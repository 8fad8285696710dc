package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/stream"
)

// pipelineTopics are the topics every command makes sure exist: streams with
// retention, tables compacted.
var pipelineTopics = stream.Topics{
	Streams: []goka.Stream{pipeline.VotesStream, pipeline.BallotsStream, pipeline.WindowsStream},
	Tables:  []goka.Table{pipeline.CatalogTable, pipeline.GuardTable, pipeline.TallyTable},
}

// derivedRetention is how long ballots and windows are kept. Each is the
// only copy of its stage's output until the next stage consumed it (tally,
// the sink), so it bounds how long that consumer may be down without a
// recount from the votes: a week, for a weekend-long outage and its margin.
// Both cost little: a vote's share of a ballot batch is ~6 bytes, windows
// do not grow with the votes.
const derivedRetention = 7 * 24 * time.Hour

// maxParedaoLength is how long a paredão may run, by default, within the
// votes retention: the default retention is --audit-days and this, so a
// paredão of a week stays recountable --audit-days after it closes (the web
// tier refuses to create a longer one than the retention allows).
const maxParedaoLength = 7 * 24 * time.Hour

// streamRetention is each stream's retention.ms. The votes stream is the
// raw log a recount reads from its start (the audit): it is kept
// --votes-retention, by default --audit-days (30) and a week; 0 keeps it
// forever.
func streamRetention(cfg *Config) map[goka.Stream]time.Duration {
	votes := cfg.VotesRetention
	if votes == 0 {
		votes = -1 // forever
	}
	return map[goka.Stream]time.Duration{
		pipeline.VotesStream:   votes,
		pipeline.BallotsStream: derivedRetention,
		pipeline.WindowsStream: derivedRetention,
	}
}

func newKafka(cfg *Config, log *slog.Logger) *stream.Kafka {
	return stream.New(stream.Config{Brokers: cfg.KafkaBrokers, Partitions: cfg.Partitions, Replication: cfg.Replication,
		// The embedded broker's topics are this program's: a changed
		// retention applies on the next start. A real cluster's belong to
		// its operators (deploy/k8s): a difference is only logged.
		Retention: streamRetention(cfg), AlignRetention: cfg.Embedded(), Log: log})
}

func ensureTopics(ctx context.Context, k *stream.Kafka) error {
	return k.EnsureTopics(ctx, pipelineTopics)
}

// startBroker starts the embedded broker of cfg, persisted under
// <data dir>/broker; every minute it applies the streams' retention and
// compacts the tables.
func startBroker(cfg *Config, log *slog.Logger) (*stream.Broker, error) {
	var topics []string
	for _, s := range pipelineTopics.Streams {
		topics = append(topics, string(s))
	}
	for _, t := range pipelineTopics.Tables {
		topics = append(topics, string(t))
	}
	return stream.StartBroker(stream.BrokerConfig{
		Addr: cfg.BrokerAddr, Count: cfg.BrokerCount, DataDir: filepath.Join(cfg.DataDir, "broker"),
		Topics: topics, KeepLast: []string{string(pipeline.VotesStream)}, Log: log,
	})
}
