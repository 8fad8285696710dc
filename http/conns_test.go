package http

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// limitedServer serves handler behind a ConnLimiter of max connections.
func limitedServer(t *testing.T, max int, handler http.Handler) (*ConnLimiter, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewConnLimiter(max, prometheus.NewRegistry(), nil)
	srv := &http.Server{Handler: handler, ConnState: l.ConnState, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l.Listener(ln)) }() // ErrServerClosed at the cleanup
	t.Cleanup(func() { _ = srv.Close() })
	return l, ln.Addr().String()
}

// get sends one keep-alive GET on c and reads its answer.
func get(t *testing.T, c net.Conn, r *bufio.Reader, path string) *http.Response {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return resp
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestConnLimiterClosesOldestIdleFirst(t *testing.T) {
	l, addr := limitedServer(t, 10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	// 9 keep-alive connections (90 % of 10), each idle after one request.
	conns := make([]net.Conn, 9)
	readers := make([]*bufio.Reader, 9)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }() // the server may have closed it already
		conns[i], readers[i] = c, bufio.NewReader(c)
		if resp := get(t, c, readers[i], "/"); resp.StatusCode != 200 {
			t.Fatalf("conn %d: %d", i, resp.StatusCode)
		}
		time.Sleep(2 * time.Millisecond) // an order of idleness
	}
	waitFor(t, "9 idle connections", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.idle.Len() == 9 })
	// The 10th connection closes the longest idle one, and only it.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }() // the server may have closed it already
	if resp := get(t, c, bufio.NewReader(c), "/"); resp.StatusCode != 200 {
		t.Fatalf("10th connection: %d", resp.StatusCode)
	}
	if err := conns[0].SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := readers[0].ReadByte(); err == nil {
		t.Fatal("the longest idle connection is still open")
	}
	for i := 1; i < len(conns); i++ {
		if resp := get(t, conns[i], readers[i], "/"); resp.StatusCode != 200 {
			t.Fatalf("conn %d after shedding: %d", i, resp.StatusCode)
		}
	}
	if got := connCounter(l.shed.WithLabelValues("idle")); got != 1 {
		t.Fatalf("shed idle = %v, want 1", got)
	}
	if got := l.Open(); got != 9 {
		t.Fatalf("open = %d, want 9 (9 kept, 1 new, 1 closed)", got)
	}
}

func TestConnLimiterRefusesWhenFullOfActive(t *testing.T) {
	release := make(chan struct{})
	l, addr := limitedServer(t, 4, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			select {
			case <-release:
			case <-r.Context().Done(): // its client went away
			}
		}
		_, _ = io.WriteString(w, "ok") // a held client may be gone
	}))
	defer close(release)
	var held []net.Conn
	for range 4 { // 4 active connections: nothing idle to close
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }() // the server may have closed it already
		if _, err := fmt.Fprintf(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	waitFor(t, "4 open connections", func() bool { return l.Open() == 4 })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }() // the server may have closed it already
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a refused connection reads its answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"code":"unavailable"`) {
		t.Fatalf("refusal: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if got := connCounter(l.shed.WithLabelValues("refused")); got != 1 {
		t.Fatalf("refused = %v, want 1", got)
	}
	if got := l.Open(); got != 4 {
		t.Fatalf("open = %d after a refusal, want 4", got)
	}
	// A held connection that ends gives its place back.
	if err := held[0].Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a place given back", func() bool { return l.Open() == 3 })
}

func TestStreamSlots(t *testing.T) {
	s := newStreamSlots(3, 2)
	r1, err := s.acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("a"); err == nil || err.Status != http.StatusServiceUnavailable || err.RetryAfter == 0 {
		t.Fatalf("third stream of one address: %v", err)
	}
	if _, err := s.acquire("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("c"); err == nil {
		t.Fatal("a fourth stream passed the total cap of 3")
	}
	r1()
	r1() // twice gives back once
	if _, err := s.acquire("c"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := s.acquire("d"); err == nil {
		t.Fatal("a double release gave two places back")
	}
	if got := connCounter(s.refused.WithLabelValues("address")); got != 1 {
		t.Fatalf("refused by address = %v, want 1", got)
	}
	if got := connCounter(s.refused.WithLabelValues("total")); got != 2 {
		t.Fatalf("refused by total = %v, want 2", got)
	}
}

func connCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
