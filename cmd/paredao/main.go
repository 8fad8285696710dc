// Command paredao runs Paredão: the whole system in one process (run), or one
// tier of it (broker, web, process, sink), the schema migration (migrate),
// the load generator (load) and the audit (recount, verify). main only
// wires; the pieces live in pipeline, processors, views, sink, http, stream,
// service and audit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/paredao/paredao/load"
	"github.com/paredao/paredao/service"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The vote path allocates little per vote but at a high rate; a
		// larger heap target halves the GC's share of the CPU. GOGC and
		// GOMEMLIMIT still override it.
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit, err := service.MemoryLimit(os.Getenv, os.ReadFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "paredao:", err)
			os.Exit(2)
		}
		if limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "paredao:", err)
		os.Exit(exitCode(err))
	}
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: paredao [COMMAND] [FLAGS]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.help)
	}
	b.WriteString("\n'paredao COMMAND --help' lists the flags; every flag has an environment variable PAREDAO_<FLAG>.\n")
	_, _ = io.WriteString(w, b.String()) // usage text: nothing better to do when it cannot be written
}

// run dispatches a command line.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	command := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, args = args[0], args[1:]
	} else if len(args) == 1 && (args[0] == "--help" || args[0] == "-help" || args[0] == "-h") {
		usage(stdout)
		return nil
	}
	if command == "help" {
		usage(stdout)
		return nil
	}
	if command == "load" {
		return load.Main(ctx, args, env, stdout, stderr)
	}
	if command == "recount" {
		return runRecount(ctx, args, env, stdout, stderr)
	}
	if command == "dump" {
		return runDump(ctx, args, env, stdout, stderr)
	}
	if command == "verify" {
		return runVerify(ctx, args, env, stdout, stderr)
	}
	known := false
	for _, c := range commands {
		known = known || c.name == command
	}
	if !known {
		usage(stderr)
		return fmt.Errorf("unknown command %q", command)
	}
	cfg, err := loadConfig(command, args, env, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel).With("command", command)
	log.Debug("configuration", "config", cfg.String())
	switch command {
	case "run":
		return runAll(ctx, cfg, log, stdout)
	case "broker":
		return runBroker(ctx, cfg, log)
	case "web":
		return runWeb(ctx, cfg, log)
	case "process":
		return runProcess(ctx, cfg, log)
	case "sink":
		return runSink(ctx, cfg, log)
	case "migrate":
		return runMigrate(ctx, cfg, log)
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
