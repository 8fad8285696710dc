package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/paredao/paredao/load"
	"github.com/paredao/paredao/pipeline"
)

// recountBinary runs `paredao recount args...` against p and returns its
// exit status and output.
func recountBinary(t *testing.T, env map[string]string, p *proc, args ...string) (int, string, string) {
	t.Helper()
	return runBinary(t, env, p.http, append([]string{"recount"}, args...)...)
}

// commandBinary runs `paredao args...` with env's broker and returns its
// exit status and output.
func commandBinary(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runBinary(t, env, "", args...)
}

// runBinary runs `paredao args...` with env's broker and token, and url as
// PAREDAO_URL, in a temporary directory (where recount's certificate goes
// by default), for up to two minutes.
func runBinary(t *testing.T, env map[string]string, url string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...) //nolint:gosec // G204: runs the paredao binary TestMain built, with the test's arguments
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PAREDAO_BROKER_ADDR=" + env["PAREDAO_BROKER_ADDR"],
		"PAREDAO_URL=" + url, "PAREDAO_PRODUCTION_TOKEN=" + env["PAREDAO_PRODUCTION_TOKEN"]}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("paredao %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}

// An independent recount of the votes log of the real binary agrees with
// the production report (exit 0), replayed proof of work included; recounted
// with a stricter cap than the pipeline ran with, it differs (exit 1) and
// says where.
func TestRecountEndToEnd(t *testing.T) {
	env := runEnv(t, t.TempDir())
	env["PAREDAO_PRODUCTION_TOKEN"] = "recount-test-token-0123456789"
	p := start(t, env, "run")

	plan := map[string]int{"ana": 50, "bruno": 30, "carla": 20}
	acked := castAll(t, p.http, plan, 20)
	if acked["ana"] != 50 || acked["bruno"] != 30 || acked["carla"] != 20 {
		t.Fatalf("acknowledged %v, want %v", acked, plan)
	}
	c := load.NewVoter(p.http, nil)
	payload := solvedChallenge(t, c, "demo")
	for i := range 3 {
		st, _, _, err := c.Post(context.Background(), "demo", "carla", payload)
		if err != nil || (i == 0) != (st == http.StatusAccepted) {
			t.Fatalf("post %d of one proof of work: %d %v", i, st, err)
		}
	}
	waitFor(t, 60*time.Second, "the report to count 101 votes", func() (bool, string) {
		var rep struct {
			Total int64 `json:"total"`
		}
		req, _ := http.NewRequest(http.MethodGet, p.http+"/api/v1/production/paredoes/demo/report", nil)
		req.Header.Set("Authorization", "Bearer "+env["PAREDAO_PRODUCTION_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer closeQuiet(resp.Body)
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
			return false, err.Error()
		}
		return rep.Total == 101, resp.Status
	})

	// The same message written again (a duplicate send reaching the log):
	// guard drops it as a replay, and so must the recount.
	duplicateVote(t, env["PAREDAO_BROKER_ADDR"])
	waitFor(t, 30*time.Second, "guard to drop the duplicate", metricsShow(p.admin, `paredao_guard_votes_total{outcome="replay"} 1`))

	code, out, errOut := recountBinary(t, env, p, "--paredao", "demo")
	if code != 0 || !strings.Contains(out, "equal to the production report") || !strings.Contains(out, "101 votes counted (102 read)") {
		t.Fatalf("recount: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("recount:\n%s%s", out, errOut)
	if !strings.Contains(errOut, "votes/s") {
		t.Errorf("recount printed no progress on stderr:\n%s", errOut)
	}

	code, out, errOut = recountBinary(t, env, p, "--paredao", "demo", "--votes-per-minute", "1")
	if code != 1 || !strings.Contains(out, "differences with the production report") || !strings.Contains(out, "participant") {
		t.Fatalf("recount with a cap of 1: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	if code, _, errOut = recountBinary(t, env, p, "--paredao", "nope"); code != 2 {
		t.Fatalf("recount of an unknown paredão: exit %d, want 2\n%s", code, errOut)
	}
}

// duplicateVote writes the first record of the votes log again, to its
// partition under its key (after it).
func duplicateVote(t *testing.T, broker string) {
	t.Helper()
	rewriteVote(t, broker, func(*pipeline.Vote) bool { return true }, func(raw []byte, _ *pipeline.Vote) []byte { return raw })
}

// rewriteVote finds the first vote of the votes log that pick takes and
// writes change's value for it to the same partition under the same key
// (after it).
func rewriteVote(t *testing.T, broker string, pick func(*pipeline.Vote) bool, change func(raw []byte, v *pipeline.Vote) []byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumeTopics(string(pipeline.VotesStream)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var first *kgo.Record
	var vote *pipeline.Vote
	for first == nil {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if first != nil {
				return
			}
			if v, err := (pipeline.VoteCodec{}).Decode(r.Value); err == nil && pick(v.(*pipeline.Vote)) {
				first, vote = r, v.(*pipeline.Vote)
			}
		})
	}
	dup := &kgo.Record{Topic: first.Topic, Partition: first.Partition, Key: first.Key, Value: change(first.Value, vote)}
	if err := cl.ProduceSync(ctx, dup).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
