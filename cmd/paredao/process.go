package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
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
	cfg    *Config
	log    *slog.Logger
	groups []*supervised
}

// supervised is one processor group, rebuilt and restarted after a failure
// (Kafka away, a session lost) until its context ends: the process keeps
// running and resumes by itself when Kafka is back.
type supervised struct {
	name    string
	dir     string // local state; "" for a stateless group
	build   func() (runner, error)
	current atomic.Pointer[runner]
	log     *slog.Logger
}

// runner is what a goka processor (or the sink) offers.
type runner interface {
	Run(ctx context.Context) error
	Recovered() bool
}

func newProcessorTier(cfg *Config, k *kafka, reg prometheus.Registerer, log *slog.Logger) (*processorTier, error) {
	t := &processorTier{cfg: cfg, log: log.With("component", "processors")}
	m := processors.NewMetrics(reg)
	for _, g := range cfg.Groups {
		dir := filepath.Join(cfg.DataDir, "state", g)
		glog := t.log.With("group", g)
		opts := func() []goka.ProcessorOption {
			return append(k.processorOptions(filepath.Join(dir, "tables")), goka.WithRebalanceCallback(func(a goka.Assignment) {
				parts := make([]int32, 0, len(a))
				for p := range a {
					parts = append(parts, p)
				}
				slices.Sort(parts)
				glog.Info("rebalance: partitions assigned", "partitions", fmt.Sprint(parts))
			}))
		}
		var build func() (runner, error)
		switch g {
		case "guard":
			gc := processors.GuardConfig{VotesPerMinute: cfg.VotesPerMinute, Shards: cfg.Shards, LookupWait: 5 * time.Second, Metrics: m}
			build = func() (runner, error) { return processors.NewGuard(cfg.KafkaBrokers, gc, opts()...) }
		case "tally":
			tc := processors.TallyConfig{Window: cfg.Window, Grace: cfg.Grace, Horizon: cfg.LateHorizon, Metrics: m}
			build = func() (runner, error) { return processors.NewTally(cfg.KafkaBrokers, tc, opts()...) }
		default:
			return nil, fmt.Errorf("--groups: unknown group %q (guard, tally)", g)
		}
		t.groups = append(t.groups, &supervised{name: g, dir: dir, build: build, log: t.log.With("group", g)})
	}
	return t, nil
}

// run runs the group until ctx ends, restarting it after failures with a
// backoff. Local state is checked before every start: after a failure it is
// dropped and recovered from the table topic.
func (s *supervised) run(ctx context.Context) error {
	backoff := time.Second
	for {
		if s.dir != "" {
			if err := prepareState(s.dir, s.log); err != nil {
				return err
			}
		}
		r, err := s.build()
		if err != nil {
			return fmt.Errorf("build %s: %w", s.name, err)
		}
		s.current.Store(&r)
		started := time.Now()
		err = r.Run(ctx)
		if ctx.Err() != nil {
			if err != nil {
				s.log.Info("processor stopped while failing or starting", "err", err)
				return nil // no marker: the state may not match the topic
			}
			if s.dir != "" {
				if werr := os.WriteFile(filepath.Join(s.dir, cleanMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o640); werr != nil {
					return fmt.Errorf("write clean marker: %w", werr)
				}
			}
			s.log.Info("processor stopped cleanly")
			return nil
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		s.log.Warn("processor failed, restarting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

func (s *supervised) recovered() bool {
	r := s.current.Load()
	return r != nil && (*r).Recovered()
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
	for _, s := range t.groups {
		out = append(out, task{"processor " + s.name, s.run})
		if s.name == "tally" {
			out = append(out, task{"window closer", func(ctx context.Context) error {
				return closeWindowsEvery(ctx, s, time.Second, t.log)
			}})
		}
	}
	return out
}

// closeWindowsEvery visits tally's table every interval so closed windows
// reach the sink (goka has no timers).
func closeWindowsEvery(ctx context.Context, tally *supervised, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		r := tally.current.Load()
		if r == nil || !(*r).Recovered() {
			continue
		}
		p, ok := (*r).(*goka.Processor)
		if !ok {
			continue
		}
		if err := p.VisitAll(ctx, processors.CloseVisitor, time.Now()); err != nil && ctx.Err() == nil {
			log.Debug("close windows visit", "err", err)
		}
	}
}

func (t *processorTier) checks() []check {
	var out []check
	for _, s := range t.groups {
		out = append(out, check{"processor " + s.name, recovered(s.recovered)})
	}
	slices.SortFunc(out, func(a, b check) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	return out
}
