package stream

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// CleanMarker is written in a processor's state dir when it stopped cleanly:
// its local state then matches its table topic. Without it the local state
// may hold writes the table topic never acknowledged (goka writes its local
// store before the topic acknowledges), so it is dropped and rebuilt from the
// topic, where only acknowledged writes exist.
const CleanMarker = "CLEAN"

// Runner is what a goka processor (or the sink) offers.
type Runner interface {
	Run(ctx context.Context) error
	Recovered() bool
}

// Supervisor runs one processor group, rebuilt and restarted after a
// failure (Kafka away, a session lost, a produce that failed) until its
// context ends: the process keeps running and resumes by itself when Kafka
// is back. Before every start, local state that was not closed cleanly is
// dropped and recovered from the group table.
type Supervisor struct {
	Name  string
	Dir   string // local state: Dir/tables; "" for a stateless group
	Build func() (Runner, error)
	Log   *slog.Logger
	// Restarted, if set, is called at each restart after a failure (a
	// metric).
	Restarted func()

	current atomic.Pointer[Runner]
}

// TablesDir is where the group's goka storage lives.
func (s *Supervisor) TablesDir() string { return filepath.Join(s.Dir, "tables") }

// Run runs the group until ctx ends, restarting it after failures with a
// backoff from 1 s to 15 s.
func (s *Supervisor) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		if s.Dir != "" {
			if err := s.prepareState(); err != nil {
				return err
			}
		}
		started := time.Now()
		r, err := s.Build()
		if err == nil {
			s.current.Store(&r)
			err = r.Run(ctx)
		} else {
			// goka builds need Kafka (topic metadata): a broker away at
			// start is a failure like any other, never the end of the process.
			err = fmt.Errorf("build %s: %w", s.Name, err)
		}
		if ctx.Err() != nil {
			if err != nil {
				s.Log.Info("processor stopped while failing or starting", "err", err)
				return nil // no marker: the state may not match the topic
			}
			if s.Dir != "" {
				stamp := []byte(time.Now().UTC().Format(time.RFC3339) + "\n")
				if werr := os.WriteFile(filepath.Join(s.Dir, CleanMarker), stamp, 0o600); werr != nil {
					return fmt.Errorf("write clean marker: %w", werr)
				}
			}
			s.Log.Info("processor stopped cleanly")
			return nil
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		s.Log.Warn("processor failed, restarting", "err", err, "in", backoff)
		if s.Restarted != nil {
			s.Restarted()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

// Recovered tells whether the current processor recovered its state and runs.
func (s *Supervisor) Recovered() bool {
	r := s.current.Load()
	return r != nil && (*r).Recovered()
}

// Current is the processor running now (nil before the first build).
func (s *Supervisor) Current() Runner {
	if r := s.current.Load(); r != nil {
		return *r
	}
	return nil
}

// prepareState drops local state that was not closed cleanly.
func (s *Supervisor) prepareState() error {
	marker := filepath.Join(s.Dir, CleanMarker)
	if _, err := os.Stat(marker); err == nil {
		if err := os.Remove(marker); err != nil {
			return fmt.Errorf("remove clean marker: %w", err)
		}
		return nil
	}
	if _, err := os.Stat(s.TablesDir()); err == nil {
		s.Log.Warn("local state was not closed cleanly: dropping it, recovering from the table topic", "dir", s.Dir)
		if err := os.RemoveAll(s.TablesDir()); err != nil {
			return fmt.Errorf("drop unclean state: %w", err)
		}
	}
	return os.MkdirAll(s.Dir, 0o750)
}
