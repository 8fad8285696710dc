package service

import (
	"fmt"
	"strconv"
	"strings"
)

// MemoryLimit is the soft memory limit of the process (runtime/debug
// SetMemoryLimit): PAREDAO_MEMORY_LIMIT (bytes, or with KiB/MiB/GiB) when
// set, else 80 % of the container's limit (cgroup v2 memory.max, or v1
// memory.limit_in_bytes) when there is one, else 0 (none). GOMEMLIMIT, read
// by the runtime itself, wins over both. The GC then runs by the limit as
// memory gets near it, not only by GOGC.
func MemoryLimit(env func(string) string, readFile func(string) ([]byte, error)) (int64, error) {
	if v := strings.TrimSpace(env("PAREDAO_MEMORY_LIMIT")); v != "" {
		n, err := parseBytes(v)
		if err != nil {
			return 0, fmt.Errorf("PAREDAO_MEMORY_LIMIT: %w", err)
		}
		return n, nil
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // "max", or v1's "no limit"
			continue
		}
		return n / 10 * 8, nil
	}
	return 0, nil
}

// parseBytes reads 1073741824, 1024KiB, 512MiB or 2GiB.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (bytes, KiB, MiB or GiB)", s)
	}
	return n * mult, nil
}
