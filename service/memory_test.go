package service

import (
	"errors"
	"testing"
)

// The memory limit comes from PAREDAO_MEMORY_LIMIT, else 80 % of the
// container's limit, else none.
func TestMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		}
	}
	tests := []struct {
		name  string
		env   map[string]string
		files map[string]string
		want  int64
		err   bool
	}{
		{"nothing", nil, nil, 0, false},
		{"flag in MiB", map[string]string{"PAREDAO_MEMORY_LIMIT": "512MiB"}, map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n"}, 512 << 20, false},
		{"flag in bytes", map[string]string{"PAREDAO_MEMORY_LIMIT": "1000000"}, nil, 1000000, false},
		{"flag in GiB", map[string]string{"PAREDAO_MEMORY_LIMIT": "2 GiB"}, nil, 2 << 30, false},
		{"bad flag", map[string]string{"PAREDAO_MEMORY_LIMIT": "lots"}, nil, 0, true},
		{"negative flag", map[string]string{"PAREDAO_MEMORY_LIMIT": "-5MiB"}, nil, 0, true},
		{"cgroup v2", nil, map[string]string{"/sys/fs/cgroup/memory.max": "1073741820\n"}, 858993456, false},
		{"cgroup v2 unlimited", nil, map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"cgroup v1", nil, map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "2147483650"}, 1717986920, false},
		{"cgroup v1 unlimited", nil, map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MemoryLimit(func(k string) string { return tc.env[k] }, files(tc.files))
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("MemoryLimit = %d, %v; want %d (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}
