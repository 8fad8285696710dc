package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (sink.Store, error) {
	store, err := sink.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", maskURL(cfg.DatabaseURL), err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("migrate: %w", err)
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
	proc := &stream.Supervisor{Name: "sink", Build: build, Log: log}
	return &sinkTier{cfg: cfg, log: log, store: store, proc: proc}, nil
}

func (s *sinkTier) tasks() []task {
	return []task{
		{"sink", s.proc.Run},
		{"roll-up", s.rollUpEvery},
	}
}

// rollUpEvery folds minute rows older than RollupAfter into hourly rows.
func (s *sinkTier) rollUpEvery(ctx context.Context) error {
	if s.cfg.RollupAfter <= 0 {
		return nil
	}
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		n, err := s.store.RollUp(ctx, time.Now().Add(-s.cfg.RollupAfter))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("roll-up failed", "err", err)
		case n > 0:
			s.log.Info("rolled up minute rows into hours", "rows", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (s *sinkTier) checks() []check {
	return []check{{"sink processor", recovered(s.proc.Recovered)}}
}

func storeCheck(store sink.Store) check {
	return check{"store", store.Ping}
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
	defer store.Close()
	reg := newRegistry()
	s, err := newSinkTier(ctx, cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	reg.MustRegister(newLagCollector(s.proc))
	admin := newAdminServer(reg, func() []check { return append(s.checks(), storeCheck(store)) }, log)
	return runLayers(ctx, log,
		[]task{adminTask(cfg, admin, log)},
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
