package pipeline

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrCorrupt reports an encoded message or state that cannot be decoded.
var ErrCorrupt = errors.New("pipeline: corrupt encoding")

// The codecs write the messages of proto/paredao/v1 (generated code in
// package pb) with protowire directly, in field-number order and skipping
// zero values as proto.Marshal does, so that a record is byte for byte what
// proto.Marshal of the generated message writes (TestProtoEquivalence), and
// read them the way proto.Unmarshal does: fields in any order, the last of
// a repeated scalar wins, unknown fields (a newer release's) skipped, a
// known field of an unexpected wire type skipped as unknown, packed and
// unpacked repeated scalars both accepted. Unlike proto.Unmarshal the
// decoders do not refuse strings that are not UTF-8 (the hand-written
// encoding never did either); the encoders of records that carry outside
// input (Vote, Paredao) refuse them, as proto.Marshal does.

// pbuf appends protobuf fields.
type pbuf []byte

// tag appends a field's tag: one byte, every field number of these
// messages being below 16.
func (b pbuf) tag(num protowire.Number, typ protowire.Type) pbuf {
	return append(b, byte(num)<<3|byte(typ))
}

// int64 appends an int64 (or int32, sign-extended) field unless zero.
func (b pbuf) int64(num protowire.Number, v int64) pbuf {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(b.tag(num, protowire.VarintType), uint64(v))
}

// present appends an int64 field with explicit presence: even when zero.
func (b pbuf) present(num protowire.Number, v int64) pbuf {
	return protowire.AppendVarint(b.tag(num, protowire.VarintType), uint64(v))
}

func (b pbuf) sint64(num protowire.Number, v int64) pbuf {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(b.tag(num, protowire.VarintType), protowire.EncodeZigZag(v))
}

func (b pbuf) fixed64(num protowire.Number, v uint64) pbuf {
	if v == 0 {
		return b
	}
	return protowire.AppendFixed64(b.tag(num, protowire.Fixed64Type), v)
}

func (b pbuf) str(num protowire.Number, s string) pbuf {
	if s == "" {
		return b
	}
	b = b.tag(num, protowire.BytesType)
	if len(s) < 0x80 {
		b = append(b, byte(len(s)))
	} else {
		b = protowire.AppendVarint(b, uint64(len(s)))
	}
	return append(b, s...)
}

// open starts a length-delimited field (a message, a packed list): it
// reserves one byte for the length, which close fills in (moving the
// contents when the length needs more).
func (b pbuf) open(num protowire.Number) (pbuf, int) {
	b = append(b.tag(num, protowire.BytesType), 0)
	return b, len(b)
}

func (b pbuf) close(start int) pbuf {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	k := protowire.SizeVarint(uint64(n))
	b = append(b, make([]byte, k-1)...)
	copy(b[start+k-1:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

// pread reads protobuf fields; the first error sticks.
type pread struct {
	b    []byte
	err  error
	what string
	// src, when set, is the whole record as a string and top the capacity
	// of its bytes: shared returns substrings of it, one allocation for all
	// the strings of a record.
	src string
	top int
}

func newPread(data []byte, what string, share bool) pread {
	r := pread{b: data, what: what}
	if share {
		r.src, r.top = string(data), cap(data)
	}
	return r
}

// shared reads a string as a substring of src (a copy without src).
func (r *pread) shared() string {
	b := r.bytes()
	if r.src == "" || len(b) == 0 {
		return string(b)
	}
	off := r.top - cap(b)
	return r.src[off : off+len(b)]
}

func (r *pread) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrCorrupt, r.what, what)
	}
	r.b = nil
}

func (r *pread) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *pread) next() (protowire.Number, protowire.Type) {
	if len(r.b) > 0 && r.b[0] < 0x80 && r.b[0] >= 8 { // a one-byte tag, field number ≥ 1
		t := r.b[0]
		r.b = r.b[1:]
		return protowire.Number(t >> 3), protowire.Type(t & 7)
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.fail("tag")
		return 0, 0
	}
	r.b = r.b[n:]
	return num, typ
}

// skip skips the value of a field this release does not read.
func (r *pread) skip(num protowire.Number, typ protowire.Type) {
	if n := protowire.ConsumeFieldValue(num, typ, r.b); n < 0 {
		r.fail("field value")
	} else {
		r.b = r.b[n:]
	}
}

func (r *pread) varint() uint64 {
	if len(r.b) > 0 && r.b[0] < 0x80 {
		v := uint64(r.b[0])
		r.b = r.b[1:]
		return v
	}
	v, n := protowire.ConsumeVarint(r.b)
	if n < 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *pread) fixed64() uint64 {
	v, n := protowire.ConsumeFixed64(r.b)
	if n < 0 {
		r.fail("fixed64")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *pread) bytes() []byte {
	if len(r.b) > 0 && r.b[0] < 0x80 && int(r.b[0]) < len(r.b) {
		n := int(r.b[0])
		v := r.b[1 : 1+n]
		r.b = r.b[1+n:]
		return v
	}
	v, n := protowire.ConsumeBytes(r.b)
	if n < 0 {
		r.fail("length")
		return nil
	}
	r.b = r.b[n:]
	return v
}

// strIn reads a string, reusing an equal one of seen (and remembering up
// to 16): a batch's ballots name the same few paredões and participants.
func (r *pread) strIn(seen *[]string) string {
	b := r.bytes()
	for _, s := range *seen {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	if len(*seen) < 16 {
		*seen = append(*seen, s)
	}
	return s
}

// sub reads a length-delimited field as a reader of its own.
func (r *pread) sub() pread { return pread{b: r.bytes(), what: r.what, src: r.src, top: r.top} }

// join takes on a sub-reader's error.
func (r *pread) join(s *pread) {
	if s.err != nil && r.err == nil {
		r.err = s.err
		r.b = nil
	}
}

func (r *pread) end() error { return r.err }

// unixNano encodes an instant: 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano decodes what unixNano encoded, in UTC.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// count counts the length-delimited fields num in b from here on (the
// elements of a repeated message field), to allocate them at once; it stops
// at anything malformed, which the decoder then reports.
func count(b []byte, num protowire.Number) int {
	n := 0
	for len(b) > 0 {
		f, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			break
		}
		b = b[k:]
		k = protowire.ConsumeFieldValue(f, typ, b)
		if k < 0 {
			break
		}
		b = b[k:]
		if f == num && typ == protowire.BytesType {
			n++
		}
	}
	return n
}

// countAfter counts the fields `field` after the value of the field
// (num, typ) at the start of b: how many elements a repeated message field
// whose first element is being read has, to allocate them at once.
func countAfter(b []byte, num protowire.Number, typ protowire.Type, field protowire.Number) int {
	if k := protowire.ConsumeFieldValue(num, typ, b); k > 0 {
		return count(b[k:], field)
	}
	return 0
}

// grow returns s with one more element, the new one zero (s is allocated
// with room for all the elements it will hold: no copy, no write barrier).
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s[:len(s)+1]
	}
	var zero T
	return append(s, zero)
}
