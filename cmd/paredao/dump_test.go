package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/paredao/paredao/load"
)

// `paredao dump votes --from-beginning --exit` on the real binary prints
// the vote just cast, decoded (protobuf, as JSON), and stops; an unknown
// topic is an error of status 2; the catalog decodes too.
func TestDumpEndToEnd(t *testing.T) {
	env := runEnv(t, t.TempDir())
	p := start(t, env, "run")

	c := load.NewVoter(p.http, nil)
	st, reply, _, err := c.Post(context.Background(), "demo", "ana", solvedChallenge(t, c, "demo"))
	if err != nil || st != http.StatusAccepted {
		t.Fatalf("vote: %d %v", st, err)
	}
	voteID := reply.Receipt.VoteID

	code, out, errOut := commandBinary(t, env, "dump", "votes", "--from-beginning", "--exit")
	if code != 0 {
		t.Fatalf("dump votes: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Topic   string `json:"topic"`
			Key     string `json:"key"`
			Message string `json:"message"`
			Format  string `json:"format"`
			Value   struct {
				ID            string `json:"id"`
				ParedaoID     string `json:"paredaoId"`
				ParticipantID string `json:"participantId"`
				VoterID       string `json:"voterId"`
			} `json:"value"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if rec.Topic != "votes" || rec.Message != "paredao.v1.Vote" || rec.Format != "protobuf" || rec.Error != "" || rec.Key != rec.Value.VoterID {
			t.Fatalf("line %s", line)
		}
		found = found || rec.Value.ID == voteID && rec.Value.ParedaoID == "demo" && rec.Value.ParticipantID == "ana"
	}
	if !found {
		t.Fatalf("vote %s not in the dump:\n%s", voteID, out)
	}

	code, out, _ = commandBinary(t, env, "dump", "--from-beginning", "--exit", "paredoes")
	if code != 0 || !strings.Contains(out, `"message":"paredao.v1.Paredao"`) || !strings.Contains(out, `"id":"demo"`) {
		t.Fatalf("dump paredoes: exit %d\n%s", code, out)
	}

	if code, _, errOut = commandBinary(t, env, "dump", "nope", "--exit"); code != 2 || !strings.Contains(errOut, "unknown topic") {
		t.Fatalf("dump of an unknown topic: exit %d, want 2\n%s", code, errOut)
	}
	if code, _, _ = commandBinary(t, env, "dump"); code != 2 {
		t.Fatalf("dump without a topic: exit %d, want 2", code)
	}
}
