package stream

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// Commits keeps the committed offsets of one consumer group in order.
//
// goka marks a message as consumed as soon as its own emits and table writes
// are acknowledged (goka v1.1.16 processor.go createMessageCommitter →
// session.MarkOffset(offset+1)), and sarama keeps the highest offset marked
// (offset_manager.go partitionOffsetManager.MarkOffset). When message N+1 is
// acknowledged before N (its writes went to a faster broker), the commit
// would pass N while N is still in flight, and a crash would skip N for good.
//
// A consumer group wrapped by Group records the offsets it hands to the
// handler, in order, per partition, and passes a mark on to sarama only over
// the contiguous run of messages that are all complete: the committed offset
// never passes a message whose work is unacknowledged.
//
// Acked tells, for a partition this process consumes, the offset below which
// every message is complete; processors use it to forget what only a message
// below it could need again (see processors.GuardConfig.Acked).
type Commits struct {
	mu    sync.Mutex
	parts map[topicPartition]*partitionMarks
}

type topicPartition struct {
	topic     string
	partition int32
}

// NewCommits returns the ordered commits of one consumer group of a process.
func NewCommits() *Commits {
	return &Commits{parts: map[topicPartition]*partitionMarks{}}
}

// Acked returns the offset of topic/partition below which every message this
// process was handed is complete (its emits and table writes acknowledged),
// or -1 when this process does not consume the partition now.
func (c *Commits) Acked(topic string, partition int32) int64 {
	c.mu.Lock()
	p := c.parts[topicPartition{topic, partition}]
	c.mu.Unlock()
	if p == nil {
		return -1
	}
	return p.acked.Load()
}

// Group wraps a consumer group so that its sessions commit in order.
func (c *Commits) Group(g sarama.ConsumerGroup) sarama.ConsumerGroup {
	return &orderedGroup{ConsumerGroup: g, commits: c}
}

func (c *Commits) register(tp topicPartition, p *partitionMarks) {
	c.mu.Lock()
	c.parts[tp] = p
	c.mu.Unlock()
}

func (c *Commits) unregister(tp topicPartition, p *partitionMarks) {
	c.mu.Lock()
	if c.parts[tp] == p {
		delete(c.parts, tp)
	}
	c.mu.Unlock()
}

type orderedGroup struct {
	sarama.ConsumerGroup
	commits *Commits
}

// rejoinPause is how long a member waits after a session ended cleanly (a
// rebalance) before it joins the next.
const rejoinPause = 100 * time.Millisecond

// Consume runs sessions of the group with handler wrapped, one after the
// other, until ctx ends or a session fails. goka's rebalance loop waits 5 s
// after every session before it joins the next (goka v1.1.16 processor.go
// rebalanceLoop), and the other members wait for it: joining again at once
// here keeps a rebalance after a member died from costing every group that
// long.
func (g *orderedGroup) Consume(ctx context.Context, topics []string, handler sarama.ConsumerGroupHandler) error {
	for {
		if err := g.ConsumerGroup.Consume(ctx, topics, &orderedHandler{inner: handler, commits: g.commits}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(rejoinPause):
		}
	}
}

// orderedHandler wraps the handler (goka's processor) of one session: sarama
// builds a new one per Consume call, and a Consume call is one session.
type orderedHandler struct {
	inner   sarama.ConsumerGroupHandler
	commits *Commits
	session atomic.Pointer[orderedSession]
}

func (h *orderedHandler) wrap(s sarama.ConsumerGroupSession) *orderedSession {
	if sess := h.session.Load(); sess != nil && sess.ConsumerGroupSession == s {
		return sess
	}
	sess := &orderedSession{ConsumerGroupSession: s, parts: map[topicPartition]*partitionMarks{}}
	h.session.Store(sess)
	return sess
}

func (h *orderedHandler) Setup(s sarama.ConsumerGroupSession) error {
	return h.inner.Setup(h.wrap(s))
}

func (h *orderedHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	return h.inner.Cleanup(h.wrap(s))
}

// ConsumeClaim hands the claim's messages to the inner handler through a
// channel of its own, recording each offset as delivered before the handler
// can see it.
func (h *orderedHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	sess := h.wrap(s)
	tp := topicPartition{claim.Topic(), claim.Partition()}
	p := newPartitionMarks(claim.InitialOffset())
	sess.mu.Lock()
	sess.parts[tp] = p
	sess.mu.Unlock()
	h.commits.register(tp, p)
	defer h.commits.unregister(tp, p)

	out := make(chan *sarama.ConsumerMessage)
	stop := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		defer close(out)
		in := claim.Messages()
		for {
			select {
			case m, ok := <-in:
				if !ok {
					return
				}
				p.deliver(m.Offset)
				select {
				case out <- m:
				case <-stop:
					return
				}
			case <-stop:
				return
			}
		}
	}()
	err := h.inner.ConsumeClaim(sess, &orderedClaim{ConsumerGroupClaim: claim, messages: out})
	close(stop)
	<-forwarded
	return err
}

// orderedClaim is a claim whose messages come through the ordered handler.
type orderedClaim struct {
	sarama.ConsumerGroupClaim
	messages chan *sarama.ConsumerMessage
}

func (c *orderedClaim) Messages() <-chan *sarama.ConsumerMessage { return c.messages }

// orderedSession passes marks on to sarama in order.
type orderedSession struct {
	sarama.ConsumerGroupSession
	mu    sync.Mutex
	parts map[topicPartition]*partitionMarks
}

// MarkOffset records the message at offset-1 as complete and marks, in
// sarama, the end of the contiguous run of complete messages.
func (s *orderedSession) MarkOffset(topic string, partition int32, offset int64, metadata string) {
	s.mu.Lock()
	p := s.parts[topicPartition{topic, partition}]
	s.mu.Unlock()
	if p == nil {
		return // not a partition of this session: nothing of it may be committed
	}
	if next, advanced := p.complete(offset - 1); advanced {
		s.ConsumerGroupSession.MarkOffset(topic, partition, next, metadata)
	}
}

func (s *orderedSession) MarkMessage(msg *sarama.ConsumerMessage, metadata string) {
	s.MarkOffset(msg.Topic, msg.Partition, msg.Offset+1, metadata)
}

// partitionMarks is the delivered-but-not-yet-committable window of one
// partition: offsets in delivery order (increasing), each complete or not.
type partitionMarks struct {
	mu      sync.Mutex
	pending []pendingOffset
	acked   atomic.Int64 // next offset to commit: every delivered offset below it is complete
}

type pendingOffset struct {
	offset int64
	done   bool
}

func newPartitionMarks(initial int64) *partitionMarks {
	p := &partitionMarks{}
	p.acked.Store(initial)
	return p
}

// deliver records offset as handed to the handler.
func (p *partitionMarks) deliver(offset int64) {
	p.mu.Lock()
	if n := len(p.pending); n == 0 || p.pending[n-1].offset < offset {
		p.pending = append(p.pending, pendingOffset{offset: offset})
	}
	p.mu.Unlock()
}

// complete records the message at offset as complete. It returns the offset
// to commit and whether it advanced.
func (p *partitionMarks) complete(offset int64) (next int64, advanced bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, found := slices.BinarySearchFunc(p.pending, offset, func(e pendingOffset, t int64) int { return cmp.Compare(e.offset, t) })
	if !found {
		return p.acked.Load(), false // not delivered here, or already committable
	}
	p.pending[i].done = true
	n := 0
	for n < len(p.pending) && p.pending[n].done {
		n++
	}
	if n == 0 {
		return p.acked.Load(), false
	}
	next = p.pending[n-1].offset + 1
	p.pending = p.pending[n:]
	p.acked.Store(next)
	return next, true
}
