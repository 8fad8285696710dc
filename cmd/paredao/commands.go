package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/paredao/paredao/service"
)

// runAll is `paredao run`: the embedded broker and every tier in one process.
func runAll(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	var err error
	if cfg.Secret == "" {
		if cfg.Secret, err = service.KeptSecret(filepath.Join(cfg.DataDir, "secret")); err != nil {
			return err
		}
	}
	tokenFile, err := keepProductionToken(cfg)
	if err != nil {
		return err
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
	reg := service.NewRegistry()
	procs, err := newProcessorTier(cfg, k, reg, log)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore(store, log)
	web, err := newWebTier(cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	sink, err := newSinkTier(ctx, cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	reg.MustRegister(service.NewLagCollector(append(procs.groups, sink.proc)...))
	checks := func() []service.Check {
		return append(append(append(procs.checks(), web.checks()...), sink.checks()...), storeCheck(store))
	}
	admin := newAdminServer(cfg, reg, checks, log)

	if _, err := io.WriteString(stdout, banner(cfg, tokenFile)); err != nil {
		log.Warn("banner not written", "err", err) // the token is in its file too
	}

	return service.RunLayers(ctx, log,
		[]service.Task{web.serveTask(), adminTask(cfg, admin, log)},
		append(append(append(procs.tasks(), web.viewTasks()...), web.seedTask()), sink.tasks()...),
	)
}

// keepProductionToken gives run a production token when the operator set
// none: generated on first use and kept in the data dir. It returns the file
// that keeps it, "" for a token the operator set.
func keepProductionToken(cfg *Config) (file string, err error) {
	if cfg.ProductionToken != "" {
		return "", nil
	}
	file = filepath.Join(cfg.DataDir, "production-token")
	if cfg.ProductionToken, err = service.KeptSecret(file); err != nil {
		return "", err
	}
	return file, nil
}

// banner is what `paredao run` prints once it starts. The production token
// is shown only when run generated it (tokenFile, in the data dir, keeps it):
// the operator has no other way to learn it. A token the operator set is not
// repeated to the terminal and whatever collects its output.
func banner(cfg *Config, tokenFile string) string {
	host := cfg.HTTPAddr
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	shown := "set by PAREDAO_PRODUCTION_TOKEN (--production-token), not shown"
	if tokenFile != "" {
		shown = cfg.ProductionToken + " (generated, kept in " + tokenFile + ")"
	}
	return fmt.Sprintf("Paredão is running.\n  voter page:       http://%s/\n  production page:  http://%s/production\n  production token: %s\n  admin:            http://%s/metrics\n",
		host, host, shown, cfg.AdminAddr)
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
	reg := service.NewRegistry()
	reg.MustRegister(service.NewDiskCollector(cfg.DataDir))
	admin := newAdminServer(cfg, reg, func() []service.Check {
		return []service.Check{{Name: "broker", OK: func(context.Context) error { return nil }}, service.DiskCheck(cfg.DataDir)}
	}, log)
	return service.RunLayers(ctx, log, []service.Task{adminTask(cfg, admin, log)})
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
	defer closeStore(store, log)
	reg := service.NewRegistry()
	web, err := newWebTier(cfg, k, reg, log, store)
	if err != nil {
		return err
	}
	admin := newAdminServer(cfg, reg, func() []service.Check { return append(web.checks(), storeCheck(store)) }, log)
	return service.RunLayers(ctx, log,
		[]service.Task{web.serveTask(), adminTask(cfg, admin, log)},
		append(web.viewTasks(), web.seedTask()),
	)
}

// runProcess is `paredao process`.
func runProcess(ctx context.Context, cfg *Config, log *slog.Logger) error {
	k := newKafka(cfg, log)
	if err := ensureTopics(ctx, k); err != nil {
		return err
	}
	reg := service.NewRegistry()
	procs, err := newProcessorTier(cfg, k, reg, log)
	if err != nil {
		return err
	}
	reg.MustRegister(service.NewLagCollector(procs.groups...))
	admin := newAdminServer(cfg, reg, procs.checks, log)
	return service.RunLayers(ctx, log,
		[]service.Task{adminTask(cfg, admin, log)},
		procs.tasks(),
	)
}
