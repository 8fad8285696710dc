package sink

import (
	"fmt"
	"math"
)

// smallint is n for a SMALLINT column (an audit tree), an error out of its range.
func smallint(what string, n int) (int16, error) {
	if n < math.MinInt16 || n > math.MaxInt16 {
		return 0, fmt.Errorf("%s %d out of the SMALLINT range", what, n)
	}
	return int16(n), nil
}

// integer is n for an INTEGER column (a shard), an error out of its range;
// validRecord keeps shards far below it.
func integer(what string, n int) (int32, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%s %d out of the INTEGER range", what, n)
	}
	return int32(n), nil
}
