package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrCorrupt reports an encoded message or state that cannot be decoded.
var ErrCorrupt = errors.New("pipeline: corrupt encoding")

// wireVersion prefixes every binary encoding so the formats can evolve.
const wireVersion = 3

// enc appends the binary encodings used by the codecs; no reflection.
type enc []byte

func (e enc) uvarint(v uint64) enc { return binary.AppendUvarint(e, v) }
func (e enc) varint(v int64) enc   { return binary.AppendVarint(e, v) }
func (e enc) str(s string) enc     { return append(e.uvarint(uint64(len(s))), s...) }

// dec reads what enc wrote; the first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a length prefix and bounds it by the bytes left, so a corrupt
// length cannot make a decoder allocate without limit.
func (d *dec) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *dec) version() { d.versionIn(wireVersion) }

// versionIn accepts any of versions: an encoding that did not change
// across a version (Vote, since version 2) still decodes.
func (d *dec) versionIn(versions ...uint64) {
	v := d.uvarint()
	if d.err == nil && !slices.Contains(versions, v) {
		d.fail("version")
	}
}

func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
