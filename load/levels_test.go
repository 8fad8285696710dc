package load

import (
	"fmt"
	"testing"
)

// BenchmarkSolveLevels: the native solver's cost per vote at each adaptive
// difficulty level of the default curve (maxnumber 100,000 × 4^level): the
// expected tries are half the maxnumber, so each level costs 4 times more.
//
//	go test ./load/ -run '^$' -bench SolveLevels -benchtime 20x
func BenchmarkSolveLevels(b *testing.B) {
	const base = 100000
	for k := range 5 {
		max := int64(base) << (2 * k)
		b.Run(fmt.Sprintf("level=%d/maxnumber=%d", k, max), func(b *testing.B) {
			chs := make([]*Challenge, 16)
			for i := range chs {
				chs[i] = challengeOf(b, max)
			}
			for i := 0; b.Loop(); i++ {
				if _, err := Solve(chs[i%len(chs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(max)/2, "expected-tries/op")
		})
	}
}
