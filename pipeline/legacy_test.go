package pipeline

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// legacyEncode encodes v as the last release before protobuf did.
func legacyEncode(v any) ([]byte, error) {
	switch v := v.(type) {
	case *Vote:
		return legacyAppendVote(nil, v), nil
	case *BallotBatch:
		return legacyAppendBallotBatch(nil, v), nil
	case *WindowRecord:
		return legacyAppendWindowRecord(nil, v), nil
	case *GuardState:
		return legacyAppendGuardState(nil, v), nil
	case *TallyState:
		return legacyAppendTallyState(nil, v), nil
	case *Paredao:
		return legacyEncodeParedao(v), nil
	}
	return nil, fmt.Errorf("legacy: %T", v)
}

// Records written by the release before protobuf (testdata/legacy, bytes
// that release's codecs wrote) decode to what was written: a rolling upgrade
// during a live paredão loses nothing.
func TestLegacyDecode(t *testing.T) {
	values := legacyValues()
	files, _ := filepath.Glob("testdata/legacy/*.bin")
	if len(files) != len(values) {
		t.Fatalf("%d files for %d values", len(files), len(values))
	}
	codecs := map[string]interface{ Decode([]byte) (any, error) }{"vote": VoteCodec{}, "ballot": BallotBatchCodec{}, "window": WindowRecordCodec{},
		"guard": GuardStateCodec{}, "tally": TallyStateCodec{}, "paredao": ParedaoCodec{}}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".bin")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			kind, _, _ := strings.Cut(name, "_")
			got, err := codecs[kind].Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, values[name]) {
				t.Fatalf("got %+v, want %+v", got, values[name])
			}
			// the copy of the old encoders writes the same bytes
			if again, _ := legacyEncode(values[name]); string(again) != string(data) {
				t.Fatalf("legacy encoder: %x, testdata %x", again, data)
			}
		})
	}
}

// Random values written by the old encoders decode to them, at the old
// encoding's precision (milliseconds, seconds).
func TestLegacyDecodeRandom(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	ms := func(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
	s := func(t time.Time) time.Time { return time.Unix(t.Unix(), 0).UTC() }
	tm := func() time.Time { return time.Unix(0, g.r.Int64N(7258118400e9)).UTC() }
	for i := range 1000 {
		v := g.vote()
		v.AcceptedAt, v.ExpiresAt = ms(tm()), s(tm())
		b := g.batch()
		for j := range b.Ballots {
			b.Ballots[j].AcceptedAt = ms(tm())
		}
		w := g.window()
		w.Shard, w.WindowStart = g.n(1000), s(tm())
		p := g.paredao()
		p.OpensAt, p.ClosesAt = tm(), tm()
		for _, want := range []any{v, b, w, g.guard(), g.tally(), p} {
			data, _ := legacyEncode(want)
			var got any
			var err error
			switch want.(type) {
			case *Vote:
				got, err = VoteCodec{}.Decode(data)
			case *BallotBatch:
				got, err = BallotBatchCodec{}.Decode(data)
			case *WindowRecord:
				got, err = WindowRecordCodec{}.Decode(data)
			case *GuardState:
				got, err = GuardStateCodec{}.Decode(data)
			case *TallyState:
				got, err = TallyStateCodec{}.Decode(data)
			case *Paredao:
				got, err = ParedaoCodec{}.Decode(data)
			}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("value %d %T: %+v, %v; want %+v", i, want, got, err, want)
			}
		}
	}
}
