package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/processors"
	"github.com/paredao/paredao/service"
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
		reg.MustRegister(service.NewDiskCollector(cfg.DataDir))
	}
	for _, g := range cfg.Groups {
		s := &stream.Supervisor{Name: g, Dir: filepath.Join(cfg.DataDir, "state", g), Log: t.log.With("group", g),
			Restarted: service.CountRestart("processor " + g)}
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
					return nil, errors.Join(err, em.Finish())
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

func (t *processorTier) tasks() []service.Task {
	var out []service.Task
	for _, s := range t.groups {
		out = append(out, service.Task{Name: "processor " + s.Name, Run: s.Run})
		if s.Name == "tally" {
			current := func() *processors.Tally {
				p, _ := s.Current().(*processors.Tally)
				return p
			}
			out = append(out, service.Task{Name: "window closer", Run: func(ctx context.Context) error {
				return processors.CloseWindowsEvery(ctx, current, time.Second, t.log)
			}})
		}
	}
	return out
}

func (t *processorTier) checks() []service.Check {
	var out []service.Check
	for _, s := range t.groups {
		out = append(out, service.Check{Name: "processor " + s.Name, OK: service.Recovered(s.Recovered)})
	}
	out = append(out, service.DiskCheck(t.cfg.DataDir)) // local state (and in `run` the broker and SQLite)
	slices.SortFunc(out, func(a, b service.Check) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return out
}
