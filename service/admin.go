package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition.
type Check struct {
	// Name names the condition in /readyz's answer.
	Name string
	// OK is nil when the condition holds, else why it does not.
	OK func(context.Context) error
}

// Recovered is a Check's OK from a recovered flag: "recovering" until f
// tells true.
func Recovered(f func() bool) func(context.Context) error {
	return func(context.Context) error {
		if !f() {
			return fmt.Errorf("recovering")
		}
		return nil
	}
}

// NewRegistry is the process's Prometheus registry, with Go and process
// metrics and paredao_task_restarts_total.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), taskRestarts)
	return reg
}

// AdminHandler serves /healthz, /readyz, /metrics and, with withPprof,
// /debug/pprof on the internal listener only. pprof is off unless asked for
// (--pprof): whoever reaches the admin port (in Kubernetes, every pod of the
// namespace) could otherwise read the process's memory profile and command
// line, and load a core with CPU profiles and traces.
func AdminHandler(reg *prometheus.Registry, checks func() []Check, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n") // a failed write: the prober left
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status := http.StatusOK
		var lines []byte
		for _, c := range checks() {
			if err := c.OK(ctx); err != nil {
				status = http.StatusServiceUnavailable
				lines = fmt.Appendf(lines, "%s: %v\n", c.Name, err)
			} else {
				lines = fmt.Appendf(lines, "%s: ok\n", c.Name)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(lines) // a failed write: the prober left
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Serve runs srv on addr until ctx ends, then shuts it down gracefully
// within shutdownTimeout. wrap, if not nil, wraps the listener (the public
// one's connection budget). An address that cannot be listened on (taken,
// not allowed, not there) is a Permanent error.
func Serve(ctx context.Context, srv *http.Server, addr string, wrap func(net.Listener) net.Listener, log *slog.Logger, shutdownTimeout time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		err = fmt.Errorf("listen %s: %w", addr, err)
		if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EADDRNOTAVAIL) {
			return Permanent(err) // a configuration that cannot work
		}
		return err // EMFILE and the like: run again
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown %s: %w", addr, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NewAdminServer is the admin listener's server: AdminHandler, its
// timeouts, its errors logged at warn.
func NewAdminServer(reg *prometheus.Registry, checks func() []Check, withPprof bool, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           AdminHandler(reg, checks, withPprof),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// AdminTask serves admin on addr until ctx ends.
func AdminTask(admin *http.Server, addr string, shutdownTimeout time.Duration, log *slog.Logger) Task {
	return Task{Name: "admin server", Run: func(ctx context.Context) error {
		return Serve(ctx, admin, addr, nil, log.With("component", "admin"), shutdownTimeout)
	}}
}
