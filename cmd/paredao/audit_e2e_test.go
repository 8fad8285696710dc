package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/paredao/paredao/audit"
	"github.com/paredao/paredao/load"
)

// receiptAnswer is GET /api/v1/paredoes/{id}/receipts/{voteId}.
type receiptAnswer struct {
	VoteID      string `json:"voteId"`
	Counted     bool   `json:"counted"`
	Reason      string `json:"reason"`
	ReplayOf    string `json:"replayOf"`
	Certificate struct {
		CountedRoot string `json:"countedRoot"`
		RefusedRoot string `json:"refusedRoot"`
		Counted     int64  `json:"counted"`
		Refused     int64  `json:"refused"`
	} `json:"certificate"`
	Proof audit.Proof `json:"proof"`
}

// castReceipts posts n votes for participant as c, each with a fresh proof
// of work, and returns the receipts' vote ids and the payloads of the
// acknowledged votes.
func castReceipts(t *testing.T, c *load.Voter, paredao, participant string, n int) (ids, payloads []string) {
	t.Helper()
	for range n {
		payload := solvedChallenge(t, c, paredao)
		st, r, _, err := c.Post(context.Background(), paredao, participant, payload)
		if err != nil || st != http.StatusAccepted {
			t.Fatalf("vote for %s: %d %+v %v", participant, st, r, err)
		}
		ids, payloads = append(ids, r.Receipt.VoteID), append(payloads, payload)
	}
	return ids, payloads
}

// The audit end to end on the real binary: votes acknowledged by the web
// tier, then, after a restart that empties the edge's memory of proofs of
// work and per-voter counts, a replayed proof of work and votes over the
// cap that only guard refuses. `paredao recount` finds the report equal and
// writes a certificate that `paredao verify` recomputes from the log (and a
// tampered one that it does not); a recount started from the production
// API gives receipts whose proofs verify, counted and not; a count changed
// in SQL makes `recount` exit 1 naming the hour and participant.
func TestAuditEndToEnd(t *testing.T) {
	dir := t.TempDir()
	env := runEnv(t, dir)
	env["PAREDAO_PRODUCTION_TOKEN"] = "audit-test-token-0123456789abcd"
	env["PAREDAO_WINDOW"] = "2s"
	env["PAREDAO_GRACE"] = "1s"
	token := env["PAREDAO_PRODUCTION_TOKEN"]
	p := start(t, env, "run")

	closesAt := time.Now().Add(50 * time.Second).UTC().Truncate(time.Second)
	if st, b := authPost(t, p.http+"/api/v1/production/paredoes", token, map[string]any{
		"id": "aud", "title": "Paredão auditado", "opensAt": time.Now().Add(-time.Minute).UTC(), "closesAt": closesAt,
		"participants": []map[string]string{{"id": "ana", "name": "Ana"}, {"id": "bruno", "name": "Bruno"}},
	}); st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, b)
	}
	heavy := load.NewVoter(p.http, nil)
	counted, payloads := castReceipts(t, heavy, "aud", "ana", 10) // the cap: 10 a minute
	other := load.NewVoter(p.http, nil)
	more, _ := castReceipts(t, other, "aud", "bruno", 4)
	counted = append(counted, more...)

	// A restart forgets which proofs of work the edge saw and how many
	// votes each voter cast: the same voter, within the minute, replays a
	// proof of work and votes over the cap, and the web tier takes both.
	p.stop()
	p = start(t, env, "run")
	heavy2 := load.NewVoter(p.http, nil)
	heavy2.SetCookie(heavy.Cookie())
	st, r, _, err := heavy2.Post(context.Background(), "aud", "bruno", payloads[3])
	if err != nil || st != http.StatusAccepted {
		t.Fatalf("replay after the restart: %d %+v %v", st, r, err)
	}
	replayed := r.Receipt.VoteID
	overCap, _ := castReceipts(t, heavy2, "aud", "bruno", 2)
	waitFor(t, 30*time.Second, "guard to refuse the replay and the votes over the cap", metricsShow(p.admin,
		`paredao_guard_votes_total{outcome="replay"} 1`, `paredao_guard_votes_total{outcome="rate_limited"} 2`))

	time.Sleep(time.Until(closesAt.Add(5 * time.Second)))
	waitFor(t, 60*time.Second, "the report to count 14 votes", func() (bool, string) {
		r := getReport(t, p.http, "aud", token)
		return r.Total == 14, fmt.Sprint(r.Total)
	})

	// The command line: equal, with a certificate verify recomputes.
	cert := filepath.Join(dir, "aud-certificate.json")
	code, out, errOut := recountBinary(t, env, p, "--paredao", "aud", "--window", "2s", "--certificate", cert)
	if code != 0 || !strings.Contains(out, "equal to the production report") || !strings.Contains(out, "14 votes counted") {
		t.Fatalf("recount: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	c, err := audit.ParseCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Counted != 14 || c.Participants["ana"] != 10 || c.Participants["bruno"] != 4 ||
		c.Refused[audit.ReasonReplay] != 1 || c.Refused[audit.ReasonRateLimited] != 2 ||
		c.Merkle.Counted != 14 || c.Merkle.Refused != 3 || c.Report == nil || !c.Report.Equal || len(c.Cut) != 4 {
		t.Fatalf("certificate:\n%s", b)
	}
	if code, out, errOut := commandBinary(t, env, "verify", cert); code != 0 || !strings.Contains(out, "equal") {
		t.Fatalf("verify: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	forged := strings.Replace(string(b), c.Merkle.CountedRoot, strings.Repeat("0", 64), 1)
	forgedPath := filepath.Join(dir, "forged.json")
	if err := os.WriteFile(forgedPath, []byte(forged), 0o600); err != nil { //nolint:gosec // G703: forgedPath is in t.TempDir(); what came from a file (os.ReadFile) is the content written, not the path
		t.Fatal(err)
	}
	if code, out, errOut := commandBinary(t, env, "verify", forgedPath); code != 1 || !strings.Contains(out, "merkle") {
		t.Fatalf("verify of a forged certificate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// The production API: a recount in the background, then receipts.
	if st, b := authGet(t, p.http+"/api/v1/paredoes/aud/receipts/"+counted[0], ""); st != http.StatusNotFound || !strings.Contains(string(b), "not_recounted") {
		t.Fatalf("receipt before any recount: %d %s", st, b)
	}
	if st, b := authPost(t, p.http+"/api/v1/production/paredoes/aud/recount", token, nil); st != http.StatusAccepted {
		t.Fatalf("start recount: %d %s", st, b)
	}
	var run struct {
		Run struct {
			Status      string `json:"status"`
			Equal       *bool  `json:"equal"`
			Error       string `json:"error"`
			Read        int64  `json:"read"`
			Certificate *struct {
				CountedRoot string `json:"countedRoot"`
			} `json:"certificate"`
		} `json:"run"`
	}
	waitFor(t, 60*time.Second, "the recount to finish", func() (bool, string) {
		st, b := authGet(t, p.http+"/api/v1/production/paredoes/aud/recount", token)
		if st != http.StatusOK || json.Unmarshal(b, &run) != nil {
			return false, string(b)
		}
		return run.Run.Status != "running", string(b)
	})
	if run.Run.Status != "done" || run.Run.Equal == nil || !*run.Run.Equal || run.Run.Certificate == nil {
		t.Fatalf("recount run: %+v", run.Run)
	}
	st, b = authGet(t, p.http+"/api/v1/production/paredoes/aud/certificate", token)
	served, err := audit.ParseCertificate(b)
	if st != http.StatusOK || err != nil || served.Merkle.CountedRoot != run.Run.Certificate.CountedRoot {
		t.Fatalf("certificate: %d %v %s", st, err, b)
	}
	// The log did not change: the service's recount has the command's roots.
	if served.Merkle != c.Merkle {
		t.Fatalf("the service's roots %+v differ from the command's %+v", served.Merkle, c.Merkle)
	}

	check := func(voteID string, wantCounted bool, wantReason string) receiptAnswer {
		t.Helper()
		st, b := authGet(t, p.http+"/api/v1/paredoes/aud/receipts/"+voteID, "")
		var rc receiptAnswer
		if st != http.StatusOK || json.Unmarshal(b, &rc) != nil {
			t.Fatalf("receipt %s: %d %s", voteID, st, b)
		}
		if rc.Counted != wantCounted || rc.Reason != wantReason {
			t.Fatalf("receipt %s: counted %v (%s), want %v (%s)", voteID, rc.Counted, rc.Reason, wantCounted, wantReason)
		}
		root, size := served.Merkle.CountedRoot, served.Merkle.Counted
		if !wantCounted {
			root, size = served.Merkle.RefusedRoot, served.Merkle.Refused
		}
		if err := rc.Proof.Verify(voteID, root, size); err != nil {
			t.Fatalf("receipt %s: %v\n%s", voteID, err, b)
		}
		return rc
	}
	for _, id := range counted {
		check(id, true, audit.ReasonCounted)
	}
	// The replay names the vote whose proof of work it repeated.
	if rc := check(replayed, false, audit.ReasonReplay); rc.ReplayOf != counted[3] {
		t.Fatalf("the replay's receipt names %q, want the vote it replayed, %s", rc.ReplayOf, counted[3])
	}
	for _, id := range overCap {
		check(id, false, audit.ReasonRateLimited)
	}
	if st, b := authGet(t, p.http+"/api/v1/paredoes/aud/receipts/0123456789abcdef01234567", ""); st != http.StatusNotFound || !strings.Contains(string(b), "receipt_not_found") {
		t.Fatalf("receipt of no vote: %d %s", st, b)
	}
	if st, b := authGet(t, p.http+"/api/v1/paredoes/aud/receipts/bad%20id", ""); st != http.StatusBadRequest || !strings.Contains(string(b), "invalid_vote_id") {
		t.Fatalf("receipt of a malformed id: %d %s", st, b)
	}

	// One vote more for bruno in one window, straight into SQL.
	db, err := sql.Open("sqlite", filepath.Join(dir, "paredao.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer closeOK(t, db)
	var start int64
	if err := db.QueryRow(`SELECT window_start FROM window_counts WHERE paredao_id = 'aud' AND participant_id = 'bruno' AND votes > 0
ORDER BY window_start LIMIT 1`).Scan(&start); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE window_counts SET votes = votes + 1 WHERE paredao_id = 'aud' AND participant_id = 'bruno' AND window_start = ?
AND shard = (SELECT min(shard) FROM window_counts WHERE paredao_id = 'aud' AND participant_id = 'bruno' AND window_start = ?)`, start, start); err != nil {
		t.Fatal(err)
	}
	hour := time.Unix(start, 0).UTC().Truncate(time.Hour).Format(time.RFC3339)
	code, out, errOut = recountBinary(t, env, p, "--paredao", "aud", "--window", "2s", "--certificate", filepath.Join(dir, "after.json"))
	if code != 1 || !strings.Contains(out, "differences with the production report") {
		t.Fatalf("recount after the SQL change: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		found = found || len(f) == 4 && f[0] == "bruno" && f[1] == hour && f[2] == "4" && f[3] == "5"
	}
	if !found {
		t.Fatalf("recount does not name bruno's hour %s (4 recounted, 5 reported):\n%s", hour, out)
	}
}
