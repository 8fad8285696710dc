package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Task is one long-lived part of a process.
type Task struct {
	// Name names the task in logs, errors and paredao_task_restarts_total.
	Name string
	// Run runs the task until ctx ends; nil before that means it is done.
	Run func(ctx context.Context) error
	// Once: a failure is reported and the task is not run again (a goka
	// view closes itself when its Run returns; it reconnects by itself
	// while it runs). Other tasks are run again after a failure.
	Once bool
}

// permanentError ends the process: a configuration that cannot work (an
// address taken at start-up), never a resource that ran out.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: a task that returns it is not run again
// and RunLayers stops every layer.
func Permanent(err error) error { return permanentError{err} }

// taskRestarts counts the tasks run again after a failure.
var taskRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "paredao_task_restarts_total",
	Help: "Long-lived tasks run again after a failure (a resource that ran out, Kafka away), by task.",
}, []string{"task"})

// CountRestart is what counts a restart of the task named task in
// paredao_task_restarts_total (a stream.Supervisor's Restarted). Its series
// exists from this call on, at 0.
func CountRestart(task string) func() {
	return taskRestarts.WithLabelValues(task).Inc
}

// restartBackoff is the wait before a failed task runs again: 1 s doubling
// to 15 s, back to 1 s after a minute of running.
var (
	restartBackoffMin = time.Second
	restartBackoffMax = 15 * time.Second
)

// RunLayers runs tasks in layers and stops them in order: when ctx ends or a
// task fails permanently, layer 0 is stopped and waited for, then layer 1,
// and so on. Web servers go in the first layer, processors after them, the
// broker last: in-flight votes drain to Kafka before anything below them
// stops. A task that fails otherwise (a file, the disk, Kafka) is logged and
// run again with a backoff: a resource running out never ends the process.
func RunLayers(ctx context.Context, log *slog.Logger, layers ...[]Task) error {
	failed := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var errs []error
	type layer struct {
		cancel context.CancelFunc
		wg     sync.WaitGroup
	}
	ls := make([]*layer, len(layers))
	for i, tasks := range layers {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		l := &layer{cancel: cancel}
		ls[i] = l
		for _, t := range tasks {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				err := runTask(lctx, log, t)
				if err != nil {
					log.Error("task failed", "task", t.Name, "err", err)
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", t.Name, err))
					mu.Unlock()
					once.Do(func() { close(failed) })
				}
			}()
		}
	}
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case <-failed:
	}
	for _, l := range ls {
		l.cancel()
		l.wg.Wait()
	}
	return errors.Join(errs...)
}

// runTask runs t until it is done or ctx ends, again after each failure
// that is not permanent; it returns only a permanent failure.
func runTask(ctx context.Context, log *slog.Logger, t Task) error {
	backoff := restartBackoffMin
	for {
		started := time.Now()
		err := t.Run(ctx)
		switch {
		case ctx.Err() != nil, err == nil: // stopped, or done (the seed)
			return nil
		case errors.As(err, new(permanentError)):
			return err
		case t.Once:
			log.Error("task failed; not run again: this process reports it not ready", "task", t.Name, "err", err)
			return nil
		}
		if time.Since(started) > time.Minute {
			backoff = restartBackoffMin
		}
		taskRestarts.WithLabelValues(t.Name).Inc()
		log.Warn("task failed, running it again", "task", t.Name, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, restartBackoffMax)
	}
}
