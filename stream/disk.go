package stream

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"syscall"
)

// DiskReserve is the room below which a data dir counts as full: the
// broker's segments, goleveldb's journals and SQLite's pages then fail to
// be written (ENOSPC), and votes are refused with 503 until room is made.
const DiskReserve = 16 << 20

// diskReserveFiles is the same for inodes (a filesystem can run out of
// them with bytes to spare).
const diskReserveFiles = 64

// ErrDiskFull: the data dir's filesystem has less than DiskReserve free.
var ErrDiskFull = errors.New("stream: no space left on the data dir's disk")

// Disk is the room on a data dir's filesystem.
type Disk struct {
	FreeBytes, TotalBytes int64 // for an unprivileged writer
	FreeFiles, TotalFiles int64 // inodes; 0 total when the filesystem has no limit
}

// DiskOf reads the room on dir's filesystem (statfs), or on that of its
// nearest existing parent while dir does not exist yet.
func DiskOf(dir string) (Disk, error) {
	var st syscall.Statfs_t
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		err := syscall.Statfs(p, &st)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOENT) || p == filepath.Dir(p) {
			return Disk{}, fmt.Errorf("statfs %s: %w", dir, err)
		}
	}
	bs := int64(st.Bsize)
	return Disk{
		FreeBytes: clampInt64(st.Bavail) * bs, TotalBytes: clampInt64(st.Blocks) * bs,
		FreeFiles: clampInt64(st.Ffree), TotalFiles: clampInt64(st.Files),
	}, nil
}

// clampInt64 is n, or math.MaxInt64 for a count above it (no file system
// has one, but the type allows it).
func clampInt64(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// Full tells, with ErrDiskFull and the figures, whether the disk has less
// than DiskReserve bytes (or a few inodes) left.
func (d Disk) Full() error {
	switch {
	case d.FreeBytes < DiskReserve:
		return fmt.Errorf("%w: %d MiB free of %d MiB (needs %d MiB)", ErrDiskFull, d.FreeBytes>>20, d.TotalBytes>>20, DiskReserve>>20)
	case d.TotalFiles > 0 && d.FreeFiles < diskReserveFiles:
		return fmt.Errorf("%w: %d inodes free of %d", ErrDiskFull, d.FreeFiles, d.TotalFiles)
	}
	return nil
}

// FreeBytes is the room left on dir's filesystem.
func FreeBytes(dir string) (int64, error) {
	d, err := DiskOf(dir)
	return d.FreeBytes, err
}
