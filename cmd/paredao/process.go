package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/processors"
)

// cleanMarker is written when a processor stopped cleanly: its local state
// then matches its table topic. Without it the local state may hold writes the
// table topic never received, so it is dropped and rebuilt from the topic.
const cleanMarker = "CLEAN"

// processorTier runs the goka processors of this process.
type processorTier struct {
	cfg   *Config
	log   *slog.Logger
	procs map[goka.Group]*goka.Processor
	dirs  map[goka.Group]string
}

func newProcessorTier(cfg *Config, k *kafka, reg prometheus.Registerer, log *slog.Logger) (*processorTier, error) {
	t := &processorTier{cfg: cfg, log: log.With("component", "processors"), procs: map[goka.Group]*goka.Processor{}, dirs: map[goka.Group]string{}}
	m := processors.NewMetrics(reg)
	for _, g := range cfg.Groups {
		group := goka.Group(g)
		dir := filepath.Join(cfg.DataDir, "state", g)
		if err := prepareState(dir, t.log.With("group", g)); err != nil {
			return nil, err
		}
		opts := k.processorOptions(filepath.Join(dir, "tables"))
		var p *goka.Processor
		var err error
		switch g {
		case "guard":
			p, err = processors.NewGuard(cfg.KafkaBrokers, processors.GuardConfig{VotesPerMinute: cfg.VotesPerMinute, Shards: cfg.Shards, LookupWait: 5 * time.Second, Metrics: m}, opts...)
		case "tally":
			p, err = processors.NewTally(cfg.KafkaBrokers, processors.TallyConfig{Window: cfg.Window, Grace: cfg.Grace, Horizon: cfg.LateHorizon, Metrics: m}, opts...)
		default:
			return nil, fmt.Errorf("--groups: unknown group %q (guard, tally)", g)
		}
		if err != nil {
			return nil, fmt.Errorf("processor %s: %w", g, err)
		}
		t.procs[group] = p
		t.dirs[group] = dir
	}
	return t, nil
}

// prepareState drops local state that was not closed cleanly.
func prepareState(dir string, log *slog.Logger) error {
	marker := filepath.Join(dir, cleanMarker)
	if _, err := os.Stat(marker); err == nil {
		if err := os.Remove(marker); err != nil {
			return fmt.Errorf("remove clean marker: %w", err)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "tables")); err == nil {
		log.Warn("local state was not closed cleanly: dropping it, recovering from the table topic", "dir", dir)
		if err := os.RemoveAll(filepath.Join(dir, "tables")); err != nil {
			return fmt.Errorf("drop unclean state: %w", err)
		}
	}
	return os.MkdirAll(dir, 0o750)
}

func (t *processorTier) tasks() []task {
	var out []task
	for g, p := range t.procs {
		dir := t.dirs[g]
		out = append(out, task{"processor " + string(g), func(ctx context.Context) error {
			err := p.Run(ctx)
			if err != nil && ctx.Err() != nil {
				t.log.Info("processor stopped while starting", "group", g, "err", err)
				return nil // no marker: the state may be half recovered
			}
			if err != nil {
				return err
			}
			if werr := os.WriteFile(filepath.Join(dir, cleanMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o640); werr != nil {
				return fmt.Errorf("write clean marker: %w", werr)
			}
			t.log.Info("processor stopped cleanly", "group", g)
			return nil
		}})
	}
	if tally, ok := t.procs["tally"]; ok {
		out = append(out, task{"window closer", func(ctx context.Context) error {
			return closeWindowsEvery(ctx, tally, time.Second, t.log)
		}})
	}
	return out
}

// closeWindowsEvery visits tally's table every interval so closed windows
// reach the sink (goka has no timers).
func closeWindowsEvery(ctx context.Context, tally *goka.Processor, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !tally.Recovered() {
			continue
		}
		if err := tally.VisitAll(ctx, processors.CloseVisitor, time.Now()); err != nil && ctx.Err() == nil {
			log.Debug("close windows visit", "err", err)
		}
	}
}

func (t *processorTier) checks() []check {
	var out []check
	groups := make([]goka.Group, 0, len(t.procs))
	for g := range t.procs {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		out = append(out, check{"processor " + string(g), recovered(t.procs[g].Recovered)})
	}
	return out
}
