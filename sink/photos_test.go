package sink

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPhotosSQLite(t *testing.T) { testPhotos(t, openSQLiteStore(t)) }

func TestPhotosPostgres(t *testing.T) { testPhotos(t, openPostgresStore(t)) }

// A stored photo reads back byte for byte at each size, storing it again
// keeps the first bytes (an address is its content), an unknown photo is
// nil without an error, and a malformed one is refused.
func testPhotos(t *testing.T, s Store) {
	ctx := context.Background()
	hash := strings.Repeat("0f", 32)
	large, small := bytes.Repeat([]byte{0xff, 0xd8, 0}, 40000), []byte{0xff, 0xd8, 1, 2, 3}
	if err := s.PutPhoto(ctx, hash, map[int][]byte{512: large, 128: small}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := s.PutPhoto(ctx, hash, map[int][]byte{512: []byte("other")}); err != nil {
		t.Fatalf("put again: %v", err)
	}
	for size, want := range map[int][]byte{512: large, 128: small} {
		got, err := s.Photo(ctx, hash, size)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("photo %d: %d bytes, %v; want %d bytes", size, len(got), err, len(want))
		}
	}
	for _, q := range []struct {
		hash string
		size int
	}{{hash, 64}, {strings.Repeat("ab", 32), 512}} {
		if got, err := s.Photo(ctx, q.hash, q.size); got != nil || err != nil {
			t.Fatalf("photo %s %d: %v, %v; want nil, nil", q.hash, q.size, got, err)
		}
	}
	for name, sizes := range map[string]map[int][]byte{"no size": {}, "empty data": {512: nil}, "zero size": {0: small}} {
		if err := s.PutPhoto(ctx, hash, sizes); !errors.Is(err, ErrInvalidPhoto) {
			t.Errorf("%s: %v, want ErrInvalidPhoto", name, err)
		}
	}
	for _, bad := range []string{"", "abc", strings.Repeat("0F", 32), strings.Repeat("0g", 32), strings.Repeat("0f", 33)} {
		if err := s.PutPhoto(ctx, bad, map[int][]byte{512: small}); !errors.Is(err, ErrInvalidPhoto) {
			t.Errorf("hash %q: %v, want ErrInvalidPhoto", bad, err)
		}
	}
}
