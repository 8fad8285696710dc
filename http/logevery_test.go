package http

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogEveryWritesOneLinePerPeriod(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l logEvery
	err := errors.New("kafka: Failed to produce message")
	for range 100 {
		l.note(log, "votes not acknowledged by Kafka", "last_err", err)
	}
	if got := strings.Count(buf.String(), "\n"); got != 1 || !strings.Contains(buf.String(), "votes=1 ") {
		t.Fatalf("100 failures within 5 s wrote %d lines:\n%s", got, buf.String())
	}
	l.last = time.Now().Add(-6 * time.Second)
	l.note(log, "votes not acknowledged by Kafka", "last_err", err)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "votes=100 ") {
		t.Fatalf("the next period's line must count the 99 it held back and its own:\n%s", buf.String())
	}
}
