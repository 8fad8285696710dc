package audit

import (
	"crypto/sha256"
	"errors"
	"math/bits"
)

// Hash is a SHA-256 digest: a Merkle tree's leaf, node or root.
type Hash = [sha256.Size]byte

// The Merkle trees of a certificate are those of RFC 9162 §2.1 (as RFC
// 6962's): a leaf's hash is SHA-256(0x00 ‖ data), an inner node's
// SHA-256(0x01 ‖ left ‖ right), a tree of n > 1 leaves splits at the
// largest power of two below n, and the empty tree's root is SHA-256("").

// LeafHash is the hash of a leaf holding data.
func LeafHash(data string) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write([]byte(data))
	var out Hash
	h.Sum(out[:0])
	return out
}

func nodeHash(left, right Hash) Hash {
	var b [1 + 2*sha256.Size]byte
	b[0] = 1
	copy(b[1:], left[:])
	copy(b[1+sha256.Size:], right[:])
	return sha256.Sum256(b[:])
}

// split is the largest power of two below n (n ≥ 2).
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// Root is the Merkle tree hash of the leaves whose hashes are leaves. The
// hashes of aligned blocks of a power-of-two size are the roots of
// complete subtrees, so Root over the roots of consecutive chunks of
// ChunkLeaves leaves (the last one shorter) is Root over all the leaves.
func Root(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	// Bottom up over complete levels gives the same tree: the right edge
	// carries an odd node up unchanged, as the recursive split does.
	level := append([]Hash(nil), leaves...)
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
			} else {
				next = append(next, nodeHash(level[i], level[i+1]))
			}
		}
		level = next
	}
	return level[0]
}

// Path is the inclusion proof of leaf m among leaves (RFC 9162 §2.1.3.1):
// the sibling hashes from the leaf up.
func Path(m int, leaves []Hash) []Hash {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(Path(m, leaves[:k]), Root(leaves[k:]))
	}
	return append(Path(m-k, leaves[k:]), Root(leaves[:k]))
}

// ErrProof: an inclusion proof that does not lead to the root.
var ErrProof = errors.New("audit: the inclusion proof does not verify")

// VerifyPath checks that the leaf of hash leaf is leaf index of a tree of
// size leaves whose root is root, by path (RFC 9162 §2.1.3.2).
func VerifyPath(leaf Hash, index, size int64, path []Hash, root Hash) error {
	if index < 0 || index >= size {
		return ErrProof
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range path {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || r != root {
		return ErrProof
	}
	return nil
}
