package stream

import (
	"context"
	"fmt"

	"github.com/lovoo/goka"
)

// Emit writes msg under key with e and waits for Kafka's acknowledgement,
// or for ctx to end.
func Emit(ctx context.Context, e *goka.Emitter, key string, msg any) error {
	p, err := e.Emit(key, msg)
	if err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	done := make(chan error, 1)
	p.Then(func(err error) { done <- err })
	select {
	case err := <-done:
		return err // sarama's errors say "kafka: …" already
	case <-ctx.Done():
		return ctx.Err()
	}
}
