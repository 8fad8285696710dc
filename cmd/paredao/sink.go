package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/service"
	"github.com/paredao/paredao/sink"
	"github.com/paredao/paredao/stream"
)

// sinkTier runs the sink group and the roll-up of old windows.
type sinkTier struct {
	cfg   *Config
	log   *slog.Logger
	store sink.Store
	proc  *stream.Supervisor
}

// openStore opens and migrates the SQL store.
// closeStore closes the store at exit; an error is only logged (the
// process is stopping).
func closeStore(store sink.Store, log *slog.Logger) {
	if err := store.Close(); err != nil {
		log.Warn("store close", "err", err)
	}
}

func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (sink.Store, error) {
	store, err := sink.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", maskURL(cfg.DatabaseURL), err)
	}
	if err := store.Migrate(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate: %w", err), store.Close())
	}
	log.Info("store ready", "url", maskURL(cfg.DatabaseURL))
	return store, nil
}

func newSinkTier(ctx context.Context, cfg *Config, k *stream.Kafka, reg prometheus.Registerer, log *slog.Logger, store sink.Store) (*sinkTier, error) {
	log = log.With("component", "sink")
	sc := sink.Config{Log: log, Metrics: sink.NewMetrics(reg)}
	commits := stream.NewCommits()
	build := func() (stream.Runner, error) {
		return sink.NewProcessor(cfg.KafkaBrokers, store, sc, k.ProcessorOptions(filepath.Join(cfg.DataDir, "state", "sink"), commits)...)
	}
	if _, err := build(); err != nil { // fail at start-up on a bad configuration
		return nil, fmt.Errorf("sink processor: %w", err)
	}
	proc := &stream.Supervisor{Name: "sink", Build: build, Log: log, Restarted: service.CountRestart("sink")}
	if reg != nil && cfg.Command == "sink" { // in `run` the processor tier reports the data dir
		reg.MustRegister(service.NewDiskCollector(cfg.DataDir))
	}
	return &sinkTier{cfg: cfg, log: log, store: store, proc: proc}, nil
}

func (s *sinkTier) tasks() []service.Task {
	return []service.Task{
		{Name: "sink", Run: s.proc.Run},
		{Name: "roll-up", Run: func(ctx context.Context) error {
			return sink.RollUpEvery(ctx, s.store, s.cfg.RollupAfter, s.cfg.DailyRollup, s.log)
		}},
	}
}

func (s *sinkTier) checks() []service.Check {
	out := []service.Check{{Name: "sink processor", OK: service.Recovered(s.proc.Recovered)}}
	if s.cfg.Command == "sink" { // in `run` the processor tier checks the data dir
		out = append(out, service.DiskCheck(s.cfg.DataDir))
	}
	return out
}

func storeCheck(store sink.Store) service.Check {
	return service.Check{Name: "store", OK: store.Ping}
}

// runSink is `paredao sink`.
func runSink(ctx context.Context, cfg *Config, log *slog.Logger) error {
	k := newKafka(cfg, log)
	if err := ensureTopics(ctx, k); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore(store, log)
	reg := service.NewRegistry()
	s, err := newSinkTier(ctx, cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	reg.MustRegister(service.NewLagCollector(s.proc))
	admin := newAdminServer(cfg, reg, func() []service.Check { return append(s.checks(), storeCheck(store)) }, log)
	return service.RunLayers(ctx, log,
		[]service.Task{adminTask(cfg, admin, log)},
		s.tasks(),
	)
}

// runMigrate is `paredao migrate`.
func runMigrate(ctx context.Context, cfg *Config, log *slog.Logger) error {
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	return store.Close()
}
