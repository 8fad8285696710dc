package http

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func pagesServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(Config{Secret: []byte("pages-test-secret-0123456789abcdef"), ProductionToken: "token"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func getPage(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Every asset a page names carries its content hash, so it can be cached for
// good and a deploy still shows at once; the page itself is revalidated.
func TestPagesPinAssetsToContentHashes(t *testing.T) {
	s := pagesServer(t)
	site, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`"/static/([^"?]+)(\?v=([0-9a-f]+))?"`)
	for _, path := range []string{"/", "/production"} {
		rec := getPage(t, s, path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		h := rec.Header()
		if h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("%s headers: %v", path, h)
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s has no CSP: %v", path, h)
		}
		body := rec.Body.String()
		refs := ref.FindAllStringSubmatch(body, -1)
		if len(refs) < 4 {
			t.Fatalf("%s names %d assets", path, len(refs))
		}
		for _, m := range refs {
			if want := site.hashes[m[1]]; m[3] != want || want == "" {
				t.Errorf("%s: %s has hash %q, want %q", path, m[1], m[3], want)
			}
		}
		if strings.Contains(body, " style=") || strings.Contains(body, "<style") || regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) {
			t.Errorf("%s has inline style or script, which the CSP refuses", path)
		}
		if again := getPage(t, s, path, "If-None-Match", h.Get("ETag")); again.Code != http.StatusNotModified {
			t.Errorf("%s revalidation: %d", path, again.Code)
		}
	}
}

func TestStaticCaching(t *testing.T) {
	s := pagesServer(t)
	site, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	hash := site.hashes["style.css"]
	tests := []struct {
		target, cache string
		status        int
	}{
		{"/static/style.css?v=" + hash, "public, max-age=31536000, immutable", http.StatusOK},
		{"/static/style.css", "no-cache", http.StatusOK},
		{"/static/style.css?v=0000000000000000", "no-cache", http.StatusOK},
		{"/static/vendor/altcha.js?v=" + site.hashes["vendor/altcha.js"], "public, max-age=31536000, immutable", http.StatusOK},
		{"/static/nope.js", "no-store", http.StatusNotFound},
		{"/static/../pages.go", "", http.StatusNotFound},
		{"/static/vendor", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		rec := getPage(t, s, tt.target)
		if rec.Code != tt.status {
			t.Errorf("%s: %d, want %d", tt.target, rec.Code, tt.status)
			continue
		}
		if tt.status == http.StatusOK && rec.Header().Get("Cache-Control") != tt.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tt.target, rec.Header().Get("Cache-Control"), tt.cache)
		}
	}
	rec := getPage(t, s, "/static/style.css?v="+hash)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("style.css Content-Type %q", ct)
	}
	b, _ := io.ReadAll(rec.Body)
	if contentHash(b) != hash {
		t.Error("the hash is not the served content's")
	}
	if again := getPage(t, s, "/static/style.css", "If-None-Match", `"`+hash+`"`); again.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d", again.Code)
	}
	js := getPage(t, s, "/static/vendor/altcha.js")
	if ct := js.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("a module script must be served as JavaScript, got %q", ct)
	}
}

// A page that names a file that is not there is a broken build, caught at start.
func TestLoadSiteRefusesMissingAsset(t *testing.T) {
	files := fstest.MapFS{
		"web/index.html":      {Data: []byte(`<link href="/static/a.css"><script src="/static/gone.js"></script>`)},
		"web/static/a.css":    {Data: []byte("body{}")},
		"web/static/keep.txt": {Data: []byte("x")},
	}
	if _, err := loadSite(files); err == nil || !strings.Contains(err.Error(), "gone.js") {
		t.Fatalf("loadSite = %v, want an error naming gone.js", err)
	}
	delete(files, "web/index.html")
	files["web/index.html"] = &fstest.MapFile{Data: []byte(`<link href="/static/a.css">`)}
	site, err := loadSite(files)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(site.pages["index.html"].body), `<link href="/static/a.css?v=`+contentHash([]byte("body{}"))+`">`; got != want {
		t.Fatalf("rewritten page %s, want %s", got, want)
	}
}
