package sink

import "testing"

// closeOK closes c and fails the test on an error.
func closeOK(t testing.TB, c interface{ Close() error }) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// shard32 is a test record's shard as the INTEGER the stores write.
func shard32(n int) int32 {
	s, err := integer("shard", n)
	if err != nil {
		panic(err)
	}
	return s
}
