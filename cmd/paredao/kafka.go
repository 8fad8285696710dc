package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/stream"
)

// pipelineTopics are the topics every command makes sure exist: streams with
// retention, tables compacted.
var pipelineTopics = stream.Topics{
	Streams: []goka.Stream{pipeline.VotesStream, pipeline.BallotsStream, pipeline.WindowsStream},
	Tables:  []goka.Table{pipeline.CatalogTable, pipeline.GuardTable, pipeline.TallyTable},
}

func newKafka(cfg *Config, log *slog.Logger) *stream.Kafka {
	return stream.New(stream.Config{Brokers: cfg.KafkaBrokers, Partitions: cfg.Partitions, Replication: cfg.Replication, Log: log})
}

func ensureTopics(ctx context.Context, k *stream.Kafka) error {
	return k.EnsureTopics(ctx, pipelineTopics)
}

// startBroker starts the embedded broker of cfg, persisted under
// <data dir>/broker.
func startBroker(cfg *Config, log *slog.Logger) (*kfake.Cluster, error) {
	return stream.StartBroker(stream.BrokerConfig{
		Addr: cfg.BrokerAddr, Count: cfg.BrokerCount, DataDir: filepath.Join(cfg.DataDir, "broker"), Log: log,
	})
}
