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
	proc := &stream.Supervisor{Name: "sink", Build: build, Log: log, Restarted: taskRestarts.WithLabelValues("sink").Inc}
	if reg != nil && cfg.Command == "sink" { // in `run` the processor tier reports the data dir
		reg.MustRegister(newDiskCollector(cfg.DataDir))
	}
	return &sinkTier{cfg: cfg, log: log, store: store, proc: proc}, nil
}

func (s *sinkTier) tasks() []task {
	return []task{
		{name: "sink", run: s.proc.Run},
		{name: "roll-up", run: s.rollUpEvery},
	}
}

// rollUpEvery folds, every 10 minutes, minute rows older than RollupAfter
// into hourly rows, then hourly rows older than DailyRollup into UTC days
// (either 0: that fold never runs). A fold that fails is logged and tried
// again at the next tick; it commits nothing unfolded.
func (s *sinkTier) rollUpEvery(ctx context.Context) error {
	if s.cfg.RollupAfter <= 0 && s.cfg.DailyRollup <= 0 {
		return nil
	}
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		rollUpOnce(ctx, s.store, s.cfg.RollupAfter, s.cfg.DailyRollup, time.Now(), s.log)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// rollUpOnce runs both folds at now: hours first, so that the daily fold
// finds the minutes of its days folded already.
func rollUpOnce(ctx context.Context, store sink.Store, hoursAfter, daysAfter time.Duration, now time.Time, log *slog.Logger) {
	if hoursAfter > 0 {
		n, err := store.RollUp(ctx, now.Add(-hoursAfter))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("roll-up failed", "err", err)
		case n > 0:
			log.Info("rolled up minute rows into hours", "rows", n)
		}
	}
	if daysAfter > 0 {
		n, err := store.RollUpDays(ctx, now.Add(-daysAfter))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("daily roll-up failed", "err", err)
		case n > 0:
			log.Info("rolled up hourly rows into days", "rows", n)
		}
	}
}

func (s *sinkTier) checks() []check {
	out := []check{{"sink processor", recovered(s.proc.Recovered)}}
	if s.cfg.Command == "sink" { // in `run` the processor tier checks the data dir
		out = append(out, diskCheck(s.cfg.DataDir))
	}
	return out
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
	admin := newAdminServer(cfg, reg, func() []check { return append(s.checks(), storeCheck(store)) }, log)
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
