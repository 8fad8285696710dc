package stream

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The reaper picks, in Stable groups only, the members silent for twice
// their session timeout (10 s when it did not see their join); a member it
// meets for the first time gets a full session.
func TestReaperPicksSilentMembers(t *testing.T) {
	now := time.Now()
	groups := map[string]*kfake.GroupInfo{
		"stable": {Group: "stable", State: "Stable", Members: []kfake.GroupMember{
			{MemberID: "silent"}, {MemberID: "live"}, {MemberID: "short-session"}, {MemberID: "new"}}},
		"rebalancing": {Group: "rebalancing", State: "PreparingRebalance", Members: []kfake.GroupMember{{MemberID: "silent"}}},
	}
	r := &reaper{info: func(g string) *kfake.GroupInfo { return groups[g] },
		groups: map[string]bool{"stable": true, "rebalancing": true},
		last: map[memberKey]time.Time{
			{"stable", "silent"}: now.Add(-25 * time.Second), {"stable", "live"}: now.Add(-time.Second),
			{"stable", "short-session"}: now.Add(-7 * time.Second), {"rebalancing", "silent"}: now.Add(-time.Hour),
		},
		session: map[memberKey]time.Duration{{"stable", "short-session"}: 3 * time.Second}}
	got := r.silent()
	slices.SortFunc(got, func(a, b memberKey) int { return strings.Compare(a.member, b.member) })
	want := []memberKey{{"stable", "short-session"}, {"stable", "silent"}}
	if !slices.Equal(got, want) {
		t.Fatalf("silent members %v, want %v", got, want)
	}
	if _, ok := r.last[memberKey{"stable", "new"}]; !ok {
		t.Fatal("a member met for the first time is not followed")
	}
}

// The reaper's LeaveGroup removes the member from its group on kfake (the
// live client then joins again under a new id).
func TestReaperLeaveRemovesTheMember(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	member, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	go func() {
		for member.Context().Err() == nil {
			member.PollFetches(member.Context())
		}
	}()
	var id string
	waitUntil(t, "the member to join", func() bool {
		gi := kc.GroupInfo("g")
		if gi == nil || gi.State != "Stable" || len(gi.Members) != 1 {
			return false
		}
		id = gi.Members[0].MemberID
		return true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := &reaper{c: kc, info: kc.GroupInfo, log: slog.New(slog.DiscardHandler), groups: map[string]bool{},
		last: map[memberKey]time.Time{}, session: map[memberKey]time.Duration{}}
	r.leave(context.Background(), cl, memberKey{"g", id})
	waitUntil(t, "the member to be gone", func() bool {
		gi := kc.GroupInfo("g")
		return gi != nil && !slices.ContainsFunc(gi.Members, func(m kfake.GroupMember) bool { return m.MemberID == id })
	})
}
