package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paredao/paredao/load"
)

const diskToken = "disk-full-token"

// A full disk is an outage, never a loss. `paredao run` keeps its data dir
// on a small filesystem that the test fills up while voters keep voting:
// votes are refused with 503 (never a 202 that is then lost), the process
// stays up and /readyz says the disk is full; once space is freed, voting
// resumes by itself and /readyz recovers; a restart on the same data dir
// keeps every count. Over the whole test the production report counts
// exactly the votes answered 202.
func TestDiskFull(t *testing.T) {
	mnt := mountSmallFS(t, 96<<20)
	env := runEnv(t, filepath.Join(mnt, "data"))
	env["PAREDAO_VOTES_PER_MINUTE"] = "0"
	env["PAREDAO_ADDRESS_VOTES_PER_MINUTE"] = "0"
	env["PAREDAO_ADDRESS_COOKIES_PER_MINUTE"] = "0"
	env["PAREDAO_PRODUCTION_TOKEN"] = diskToken
	// Short windows: the sink writes SQLite all along, full disk included.
	env["PAREDAO_WINDOW"] = "2s"
	env["PAREDAO_GRACE"] = "1s"
	env["PAREDAO_LATE_HORIZON"] = "4s"
	env["PAREDAO_EMIT_TIMEOUT"] = "2s"
	began := time.Now()
	p := start(t, env, "run")
	settings := func(d time.Duration) *load.Settings {
		return &load.Settings{URLs: []string{p.http}, Paredao: "demo", Duration: d, Rate: 200, Connections: 8,
			VotesPerVoter: 5, Token: diskToken, Verify: true, VerifyTimeout: 45 * time.Second, RetryFor: 60 * time.Second}
	}
	var acked int64 // answered 202, over the whole test
	vote := func(what string, s *load.Settings) { settle(t, what, runLoad(t, s), &acked) }

	vote("before", settings(4*time.Second))

	// 1. The disk fills up (and stays full: a file freed is taken again)
	// while voters vote, for 12 s; then space is freed and they go on.
	free := fillUp(t, mnt)
	fullAt := time.Now()
	loadDone := runLoad(t, settings(24*time.Second))
	waitFor(t, 15*time.Second, "/readyz to report the full disk", func() (bool, string) {
		st, body := adminGet(p.admin + "/readyz")
		return st == http.StatusServiceUnavailable && strings.Contains(body, "no space"), fmt.Sprintf("%d %s", st, body)
	})
	waitFor(t, 15*time.Second, "votes refused with 503", func() (bool, string) {
		n := metricValue(p.admin, `paredao_http_votes_rejected_total{reason="unavailable"}`)
		return n > 0, fmt.Sprint(n)
	})
	if n := metricValue(p.admin, "paredao_data_dir_free_bytes"); n >= 16<<20 {
		t.Errorf("paredao_data_dir_free_bytes = %v on a full disk", n)
	}
	time.Sleep(time.Until(fullAt.Add(12 * time.Second)))
	p.alive()
	_, readyz := adminGet(p.admin + "/readyz")
	t.Logf("full for %v; /readyz:\n%s", time.Since(fullAt).Round(time.Millisecond), readyz)
	free()
	freedAt := time.Now()
	waitFor(t, 45*time.Second, "/readyz after space was freed", func() (bool, string) {
		st, body := adminGet(p.admin + "/readyz")
		return st == http.StatusOK, fmt.Sprintf("%d %s", st, body)
	})
	t.Logf("ready %v after space was freed", time.Since(freedAt).Round(time.Millisecond))
	res := settle(t, "full, then freed", loadDone, &acked)
	if res.Statuses[http.StatusServiceUnavailable] == 0 {
		t.Fatalf("no vote was refused while the disk was full: %v", res.Statuses)
	}
	p.alive()

	// 2. The disk fills up again and the process is killed while it is
	// full; space is freed and it starts again on the same data dir and
	// ports: voters resend what was unanswered, nothing acknowledged is
	// lost, nothing is counted twice.
	free = fillUp(t, mnt)
	loadDone = runLoad(t, settings(12*time.Second))
	waitFor(t, 15*time.Second, "/readyz to report the full disk again", func() (bool, string) {
		st, body := adminGet(p.admin + "/readyz")
		return st == http.StatusServiceUnavailable && strings.Contains(body, "no space"), fmt.Sprintf("%d %s", st, body)
	})
	time.Sleep(3 * time.Second)
	p.alive()
	p.kill()
	free()
	p = start(t, env, "run")
	settle(t, "killed while full, restarted", loadDone, &acked)
	waitReportTotal(t, p.http, "demo", diskToken, acked)

	// 3. A clean restart keeps every count; voting goes on.
	p.stop()
	p = start(t, env, "run")
	waitReportTotal(t, p.http, "demo", diskToken, acked)
	vote("after a restart", settings(3*time.Second))
	waitReportTotal(t, p.http, "demo", diskToken, acked)
	t.Logf("acknowledged == counted == %d over the whole test (%v)", acked, time.Since(began).Round(time.Millisecond))
}

// runLoad votes with s in the background.
func runLoad(t *testing.T, s *load.Settings) <-chan *load.Result {
	done := make(chan *load.Result, 1)
	go func() {
		res, err := load.Run(context.Background(), s, nil)
		if err != nil {
			t.Errorf("load: %v", err)
		}
		done <- res
	}()
	return done
}

// settle waits for a load run, adds what it acknowledged to acked and fails
// unless every vote's outcome is known and counted.
func settle(t *testing.T, what string, done <-chan *load.Result, acked *int64) *load.Result {
	t.Helper()
	res := <-done
	if res == nil {
		t.FailNow()
	}
	t.Logf("%s: acknowledged %d, statuses %v, in doubt %d, reconciled %d, counted ok %v",
		what, res.AckTotal, res.Statuses, res.InDoubt, res.Reconciled, res.CountedOK)
	*acked += res.AckTotal
	if !res.CountedOK || res.InDoubt > 0 || len(res.Errors) > 0 {
		t.Fatalf("%s: acknowledged %v, counted %v, in doubt %d, errors %v", what, res.Acknowledged, res.Counted, res.InDoubt, res.Errors)
	}
	return res
}

// fillUp fills the filesystem at mnt and keeps it full (a writer that frees
// a file finds the room taken again) until the returned func frees it.
func fillUp(t *testing.T, mnt string) (free func()) {
	t.Helper()
	stop := make(chan struct{})
	filled := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- keepFull(filepath.Join(mnt, "filler"), filled, stop) }()
	select {
	case <-filled:
	case err := <-done:
		t.Fatalf("fill the disk: %v", err)
	}
	var once sync.Once
	free = func() {
		once.Do(func() {
			close(stop)
			if err := <-done; err != nil {
				t.Errorf("free the disk: %v", err)
			}
		})
	}
	t.Cleanup(free)
	return free
}

// mountSmallFS mounts a tmpfs of size bytes for the test. Where it cannot
// (not root, no mount namespace) the test skips, except in CI, where it
// fails: the guarantee must be tested there.
func mountSmallFS(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a %d MiB tmpfs: %v (the disk-full test needs root or CAP_SYS_ADMIN)", size>>20, err)
		}
		t.Skipf("cannot mount a %d MiB tmpfs: %v (run as root; in CI this fails)", size>>20, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount the tmpfs at %s: %v", dir, err)
			}
		}
	})
	return dir
}

// keepFull writes path until the filesystem is full, closes filled, and
// tops it up every 20 ms until stop is closed; then it removes path.
func keepFull(path string, filled chan<- struct{}, stop <-chan struct{}) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	fill := func() error { // 1 MiB at a time, then smaller to the last page
		for n := len(buf); n >= 4096; {
			if _, err := f.Write(buf[:n]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					return err
				}
				n /= 4
			}
		}
		return nil
	}
	if err := fill(); err != nil {
		return errors.Join(err, f.Close())
	}
	close(filled)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return errors.Join(f.Close(), os.Remove(path))
		case <-tick.C:
			if err := fill(); err != nil {
				return errors.Join(err, f.Close())
			}
		}
	}
}

// alive fails the test if the process exited.
func (p *proc) alive() {
	p.t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		b, _ := os.ReadFile(p.logs)
		p.t.Fatalf("process exited: %v\n%s", err, tail(string(b), 4000))
	default:
	}
}

func adminGet(url string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer closeQuiet(resp.Body)
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue is the value of the sample named exactly series (name and
// labels) on admin's /metrics; 0 when absent or not a number.
func metricValue(admin, series string) float64 {
	_, body := adminGet(admin + "/metrics")
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				return 0
			}
			return v
		}
	}
	return 0
}
