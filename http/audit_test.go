package http

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/pipeline"
)

// The background recount reads the production API through the server
// itself, with a context taken from the request that started it: chi's
// routing state in that context must not route the new request.
func TestHandlerTransportRoutesAfresh(t *testing.T) {
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "tok", PowMaxNumber: 10}, Deps{Catalog: emptyCatalog{true}})
	if err != nil {
		t.Fatal(err)
	}
	served := chi.NewRouteContext()
	served.RoutePath = "/api/v1/production/paredoes/x/recount"
	for name, ctx := range map[string]context.Context{
		"background":         context.Background(),
		"a served request's": context.WithoutCancel(context.WithValue(context.Background(), chi.RouteCtxKey, served)),
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://paredao.internal/api/v1/paredoes/nope", nil)
		resp, err := (&http.Client{Transport: handlerTransport{s}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "no such paredão") {
			t.Errorf("%s context: %d %s", name, resp.StatusCode, b)
		}
	}
}

// A paredão is refused at creation when the votes topic would delete its
// first votes before PAREDAO_AUDIT_DAYS after it closes.
func TestAuditableSpan(t *testing.T) {
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	c := AuditConfig{Keep: 30 * day, Retention: 37 * day}
	tests := []struct {
		name          string
		opens, closes time.Time
		retention     time.Duration
		wantTooLong   bool
	}{
		{"a week from now", now, now.Add(7*day - time.Hour), c.Retention, false},
		{"eight days", now, now.Add(8 * day), c.Retention, true},
		{"opened long ago, closes in a week", now.Add(-60 * day), now.Add(7*day - time.Hour), c.Retention, false},
		{"opens later for a week", now.Add(10 * day), now.Add(17*day - time.Hour), c.Retention, false},
		{"already closed", now.Add(-60 * day), now.Add(-day), c.Retention, false},
		{"a year, kept forever", now, now.Add(365 * day), 0, false},
	}
	for _, tc := range tests {
		cfg := c
		cfg.Retention = tc.retention
		err := cfg.auditableSpan(&pipeline.Paredao{ID: "p", OpensAt: tc.opens, ClosesAt: tc.closes}, now)
		var e *Error
		if tooLong := errors.As(err, &e) && e.Code == "paredao_too_long"; tooLong != tc.wantTooLong {
			t.Errorf("%s: %v, want too long %v", tc.name, err, tc.wantTooLong)
		}
	}
}
