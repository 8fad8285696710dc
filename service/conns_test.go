package service

import "testing"

func TestDeriveBudget(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{
		{limit: 256, want: 128},
		{limit: 2048, want: 1024},
		{limit: 4096, want: 3072},
		{limit: 20000, want: 15000},
		{limit: 1 << 20, want: connectionsCap},
	} {
		if got := deriveBudget(tc.limit); got != tc.want {
			t.Errorf("deriveBudget(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}
