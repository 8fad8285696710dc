package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/service"
)

// newAdminServer is cfg's admin listener server.
func newAdminServer(cfg *Config, reg *prometheus.Registry, checks func() []service.Check, log *slog.Logger) *http.Server {
	return service.NewAdminServer(reg, checks, cfg.Pprof, log)
}

// adminTask serves the admin listener until ctx ends.
func adminTask(cfg *Config, admin *http.Server, log *slog.Logger) service.Task {
	return service.AdminTask(admin, cfg.AdminAddr, cfg.ShutdownTimeout, log)
}
