package stream

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReapSilentMembers gives a kfake cluster the session expiry Kafka has, for
// the case kfake misses: a member whose JoinGroup answer could not be
// delivered (its process died, or its connection dropped, while the group
// rebalanced) gets no session timer (kfake's addMemberAndRebalance stops
// its pending timer, and only a delivered reply arms the next one), so it
// stays in the Stable group with its partitions, heartbeating never, until
// some later rebalance; nobody consumes those partitions meanwhile. The
// reaper watches every member's group requests (an observing fault, which
// faults nothing) and sends LeaveGroup for a member of a Stable group silent
// for twice its session timeout, as Kafka's coordinator would expire it.
// Stop ends it.
func ReapSilentMembers(c *kfake.Cluster, log *slog.Logger) (stop func()) {
	r := &reaper{c: c, info: c.GroupInfo, log: log, groups: map[string]bool{}, last: map[memberKey]time.Time{}, session: map[memberKey]time.Duration{}}
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.OffsetCommit}, Count: -1, Observe: true,
		When: func(req kmsg.Request) bool { r.seen(req); return false }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.loop(ctx)
	}()
	return func() { cancel(); <-done }
}

type memberKey struct{ group, member string }

type reaper struct {
	c       *kfake.Cluster
	info    func(group string) *kfake.GroupInfo // c.GroupInfo
	log     *slog.Logger
	mu      sync.Mutex
	groups  map[string]bool             // the groups requests named
	last    map[memberKey]time.Time     // each member's last group request
	session map[memberKey]time.Duration // its session timeout, from its JoinGroup
}

// defaultSession is assumed for a member whose JoinGroup the reaper did not
// see (it joined before the reaper started).
const defaultSession = 10 * time.Second

// seen records a group request; it runs on kfake's cluster goroutine, so it
// only takes a lock.
func (r *reaper) seen(req kmsg.Request) {
	var k memberKey
	var session time.Duration
	switch q := req.(type) {
	case *kmsg.HeartbeatRequest:
		k = memberKey{q.Group, q.MemberID}
	case *kmsg.JoinGroupRequest:
		k, session = memberKey{q.Group, q.MemberID}, time.Duration(q.SessionTimeoutMillis)*time.Millisecond
	case *kmsg.SyncGroupRequest:
		k = memberKey{q.Group, q.MemberID}
	case *kmsg.OffsetCommitRequest:
		k = memberKey{q.Group, q.MemberID}
	}
	if k.group == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups[k.group] = true
	if k.member == "" {
		return
	}
	r.last[k] = time.Now()
	if session > 0 {
		r.session[k] = session
	}
}

func (r *reaper) loop(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var cl *kgo.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, k := range r.silent() {
			if cl == nil {
				var err error
				if cl, err = kgo.NewClient(kgo.SeedBrokers(r.c.ListenAddrs()...), kgo.ClientID("paredao-reaper")); err != nil {
					r.log.Warn("reaper: client", "err", err)
					cl = nil
					break
				}
			}
			r.leave(ctx, cl, k)
		}
	}
}

// silent lists the members of Stable groups silent past twice their
// session timeout.
func (r *reaper) silent() []memberKey {
	r.mu.Lock()
	groups := slices.Collect(maps.Keys(r.groups))
	r.mu.Unlock()
	var out []memberKey
	for _, g := range groups {
		gi := r.info(g)
		if gi == nil || gi.State != "Stable" {
			continue
		}
		r.mu.Lock()
		for _, m := range gi.Members {
			k := memberKey{g, m.MemberID}
			last, ok := r.last[k]
			if !ok {
				r.last[k] = time.Now() // first seen here: give it a full session
				continue
			}
			session := r.session[k]
			if session <= 0 {
				session = defaultSession
			}
			if time.Since(last) > 2*session {
				out = append(out, k)
			}
		}
		r.mu.Unlock()
	}
	return out
}

// leave sends LeaveGroup on behalf of a silent member.
func (r *reaper) leave(ctx context.Context, cl *kgo.Client, k memberKey) {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = k.group
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = k.member
	reason := "silent past its session timeout (paredao reaper)"
	m.Reason = &reason
	req.Members = append(req.Members, m)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		r.log.Warn("reaper: leave group", "group", k.group, "member", k.member, "err", err)
		return
	}
	r.log.Warn("reaper: member silent past its session timeout removed from its group", "group", k.group, "member", k.member)
	r.mu.Lock()
	delete(r.last, k)
	delete(r.session, k)
	r.mu.Unlock()
}
