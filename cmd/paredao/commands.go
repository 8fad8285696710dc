package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// runAll is `paredao run`: the embedded broker and every tier in one process.
func runAll(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	var err error
	if cfg.Secret == "" {
		if cfg.Secret, err = keptSecret(filepath.Join(cfg.DataDir, "secret")); err != nil {
			return err
		}
	}
	if cfg.ProductionToken == "" {
		if cfg.ProductionToken, err = keptSecret(filepath.Join(cfg.DataDir, "production-token")); err != nil {
			return err
		}
	}
	if cfg.Embedded() {
		c, err := startBroker(cfg, log.With("component", "broker"))
		if err != nil {
			return err
		}
		defer func() {
			c.Close()
			log.Info("embedded broker stopped")
		}()
	}
	k := newKafka(cfg, log)
	if err := ensureTopics(ctx, k); err != nil {
		return err
	}
	reg := newRegistry()
	procs, err := newProcessorTier(cfg, k, reg, log)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	web, err := newWebTier(cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	sink, err := newSinkTier(ctx, cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	reg.MustRegister(newLagCollector(append(procs.groups, sink.proc)...))
	checks := func() []check {
		return append(append(append(procs.checks(), web.checks()...), sink.checks()...), storeCheck(store))
	}
	admin := newAdminServer(reg, checks, log)

	host := cfg.HTTPAddr
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	fmt.Fprintf(stdout, "Paredão is running.\n  voter page:       http://%s/\n  production page:  http://%s/production\n  production token: %s\n  admin:            http://%s/metrics\n",
		host, host, cfg.ProductionToken, cfg.AdminAddr)

	return runLayers(ctx, log,
		[]task{web.serveTask(), adminTask(cfg, admin, log)},
		append(append(append(procs.tasks(), web.viewTasks()...), web.seedTask()), sink.tasks()...),
	)
}

// runBroker is `paredao broker`: the embedded broker alone, with the admin
// listener (ready once the pipeline's topics exist).
func runBroker(ctx context.Context, cfg *Config, log *slog.Logger) error {
	c, err := startBroker(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		c.Close()
		log.Info("embedded broker stopped")
	}()
	k := newKafka(cfg, log)
	if err := ensureTopics(ctx, k); err != nil {
		return err
	}
	reg := newRegistry()
	admin := newAdminServer(reg, func() []check {
		return []check{{"broker", func(context.Context) error { return nil }}}
	}, log)
	return runLayers(ctx, log, []task{adminTask(cfg, admin, log)})
}

// runWeb is `paredao web`.
func runWeb(ctx context.Context, cfg *Config, log *slog.Logger) error {
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
	web, err := newWebTier(cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	admin := newAdminServer(reg, func() []check { return append(web.checks(), storeCheck(store)) }, log)
	return runLayers(ctx, log,
		[]task{web.serveTask(), adminTask(cfg, admin, log)},
		append(web.viewTasks(), web.seedTask()),
	)
}

// runProcess is `paredao process`.
func runProcess(ctx context.Context, cfg *Config, log *slog.Logger) error {
	k := newKafka(cfg, log)
	if err := ensureTopics(ctx, k); err != nil {
		return err
	}
	reg := newRegistry()
	procs, err := newProcessorTier(cfg, k, reg, log)
	if err != nil {
		return err
	}
	reg.MustRegister(newLagCollector(procs.groups...))
	admin := newAdminServer(reg, procs.checks, log)
	return runLayers(ctx, log,
		[]task{adminTask(cfg, admin, log)},
		procs.tasks(),
	)
}

// keptSecret reads a generated secret from path, creating it on first use.
func keptSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var b [32]byte
	rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}
