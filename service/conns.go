package service

import (
	"log/slog"
	"syscall"
)

// The public listener's connection budget, when --max-connections is 0:
// the open-files limit less a reserve for what else the process holds (the
// embedded broker's segments and connections, goleveldb stores, SQLite, the
// Kafka clients): a quarter of the limit, at least 1,024. It stops at
// connectionsCap: past that, memory (about 10 KiB per idle connection)
// bounds a replica before its files do.
const (
	connectionsReserveMin = 1024
	connectionsCap        = 65536
)

// ConnectionBudget is the configured budget, or the one derived from the
// open-files limit (and that limit, for the log).
func ConnectionBudget(configured int, log *slog.Logger) int {
	if configured > 0 {
		return configured
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		log.Warn("open-files limit unknown: connection budget 1024", "err", err)
		return 1024
	}
	budget := deriveBudget(rl.Cur)
	log.Info("connection budget", "max_connections", budget, "open_files_limit", rl.Cur)
	return budget
}

func deriveBudget(limit uint64) int {
	reserve := max(limit/4, connectionsReserveMin)
	if limit <= 2*connectionsReserveMin {
		// A tiny limit: half of it, however little.
		return max(int(limit/2), 1)
	}
	return int(min(limit-reserve, connectionsCap))
}
