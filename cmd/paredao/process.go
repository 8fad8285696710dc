package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/processors"
	"github.com/paredao/paredao/stream"
)

// processorTier runs the goka processors of this process.
type processorTier struct {
	cfg    *Config
	log    *slog.Logger
	groups []*stream.Supervisor
}

// groupOptions are the processor options of one group: its local state under
// dir/tables, its commits in order through commits, its rebalances logged.
func groupOptions(k *stream.Kafka, s *stream.Supervisor, commits *stream.Commits) []goka.ProcessorOption {
	return append(k.ProcessorOptions(s.TablesDir(), commits), goka.WithRebalanceCallback(func(a goka.Assignment) {
		parts := make([]int32, 0, len(a))
		for p := range a {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		s.Log.Info("rebalance: partitions assigned", "partitions", fmt.Sprint(parts))
	}))
}

func newProcessorTier(cfg *Config, k *stream.Kafka, reg prometheus.Registerer, log *slog.Logger) (*processorTier, error) {
	t := &processorTier{cfg: cfg, log: log.With("component", "processors")}
	m := processors.NewMetrics(reg)
	if reg != nil {
		reg.MustRegister(newDiskCollector(cfg.DataDir))
	}
	for _, g := range cfg.Groups {
		s := &stream.Supervisor{Name: g, Dir: filepath.Join(cfg.DataDir, "state", g), Log: t.log.With("group", g),
			Restarted: taskRestarts.WithLabelValues("processor " + g).Inc}
		commits := stream.NewCommits()
		switch g {
		case "guard":
			gc := processors.GuardConfig{VotesPerMinute: cfg.VotesPerMinute, Partitions: cfg.Partitions, Metrics: m,
				Acked: func(p int32) int64 { return commits.Acked(string(pipeline.VotesStream), p) }}
			s.Build = func() (stream.Runner, error) {
				// Each build sends its batches with its own producer.
				em, err := goka.NewEmitter(cfg.KafkaBrokers, pipeline.BallotsStream, new(pipeline.BallotBatchCodec), k.EmitterOptions()...)
				if err != nil {
					return nil, fmt.Errorf("ballots emitter: %w", err)
				}
				g, err := processors.NewGuard(cfg.KafkaBrokers, gc, em, groupOptions(k, s, commits)...)
				if err != nil {
					em.Finish()
					return nil, err
				}
				return g, nil
			}
		case "tally":
			tc := processors.TallyConfig{Window: cfg.Window, Grace: cfg.Grace, Horizon: cfg.LateHorizon, Metrics: m,
				Acked: func(p int32) int64 { return commits.Acked(string(pipeline.BallotsStream), p) }}
			s.Build = func() (stream.Runner, error) {
				return processors.NewTally(cfg.KafkaBrokers, tc, groupOptions(k, s, commits)...)
			}
		default:
			return nil, fmt.Errorf("--groups: unknown group %q (guard, tally)", g)
		}
		t.groups = append(t.groups, s)
	}
	return t, nil
}

func (t *processorTier) tasks() []task {
	var out []task
	for _, s := range t.groups {
		out = append(out, task{name: "processor " + s.Name, run: s.Run})
		if s.Name == "tally" {
			out = append(out, task{name: "window closer", run: func(ctx context.Context) error {
				return closeWindowsEvery(ctx, s, time.Second, t.log)
			}})
		}
	}
	return out
}

// closeWindowsEvery visits tally's table every interval so closed windows
// reach the sink (goka has no timers): when a batch was applied or a window
// closed since the last visit, and at least every closeVisitMax (partitions
// a rebalance brought in), so an idle tally costs nothing.
func closeWindowsEvery(ctx context.Context, tally *stream.Supervisor, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last time.Time
	var lastProc *processors.Tally
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		p, ok := tally.Current().(*processors.Tally)
		if !ok || !p.Recovered() {
			continue
		}
		now := time.Now()
		if p == lastProc && !p.CloseDue(now) && now.Sub(last) < closeVisitMax {
			continue
		}
		lastProc, last = p, now
		p.BeginVisit()
		if err := p.VisitAll(ctx, processors.CloseVisitor, now); err != nil && ctx.Err() == nil {
			log.Debug("close windows visit", "err", err)
			last = time.Time{} // visit again at the next tick
		}
	}
}

// closeVisitMax is the longest time between two close visits.
const closeVisitMax = 10 * time.Second

func (t *processorTier) checks() []check {
	var out []check
	for _, s := range t.groups {
		out = append(out, check{"processor " + s.Name, recovered(s.Recovered)})
	}
	out = append(out, diskCheck(t.cfg.DataDir)) // local state (and in `run` the broker and SQLite)
	slices.SortFunc(out, func(a, b check) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	return out
}
