package stream

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// fakeSession is the sarama session under the ordered one: it records the
// marks that reach sarama.
type fakeSession struct {
	mu    sync.Mutex
	marks []int64
}

func (s *fakeSession) Claims() map[string][]int32 { return map[string][]int32{"votes": {3}} }
func (s *fakeSession) MemberID() string           { return "m" }
func (s *fakeSession) GenerationID() int32        { return 1 }
func (s *fakeSession) MarkOffset(_ string, _ int32, offset int64, _ string) {
	s.mu.Lock()
	s.marks = append(s.marks, offset)
	s.mu.Unlock()
}
func (s *fakeSession) Commit()                                         {}
func (s *fakeSession) ResetOffset(string, int32, int64, string)        {}
func (s *fakeSession) MarkMessage(m *sarama.ConsumerMessage, _ string) { panic("not used") }
func (s *fakeSession) Context() context.Context                        { return context.Background() }

func (s *fakeSession) got() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.marks)
}

type fakeClaim struct {
	initial  int64
	messages chan *sarama.ConsumerMessage
}

func (c *fakeClaim) Topic() string                            { return "votes" }
func (c *fakeClaim) Partition() int32                         { return 3 }
func (c *fakeClaim) InitialOffset() int64                     { return c.initial }
func (c *fakeClaim) HighWaterMarkOffset() int64               { return 100 }
func (c *fakeClaim) Messages() <-chan *sarama.ConsumerMessage { return c.messages }

// recordingHandler is the inner handler (goka's processor in production): it
// keeps the session it was given and passes every message it reads on.
type recordingHandler struct {
	session  chan sarama.ConsumerGroupSession
	received chan *sarama.ConsumerMessage
}

func (h *recordingHandler) Setup(s sarama.ConsumerGroupSession) error { h.session <- s; return nil }
func (h *recordingHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *recordingHandler) ConsumeClaim(_ sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.received <- m
	}
	return nil
}

// The committed offset advances only over a contiguous run of complete
// messages, whatever order their work is acknowledged in: a message still in
// flight is never committed past.
func TestOrderedCommits(t *testing.T) {
	delivered := []int64{10, 11, 12, 14, 15, 16} // 13 is a gap in the log (compacted away)
	cases := []struct {
		name     string
		complete []int64 // message offsets, in the order their work is acknowledged
		marks    []int64 // what reaches sarama, in order
		acked    int64   // Commits.Acked at the end
	}{
		{"in order", []int64{10, 11, 12, 14, 15, 16}, []int64{11, 12, 13, 15, 16, 17}, 17},
		{"reversed", []int64{16, 15, 14, 12, 11, 10}, []int64{17}, 17},
		{"later first, earlier still in flight", []int64{11, 12, 14}, nil, 10},
		{"a hole fills", []int64{11, 12, 10, 15, 16}, []int64{13}, 13},
		{"across the log gap", []int64{14, 12, 10, 11}, []int64{11, 15}, 15},
		{"twice and unknown offsets change nothing", []int64{11, 11, 9, 13, 99, 10}, []int64{12}, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			commits := NewCommits()
			inner := &recordingHandler{session: make(chan sarama.ConsumerGroupSession, 1), received: make(chan *sarama.ConsumerMessage, len(delivered))}
			h := &orderedHandler{inner: inner, commits: commits}
			under := &fakeSession{}
			if err := h.Setup(under); err != nil {
				t.Fatal(err)
			}
			wrapped := <-inner.session
			claim := &fakeClaim{initial: 10, messages: make(chan *sarama.ConsumerMessage)}
			done := make(chan error, 1)
			go func() { done <- h.ConsumeClaim(under, claim) }()
			for _, off := range delivered {
				claim.messages <- &sarama.ConsumerMessage{Topic: "votes", Partition: 3, Offset: off}
			}
			for range delivered {
				select {
				case <-inner.received:
				case <-time.After(5 * time.Second):
					t.Fatal("messages not handed to the inner handler")
				}
			}
			if got := commits.Acked("votes", 3); got != 10 {
				t.Fatalf("Acked before any completion = %d, want the initial offset 10", got)
			}
			for _, off := range tc.complete {
				wrapped.MarkOffset("votes", 3, off+1, "") // goka marks offset+1
			}
			if got := under.got(); !slices.Equal(got, tc.marks) {
				t.Errorf("marks reaching sarama = %v, want %v", got, tc.marks)
			}
			if got := commits.Acked("votes", 3); got != tc.acked {
				t.Errorf("Acked = %d, want %d", got, tc.acked)
			}
			wrapped.MarkOffset("votes", 4, 50, "") // a partition of no claim
			if got := under.got(); !slices.Equal(got, tc.marks) {
				t.Errorf("a mark of another partition reached sarama: %v", got)
			}
			close(claim.messages)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := commits.Acked("votes", 3); got != -1 {
				t.Errorf("Acked after the claim ended = %d, want -1", got)
			}
		})
	}
}
