package http

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io/fs"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/paredao/paredao/pipeline"
)

// The pages and their assets are embedded: the binary serves them itself.
// http/web/static/vendor/ holds the vendored widget and chart library
// (http/web/vendor.sh writes it from package-lock.json), so building needs no
// npm.
//
//go:embed web/*.html web/static
var webFS embed.FS

// site is the embedded web content, prepared once: every static file with
// its content hash, and every page with its asset URLs pinned to those
// hashes ("/static/app.js" becomes "/static/app.js?v=<hash>").
type site struct {
	static fs.FS
	hashes map[string]string // static file name → content hash
	pages  map[string]page   // page file name → rewritten HTML
}

type page struct {
	body []byte
	etag string
}

// assetRef finds the asset URLs in a page: a quoted "/static/<name>".
var assetRef = regexp.MustCompile(`"/static/([^"?#]+)"`)

// loadSite reads the embedded files. It fails only on a broken build: a page
// that names a static file that is not there.
func loadSite(files fs.FS) (*site, error) {
	static, err := fs.Sub(files, "web/static")
	if err != nil {
		return nil, err
	}
	s := &site{static: static, hashes: map[string]string{}, pages: map[string]page{}}
	err = fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		s.hashes[name] = contentHash(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "web/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		var missing []string
		b = assetRef.ReplaceAllFunc(b, func(ref []byte) []byte {
			file := string(assetRef.FindSubmatch(ref)[1])
			h, ok := s.hashes[file]
			if !ok {
				missing = append(missing, file)
				return ref
			}
			return []byte(`"/static/` + file + `?v=` + h + `"`)
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("page %s: no static file %s", name, strings.Join(missing, ", "))
		}
		s.pages[strings.TrimPrefix(name, "web/")] = page{body: b, etag: `"` + contentHash(b) + `"`}
	}
	return s, nil
}

// contentHash names a file's content: 16 hex digits of its SHA-256.
func contentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

var embedded = sync.OnceValues(func() (*site, error) { return loadSite(webFS) })

// page serves one embedded HTML page. Browsers revalidate it every time
// (no-cache, with an ETag), so a deploy shows at once; the assets it names
// carry their hashes and are cached for good.
func (s *Server) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		site, err := embedded()
		if err != nil {
			writeError(w, s.deps.Log, err)
			return
		}
		p, ok := site.pages[name]
		if !ok {
			writeError(w, s.deps.Log, fmt.Errorf("no embedded page %s", name))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", p.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(p.body))
	}
}

// static serves the embedded assets; fs.FS refuses paths with "..". A
// request whose ?v= is the file's content hash may be cached for a year
// (the URL changes with the content); any other is revalidated.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	site, err := embedded()
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	name := chi.URLParam(r, "*")
	hash, ok := site.hashes[name]
	if !fs.ValidPath(name) || !ok {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such file"))
		return
	}
	h := w.Header()
	if r.URL.Query().Get("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+hash+`"`)
	http.ServeFileFS(w, r, site.static, name)
}

// AvatarURL is the generated picture of a participant without a photo.
func AvatarURL(paredaoID, participantID string) string {
	return "/avatars/" + paredaoID + "/" + participantID + ".svg"
}

// avatar draws the initials of a participant without a photo on a colour
// of their own on the paredão.
func (s *Server) avatar(w http.ResponseWriter, r *http.Request) {
	p := s.deps.Catalog.Get(chi.URLParam(r, "paredao"))
	file := chi.URLParam(r, "file")
	id, ok := strings.CutSuffix(file, ".svg")
	if p == nil || !ok {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such avatar"))
		return
	}
	x, found := p.Participant(id)
	if !found {
		writeError(w, s.deps.Log, errorf(http.StatusNotFound, "not_found", "no such avatar"))
		return
	}
	hue := avatarHue(p, x.ID)
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120" role="img" aria-label="%s">`+
		`<rect width="120" height="120" rx="60" fill="hsl(%d,65%%,45%%)"/>`+
		`<text x="60" y="60" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="46" font-weight="700" fill="#fff">%s</text></svg>`,
		html.EscapeString(x.Name), hue, html.EscapeString(initials(x.Name)))
}

// avatarHue is the hue of a participant's avatar, from their place on the
// paredão: places a golden angle apart, so the hues of a paredão's
// participants (at most 20) are at least 10° apart, and neighbours far apart.
// A hash of the id could give two of them the same colour.
func avatarHue(p *pipeline.Paredao, id string) int {
	i := slices.IndexFunc(p.Participants, func(x pipeline.Participant) bool { return x.ID == id })
	return int(math.Mod(330+float64(max(i, 0))*137.508, 360))
}

func initials(name string) string {
	var out []rune
	for _, f := range strings.Fields(name) {
		r := []rune(f)[0]
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	return string(out)
}
