package http

import (
	"log/slog"
	"sync"
	"time"
)

// logEvery writes a failure that repeats per request (a vote Kafka did not
// acknowledge) once every 5 s with how many there were, not once per
// request: an audience would flood the log, and the disk it is on.
type logEvery struct {
	mu     sync.Mutex
	last   time.Time
	missed int
}

// note counts one failure and, once every 5 s, logs msg with how many there
// were ("votes") and args.
func (l *logEvery) note(log *slog.Logger, msg string, args ...any) {
	l.mu.Lock()
	l.missed++
	if time.Since(l.last) < 5*time.Second {
		l.mu.Unlock()
		return
	}
	n := l.missed
	l.missed, l.last = 0, time.Now()
	l.mu.Unlock()
	log.Warn(msg, append([]any{"votes", n}, args...)...)
}
