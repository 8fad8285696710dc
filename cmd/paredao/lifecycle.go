package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// task is one long-lived part of a process.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// runLayers runs tasks in layers and stops them in order: when ctx ends or
// any task fails, layer 0 is stopped and waited for, then layer 1, and so on.
// Web servers go in the first layer, processors after them, the broker last:
// in-flight votes drain to Kafka before anything below them stops.
func runLayers(ctx context.Context, log *slog.Logger, layers ...[]task) error {
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
				err := t.run(lctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					log.Error("task failed", "task", t.name, "err", err)
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
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
