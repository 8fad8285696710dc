package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/paredao/paredao/pipeline"
)

// rfcRoot is RFC 9162's recursive definition, to check Root's bottom-up
// construction against.
func rfcRoot(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return Root(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(rfcRoot(leaves[:k]), rfcRoot(leaves[k:]))
}

func leafHashes(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = LeafHash(fmt.Sprintf("v%d", i))
	}
	return out
}

func TestRootIsRFC9162(t *testing.T) {
	empty := Root(nil)
	if hex.EncodeToString(empty[:]) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty root %x, want SHA-256 of nothing", empty)
	}
	for n := 1; n <= 70; n++ {
		leaves := leafHashes(n)
		if got, want := Root(leaves), rfcRoot(leaves); got != want {
			t.Fatalf("n=%d: root %x, want %x", n, got, want)
		}
	}
}

func TestPathsVerifyAndTamperingFails(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 13, 31, 64, 65} {
		leaves := leafHashes(n)
		root := Root(leaves)
		for m := range n {
			path := Path(m, leaves)
			if err := VerifyPath(leaves[m], int64(m), int64(n), path, root); err != nil {
				t.Fatalf("n=%d m=%d: %v", n, m, err)
			}
			tampered := []struct {
				name        string
				leaf        Hash
				index, size int64
				path        []Hash
			}{
				{"other leaf", LeafHash("forged"), int64(m), int64(n), path},
				{"other index", leaves[m], int64((m + 1) % n), int64(n), path},
				{"short path", leaves[m], int64(m), int64(n), path[:max(len(path)-1, 0)]},
				{"long path", leaves[m], int64(m), int64(n), append(append([]Hash(nil), path...), root)},
			}
			for _, tc := range tampered {
				if n == 1 && (tc.name == "other index" || tc.name == "short path") {
					continue // the same proof
				}
				if err := VerifyPath(tc.leaf, tc.index, tc.size, tc.path, root); !errors.Is(err, ErrProof) {
					t.Fatalf("n=%d m=%d %s: verified (%v)", n, m, tc.name, err)
				}
			}
		}
	}
}

// TestChunksComposeTheTree: the root over chunk roots is the root over all
// leaves, and a chunk's path followed by the chunk roots' path is the
// leaf's path, at sizes around chunk boundaries.
func TestChunksComposeTheTree(t *testing.T) {
	for _, n := range []int{1, ChunkLeaves - 1, ChunkLeaves, ChunkLeaves + 1, 3*ChunkLeaves + 17} {
		leaves := leafHashes(n)
		var roots []Hash
		for i := 0; i < n; i += ChunkLeaves {
			roots = append(roots, Root(leaves[i:min(i+ChunkLeaves, n)]))
		}
		root := Root(leaves)
		if Root(roots) != root {
			t.Fatalf("n=%d: root over chunks differs", n)
		}
		for _, m := range []int{0, n / 2, n - 1} {
			c := m / ChunkLeaves
			path := append(Path(m%ChunkLeaves, leaves[c*ChunkLeaves:min((c+1)*ChunkLeaves, n)]), Path(c, roots)...)
			if err := VerifyPath(leaves[m], int64(m), int64(n), path, root); err != nil {
				t.Fatalf("n=%d m=%d: %v", n, m, err)
			}
		}
	}
}

// memArchive is an Archive in memory.
type memArchive struct {
	chunks map[[2]int64]pipeline.AuditChunk
	index  []pipeline.AuditIndexRow
}

func (a *memArchive) PutAuditChunks(chunks []pipeline.AuditChunk) error {
	for _, c := range chunks {
		a.chunks[[2]int64{int64(c.Tree), c.Index}] = c
	}
	return nil
}

func (a *memArchive) PutAuditIndex(rows []pipeline.AuditIndexRow) error {
	a.index = append(a.index, rows...)
	return nil
}

// lookup finds voteID as the web tier does: the row of greatest first key
// at or below its key, then its chunk.
func (a *memArchive) lookup(t *testing.T, voteID string, roots [2][]Hash, sizes [2]int64) *Receipt {
	key := IndexKey(voteID)
	var row *pipeline.AuditIndexRow
	for i := range a.index {
		if i > 0 && a.index[i].FirstKey <= a.index[i-1].FirstKey {
			t.Fatalf("index rows out of order at %d", i)
		}
		if a.index[i].FirstKey <= key {
			row = &a.index[i]
		}
	}
	if row == nil {
		return nil
	}
	for _, ref := range FindInRow(*row, key) {
		c := a.chunks[[2]int64{int64(ref.Tree), ref.Leaf / ChunkLeaves}]
		r, err := MakeReceipt(voteID, ref, c.Leaves, roots[ref.Tree], sizes[ref.Tree])
		if errors.Is(err, ErrNoLeaf) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return nil
}

// TestReceiptsProveEveryVote recounts random logs over several partitions,
// archives them, and looks every vote of the paredão up: each has a
// receipt whose reason is the recount's decision and whose proof verifies
// against the certificate's root; an unknown id has none.
func TestReceiptsProveEveryVote(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		c := NewCount(testParedao, 3, 0)
		want := map[string]string{}
		for p := int32(0); p < 3; p++ {
			for _, v := range randomLog(seed*10+uint64(p), 900) {
				v.ID = fmt.Sprintf("s%d-p%d-%s", seed, p, v.ID)
				// A duplicated message shares its id: the receipt tells
				// the counted one if one was, else the first.
				if reason := c.AddIn(p, v); v.ParedaoID == testParedao.ID {
					if old, seen := want[v.ID]; !seen || reason == ReasonCounted && old != ReasonCounted {
						want[v.ID] = reason
					}
				}
			}
		}
		trees := c.Trees()
		cert := NewCertificate(c, nil, trees, 3, t0)
		if cert.Merkle.Counted != c.Total || cert.Counted != c.Total {
			t.Fatalf("seed %d: %d leaves counted, %d votes", seed, cert.Merkle.Counted, c.Total)
		}
		a := &memArchive{chunks: map[[2]int64]pipeline.AuditChunk{}}
		if err := c.WriteArchive(trees, a); err != nil {
			t.Fatal(err)
		}
		for id, reason := range want {
			r := a.lookup(t, id, trees.Chunks, trees.Sizes)
			if r == nil {
				t.Fatalf("seed %d: no receipt for %s", seed, id)
			}
			if r.Reason != reason || r.Counted != (reason == ReasonCounted) {
				t.Fatalf("seed %d: %s: receipt says %s, recount %s", seed, id, r.Reason, reason)
			}
			root := cert.Merkle.CountedRoot
			if !r.Counted {
				root = cert.Merkle.RefusedRoot
			}
			size := cert.Merkle.Counted
			if !r.Counted {
				size = cert.Merkle.Refused
			}
			if err := r.Proof.Verify(id, root, size); err != nil {
				t.Fatalf("seed %d: %s: %v", seed, id, err)
			}
			if r.Proof.Verify(id+"x", root, size) == nil {
				t.Fatalf("seed %d: %s's proof verifies for another id", seed, id)
			}
			if r.Proof.Verify(id, root, size+1) == nil {
				t.Fatalf("seed %d: %s's proof verifies for another tree size", seed, id)
			}
		}
		if r := a.lookup(t, "no-such-vote", trees.Chunks, trees.Sizes); r != nil {
			t.Fatalf("seed %d: a receipt for an unknown vote: %+v", seed, r)
		}
	}
}
