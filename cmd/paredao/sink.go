package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// sinkTier is filled in with the sink package.
type sinkTier struct{}

func newSinkTier(ctx context.Context, cfg *Config, k *kafka, reg prometheus.Registerer, log *slog.Logger) (*sinkTier, error) {
	return &sinkTier{}, nil
}

func (s *sinkTier) tasks() []task   { return nil }
func (s *sinkTier) checks() []check { return nil }
func (s *sinkTier) close()          {}

func runSink(ctx context.Context, cfg *Config, log *slog.Logger) error {
	return errors.New("sink: not built yet")
}

func runMigrate(ctx context.Context, cfg *Config, log *slog.Logger) error {
	return errors.New("migrate: not built yet")
}

func runLoad(ctx context.Context, args []string, env func(string) string, stdout, stderr interface{}) error {
	return errors.New("load: not built yet")
}
