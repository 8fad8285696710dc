package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/paredao/paredao/pipeline"
)

// A recount's two Merkle trees. The counted tree's leaves are the counted
// votes' ids; the refused tree's, the refused votes' "id reason" ("id
// replay original" for a replay of vote original's proof of work); both in
// log order: partition by partition (ascending), offset by offset.
const (
	TreeCounted = 0
	TreeRefused = 1
)

// TreeName is "counted" or "refused".
func TreeName(tree int) string {
	if tree == TreeRefused {
		return "refused"
	}
	return "counted"
}

// ChunkLeaves is how many leaves a stored chunk holds: a power of two, so
// every full chunk is a complete subtree and the root over the chunks'
// roots is the tree's root.
const ChunkLeaves = 1024

// indexEntrySize: an index entry is the key (8 bytes) and the reference
// (8 bytes: tree in the top bit, leaf index below), big endian.
const indexEntrySize = 16

// indexRowEntries is how many entries an index row holds at most.
const indexRowEntries = 4096

// IndexKey is the index's key of a vote id: the first 8 bytes of its
// SHA-256, as an int64 ordered like the unsigned value.
func IndexKey(voteID string) int64 {
	h := sha256.Sum256([]byte(voteID))
	return int64(binary.BigEndian.Uint64(h[:8]) ^ 1<<63)
}

// partitions lists the partitions of trees in ascending order.
func partitions(trees map[int32]*leafLog) []int32 {
	ps := make([]int32, 0, len(trees))
	for p := range trees {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// eachChunk calls f with every chunk of tree in order: its leaves, and
// their encoding as stored.
func (c *Count) eachChunk(tree int, f func(index int64, encoded []byte, leaves []string) error) error {
	trees := c.counted
	if tree == TreeRefused {
		trees = c.refused
	}
	var (
		buf    []byte
		leaves = make([]string, 0, ChunkLeaves)
		index  int64
		err    error
	)
	flush := func() {
		if err == nil && len(leaves) > 0 {
			err = f(index, buf, leaves)
			index++
			buf, leaves = nil, leaves[:0]
		}
	}
	for _, p := range partitions(trees) {
		trees[p].each(func(leaf string) {
			buf = binary.AppendUvarint(buf, uint64(len(leaf)))
			buf = append(buf, leaf...)
			leaves = append(leaves, leaf)
			if len(leaves) == ChunkLeaves {
				flush()
			}
		})
	}
	flush()
	return err
}

// Trees are the roots of a recount's two trees and their chunks' roots.
type Trees struct {
	Roots  [2]Hash
	Sizes  [2]int64
	Chunks [2][]Hash
}

// Trees hashes the recount's leaves: SHA-256 of every vote of the paredão
// once.
func (c *Count) Trees() *Trees {
	t := &Trees{}
	hashes := make([]Hash, 0, ChunkLeaves)
	for tree := range 2 {
		_ = c.eachChunk(tree, func(_ int64, _ []byte, leaves []string) error {
			hashes = hashes[:0]
			for _, l := range leaves {
				hashes = append(hashes, LeafHash(l))
			}
			t.Chunks[tree] = append(t.Chunks[tree], Root(hashes))
			t.Sizes[tree] += int64(len(leaves))
			return nil
		})
		t.Roots[tree] = Root(t.Chunks[tree])
	}
	return t
}

// Archive is where a recount's leaves and index go.
type Archive interface {
	PutAuditChunks(chunks []pipeline.AuditChunk) error
	PutAuditIndex(rows []pipeline.AuditIndexRow) error
}

// WriteArchive writes the recount's chunks (both trees), with their roots
// from t (no leaf is hashed again), and its index by vote id, a few
// hundred rows at a time. The index holds every vote of the
// paredão in memory while it is sorted: 16 bytes a vote.
func (c *Count) WriteArchive(t *Trees, a Archive) error {
	const batch = 256
	var entries []uint64 // key, ref pairs
	for tree := range 2 {
		var chunks []pipeline.AuditChunk
		err := c.eachChunk(tree, func(index int64, encoded []byte, leaves []string) error {
			root := t.Chunks[tree][index]
			chunks = append(chunks, pipeline.AuditChunk{Tree: tree, Index: index, Leaves: encoded, Root: root[:]})
			for i, leaf := range leaves {
				ref := uint64(index)*ChunkLeaves + uint64(i)
				if tree == TreeRefused {
					ref |= 1 << 63
				}
				entries = append(entries, uint64(IndexKey(voteIDOf(tree, leaf))), ref)
			}
			if len(chunks) == batch {
				if err := a.PutAuditChunks(chunks); err != nil {
					return err
				}
				chunks = chunks[:0]
			}
			return nil
		})
		if err == nil && len(chunks) > 0 {
			err = a.PutAuditChunks(chunks)
		}
		if err != nil {
			return fmt.Errorf("audit: write chunks: %w", err)
		}
	}
	n := len(entries) / 2
	sort.Sort(pairs(entries))
	var rows []pipeline.AuditIndexRow
	for i := 0; i < n; {
		j := min(i+indexRowEntries, n)
		for j < n && entries[2*j] == entries[2*j-2] {
			j++ // equal keys stay in one row
		}
		b := make([]byte, 0, (j-i)*indexEntrySize)
		for k := i; k < j; k++ {
			b = binary.BigEndian.AppendUint64(b, entries[2*k])
			b = binary.BigEndian.AppendUint64(b, entries[2*k+1])
		}
		rows = append(rows, pipeline.AuditIndexRow{FirstKey: int64(entries[2*i]), Entries: b})
		if len(rows) == batch {
			if err := a.PutAuditIndex(rows); err != nil {
				return fmt.Errorf("audit: write index: %w", err)
			}
			rows = rows[:0]
		}
		i = j
	}
	if len(rows) > 0 {
		if err := a.PutAuditIndex(rows); err != nil {
			return fmt.Errorf("audit: write index: %w", err)
		}
	}
	return nil
}

// pairs sorts a flat slice of (key, ref) pairs by key as int64, then ref.
type pairs []uint64

func (p pairs) Len() int { return len(p) / 2 }
func (p pairs) Less(i, j int) bool {
	if p[2*i] != p[2*j] {
		return int64(p[2*i]) < int64(p[2*j])
	}
	return p[2*i+1] < p[2*j+1]
}
func (p pairs) Swap(i, j int) {
	p[2*i], p[2*j] = p[2*j], p[2*i]
	p[2*i+1], p[2*j+1] = p[2*j+1], p[2*i+1]
}

func voteIDOf(tree int, leaf string) string {
	if i := strings.IndexByte(leaf, ' '); tree == TreeRefused && i >= 0 {
		return leaf[:i]
	}
	return leaf
}

// decodeLeaves splits a chunk's encoded leaves.
func decodeLeaves(b []byte) []string {
	var out []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return out
		}
		out = append(out, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	return out
}

// Ref is where a vote's leaf is.
type Ref struct {
	Tree int
	Leaf int64
}

// FindInRow returns the references of row's entries with key.
func FindInRow(row pipeline.AuditIndexRow, key int64) []Ref {
	b := row.Entries
	n := len(b) / indexEntrySize
	at := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[i*indexEntrySize:])) }
	i := sort.Search(n, func(i int) bool { return at(i) >= key })
	var out []Ref
	for ; i < n && at(i) == key; i++ {
		ref := binary.BigEndian.Uint64(b[i*indexEntrySize+8:])
		out = append(out, Ref{Tree: int(ref >> 63), Leaf: int64(ref &^ (1 << 63))})
	}
	return out
}

// Proof is a vote's inclusion proof in one of a certificate's trees.
type Proof struct {
	Tree      string   `json:"tree"` // "counted" or "refused"
	Leaf      string   `json:"leaf"` // the leaf's data: the id, or "id reason"
	LeafIndex int64    `json:"leafIndex"`
	TreeSize  int64    `json:"treeSize"`
	Path      []string `json:"path"` // sibling hashes from the leaf up, hex
	Root      string   `json:"root"` // hex
}

// ErrNoLeaf: the chunk does not hold the vote at the index's reference.
var ErrNoLeaf = errors.New("audit: no such leaf")

// Receipt is what a recount says of one vote: counted or why not, with
// its proof.
type Receipt struct {
	VoteID  string `json:"voteId"`
	Counted bool   `json:"counted"`
	Reason  string `json:"reason"`
	// ReplayOf is, for a replay, the vote whose proof of work it used again
	// (a retry after an unanswered attempt: that attempt is the vote).
	ReplayOf string `json:"replayOf,omitempty"`
	Proof    Proof  `json:"proof"`
}

// MakeReceipt proves the leaf at ref for voteID, from its chunk's encoded
// leaves and the roots of every chunk of its tree (size leaves in all).
// ErrNoLeaf when the leaf there is not voteID's (another id of the same
// key).
func MakeReceipt(voteID string, ref Ref, chunk []byte, roots []Hash, size int64) (*Receipt, error) {
	leaves := decodeLeaves(chunk)
	i := int(ref.Leaf % ChunkLeaves)
	if i >= len(leaves) || voteIDOf(ref.Tree, leaves[i]) != voteID {
		return nil, ErrNoLeaf
	}
	hashes := make([]Hash, len(leaves))
	for k, l := range leaves {
		hashes[k] = LeafHash(l)
	}
	path := append(Path(i, hashes), Path(int(ref.Leaf/ChunkLeaves), roots)...)
	root := Root(roots)
	p := Proof{Tree: TreeName(ref.Tree), Leaf: leaves[i], LeafIndex: ref.Leaf, TreeSize: size, Root: hex.EncodeToString(root[:]),
		Path: make([]string, 0, len(path))} // [] for a one-leaf tree, not null
	for _, h := range path {
		p.Path = append(p.Path, hex.EncodeToString(h[:]))
	}
	r := &Receipt{VoteID: voteID, Counted: ref.Tree == TreeCounted, Reason: ReasonCounted, Proof: p}
	if ref.Tree == TreeRefused {
		r.Reason, r.ReplayOf, _ = strings.Cut(leaves[i][len(voteID)+1:], " ")
	}
	return r, nil
}

// Verify checks the proof against a certificate's root (hex) and tree
// size: the leaf is voteID's and its path leads to root.
func (p *Proof) Verify(voteID, root string, size int64) error {
	if p.TreeSize != size {
		return fmt.Errorf("%w: a tree of %d leaves, the certificate's has %d", ErrProof, p.TreeSize, size)
	}
	want, err := hex.DecodeString(root)
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("%w: root %q", ErrProof, root)
	}
	tree := TreeCounted
	if p.Tree == "refused" {
		tree = TreeRefused
	}
	if voteIDOf(tree, p.Leaf) != voteID {
		return fmt.Errorf("%w: the leaf %q is not vote %s's", ErrProof, p.Leaf, voteID)
	}
	path := make([]Hash, len(p.Path))
	for i, s := range p.Path {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%w: path[%d] %q", ErrProof, i, s)
		}
		copy(path[i][:], b)
	}
	return VerifyPath(LeafHash(p.Leaf), p.LeafIndex, p.TreeSize, path, Hash(want))
}
