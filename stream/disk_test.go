package stream

import (
	"errors"
	"path/filepath"
	"testing"
)

// A data dir's disk counts as full below DiskReserve bytes or a few inodes
// free, and a data dir not created yet is measured on its parent's disk.
func TestDiskRoom(t *testing.T) {
	d, err := DiskOf(filepath.Join(t.TempDir(), "not", "yet"))
	if err != nil || d.TotalBytes <= 0 {
		t.Fatalf("DiskOf a dir not created yet: %+v, %v", d, err)
	}
	for _, c := range []struct {
		d    Disk
		full bool
	}{
		{Disk{FreeBytes: DiskReserve, TotalBytes: 1 << 30}, false},
		{Disk{FreeBytes: DiskReserve - 1, TotalBytes: 1 << 30}, true},
		{Disk{FreeBytes: 1 << 30, TotalBytes: 1 << 31, FreeFiles: 10, TotalFiles: 1000}, true},
		{Disk{FreeBytes: 1 << 30, TotalBytes: 1 << 31}, false}, // no inode limit
	} {
		if err := c.d.Full(); (err != nil) != c.full || (err != nil && !errors.Is(err, ErrDiskFull)) {
			t.Errorf("%+v: Full() = %v, want full %v", c.d, err, c.full)
		}
	}
}
