package pipeline

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/paredao/paredao/pipeline/pb"
	"github.com/paredao/paredao/pipeline/pb/pbnext"
)

// A field added under a new number (proto/paredao/next/vote_next.proto: the
// next version of Vote, with web_replica) changes nothing for either
// release: a record this release writes decodes with the newer message
// (the new field empty), and a record the newer release writes decodes with
// this release's codec and generated message (the new field ignored).
func TestFieldAddedCompatibility(t *testing.T) {
	v := &Vote{ID: "c1", ParedaoID: "p1", ParticipantID: "ana", VoterID: "v1", ChallengeID: "c1", AcceptedAt: when, ExpiresAt: when.Add(2 * time.Minute)}

	// old writer, new reader
	old, err := VoteCodec{}.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	var next pbnext.Vote
	if err := proto.Unmarshal(old, &next); err != nil {
		t.Fatal(err)
	}
	if next.Id != v.ID || next.ParticipantId != v.ParticipantID || next.AcceptedAtUnixNano != when.UnixNano() || next.WebReplica != "" {
		t.Fatalf("newer message read %v", &next)
	}
	if len(next.ProtoReflect().GetUnknown()) != 0 {
		t.Fatalf("unknown fields %x", next.ProtoReflect().GetUnknown())
	}

	// new writer, old reader
	next.WebReplica = "web-2"
	newer, err := proto.MarshalOptions{Deterministic: true}.Marshal(&next)
	if err != nil {
		t.Fatal(err)
	}
	if len(newer) <= len(old) {
		t.Fatal("the new field was not written")
	}
	got, err := VoteCodec{}.Decode(newer)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("decoded %+v, want %+v", got, v)
	}
	var cur pb.Vote
	if err := proto.Unmarshal(newer, &cur); err != nil {
		t.Fatal(err)
	}
	if cur.Id != v.ID || len(cur.ProtoReflect().GetUnknown()) == 0 {
		t.Fatalf("generated message read %v", &cur)
	}
	// and the older release passes the unknown field on when it re-writes
	// the message with the generated code
	again, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&cur)
	var back pbnext.Vote
	if err := proto.Unmarshal(again, &back); err != nil || back.WebReplica != "web-2" {
		t.Fatalf("round trip through the old message: %v, %v", &back, err)
	}
}
