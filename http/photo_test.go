package http

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paredao/paredao/pipeline"
)

// testImage is a w×h picture: red on the left and right thirds of a wide
// one (top and bottom of a tall one), blue in the middle, so a centre crop
// of a 3:1 image is all blue.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 220, A: 255}
			if (w >= h && x >= w/3 && x < 2*w/3) || (h > w && y >= h/3 && y < 2*h/3) {
				c = color.NRGBA{B: 220, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngClaiming is a valid small PNG whose header announces w×h pixels: a
// decompression bomb as the header shows it.
func pngClaiming(t testing.TB, w, h uint32) []byte {
	data := encodePNG(t, testImage(64, 64))
	// signature (8), length (4), "IHDR" (4), width, height, …, CRC after 13 bytes of data.
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

// jpegClaiming is a valid small JPEG whose frame header announces w×h pixels.
func jpegClaiming(t testing.TB, w, h uint16) []byte {
	data := encodeJPEG(t, testImage(64, 64))
	i := bytes.Index(data, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	// marker (2), length (2), precision (1), height (2), width (2)
	binary.BigEndian.PutUint16(data[i+5:], h)
	binary.BigEndian.PutUint16(data[i+7:], w)
	return data
}

// withOrientation is data, a JPEG, with an Exif APP1 segment saying
// orientation o, in the byte order named ("II" or "MM").
func withOrientation(data []byte, order string, o uint16) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if order == "MM" {
		bo = binary.BigEndian
	}
	tiff := []byte(order)
	tiff = bo.AppendUint16(tiff, 42)
	tiff = bo.AppendUint32(tiff, 8)
	tiff = bo.AppendUint16(tiff, 2) // two entries: Make (ignored), then Orientation
	tiff = bo.AppendUint16(tiff, 0x010f)
	tiff = bo.AppendUint16(tiff, 2)
	tiff = bo.AppendUint32(tiff, 4)
	tiff = append(tiff, "abc\x00"...)
	tiff = bo.AppendUint16(tiff, 0x0112)
	tiff = bo.AppendUint16(tiff, 3)
	tiff = bo.AppendUint32(tiff, 1)
	tiff = bo.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	n := len(seg) + 2 // the length counts itself
	if n < 0 || n > math.MaxUint16 {
		panic(fmt.Sprintf("APP1 segment of %d bytes: too long for JPEG", len(seg)))
	}
	app1 := binary.BigEndian.AppendUint16([]byte{0xff, 0xe1}, uint16(n))
	out := append([]byte{0xff, 0xd8}, app1...)
	out = append(out, seg...)
	return append(out, data[2:]...)
}

// A JPEG turned by its Exif orientation comes out upright: a square red on
// top and blue below, stored with orientation 6 (turn 90° clockwise), is red
// on the right; with 3 (180°), red below.
func TestProcessPhotoOrientation(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := range 200 {
		for x := range 200 {
			c := color.NRGBA{R: 220, A: 255}
			if y >= 100 {
				c = color.NRGBA{B: 220, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	raw := encodeJPEG(t, img)
	red := func(c color.Color) bool { r, _, b, _ := c.RGBA(); return r>>8 > 150 && b>>8 < 80 }
	tests := []struct {
		name     string
		data     []byte
		redPoint image.Point // in the 512-pixel output
	}{
		{"none", raw, image.Pt(256, 50)},
		{"1", withOrientation(raw, "II", 1), image.Pt(256, 50)},
		{"6 little endian", withOrientation(raw, "II", 6), image.Pt(460, 256)},
		{"6 big endian", withOrientation(raw, "MM", 6), image.Pt(460, 256)},
		{"8", withOrientation(raw, "MM", 8), image.Pt(50, 256)},
		{"3", withOrientation(raw, "II", 3), image.Pt(256, 460)},
		{"out of range", withOrientation(raw, "II", 99), image.Pt(256, 50)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := processPhoto(tc.data, "image/jpeg")
			if err != nil {
				t.Fatal(err)
			}
			out, err := jpeg.Decode(bytes.NewReader(got.Sizes[photoLarge]))
			if err != nil {
				t.Fatal(err)
			}
			opposite := image.Pt(511-tc.redPoint.X, 511-tc.redPoint.Y)
			if !red(out.At(tc.redPoint.X, tc.redPoint.Y)) || red(out.At(opposite.X, opposite.Y)) {
				t.Fatalf("at %v: %v, at %v: %v", tc.redPoint, out.At(tc.redPoint.X, tc.redPoint.Y), opposite, out.At(opposite.X, opposite.Y))
			}
		})
	}
}

// Every upload the pipeline refuses gets the 4xx the contract names, and
// every one it takes comes out as two square JPEGs cropped at the centre.
func TestProcessPhoto(t *testing.T) {
	webp, err := os.ReadFile("testdata/photo.webp")
	if err != nil {
		t.Fatal(err)
	}
	wide := encodeJPEG(t, testImage(900, 300))
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, testImage(100, 100), nil); err != nil {
		t.Fatal(err)
	}
	transparent := image.NewNRGBA(image.Rect(0, 0, 100, 100)) // all transparent: white once flattened
	bomb := encodePNG(t, image.NewGray(image.Rect(0, 0, 5000, 5000)))
	tests := []struct {
		name        string
		data        []byte
		contentType string
		status      int
		code        string
	}{
		{"jpeg", wide, "image/jpeg", 0, ""},
		{"png", encodePNG(t, testImage(300, 900)), "image/png", 0, ""},
		{"png with parameters", encodePNG(t, testImage(200, 200)), "Image/PNG; charset=binary", 0, ""},
		{"transparent png", encodePNG(t, transparent), "image/png", 0, ""},
		{"webp", webp, "image/webp", 0, ""},
		{"no content type", wide, "", 415, "unsupported_media_type"},
		{"gif content type", gifBuf.Bytes(), "image/gif", 415, "unsupported_media_type"},
		{"svg content type", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "image/svg+xml", 415, "unsupported_media_type"},
		{"gif sent as png", gifBuf.Bytes(), "image/png", 415, "unsupported_media_type"},
		{"html sent as jpeg", []byte("<html><script>alert(1)</script></html>"), "image/jpeg", 415, "unsupported_media_type"},
		{"png sent as jpeg", encodePNG(t, testImage(100, 100)), "image/jpeg", 415, "unsupported_media_type"},
		{"empty", nil, "image/png", 415, "unsupported_media_type"},
		{"over 2 MiB", append(bytes.Clone(wide), make([]byte, 2<<20)...), "image/jpeg", 413, "body_too_large"},
		{"png header claims 100000×100000", pngClaiming(t, 100000, 100000), "image/png", 422, "image_too_large"},
		{"png header claims 2^31 wide", pngClaiming(t, 1<<31-1, 64), "image/png", 422, "image_too_large"},
		{"jpeg header claims 65535×65535", jpegClaiming(t, 65535, 65535), "image/jpeg", 422, "image_too_large"},
		{"decompression bomb: 25 megapixels in a small png", bomb, "image/png", 422, "image_too_large"},
		{"too small", encodePNG(t, testImage(20, 20)), "image/png", 422, "image_too_small"},
		{"truncated jpeg", wide[:len(wide)/2], "image/jpeg", 422, "invalid_image"},
		{"truncated png", encodePNG(t, testImage(300, 300))[:200], "image/png", 422, "invalid_image"},
		{"png header only", encodePNG(t, testImage(300, 300))[:33], "image/png", 422, "invalid_image"},
		{"truncated webp", webp[:len(webp)/2], "image/webp", 422, "invalid_image"},
		{"png header claims more than its data", pngClaiming(t, 4000, 4000), "image/png", 422, "invalid_image"},
	}
	if len(bomb) > 200<<10 {
		t.Fatalf("the bomb is %d bytes, not small", len(bomb))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := processPhoto(tc.data, tc.contentType)
			if tc.status != 0 {
				e, ok := err.(*Error)
				if !ok || e.Status != tc.status || e.Code != tc.code {
					t.Fatalf("err = %v, want %d %s", err, tc.status, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("processPhoto: %v", err)
			}
			if len(got.Hash) != 64 || PhotoURL(got.Hash) != "/photos/"+got.Hash+".jpg" {
				t.Fatalf("hash %q", got.Hash)
			}
			for _, edge := range []int{photoLarge, photoSmall} {
				img, err := jpeg.Decode(bytes.NewReader(got.Sizes[edge]))
				if err != nil {
					t.Fatalf("size %d: %v", edge, err)
				}
				if b := img.Bounds(); b.Dx() != edge || b.Dy() != edge {
					t.Fatalf("size %d is %v", edge, b)
				}
				if tc.name == "jpeg" || tc.name == "png" { // the red thirds are cropped away
					for _, pt := range []image.Point{{2, 2}, {edge / 2, edge / 2}, {edge - 3, edge - 3}} {
						if r, _, b, _ := img.At(pt.X, pt.Y).RGBA(); b>>8 < 150 || r>>8 > 80 {
							t.Fatalf("size %d at %v: %v, want blue", edge, pt, img.At(pt.X, pt.Y))
						}
					}
				}
			}
		})
	}
}

type photoKey struct {
	hash string
	size int
}

// memPhotos is a PhotoStore in memory.
type memPhotos struct {
	mu    sync.Mutex
	m     map[photoKey][]byte
	puts  int
	onPut func() // runs in PutPhoto, before it stores
}

func (s *memPhotos) PutPhoto(_ context.Context, hash string, sizes map[int][]byte) error {
	if s.onPut != nil {
		s.onPut()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[photoKey][]byte{}
	}
	s.puts++
	for size, data := range sizes {
		s.m[photoKey{hash, size}] = data
	}
	return nil
}

func (s *memPhotos) Photo(_ context.Context, hash string, size int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[photoKey{hash, size}], nil
}

// liveCatalog is a catalog its writer changes, as Kafka would.
type liveCatalog struct {
	mu sync.Mutex
	m  map[string]*pipeline.Paredao
}

func (c *liveCatalog) Get(id string) *pipeline.Paredao {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *liveCatalog) List() []*pipeline.Paredao { return nil }
func (c *liveCatalog) Recovered() bool           { return true }

func (c *liveCatalog) PutParedao(_ context.Context, p *pipeline.Paredao) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *p
	cp.Participants = append([]pipeline.Participant(nil), p.Participants...)
	c.m[p.ID] = &cp
	return nil
}

func photoServer(t *testing.T) (*Server, *liveCatalog, *memPhotos) {
	t.Helper()
	now := time.Now()
	cat := &liveCatalog{m: map[string]*pipeline.Paredao{"p1": {ID: "p1", Title: "P", OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(time.Hour),
		Participants: []pipeline.Participant{{ID: "ana", Name: "Ana", PhotoURL: AvatarURL("p1", "ana")}, {ID: "bia", Name: "Bia", PhotoURL: AvatarURL("p1", "bia")}}}}}
	photos := &memPhotos{}
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10}, Deps{Catalog: cat, Writer: cat, Photos: photos})
	if err != nil {
		t.Fatal(err)
	}
	return s, cat, photos
}

func doPhoto(s *Server, method, path, contentType, token string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Message == "" {
		t.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	return body.Error.Code
}

// An uploaded photo is served at its content hash with a year of caching,
// and the participant's photoUrl points at it in the catalog; deleting it
// puts the generated avatar back.
func TestPhotoUpload(t *testing.T) {
	s, cat, photos := photoServer(t)
	img := encodePNG(t, testImage(600, 400))
	w := doPhoto(s, "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "t", img)
	if w.Code != 200 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	var got paredaoJSON
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	url := cat.Get("p1").Participants[0].PhotoURL
	if !photoFile.MatchString(strings.TrimPrefix(url, "/photos/")) || got.Participants[0].PhotoURL != url {
		t.Fatalf("photoUrl %q in the catalog, %q in the answer", url, got.Participants[0].PhotoURL)
	}
	if cat.Get("p1").Participants[1].PhotoURL != AvatarURL("p1", "bia") {
		t.Fatalf("bia changed: %+v", cat.Get("p1").Participants[1])
	}
	for _, u := range []string{url, strings.Replace(url, ".jpg", "-128.jpg", 1)} {
		w = doPhoto(s, "GET", u, "", "", nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != "image/jpeg" || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Fatalf("GET %s: %d %v", u, w.Code, w.Header())
		}
		if _, err := jpeg.Decode(w.Body); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		r := httptest.NewRequest("GET", u, nil)
		r.Header.Set("If-None-Match", w.Header().Get("ETag"))
		w2 := httptest.NewRecorder()
		s.ServeHTTP(w2, r)
		if w2.Code != http.StatusNotModified {
			t.Fatalf("revalidate %s: %d", u, w2.Code)
		}
	}
	// The same upload again is the same address.
	if w = doPhoto(s, "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "t", img); w.Code != 200 || cat.Get("p1").Participants[0].PhotoURL != url {
		t.Fatalf("again: %d %s", w.Code, cat.Get("p1").Participants[0].PhotoURL)
	}
	if w = doPhoto(s, "DELETE", "/api/v1/production/paredoes/p1/participants/ana/photo", "", "t", nil); w.Code != 200 || cat.Get("p1").Participants[0].PhotoURL != AvatarURL("p1", "ana") {
		t.Fatalf("delete: %d %+v", w.Code, cat.Get("p1").Participants[0])
	}
	if photos.puts != 2 {
		t.Fatalf("%d puts", photos.puts)
	}
}

// Uploads without the token, to a participant that does not exist, of the
// wrong type or over the size limit get the contract's JSON error and
// change nothing; unknown photo addresses are 404s.
func TestPhotoUploadRefused(t *testing.T) {
	s, cat, photos := photoServer(t)
	img := encodePNG(t, testImage(100, 100))
	tests := []struct {
		name, method, path, contentType, token string
		body                                   []byte
		status                                 int
		code                                   string
	}{
		{"no token", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "", img, 401, "unauthorized"},
		{"wrong token", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "x", img, 401, "unauthorized"},
		{"unknown paredao", "PUT", "/api/v1/production/paredoes/nope/participants/ana/photo", "image/png", "t", img, 404, "not_found"},
		{"unknown participant", "PUT", "/api/v1/production/paredoes/p1/participants/zoe/photo", "image/png", "t", img, 404, "not_found"},
		{"json body", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "application/json", "t", []byte(`{}`), 415, "unsupported_media_type"},
		{"multipart body", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "multipart/form-data; boundary=x", "t", img, 415, "unsupported_media_type"},
		{"oversized body", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "t", make([]byte, 3<<20), 413, "body_too_large"},
		{"not an image", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "t", []byte("hello"), 415, "unsupported_media_type"},
		{"bomb", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "t", pngClaiming(t, 60000, 60000), 422, "image_too_large"},
		{"truncated", "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "t", img[:len(img)-20], 422, "invalid_image"},
		{"delete unknown participant", "DELETE", "/api/v1/production/paredoes/p1/participants/zoe/photo", "", "t", nil, 404, "not_found"},
		{"unknown photo", "GET", "/photos/" + strings.Repeat("ab", 32) + ".jpg", "", "", nil, 404, "not_found"},
		{"bad photo name", "GET", "/photos/..%2fetc.jpg", "", "", nil, 404, "not_found"},
		{"photo of another size", "GET", "/photos/" + strings.Repeat("ab", 32) + "-64.jpg", "", "", nil, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := doPhoto(s, tc.method, tc.path, tc.contentType, tc.token, tc.body)
			if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
			if code := errorCode(t, w); code != tc.code {
				t.Fatalf("code %s, want %s", code, tc.code)
			}
		})
	}
	if photos.puts != 0 || cat.Get("p1").Participants[0].PhotoURL != AvatarURL("p1", "ana") {
		t.Fatalf("changed: %d puts, %+v", photos.puts, cat.Get("p1").Participants[0])
	}
}

// A paredão closed while its photo was being processed stays closed: the
// photo is set on the paredão as the catalog has it once the photo is
// stored, not as it was when the upload began.
func TestPhotoUploadDuringClose(t *testing.T) {
	s, cat, photos := photoServer(t)
	photos.onPut = func() {
		if w := doPhoto(s, "POST", "/api/v1/production/paredoes/p1/close", "", "t", nil); w.Code != 200 {
			t.Errorf("close: %d %s", w.Code, w.Body)
		}
	}
	w := doPhoto(s, "PUT", "/api/v1/production/paredoes/p1/participants/bia/photo", "image/png", "t", encodePNG(t, testImage(100, 100)))
	if w.Code != 200 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	p := cat.Get("p1")
	if p.StatusAt(time.Now()) != pipeline.StatusClosed {
		t.Fatalf("the upload reopened the paredão: closes at %v", p.ClosesAt)
	}
	if !strings.HasPrefix(p.Participants[1].PhotoURL, "/photos/") {
		t.Fatalf("photo lost: %+v", p.Participants[1])
	}
}

// Without a photo store there is no upload endpoint, and no photo route.
func TestPhotoRoutesNeedAStore(t *testing.T) {
	cat := &liveCatalog{m: map[string]*pipeline.Paredao{}}
	s, err := NewServer(Config{Secret: testSecret, ProductionToken: "t", PowMaxNumber: 10}, Deps{Catalog: cat, Writer: cat})
	if err != nil {
		t.Fatal(err)
	}
	if w := doPhoto(s, "PUT", "/api/v1/production/paredoes/p1/participants/ana/photo", "image/png", "t", nil); w.Code != 404 && w.Code != 405 {
		t.Fatalf("upload without a store: %d", w.Code)
	}
}

// The generated avatars of a paredão's participants have hues at least 10°
// apart, whatever their ids, up to the 20 participants a paredão can have.
func TestAvatarHuesDistinct(t *testing.T) {
	for n := 2; n <= 20; n++ {
		p := &pipeline.Paredao{}
		for i := range n {
			p.Participants = append(p.Participants, pipeline.Participant{ID: "p" + strings.Repeat("x", i)})
		}
		hues := make([]int, n)
		for i, x := range p.Participants {
			hues[i] = avatarHue(p, x.ID)
			if hues[i] < 0 || hues[i] >= 360 {
				t.Fatalf("hue %d", hues[i])
			}
		}
		for i := range hues {
			for j := i + 1; j < n; j++ {
				d := (hues[i] - hues[j] + 360) % 360
				if d = min(d, 360-d); d < 10 {
					t.Fatalf("%d participants: places %d and %d have hues %d and %d", n, i, j, hues[i], hues[j])
				}
			}
		}
	}
}

// Whatever the bytes, processPhoto answers an *Error or two square JPEGs,
// and never panics.
func FuzzProcessPhoto(f *testing.F) {
	webp, err := os.ReadFile("testdata/photo.webp")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodePNG(f, testImage(64, 80)), "image/png")
	f.Add(encodeJPEG(f, testImage(90, 64)), "image/jpeg")
	f.Add(withOrientation(encodeJPEG(f, testImage(64, 64)), "MM", 5), "image/jpeg")
	f.Add(webp, "image/webp")
	f.Add(pngClaiming(f, 100000, 100000), "image/png")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		got, err := processPhoto(data, contentType)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("not an *Error: %v", err)
			}
			return
		}
		for _, edge := range []int{photoLarge, photoSmall} {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(got.Sizes[edge]))
			if err != nil || cfg.Width != edge || cfg.Height != edge {
				t.Fatalf("size %d: %+v, %v", edge, cfg, err)
			}
		}
	})
}
