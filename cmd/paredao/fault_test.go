package main

// The multi-broker fault suite (TestFaultSuite): real paredao processes
// (process ×3, sink on PostgreSQL, web ×2, each with its own data dir)
// against a three-broker kfake cluster running in the test process, while
// the cluster misbehaves the ways a real one does and members are SIGKILLed:
//
//   - one broker handles (and so answers) every produce request 0–250 ms late
//     for the whole load (ControlKey + SleepControl + KeepControl), so
//     produce answers come back out of order across brokers;
//   - bursts of produce requests written and then answered
//     NOT_ENOUGH_REPLICAS_AFTER_APPEND or REQUEST_TIMED_OUT (kfake.Fault:
//     those two codes on Produce still append), light ones on every broker
//     and heavy ones on one broker;
//   - leader moves (ShufflePartitionLeaders, MoveTopicPartition) and one
//     broker that dies, its connections dropped, and comes back (RemoveNode,
//     AddNode on the same port);
//   - SIGKILLed processors (each kill once the groups recovered from the
//     last, some two at a time), the sink and a web replica, each restarted
//     after a short pause.
//
// Votes come from loadRun against both web replicas. At the end every vote
// answered 202 must be counted exactly once, per participant and per hour of
// its receipt, none may stay in doubt, and every partition of every group's
// input topic must have a live member (one that heartbeats) that committed
// it to its end. When counts differ, the log trail (trail) tells which stage
// lost the votes: web → votes, guard → ballots, tally's table, tally →
// windows, the sink.
//
//	PAREDAO_FAULT_SEED=<n>   rerun exactly one seed's fault schedule (printed by every run)
//	PAREDAO_FAULT_RUNS=<n>   how many seeds (default 1, 3 when CI is set)
//	PAREDAO_FAULT_LOGS=1     on failure, print the tail of every member's log
//	PAREDAO_FAULT_KEEP=<dir> keep every member's data dir and log under dir
//	PAREDAO_FAULT_DEBUG=1    log each group's state, members and lag every second

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/paredao/paredao/load"
	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/stream"
)

const (
	faultToken      = "fault-production-token"
	faultPartitions = 6
	faultBrokers    = 3

	// Short windows (validated by config.go: window ≥ 1s; roll-up off): a
	// window closes grace after its end, and once it ended more than the
	// late horizon ago the report reads it from SQL alone, seconds after the
	// last vote. 2 s divides an hour, so a vote's window and its receipt
	// share the hour the report buckets them in.
	faultWindow  = 2 * time.Second
	faultGrace   = time.Second
	faultHorizon = 4 * time.Second

	faultLoadFor   = 60 * time.Second // how long votes are sent
	faultsFrom     = 3 * time.Second  // faults are scheduled in [faultsFrom, faultsUntil) of the load
	faultsUntil    = 48 * time.Second
	faultRetryFor  = 45 * time.Second // a client resends an unanswered vote this long
	faultVerifyFor = 40 * time.Second // how long loadRun waits for the counts after the load
)

// faultGroups are the consumer groups of the pipeline and their input topics
// (pipeline/topology.go): each partition of the topic must end with exactly
// one live owner and a committed offset at the high watermark.
var faultGroups = []struct{ group, topic string }{
	{string(pipeline.GuardGroup), string(pipeline.VotesStream)},
	{string(pipeline.TallyGroup), string(pipeline.BallotsStream)},
	{string(pipeline.SinkGroup), string(pipeline.WindowsStream)},
}

func TestFaultSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite runs a cluster of real processes for minutes")
	}
	var seeds []uint64
	if v := os.Getenv("PAREDAO_FAULT_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PAREDAO_FAULT_SEED=%q: %v", v, err)
		}
		seeds = []uint64{s}
	} else {
		runs := 1
		if os.Getenv("CI") != "" {
			runs = 3
		}
		if v := os.Getenv("PAREDAO_FAULT_RUNS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("PAREDAO_FAULT_RUNS=%q: want a count ≥ 1", v)
			}
			runs = n
		}
		base := uint64(time.Now().UnixNano())
		for i := range runs {
			seeds = append(seeds, base+uint64(i))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { faultScenario(t, seed) })
	}
}

// lockedRand is a seeded RNG shared by kfake's control and fault callbacks,
// which run on kfake's goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) duration(lo, hi time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lo + time.Duration(l.r.Int64N(int64(hi-lo)+1))
}

// connTracker wraps kfake's listeners: it knows every client connection of
// every broker, to drop them when the broker "dies", and which paredao
// process opened it, to name group members in diagnostics (kfake knows a
// member by the client address of its first JoinGroup, ClientHost). Whether
// a member is alive is told by its heartbeats (faultCluster.beating).
type connTracker struct {
	pids func() []int // processes a connection may come from

	mu       sync.Mutex
	byBroker map[int]map[*trackedConn]struct{} // broker port → open connections
	byAddr   map[string][]*trackedConn         // client address → its last connections, newest last
}

func newConnTracker(pids func() []int) *connTracker {
	return &connTracker{pids: pids, byBroker: map[int]map[*trackedConn]struct{}{}, byAddr: map[string][]*trackedConn{}}
}

// listen is kfake's ListenFn.
func (ct *connTracker) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &trackedListener{Listener: ln, ct: ct, port: ln.Addr().(*net.TCPAddr).Port}, nil
}

type trackedListener struct {
	net.Listener
	ct   *connTracker
	port int
}

// Accept finds the process of each connection before kfake reads from it:
// the client's socket exists for sure then. (A client port may be reused at
// once on loopback, and for several brokers at a time.)
func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, ct: l.ct, port: l.port, pid: l.ct.resolve(c)}
	addr := c.RemoteAddr().String()
	l.ct.mu.Lock()
	if l.ct.byBroker[l.port] == nil {
		l.ct.byBroker[l.port] = map[*trackedConn]struct{}{}
	}
	l.ct.byBroker[l.port][tc] = struct{}{}
	conns := append(l.ct.byAddr[addr], tc)
	if len(conns) > 4 {
		conns = conns[len(conns)-4:]
	}
	l.ct.byAddr[addr] = conns
	l.ct.mu.Unlock()
	return tc, nil
}

type trackedConn struct {
	net.Conn
	ct   *connTracker
	port int
	pid  int // 0: not found
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.ct.mu.Lock()
		delete(c.ct.byBroker[c.port], c)
		c.ct.mu.Unlock()
	})
	return c.Conn.Close()
}

// dropBroker closes every client connection of the broker on port, as a
// broker that dies does.
func (ct *connTracker) dropBroker(port int) int {
	ct.mu.Lock()
	var conns []*trackedConn
	for c := range ct.byBroker[port] {
		conns = append(conns, c)
	}
	ct.mu.Unlock()
	for _, c := range conns {
		closeQuiet(c) // the client may have closed it already: it is gone either way
	}
	return len(conns)
}

// resolve finds the process that opened c: the socket whose local port is
// c's remote port, in /proc/net/tcp, and the process holding that socket.
func (ct *connTracker) resolve(c net.Conn) int {
	remote, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return 0
	}
	for range 20 {
		if inode := clientSocketInode(remote.Port, c.LocalAddr().(*net.TCPAddr).Port); inode != "" {
			for _, pid := range ct.pids() {
				if holdsSocket(pid, inode) {
					return pid
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// processesAt lists the processes whose connections came from clientHost
// (newest first): one client port may serve several connections at once,
// to different brokers, so the owner of a member is only a good guess, for
// diagnostics.
func (ct *connTracker) processesAt(clientHost string) []int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var pids []int
	conns := ct.byAddr[clientHost]
	for i := len(conns) - 1; i >= 0; i-- {
		if pid := conns[i].pid; pid != 0 && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// clientSocketInode is the inode of the loopback socket from localPort to
// remotePort, or "".
func clientSocketInode(localPort, remotePort int) string {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return ""
	}
	defer closeQuiet(f)
	port := func(hexAddr string) int {
		_, p, _ := strings.Cut(hexAddr, ":")
		n, _ := strconv.ParseUint(p, 16, 32)
		return int(n)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[0] == "sl" {
			continue
		}
		// An established socket only: a closed one (TIME_WAIT, inode 0)
		// may have had the same ports, loopback reuses them at once.
		if port(fields[1]) == localPort && port(fields[2]) == remotePort && fields[3] == "01" && fields[9] != "0" {
			return fields[9]
		}
	}
	return ""
}

func holdsSocket(pid int, inode string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + inode + "]"
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
			return true
		}
	}
	return false
}

// faultCluster is kfake with three brokers in this process and the paredao
// members on loopback, each with its own data dir.
type faultCluster struct {
	t       *testing.T
	dir     string
	kc      *kfake.Cluster
	conns   *connTracker
	brokers []string // node i listens on brokers[i]
	common  map[string]string

	beatsMu sync.Mutex
	beats   map[string]time.Time // "group/member id" → its last heartbeat (or join, sync, commit)

	mu       sync.Mutex
	members  map[string]*proc  // name → the running process
	ready    map[string]bool   // name → its running process answered /readyz
	alive    map[int]bool      // pid → not killed
	names    map[int]string    // pid → "name#launch", for diagnostics
	all      []*proc           // every process started
	webAddrs map[string]string // web replica → its public address, kept across restarts
	launches int
}

func newFaultCluster(t *testing.T, dbURL string) *faultCluster {
	dir := t.TempDir()
	if keep := os.Getenv("PAREDAO_FAULT_KEEP"); keep != "" {
		dir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o750); err != nil { //nolint:gosec // G703: PAREDAO_FAULT_KEEP is where the developer running the test asks to keep its files
			t.Fatal(err)
		}
		t.Logf("member data dirs and logs kept in %s", dir)
	}
	fc := &faultCluster{t: t, dir: dir, beats: map[string]time.Time{}, members: map[string]*proc{}, ready: map[string]bool{},
		alive: map[int]bool{}, names: map[int]string{}, webAddrs: map[string]string{}}
	fc.conns = newConnTracker(fc.pids)
	kc, err := kfake.NewCluster(
		kfake.NumBrokers(faultBrokers),
		kfake.ListenFn(fc.conns.listen),
		kfake.ClusterID("paredao-fault"),
	)
	if err != nil {
		t.Fatal(err)
	}
	fc.kc = kc
	fc.brokers = kc.ListenAddrs()
	// As the embedded broker does (stream.StartBroker): Kafka's session
	// expiry for the members kfake forgets to time out.
	stopReaper := stream.ReapSilentMembers(kc, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	t.Cleanup(stopReaper)
	// A live member heartbeats (every second, sarama's setting here); a
	// SIGKILLed one stops at once but stays in its group until its session
	// times out. An observing fault sees every group request, faults none.
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.OffsetCommit}, Count: -1, Observe: true,
		When: func(req kmsg.Request) bool {
			var group, member string
			switch r := req.(type) {
			case *kmsg.HeartbeatRequest:
				group, member = r.Group, r.MemberID
			case *kmsg.JoinGroupRequest:
				group, member = r.Group, r.MemberID
			case *kmsg.SyncGroupRequest:
				group, member = r.Group, r.MemberID
			case *kmsg.OffsetCommitRequest:
				group, member = r.Group, r.MemberID
			}
			if member != "" {
				fc.beatsMu.Lock()
				fc.beats[group+"/"+member] = time.Now()
				fc.beatsMu.Unlock()
			}
			return false
		}})
	t.Cleanup(func() {
		fc.mu.Lock()
		all := slices.Clone(fc.all)
		fc.mu.Unlock()
		for _, p := range all {
			_ = p.cmd.Process.Kill() // fails only if it exited already; p.done has its exit either way
			err := <-p.done
			p.done <- err
		}
		kc.Close()
		if t.Failed() && os.Getenv("PAREDAO_FAULT_LOGS") != "" {
			for _, p := range all {
				b, _ := os.ReadFile(p.logs)
				t.Logf("%s:\n%s", filepath.Base(p.logs), tail(string(b), 3000))
			}
		} else if t.Failed() {
			for _, p := range all {
				if w := warnings(p.logs, 6); w != "" {
					t.Logf("%s, last warnings:\n%s", filepath.Base(p.logs), w)
				}
			}
		}
	})
	fc.common = map[string]string{
		"PAREDAO_KAFKA_BROKERS":    strings.Join(fc.brokers, ","),
		"PAREDAO_REPLICATION":      strconv.Itoa(faultBrokers),
		"PAREDAO_PARTITIONS":       strconv.Itoa(faultPartitions),
		"PAREDAO_DATABASE_URL":     dbURL,
		"PAREDAO_SECRET":           "fault-secret-0123456789abcdef0123456789",
		"PAREDAO_PRODUCTION_TOKEN": faultToken,
		"PAREDAO_POW_MAX_NUMBER":   "100",
		"PAREDAO_POW_MAX_LEVEL":    "0", // the load is all loopback: a fixed difficulty
		"PAREDAO_WINDOW":           faultWindow.String(),
		"PAREDAO_GRACE":            faultGrace.String(),
		"PAREDAO_LATE_HORIZON":     faultHorizon.String(),
		"PAREDAO_ROLLUP_AFTER":     "0",
		"PAREDAO_PPROF":            "true", // dumpGoroutines reads /debug/pprof
		// No per-voter or per-address caps: every vote comes from loopback,
		// and a retried vote must never meet a 429 (a refusal after an
		// attempt that may have been written is an outcome the client
		// cannot reconcile). The load mints a new voter every 5 votes.
		"PAREDAO_VOTES_PER_MINUTE":           "0",
		"PAREDAO_ADDRESS_VOTES_PER_MINUTE":   "0",
		"PAREDAO_ADDRESS_COOKIES_PER_MINUTE": "0",
		"PAREDAO_EMIT_TIMEOUT":               "3s",
		"PAREDAO_LOG_LEVEL":                  "info",
		"PAREDAO_SHUTDOWN_TIMEOUT":           "5s",
	}
	return fc
}

// warnings is the last n WARN or ERROR lines of a log.
func warnings(path string, n int) string {
	b, _ := os.ReadFile(path)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

func (fc *faultCluster) pids() []int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var out []int
	for pid, alive := range fc.alive {
		if alive {
			out = append(out, pid)
		}
	}
	return out
}

// live tells whether a group member is alive: it heartbeats, and is not
// from a process killed (known at once, while heartbeats take a few seconds
// to be missed; a member whose client port other processes used too counts
// on heartbeats alone).
func (fc *faultCluster) live(group string, m kfake.GroupMember) bool {
	if !fc.beating(group, m.MemberID) {
		return false
	}
	pids := fc.conns.processesAt(m.ClientHost)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, pid := range pids {
		if fc.alive[pid] {
			return true
		}
	}
	return len(pids) == 0
}

// beating tells whether a group member sent a group request lately.
func (fc *faultCluster) beating(group, member string) bool {
	fc.beatsMu.Lock()
	defer fc.beatsMu.Unlock()
	return time.Since(fc.beats[group+"/"+member]) < 3500*time.Millisecond
}

// memberName names the process(es) a member's connection may be from.
func (fc *faultCluster) memberName(clientHost string) string {
	var names []string
	for _, pid := range fc.conns.processesAt(clientHost) {
		names = append(names, fc.name(pid))
	}
	if len(names) == 0 {
		return "an unknown process"
	}
	return strings.Join(names, " or ")
}

func (fc *faultCluster) name(pid int) string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if n, ok := fc.names[pid]; ok {
		return n
	}
	return "unknown"
}

func (fc *faultCluster) member(name string) *proc {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.members[name]
}

func (fc *faultCluster) webURLs() []string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return []string{"http://" + fc.webAddrs["web1"], "http://" + fc.webAddrs["web2"]}
}

// loopbackAddr is a free loopback address (freeAddr without t.Fatal, for
// restarts off the test goroutine).
func loopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer closeQuiet(l)
	return l.Addr().String(), nil
}

// launch starts member name running command and waits until it is ready.
// Unlike start() it never calls t.Fatal, so restarts can run off the test
// goroutine; a web replica keeps its address across restarts (clients
// retry it).
func (fc *faultCluster) launch(name, command string) (*proc, error) {
	admin, err := loopbackAddr()
	if err != nil {
		return nil, err
	}
	env := map[string]string{"PAREDAO_DATA_DIR": filepath.Join(fc.dir, name), "PAREDAO_ADMIN_ADDR": admin}
	for k, v := range fc.common {
		env[k] = v
	}
	fc.mu.Lock()
	fc.launches++
	n := fc.launches
	addr := fc.webAddrs[name]
	fc.mu.Unlock()
	if addr == "" {
		if addr, err = loopbackAddr(); err != nil {
			return nil, err
		}
	}
	env["PAREDAO_HTTP_ADDR"] = addr
	p := &proc{t: fc.t, stdout: &strings.Builder{}, done: make(chan error, 1),
		http: "http://" + addr, admin: "http://" + env["PAREDAO_ADMIN_ADDR"]}
	p.cmd = exec.Command(binary, command) //nolint:gosec // G204: runs the paredao binary TestMain built, as a member of the test's cluster
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.logs = filepath.Join(fc.dir, fmt.Sprintf("%02d-%s.log", n, name))
	logf, err := os.Create(p.logs)
	if err != nil {
		return nil, err
	}
	p.cmd.Stderr = logf
	if err := p.cmd.Start(); err != nil {
		closeQuiet(logf)
		return nil, err
	}
	fc.mu.Lock()
	fc.all = append(fc.all, p)
	fc.alive[p.cmd.Process.Pid] = true
	fc.names[p.cmd.Process.Pid] = fmt.Sprintf("%s#%d", name, n)
	fc.members[name] = p
	fc.ready[name] = false
	if command == "web" {
		fc.webAddrs[name] = addr
	}
	fc.mu.Unlock()
	go func() { p.done <- p.cmd.Wait(); closeQuiet(logf) }()

	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			b, _ := os.ReadFile(p.logs)
			return p, fmt.Errorf("%s#%d exited before ready: %v: %w\n%s", name, n, err, errExited, tail(string(b), 1000))
		default:
		}
		if resp, err := client.Get(p.admin + "/readyz"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			closeQuiet(resp.Body)
			if resp.StatusCode == http.StatusOK {
				fc.mu.Lock()
				if fc.members[name] == p {
					fc.ready[name] = true
				}
				fc.mu.Unlock()
				return p, nil
			}
			last = strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p, fmt.Errorf("%s#%d not ready after 60s: /readyz says %q; last warnings:\n%s", name, n, last, warnings(p.logs, 4))
}

// errExited: a member exited by itself while starting.
var errExited = errors.New("exited while starting")

func (fc *faultCluster) isReady(name string) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.ready[name]
}

// kill SIGKILLs member name.
func (fc *faultCluster) kill(name string) {
	p := fc.member(name)
	fc.mu.Lock()
	fc.alive[p.cmd.Process.Pid] = false
	fc.ready[name] = false
	fc.mu.Unlock()
	p.kill()
}

// ownership tells whether every partition of every group's input topic is
// assigned to exactly one live member (one that heartbeats), in a Stable
// group; else what is wrong.
func (fc *faultCluster) ownership() (bool, string) { return fc.owned(faultGroups...) }

// processorsOwned is ownership for the groups of `paredao process`.
func (fc *faultCluster) processorsOwned() (bool, string) { return fc.owned(faultGroups[:2]...) }

func (fc *faultCluster) owned(groups ...struct{ group, topic string }) (bool, string) {
	var problems []string
	for _, g := range groups {
		gi := fc.kc.GroupInfo(g.group)
		if gi == nil {
			problems = append(problems, g.group+": no group")
			continue
		}
		if gi.State != "Stable" {
			problems = append(problems, fmt.Sprintf("%s: %s", g.group, gi.State))
			continue
		}
		owners := map[int32][]string{}
		var dead []string
		for _, m := range gi.Members {
			live := fc.live(g.group, m)
			if !live && len(m.Assignment[g.topic]) > 0 {
				dead = append(dead, fmt.Sprintf("%s of %s holds %v", m.MemberID, fc.memberName(m.ClientHost), m.Assignment[g.topic]))
			}
			for _, p := range m.Assignment[g.topic] {
				if live {
					owners[p] = append(owners[p], m.MemberID)
				}
			}
		}
		var unowned, shared []int32
		for p := range int32(faultPartitions) {
			switch len(owners[p]) {
			case 0:
				unowned = append(unowned, p)
			case 1:
			default:
				shared = append(shared, p)
			}
		}
		if len(unowned) > 0 || len(shared) > 0 {
			problems = append(problems, fmt.Sprintf("%s: %s partitions %v without a live owner, %v with several; members not alive (silent or killed): %v",
				g.group, g.topic, unowned, shared, dead))
		}
	}
	return len(problems) == 0, strings.Join(problems, "; ")
}

// lag is, over every group, how far the committed offsets are behind the
// high watermarks of its input topic's partitions.
func (fc *faultCluster) lag() (int64, string) {
	var total int64
	var parts []string
	for _, g := range faultGroups {
		gi := fc.kc.GroupInfo(g.group)
		for _, pi := range fc.kc.PartitionInfos(g.topic) {
			var committed int64
			if gi != nil {
				if c, ok := gi.Commits[g.topic][pi.Partition]; ok {
					committed = c.Offset
				}
			}
			if d := pi.HighWatermark - committed; d != 0 {
				total += max(d, 0)
				owner := "no member"
				if gi != nil {
					for _, m := range gi.Members {
						if slices.Contains(m.Assignment[g.topic], pi.Partition) {
							owner = fmt.Sprintf("%s of %s (live %v)", m.MemberID, fc.memberName(m.ClientHost), fc.live(g.group, m))
						}
					}
				}
				parts = append(parts, fmt.Sprintf("%s %s/%d committed %d of %d, assigned to %s", g.group, g.topic, pi.Partition, committed, pi.HighWatermark, owner))
			}
		}
	}
	return total, strings.Join(parts, "; ")
}

// dumpGoroutines saves every running member's goroutines (its admin
// listener's /debug/pprof) next to its log, for a pipeline that stopped.
func (fc *faultCluster) dumpGoroutines(t *testing.T) {
	fc.mu.Lock()
	var running []*proc
	for _, p := range fc.members {
		if fc.alive[p.cmd.Process.Pid] {
			running = append(running, p)
		}
	}
	fc.mu.Unlock()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, p := range running {
		resp, err := client.Get(p.admin + "/debug/pprof/goroutine?debug=2")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		closeQuiet(resp.Body)
		path := strings.TrimSuffix(p.logs, ".log") + ".goroutines.txt"
		if os.WriteFile(path, b, 0o640) == nil {
			t.Logf("goroutines of %s in %s", filepath.Base(p.logs), path)
		}
	}
}

// killEvent is one SIGKILL and its recovery.
type killEvent struct {
	what    string
	kind    string // process, sink, web
	at      time.Time
	readyAt time.Time // the replacement answered /readyz
	// owned: kill → every partition of every group owned by a live member
	// again; rejoined: replacement ready → the same, with the replacement in.
	owned, rejoined time.Duration
}

// faultStats is what a scenario counts.
type faultStats struct {
	produced     atomic.Int64 // produce requests, all brokers
	delayed      atomic.Int64 // produce requests answered late
	leaderMoves  atomic.Int64 // ShufflePartitionLeaders + MoveTopicPartition
	outages      atomic.Int64 // RemoveNode … AddNode
	droppedConns atomic.Int64
	startExits   atomic.Int64 // restarted members that exited while starting
	errorsMu     sync.Mutex
	errorFaults  []*kfake.FaultHandle

	killsMu sync.Mutex
	kills   []*killEvent
}

func (s *faultStats) errored() int {
	s.errorsMu.Lock()
	defer s.errorsMu.Unlock()
	n := 0
	for _, h := range s.errorFaults {
		n += h.Hits()
	}
	return n
}

// monitor polls group ownership until ctx ends, timing each kill's recovery,
// and logs any stretch of more than 20 s with a partition unowned.
func (fc *faultCluster) monitor(ctx context.Context, stats *faultStats, logf func(string, ...any)) {
	var badSince, lastDebug time.Time
	reported := false
	for ctx.Err() == nil {
		polled := time.Now()
		ok, detail := fc.ownership()
		now := time.Now()
		stats.killsMu.Lock()
		for _, k := range stats.kills {
			if !ok || k.kind == "web" {
				continue
			}
			if k.owned == 0 && polled.After(k.at) {
				k.owned = now.Sub(k.at)
			}
			if k.rejoined == 0 && !k.readyAt.IsZero() && polled.After(k.readyAt) {
				k.rejoined = now.Sub(k.readyAt)
			}
		}
		stats.killsMu.Unlock()
		if os.Getenv("PAREDAO_FAULT_DEBUG") != "" && now.Sub(lastDebug) > time.Second {
			lastDebug = now
			var lags []string
			for _, g := range faultGroups {
				gi := fc.kc.GroupInfo(g.group)
				var l int64
				for _, pi := range fc.kc.PartitionInfos(g.topic) {
					var c int64
					if gi != nil {
						c = gi.Commits[g.topic][pi.Partition].Offset
					}
					l += pi.HighWatermark - c
				}
				st := "none"
				if gi != nil {
					var ages []string
					for _, m := range gi.Members {
						fc.beatsMu.Lock()
						age := time.Since(fc.beats[g.group+"/"+m.MemberID])
						fc.beatsMu.Unlock()
						ages = append(ages, fmt.Sprintf("%s:%v:%v", m.MemberID[len(m.MemberID)-4:], m.Assignment[g.topic], age.Round(100*time.Millisecond)))
					}
					st = fmt.Sprintf("%s/%d members %v", gi.State, len(gi.Members), ages)
				}
				lags = append(lags, fmt.Sprintf("%s %s lag %d", g.group, st, l))
			}
			logf("debug: %s", strings.Join(lags, ", "))
		}
		switch {
		case ok:
			badSince, reported = time.Time{}, false
		case badSince.IsZero():
			badSince = now
		case !reported && now.Sub(badSince) > 20*time.Second:
			logf("suspicious: partitions without a live consumer for %v: %s", now.Sub(badSince).Round(time.Second), detail)
			reported = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// plannedKill is one step of the kill schedule.
//
// Processor kills run one step after another: each waits until guard and
// tally have a live owner for every partition again (the previous kill has
// recovered) and then `after` more, so it hits a pipeline catching up at full
// speed, with produce requests in flight. Sink and web kills happen `at` a
// moment into the load.
type plannedKill struct {
	after   time.Duration
	at      time.Duration
	targets []string // in order of preference; processors: the first count that are ready
	count   int
	gap     time.Duration // between the kills of one step
	pause   time.Duration // before the restart
}

// plannedFault is one broker-side fault.
type plannedFault struct {
	at    time.Duration
	kind  string // burst, shuffle, move, outage
	dur   time.Duration
	prob  float64
	err   *kerr.Error
	nodes []int32 // burst: the brokers that answer with errors (nil: all)
	node  int32
	tp    string
	part  int32
}

// planFaults draws the scenario's fault schedule from rng: the same seed
// gives the same schedule (what runs when still depends on how fast the
// cluster recovers).
func planFaults(rng *rand.Rand) (slow int32, procKills, otherKills []plannedKill, faults []plannedFault) {
	at := func() time.Duration {
		return faultsFrom + time.Duration(rng.Int64N(int64(faultsUntil-faultsFrom)))
	}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	slow = rng.Int32N(faultBrokers)

	// Processor kills, one of them two processors in quick succession.
	double := rng.IntN(3)
	for i := range 8 {
		procs := []string{"p1", "p2", "p3"}
		rng.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
		k := plannedKill{after: between(200*time.Millisecond, 1500*time.Millisecond), targets: procs, count: 1,
			gap: between(100*time.Millisecond, time.Second), pause: between(200*time.Millisecond, 1500*time.Millisecond)}
		if i == double {
			k.count = 2
		}
		procKills = append(procKills, k)
	}
	// The sink and a web replica, once each at a random moment.
	otherKills = append(otherKills,
		plannedKill{at: at(), targets: []string{"sink"}, count: 1, pause: between(200*time.Millisecond, 1500*time.Millisecond)},
		plannedKill{at: at(), targets: []string{[]string{"web1", "web2"}[rng.IntN(2)]}, count: 1, pause: between(200*time.Millisecond, 1500*time.Millisecond)})

	// Produce requests written and answered with an error: light bursts on
	// every broker, and heavy ones on one broker (its followers fell out of
	// the ISR: most of its produce answers are errors for a few seconds, long
	// enough to exhaust the producers' retries).
	errCode := func() *kerr.Error {
		if rng.IntN(2) == 0 {
			return kerr.RequestTimedOut
		}
		return kerr.NotEnoughReplicasAfterAppend
	}
	for range 5 + rng.IntN(3) {
		faults = append(faults, plannedFault{at: at(), kind: "burst", dur: between(500*time.Millisecond, 2*time.Second), prob: 0.02 + 0.08*rng.Float64(), err: errCode()})
	}
	for range 2 {
		faults = append(faults, plannedFault{at: at(), kind: "burst", dur: between(1500*time.Millisecond, 3*time.Second), prob: 0.4 + 0.3*rng.Float64(), err: errCode(),
			nodes: []int32{rng.Int32N(faultBrokers)}})
	}
	// Leader moves: elections over every partition, single partitions moved.
	for range 3 + rng.IntN(3) {
		faults = append(faults, plannedFault{at: at(), kind: "shuffle"})
	}
	topics := []string{string(pipeline.VotesStream), string(pipeline.BallotsStream), string(pipeline.WindowsStream), string(pipeline.GuardTable), string(pipeline.TallyTable)}
	for range 4 + rng.IntN(4) {
		faults = append(faults, plannedFault{at: at(), kind: "move", tp: topics[rng.IntN(len(topics))], part: rng.Int32N(faultPartitions), node: rng.Int32N(faultBrokers)})
	}
	// One broker dies (its connections drop) and comes back.
	faults = append(faults, plannedFault{at: between(10*time.Second, 28*time.Second), kind: "outage", node: rng.Int32N(faultBrokers), dur: between(2*time.Second, 4*time.Second)})
	sort.Slice(faults, func(i, j int) bool { return faults[i].at < faults[j].at })
	return slow, procKills, otherKills, faults
}

func faultScenario(t *testing.T, seed uint64) {
	began := time.Now()
	t.Logf("seed %d (rerun with PAREDAO_FAULT_SEED=%d)", seed, seed)
	dbURL := testDatabase(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cbRand := newLockedRand(seed + 1) // for kfake's callbacks
	slow, procKills, otherKills, faults := planFaults(rng)

	fc := newFaultCluster(t, dbURL)
	for _, m := range []struct{ name, command string }{
		{"sink", "sink"}, {"p1", "process"}, {"p2", "process"}, {"p3", "process"}, {"web1", "web"}, {"web2", "web"},
	} {
		if _, err := fc.launch(m.name, m.command); err != nil {
			t.Fatal(err)
		}
	}
	for _, tp := range []string{string(pipeline.VotesStream), string(pipeline.BallotsStream), string(pipeline.WindowsStream)} {
		if ti := fc.kc.TopicInfo(tp); ti == nil || ti.NumReplicas != faultBrokers {
			t.Fatalf("topic %s: %+v, want %d replicas", tp, ti, faultBrokers)
		}
	}
	waitFor(t, 60*time.Second, "every partition of every group owned", fc.ownership)
	before := getReport(t, fc.webURLs()[0], "demo", faultToken)
	if before.Total != 0 {
		t.Fatalf("fresh cluster and database report %d votes", before.Total)
	}
	t.Logf("cluster up in %v: brokers %v, produce answered late on node %d", time.Since(began).Round(100*time.Millisecond), fc.brokers, slow)

	stats := &faultStats{}
	logf := func(format string, args ...any) {
		t.Logf("%6.1fs "+format, append([]any{time.Since(began).Seconds()}, args...)...)
	}

	// Late, out-of-order produce answers: one broker sleeps 0–250 ms before
	// handling each produce request, for the whole load. The control never
	// answers the request itself, so kfake then handles it (and the faults
	// below still apply).
	var delaying atomic.Bool
	delaying.Store(true)
	fc.kc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		fc.kc.KeepControl()
		stats.produced.Add(1)
		if delaying.Load() && fc.kc.CurrentNode() == slow {
			d := cbRand.duration(0, 250*time.Millisecond)
			stats.delayed.Add(1)
			fc.kc.SleepControl(func() { time.Sleep(d) })
		}
		return nil, nil, false
	})

	// The load: both web replicas, every acknowledged vote captured with its
	// receipt's acceptance time.
	var capMu sync.Mutex
	type ackedVote struct {
		Participant, VoteID string    // VoteID "": reconciled (409 challenge_used), no receipt
		AcceptedAt          time.Time // zero: reconciled
		seen                time.Time
	}
	var acked []ackedVote
	cfg := &load.Settings{URLs: fc.webURLs(), Paredao: "demo", Duration: faultLoadFor, Rate: 300, Connections: 24,
		VotesPerVoter: 5, Token: faultToken, Verify: true, VerifyTimeout: faultVerifyFor, RetryFor: faultRetryFor}
	cfg.Capture = func(v load.Vote) {
		capMu.Lock()
		acked = append(acked, ackedVote{v.Participant, v.VoteID, v.AcceptedAt, time.Now()})
		capMu.Unlock()
	}
	type outcome struct {
		res *load.Result
		err error
		at  time.Time
	}
	loadDone := make(chan outcome, 1)
	loadStart := time.Now()
	go func() {
		res, err := load.Run(context.Background(), cfg, nil)
		loadDone <- outcome{res, err, time.Now()}
	}()

	monCtx, stopMonitor := context.WithCancel(context.Background())
	monDone := make(chan struct{})
	go func() { fc.monitor(monCtx, stats, logf); close(monDone) }()
	defer func() { stopMonitor(); <-monDone }()

	// Broker faults, each at its planned moment.
	var faultsWG sync.WaitGroup
	var errs []error
	var errsMu sync.Mutex
	fail := func(err error) {
		errsMu.Lock()
		errs = append(errs, err)
		errsMu.Unlock()
	}
	for _, f := range faults {
		faultsWG.Add(1)
		time.AfterFunc(time.Until(loadStart.Add(f.at)), func() {
			defer faultsWG.Done()
			switch f.kind {
			case "burst":
				h := fc.kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Nodes: f.nodes, Err: f.err, Count: -1,
					When: func(kmsg.Request) bool { return cbRand.float() < f.prob }})
				stats.errorsMu.Lock()
				stats.errorFaults = append(stats.errorFaults, h)
				stats.errorsMu.Unlock()
				time.Sleep(f.dur)
				h.Remove()
				where := "every broker"
				if f.nodes != nil {
					where = fmt.Sprintf("broker %v", f.nodes)
				}
				logf("burst of %s on %.0f%% of produce partitions on %s for %v: %d requests", f.err.Message, 100*f.prob, where, f.dur.Round(time.Millisecond), h.Hits())
			case "shuffle":
				fc.kc.ShufflePartitionLeaders()
				stats.leaderMoves.Add(1)
			case "move":
				if err := fc.kc.MoveTopicPartition(f.tp, f.part, f.node); err == nil {
					stats.leaderMoves.Add(1)
				}
			case "outage":
				_, portStr, _ := net.SplitHostPort(fc.brokers[f.node])
				port, _ := strconv.Atoi(portStr)
				if err := fc.kc.RemoveNode(f.node); err != nil {
					fail(fmt.Errorf("RemoveNode %d: %w", f.node, err))
					return
				}
				dropped := fc.conns.dropBroker(port)
				stats.droppedConns.Add(int64(dropped))
				logf("broker %d down (%d connections dropped) for %v", f.node, dropped, f.dur.Round(time.Millisecond))
				time.Sleep(f.dur)
				if _, _, err := fc.kc.AddNode(f.node, port); err != nil {
					fail(fmt.Errorf("AddNode %d on %d: %w", f.node, port, err))
					return
				}
				stats.outages.Add(1)
				logf("broker %d back", f.node)
			}
		})
	}

	// Kills. A member is killed only once it is ready (never while it is
	// still starting); its replacement starts after the planned pause.
	var killsWG sync.WaitGroup
	killStep := func(k plannedKill, names []string) {
		var evs []*killEvent
		for i, name := range names {
			if i > 0 {
				time.Sleep(k.gap)
			}
			kind := "process"
			if name == "sink" || strings.HasPrefix(name, "web") {
				kind = strings.TrimRight(name, "12")
			}
			ev := &killEvent{what: name, kind: kind, at: time.Now()}
			fc.kill(name)
			stats.killsMu.Lock()
			stats.kills = append(stats.kills, ev)
			stats.killsMu.Unlock()
			evs = append(evs, ev)
		}
		logf("SIGKILL %v, restart in %v", names, k.pause.Round(time.Millisecond))
		time.Sleep(k.pause)
		for i, name := range names {
			killsWG.Add(1)
			go func() {
				defer killsWG.Done()
				command := map[string]string{"sink": "sink", "web1": "web", "web2": "web"}[name]
				if command == "" {
					command = "process"
				}
				// A member that exits while starting (Kafka unreachable at
				// start) is started again, as an orchestrator would.
				for attempt := 1; ; attempt++ {
					_, err := fc.launch(name, command)
					if err == nil {
						break
					}
					if !errors.Is(err, errExited) || attempt == 5 {
						fail(err)
						return
					}
					stats.startExits.Add(1)
					logf("suspicious: %v", err)
					time.Sleep(time.Second)
				}
				stats.killsMu.Lock()
				evs[i].readyAt = time.Now()
				stats.killsMu.Unlock()
				logf("%s ready %v after its SIGKILL", name, time.Since(evs[i].at).Round(10*time.Millisecond))
			}()
		}
	}
	faultsEnd := loadStart.Add(faultsUntil)
	// untilEnd polls cond until it holds (true) or the faults' end (false).
	untilEnd := func(cond func() bool) bool {
		for time.Now().Before(faultsEnd) {
			if cond() {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	killsWG.Add(1)
	go func() { // processor kills, one step after another
		defer killsWG.Done()
		time.Sleep(time.Until(loadStart.Add(faultsFrom)))
		for _, k := range procKills {
			var names []string
			ok := untilEnd(func() bool {
				if owned, _ := fc.processorsOwned(); !owned {
					return false
				}
				names = names[:0]
				for _, n := range k.targets {
					if fc.isReady(n) && len(names) < k.count {
						names = append(names, n)
					}
				}
				return len(names) == k.count
			})
			if !ok {
				return
			}
			time.Sleep(k.after)
			if time.Now().After(faultsEnd) {
				return
			}
			killStep(k, names)
		}
	}()
	for _, k := range otherKills {
		killsWG.Add(1)
		go func() {
			defer killsWG.Done()
			time.Sleep(time.Until(loadStart.Add(k.at)))
			if untilEnd(func() bool { return fc.isReady(k.targets[0]) }) {
				killStep(k, k.targets)
			}
		}()
	}
	killsWG.Wait()
	faultsWG.Wait()

	// Stop every fault, then let the pipeline catch up.
	delaying.Store(false)
	stats.errorsMu.Lock()
	for _, h := range stats.errorFaults {
		h.Remove()
	}
	stats.errorsMu.Unlock()
	faultsStopped := time.Now()
	logf("faults stopped")
	errsMu.Lock()
	for _, err := range errs {
		t.Error(err)
	}
	errsMu.Unlock()

	// Caught up, measured from the load's end while loadRun waits for the
	// counts: every partition owned by a live member and every committed
	// offset at its high watermark, for 3 s in a row (the window closer emits
	// every second).
	type catchUp struct {
		after                time.Duration // load end → caught up; 0: never
		owned                bool
		ownDetail, lagDetail string
		lagTotal             int64
	}
	caught := make(chan catchUp, 1)
	go func() {
		loadEnd := loadStart.Add(faultLoadFor)
		time.Sleep(time.Until(loadEnd))
		var c catchUp
		var steadySince time.Time
		for deadline := time.Now().Add(faultVerifyFor + 15*time.Second); ; {
			c.owned, c.ownDetail = fc.ownership()
			c.lagTotal, c.lagDetail = fc.lag()
			switch {
			case !c.owned || c.lagTotal != 0:
				steadySince, c.after = time.Time{}, 0
			case steadySince.IsZero():
				steadySince, c.after = time.Now(), time.Since(loadEnd)
			case time.Since(steadySince) > 3*time.Second:
				caught <- c
				return
			}
			if time.Now().After(deadline) {
				c.after = 0
				caught <- c
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()

	out := <-loadDone
	if out.err != nil {
		t.Fatal(out.err)
	}
	res := out.res
	countsMatched := "never"
	if res.CountedOK {
		countsMatched = max(0, out.at.Sub(faultsStopped)).Round(100 * time.Millisecond).String()
	}
	logf("load done: %d acknowledged, loadRun counted %v (want %v)", res.AckTotal, res.Counted, res.Acknowledged)
	cu := <-caught
	caughtUp, owned, ownDetail, lagDetail, lagTotal := cu.after, cu.owned, cu.ownDetail, cu.lagDetail, cu.lagTotal

	// The report from SQL alone: every window ended more than the late
	// horizon ago.
	capMu.Lock()
	votes := slices.Clone(acked)
	capMu.Unlock()
	var newest time.Time
	for _, v := range votes {
		newest = maxTime(newest, v.AcceptedAt)
		newest = maxTime(newest, v.seen)
	}
	if wait := time.Until(newest.Add(faultWindow + faultGrace + faultHorizon + 3*time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	rep := getReport(t, fc.webURLs()[0], "demo", faultToken)
	time.Sleep(time.Second)
	if again := getReport(t, fc.webURLs()[1], "demo", faultToken); !sameCounts(rep, again) {
		t.Errorf("the report still moves after the pipeline caught up: %+v then %+v", rep.Participants, again.Participants)
		rep = again
	}

	// Acknowledged votes per participant and per hour (the receipt's hour).
	// A reconciled vote has no receipt: its acceptance lies between its
	// first attempt (at most RetryFor before it was seen) and when it was
	// seen; if those straddle an hour it may count in either.
	ackBy := map[string]int64{}
	ackHour := map[time.Time]map[string]int64{}
	ambiguous := map[time.Time]map[string]int64{}
	reconciled := 0
	add := func(m map[time.Time]map[string]int64, h time.Time, p string) {
		if m[h] == nil {
			m[h] = map[string]int64{}
		}
		m[h][p]++
	}
	for _, v := range votes {
		ackBy[v.Participant]++
		if !v.AcceptedAt.IsZero() {
			add(ackHour, v.AcceptedAt.UTC().Truncate(time.Hour), v.Participant)
			continue
		}
		reconciled++
		lo, hi := v.seen.Add(-faultRetryFor-5*time.Second).UTC().Truncate(time.Hour), v.seen.UTC().Truncate(time.Hour)
		if lo.Equal(hi) {
			add(ackHour, hi, v.Participant)
		} else {
			add(ambiguous, lo, v.Participant)
			add(ambiguous, hi, v.Participant)
		}
	}
	countBy := map[string]int64{}
	for _, x := range rep.Participants {
		countBy[x.ID] = x.Votes
	}
	countHour := map[time.Time]map[string]int64{}
	for _, h := range rep.Hourly {
		for _, x := range h.Participants {
			if x.Votes != 0 {
				if countHour[h.Hour.UTC()] == nil {
					countHour[h.Hour.UTC()] = map[string]int64{}
				}
				countHour[h.Hour.UTC()][x.ID] = x.Votes
			}
		}
	}
	participants := []string{}
	for p := range ackBy {
		participants = append(participants, p)
	}
	for p := range countBy {
		if !slices.Contains(participants, p) {
			participants = append(participants, p)
		}
	}
	slices.Sort(participants)
	lost := map[string]int64{}
	var lostTotal, countedTotal int64
	for _, p := range participants {
		lost[p] = ackBy[p] - countBy[p]
		lostTotal += lost[p]
		countedTotal += countBy[p]
	}
	var hourErrs []string
	hours := map[time.Time]bool{}
	for h := range ackHour {
		hours[h] = true
	}
	for h := range countHour {
		hours[h] = true
	}
	for h := range ambiguous {
		hours[h] = true
	}
	for h := range hours {
		for _, p := range participants {
			lo, hi := ackHour[h][p], ackHour[h][p]+ambiguous[h][p]
			if c := countHour[h][p]; c < lo || c > hi {
				hourErrs = append(hourErrs, fmt.Sprintf("%s %s: counted %d, acknowledged %d (+%d reconciled that may fall in this hour)", h.Format(time.RFC3339), p, c, lo, hi-lo))
			}
		}
	}
	slices.Sort(hourErrs)

	// Where the acknowledged votes are in the log: in votes (the web tier
	// wrote them), with a ballot (guard let them through); the rest of the
	// count is tally's and the sink's.
	ids := map[string]bool{}
	for _, v := range votes {
		if v.VoteID != "" {
			ids[v.VoteID] = true
		}
	}
	tr, err := fc.trail(ids)
	if err != nil {
		t.Errorf("reading the log: %v", err)
	}

	// The summary.
	stats.killsMu.Lock()
	var recov []string
	kinds := map[string]int{}
	for _, k := range stats.kills {
		kinds[k.kind]++
		ready := "never"
		if !k.readyAt.IsZero() {
			ready = k.readyAt.Sub(k.at).Round(100 * time.Millisecond).String()
		}
		if k.kind == "web" {
			recov = append(recov, fmt.Sprintf("%s ready %s", k.what, ready))
			continue
		}
		recov = append(recov, fmt.Sprintf("%s owned %s/ready %s/rejoined %s", k.what, durOrNever(k.owned), ready, durOrNever(k.rejoined)))
	}
	stats.killsMu.Unlock()
	unavailable := res.Statuses[http.StatusServiceUnavailable] + res.Statuses[0]
	t.Logf("SUMMARY seed %d: acknowledged %d %v, counted %d %v, lost %d %v, in doubt %d, reconciled %d, 503/no answer %d (every attempt's status: %v, errors %q); "+
		"in the log: %s; "+
		"faults: %d of %d produce requests answered late (node %d), %d produce errored after append, %d leader moves, %d broker outages (%d connections dropped), "+
		"kills: %d process, %d sink, %d web (%d restarts exited while starting); recovery (kill → every partition live-owned / replacement ready / → owned with it): %v; "+
		"faults stopped → counts matched %s; load end → caught up (every partition live-owned, committed to its end) %s; wall %v",
		seed, res.AckTotal, ackBy, countedTotal, countBy, lostTotal, lost, res.InDoubt, reconciled, unavailable, res.Statuses, res.Errors, tr,
		stats.delayed.Load(), stats.produced.Load(), slow, stats.errored(), stats.leaderMoves.Load(), stats.outages.Load(), stats.droppedConns.Load(),
		kinds["process"], kinds["sink"], kinds["web"], stats.startExits.Load(), recov,
		countsMatched, durOrNever(caughtUp), time.Since(began).Round(time.Second))

	// The verdicts.
	if res.AckTotal < 2000 {
		t.Errorf("only %d votes acknowledged: the load did not run", res.AckTotal)
	}
	if int64(len(votes)) != res.AckTotal {
		t.Errorf("captured %d acknowledged votes, loadRun counted %d", len(votes), res.AckTotal)
	}
	if res.InDoubt != 0 {
		t.Errorf("%d votes stayed in doubt", res.InDoubt)
	}
	if tr.noVote > 0 {
		t.Errorf("%d acknowledged votes are not in the votes topic", tr.noVote)
	}
	for _, p := range participants {
		if countBy[p] != ackBy[p] {
			t.Errorf("%s: acknowledged %d, counted %d (lost %d)", p, ackBy[p], countBy[p], lost[p])
		}
	}
	for _, e := range hourErrs {
		t.Errorf("hour %s", e)
	}
	if !owned {
		t.Errorf("partitions left without a live consumer after the faults: %s", ownDetail)
	}
	if lagTotal != 0 {
		t.Errorf("committed offsets short of the high watermarks by %d after the faults: %s", lagTotal, lagDetail)
		fc.dumpGoroutines(t)
	}
	if wall := time.Since(began); wall > 3*time.Minute {
		t.Logf("warning: the scenario took %v (budget ~2.5 min)", wall.Round(time.Second))
	}
}

// logTrail is where acknowledged votes are in the topics: the stage that
// lost a vote is the first one it is missing from.
type logTrail struct {
	acked, inVotes, withBallot int
	noBallot                   []string // acknowledged votes in votes without a ballot (first few): position, and what guard's table says
	noVote                     int      // acknowledged votes absent from votes
	ballots                    int      // distinct votes with a ballot (acknowledged or not)
	unacked                    int      // of which not acknowledged with a receipt
	unackedAt                  []string // where those are in votes (first few)
	tallied                    int64    // the sum of tally-table totals
	shortKeys                  []string // tally keys whose total is below their distinct ballots
	windowed                   int64    // what windows carries: the greatest count per (key, window) plus the distinct late records
	unsent                     []string // windows in tally's state counted beyond what windows carries (first few)
}

func (tr logTrail) String() string {
	return fmt.Sprintf("%d of %d acknowledged votes with a receipt are in votes, %d have a ballot (missing a ballot: %v); "+
		"%d distinct ballots (%d without a receipt: %v), tally-table totals add to %d (keys short of their ballots: %v); "+
		"windows carries %d (windows of tally's state beyond it: %v)",
		tr.inVotes, tr.acked, tr.withBallot, tr.noBallot, tr.ballots, tr.unacked, tr.unackedAt, tr.tallied, tr.shortKeys, tr.windowed, tr.unsent)
}

// trail reads votes and ballots from their start to their high watermarks
// and finds the acknowledged votes (by receipt vote id) in them.
func (fc *faultCluster) trail(ids map[string]bool) (logTrail, error) {
	tr := logTrail{acked: len(ids)}
	topics := []string{string(pipeline.VotesStream), string(pipeline.BallotsStream), string(pipeline.GuardTable), string(pipeline.TallyTable), string(pipeline.WindowsStream)}
	end := map[string]map[int32]int64{}
	for _, tp := range topics {
		end[tp] = map[int32]int64{}
		for _, pi := range fc.kc.PartitionInfos(tp) {
			if pi.HighWatermark > 0 {
				end[tp][pi.Partition] = pi.HighWatermark
			}
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(fc.brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return tr, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type position struct {
		voter     string
		partition int32
		offset    int64
	}
	where := map[string]position{}            // vote id → where in votes
	copies := map[string][]position{}         // vote id → every copy in votes (a client retry writes it again)
	ballots := map[string]bool{}              // vote positions "partition/offset" with a ballot
	byKey := map[string]map[string]bool{}     // ballot key → vote positions
	guardState := map[string][]byte{}         // voter → latest guard-table value
	tallyState := map[string][]byte{}         // ballot key → latest tally-table value
	windowMax := map[string]map[int64]int64{} // tally key/participant → window start (unix s) → greatest count in windows
	late := map[string]bool{}                 // late records' ids
	remaining := 0
	for _, tp := range topics {
		remaining += len(end[tp])
	}
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return tr, fmt.Errorf("%d partitions not read to their end: %w", remaining, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch r.Topic {
			case topics[0]:
				if v, err := (pipeline.VoteCodec{}).Decode(r.Value); err == nil {
					id, pos := v.(*pipeline.Vote).ID, position{string(r.Key), r.Partition, r.Offset}
					if _, seen := where[id]; !seen {
						where[id] = pos
					}
					copies[id] = append(copies[id], pos)
				}
			case topics[1]:
				if b, err := (pipeline.BallotBatchCodec{}).Decode(r.Value); err == nil {
					batch := b.(*pipeline.BallotBatch)
					for _, bl := range batch.Ballots {
						at := fmt.Sprintf("%d/%d", batch.SourcePartition, bl.Offset)
						ballots[at] = true
						if byKey[string(r.Key)] == nil {
							byKey[string(r.Key)] = map[string]bool{}
						}
						byKey[string(r.Key)][at] = true
					}
				}
			case topics[2]:
				guardState[string(r.Key)] = r.Value
			case topics[3]:
				tallyState[string(r.Key)] = r.Value
			case topics[4]:
				if v, err := (pipeline.WindowRecordCodec{}).Decode(r.Value); err == nil {
					w := v.(*pipeline.WindowRecord)
					if w.Late() {
						late[string(r.Key)+"@"+w.LateID] = true
						break
					}
					if windowMax[string(r.Key)+"/"+w.ParticipantID] == nil {
						windowMax[string(r.Key)+"/"+w.ParticipantID] = map[int64]int64{}
					}
					start := w.WindowStart.Unix()
					kp := string(r.Key) + "/" + w.ParticipantID
					windowMax[kp][start] = max(windowMax[kp][start], w.Count)
				}
			}
			if hw, ok := end[r.Topic][r.Partition]; ok && r.Offset+1 >= hw {
				delete(end[r.Topic], r.Partition)
				remaining--
			}
		})
	}
	hasBallot := func(id string) bool {
		for _, pos := range copies[id] {
			if ballots[fmt.Sprintf("%d/%d", pos.partition, pos.offset)] {
				return true
			}
		}
		return false
	}
	for id := range ids {
		pos, ok := where[id]
		switch {
		case !ok:
			tr.noVote++
		case hasBallot(id):
			tr.inVotes++
			tr.withBallot++
		default:
			tr.inVotes++
			if len(tr.noBallot) >= 10 {
				continue
			}
			// Did guard decide it? Its table holds the voter's last
			// offset decided and an entry per vote let through.
			state := "no guard state for its voter"
			if b, ok := guardState[pos.voter]; ok {
				if v, err := (pipeline.GuardStateCodec{}).Decode(b); err == nil {
					g := v.(*pipeline.GuardState)
					entry := slices.ContainsFunc(g.Entries, func(e pipeline.GuardEntry) bool { return e.Offset == pos.offset })
					state = fmt.Sprintf("guard-table: voter's last decided offset %d, entry for this vote %v", g.LastOffset, entry)
				}
			}
			tr.noBallot = append(tr.noBallot, fmt.Sprintf("votes/%d/%d (%s)", pos.partition, pos.offset, state))
		}
	}
	slices.Sort(tr.noBallot)
	tr.ballots = len(ballots)
	acked := map[string]bool{}
	for id := range ids {
		for _, pos := range copies[id] {
			acked[fmt.Sprintf("%d/%d", pos.partition, pos.offset)] = true
		}
	}
	for at := range ballots {
		if !acked[at] {
			tr.unacked++
			if len(tr.unackedAt) < 10 {
				tr.unackedAt = append(tr.unackedAt, "votes/"+at)
			}
		}
	}
	slices.Sort(tr.unackedAt)
	for _, ws := range windowMax {
		for _, n := range ws {
			tr.windowed += n
		}
	}
	tr.windowed += int64(len(late))
	for key, votes := range byKey {
		var total int64
		if b, ok := tallyState[key]; ok {
			if v, err := (pipeline.TallyStateCodec{}).Decode(b); err == nil {
				st := v.(*pipeline.TallyState)
				for _, c := range st.Counts {
					total += c.Total
					for _, w := range c.Windows {
						if m := windowMax[key+"/"+c.ParticipantID][w.Start]; w.Count > m && len(tr.unsent) < 10 {
							tr.unsent = append(tr.unsent, fmt.Sprintf("%s/%s@%s count %d, in windows %d",
								key, c.ParticipantID, time.Unix(w.Start, 0).UTC().Format("15:04:05"), w.Count, m))
						}
					}
				}
			}
		}
		tr.tallied += total
		if total < int64(len(votes)) {
			tr.shortKeys = append(tr.shortKeys, fmt.Sprintf("%s %d of %d", key, total, len(votes)))
		}
	}
	slices.Sort(tr.shortKeys)
	return tr, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func durOrNever(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.Round(100 * time.Millisecond).String()
}

func sameCounts(a, b report) bool {
	x, _ := json.Marshal(a.Hourly)
	y, _ := json.Marshal(b.Hourly)
	return a.Total == b.Total && string(x) == string(y)
}
