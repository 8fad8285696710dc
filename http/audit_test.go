package http

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
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
		"background":        context.Background(),
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
