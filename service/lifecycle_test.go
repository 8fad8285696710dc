package service

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestRunLayersRunsFailedTasksAgain(t *testing.T) {
	restartBackoffMin, restartBackoffMax = time.Millisecond, 2*time.Millisecond
	t.Cleanup(func() { restartBackoffMin, restartBackoffMax = time.Second, 15*time.Second })
	log := slog.New(slog.DiscardHandler)

	t.Run("a resource error is retried until the task succeeds", func(t *testing.T) {
		var runs atomic.Int32
		flaky := Task{Name: "flaky", Run: func(ctx context.Context) error {
			if runs.Add(1) < 3 {
				return &syscallError{syscall.EMFILE}
			}
			<-ctx.Done()
			return nil
		}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- RunLayers(ctx, log, []Task{flaky}) }()
		for runs.Load() < 3 {
			time.Sleep(time.Millisecond)
		}
		select {
		case err := <-done:
			t.Fatalf("RunLayers ended on a resource error: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("RunLayers after ctx ended: %v", err)
		}
	})

	t.Run("a permanent error ends every layer", func(t *testing.T) {
		var stopped atomic.Bool
		other := Task{Name: "other", Run: func(ctx context.Context) error { <-ctx.Done(); stopped.Store(true); return nil }}
		bad := Task{Name: "bad", Run: func(context.Context) error { return Permanent(errors.New("address in use")) }}
		err := RunLayers(context.Background(), log, []Task{bad}, []Task{other})
		if err == nil || !stopped.Load() {
			t.Fatalf("err %v, other stopped %v", err, stopped.Load())
		}
	})

	t.Run("a once task that fails is not run again and ends nothing", func(t *testing.T) {
		var runs atomic.Int32
		view := Task{Name: "view", Once: true, Run: func(context.Context) error { runs.Add(1); return errors.New("view closed") }}
		seed := Task{Name: "seed", Run: func(context.Context) error { runs.Add(10); return nil }} // done
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := RunLayers(ctx, log, []Task{view, seed}); err != nil {
			t.Fatal(err)
		}
		if got := runs.Load(); got != 11 {
			t.Fatalf("runs = %d, want 11: the failed view and the finished seed once each", got)
		}
	})
}

type syscallError struct{ errno syscall.Errno }

func (e *syscallError) Error() string { return "open: " + e.errno.Error() }
func (e *syscallError) Unwrap() error { return e.errno }
