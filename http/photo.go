package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/paredao/paredao/pipeline"
)

// PhotoStore keeps participants' photos in SQL, each as the JPEG files of
// one processed upload keyed by the SHA-256 of its largest size.
type PhotoStore interface {
	// PutPhoto stores the sizes (edge in pixels → JPEG) of the photo hash,
	// in one transaction; storing a hash again changes nothing.
	PutPhoto(ctx context.Context, hash string, sizes map[int][]byte) error
	// Photo returns the JPEG of hash at size, or nil (and no error) when
	// there is none.
	Photo(ctx context.Context, hash string, size int) ([]byte, error)
}

// Photo limits. The upload is refused before it is decoded when its header
// announces more than photoMaxSide pixels a side or photoMaxPixels in all:
// a small file can announce a huge image (a decompression bomb), and decoding
// allocates what the header announces.
const (
	photoMaxBytes  = 2 << 20
	photoMaxSide   = 8192
	photoMaxPixels = 24_000_000
	photoMinSide   = 64
	photoLarge     = 512 // the size photoUrl points at
	photoSmall     = 128 // "-128.jpg": the size for small pictures
	photoQuality   = 85
)

// photoFormats are the uploads accepted, by Content-Type.
var photoFormats = map[string]string{"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}

// Errors of photo uploads.
var (
	errPhotoType     = errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the photo as the body with Content-Type: image/jpeg, image/png or image/webp")
	errPhotoTooLarge = errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the photo is over 2 MiB")
	errPhotoNotFound = errorf(http.StatusNotFound, "not_found", "no such photo")
)

func invalidImage(msg string) *Error {
	return errorf(http.StatusUnprocessableEntity, "invalid_image", msg)
}

// photoFormat is the format a Content-Type names, when it is one accepted.
func photoFormat(contentType string) (string, bool) {
	mediaType, _, _ := strings.Cut(contentType, ";")
	f, ok := photoFormats[strings.ToLower(strings.TrimSpace(mediaType))]
	return f, ok
}

// photoSlots bounds the uploads decoded at once in this process: a decoded
// image takes up to 4 bytes a pixel (photoMaxPixels: about 96 MB).
var photoSlots = make(chan struct{}, 2)

// processedPhoto is an upload cropped square and re-encoded.
type processedPhoto struct {
	Hash  string         // hex SHA-256 of the photoLarge JPEG
	Sizes map[int][]byte // photoLarge and photoSmall → JPEG
}

// processPhoto checks an upload of the declared Content-Type, crops it to
// its centre square and re-encodes it as JPEG at photoLarge and photoSmall
// pixels, turned upright as a JPEG's Exif orientation says: no byte of the
// upload (metadata, a polyglot tail) is served. It returns an *Error for any
// upload it refuses.
func processPhoto(data []byte, contentType string) (*processedPhoto, error) {
	want, ok := photoFormat(contentType)
	if !ok {
		return nil, errPhotoType
	}
	if len(data) > photoMaxBytes {
		return nil, errPhotoTooLarge
	}
	got := sniffImage(data)
	if got == "" {
		return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body is not a JPEG, PNG or WebP image")
	}
	if got != want {
		return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body is a "+strings.ToUpper(got)+" image, not "+strings.ToUpper(want)+" as its Content-Type says")
	}
	cfg, err := decodeConfig(data, got)
	if err != nil {
		return nil, invalidImage("the image could not be read: it is damaged or truncated")
	}
	switch {
	case cfg.Width > photoMaxSide || cfg.Height > photoMaxSide || cfg.Width*cfg.Height > photoMaxPixels:
		return nil, errorf(http.StatusUnprocessableEntity, "image_too_large", "the image is over 8192 pixels a side or 24 megapixels")
	case cfg.Width < photoMinSide || cfg.Height < photoMinSide:
		return nil, errorf(http.StatusUnprocessableEntity, "image_too_small", "the image is under 64 pixels a side")
	}
	img, err := decodeImage(data, got)
	if err != nil {
		return nil, invalidImage("the image could not be read: it is damaged or truncated")
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, invalidImage("the image's size differs from its header")
	}
	side := min(b.Dx(), b.Dy())
	crop := image.Rect(0, 0, side, side).Add(b.Min).Add(image.Pt((b.Dx()-side)/2, (b.Dy()-side)/2))
	orientation := 1
	if got == "jpeg" {
		orientation = exifOrientation(data)
	}
	large := image.NewRGBA(image.Rect(0, 0, photoLarge, photoLarge))
	draw.Draw(large, large.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src) // JPEG has no transparency
	draw.CatmullRom.Scale(large, large.Bounds(), img, crop, draw.Over, nil)
	large = orient(large, orientation)
	small := image.NewRGBA(image.Rect(0, 0, photoSmall, photoSmall))
	draw.CatmullRom.Scale(small, small.Bounds(), large, large.Bounds(), draw.Src, nil) // from large: one pass over the upload
	out := &processedPhoto{Sizes: make(map[int][]byte, 2)}
	for edge, dst := range map[int]*image.RGBA{photoLarge: large, photoSmall: small} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: photoQuality}); err != nil {
			return nil, err
		}
		out.Sizes[edge] = buf.Bytes()
	}
	sum := sha256.Sum256(out.Sizes[photoLarge])
	out.Hash = hex.EncodeToString(sum[:])
	return out, nil
}

// exifOrientation is the Exif orientation (1 to 8) of a JPEG, 1 when it has
// none: phones store a photo as the sensor saw it and say in Exif how to turn
// it. Only the first APP1 segment before the image data is read.
func exifOrientation(data []byte) int {
	for i := 2; i+4 <= len(data) && data[i] == 0xff; {
		marker, n := data[i+1], int(binary.BigEndian.Uint16(data[i+2:]))
		if marker == 0xda || n < 2 || i+2+n > len(data) {
			return 1
		}
		seg := data[i+4 : i+2+n]
		i += 2 + n
		if marker != 0xe1 || !bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			continue
		}
		tiff := seg[6:]
		if len(tiff) < 8 {
			return 1
		}
		var order binary.ByteOrder
		switch string(tiff[:2]) {
		case "II":
			order = binary.LittleEndian
		case "MM":
			order = binary.BigEndian
		default:
			return 1
		}
		ifd := int(order.Uint32(tiff[4:]))
		if ifd < 8 || ifd+2 > len(tiff) {
			return 1
		}
		count := int(order.Uint16(tiff[ifd:]))
		for e := range count {
			off := ifd + 2 + 12*e
			if off+12 > len(tiff) {
				return 1
			}
			if order.Uint16(tiff[off:]) == 0x0112 && order.Uint16(tiff[off+2:]) == 3 {
				if v := int(order.Uint16(tiff[off+8:])); v >= 1 && v <= 8 {
					return v
				}
				return 1
			}
		}
		return 1
	}
	return 1
}

// orient turns the square img as Exif orientation o says.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return img
	}
	n := img.Bounds().Dx()
	out := image.NewRGBA(img.Bounds())
	for y := range n {
		for x := range n {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = n-1-x, y
			case 3:
				sx, sy = n-1-x, n-1-y
			case 4:
				sx, sy = x, n-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, n-1-x
			case 7:
				sx, sy = n-1-y, n-1-x
			case 8:
				sx, sy = n-1-y, x
			}
			out.SetRGBA(x, y, img.RGBAAt(sx, sy))
		}
	}
	return out
}

// sniffImage names the format data starts with: "jpeg", "png", "webp" or "".
func sniffImage(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "jpeg"
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

func decodeConfig(data []byte, format string) (image.Config, error) {
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		return jpeg.DecodeConfig(r)
	case "png":
		return png.DecodeConfig(r)
	default:
		return webp.DecodeConfig(r)
	}
}

func decodeImage(data []byte, format string) (image.Image, error) {
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		return jpeg.Decode(r)
	case "png":
		return png.Decode(r)
	default:
		return webp.Decode(r)
	}
}

// PhotoURL is where a stored photo is served at photoLarge pixels; the
// photoSmall size is at the same address with "-128" before ".jpg".
func PhotoURL(hash string) string { return "/photos/" + hash + ".jpg" }

var photoFile = regexp.MustCompile(`^([0-9a-f]{64})(-128)?\.jpg$`)

// photoParticipant is the paredão and participant a photo request names,
// or false once it answered the error.
func (s *Server) photoParticipant(w http.ResponseWriter, r *http.Request) (*pipeline.Paredao, string, bool) {
	cur, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return nil, "", false
	}
	pid := chi.URLParam(r, "pid")
	if _, ok := cur.Participant(pid); !ok {
		writeError(w, s.deps.Log, errParticipantNotFound)
		return nil, "", false
	}
	return cur, pid, true
}

// putPhoto stores a participant's photo and points the participant's
// photoUrl at it, through the catalog like any other change of a paredão.
func (s *Server) putPhoto(w http.ResponseWriter, r *http.Request) {
	cur, pid, ok := s.photoParticipant(w, r)
	if !ok {
		return
	}
	if _, ok := photoFormat(r.Header.Get("Content-Type")); !ok {
		writeError(w, s.deps.Log, errPhotoType)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, photoMaxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, s.deps.Log, errPhotoTooLarge)
			return
		}
		writeError(w, s.deps.Log, invalidRequest("the body could not be read"))
		return
	}
	select {
	case photoSlots <- struct{}{}:
		defer func() { <-photoSlots }()
	case <-r.Context().Done():
		return
	}
	ph, err := processPhoto(data, r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	if err := s.deps.Photos.PutPhoto(r.Context(), ph.Hash, ph.Sizes); err != nil {
		s.deps.Log.Error("photo write failed", "paredao", cur.ID, "participant", pid, "err", err)
		writeError(w, s.deps.Log, unavailable(2*time.Second))
		return
	}
	s.setPhotoURL(w, r, pid, PhotoURL(ph.Hash))
}

// deletePhoto puts a participant back on the generated avatar.
func (s *Server) deletePhoto(w http.ResponseWriter, r *http.Request) {
	cur, pid, ok := s.photoParticipant(w, r)
	if !ok {
		return
	}
	s.setPhotoURL(w, r, pid, AvatarURL(cur.ID, pid))
}

var errParticipantNotFound = errorf(http.StatusNotFound, "not_found", "no such participant on this paredão")

// catalogEdits serializes this process's changes of a paredão it reads from
// the catalog first (closing, photos), so a photo set while the paredão
// closes cannot write back its old closing time. Each holds it from its read
// until its own view shows its write.
var catalogEdits sync.Mutex

// setPhotoURL sets a participant's photoUrl on the paredão as the catalog
// has it now (not as it was before a slow upload).
func (s *Server) setPhotoURL(w http.ResponseWriter, r *http.Request, pid, url string) {
	catalogEdits.Lock()
	defer catalogEdits.Unlock()
	cur, err := s.lookup(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	p := *cur
	p.Participants = append([]pipeline.Participant(nil), cur.Participants...)
	for i := range p.Participants {
		if p.Participants[i].ID == pid {
			p.Participants[i].PhotoURL = url
		}
	}
	if err := s.put(r, &p); err != nil {
		writeError(w, s.deps.Log, err)
		return
	}
	s.deps.Log.Info("participant photo set", "paredao", p.ID, "participant", pid, "photo_url", url)
	writeJSON(w, http.StatusOK, toJSON(&p, s.deps.Now()))
}

// photo serves a stored photo. Its address is its content's hash, so it
// never changes and is cached for a year.
func (s *Server) photo(w http.ResponseWriter, r *http.Request) {
	m := photoFile.FindStringSubmatch(chi.URLParam(r, "file"))
	if m == nil {
		writeError(w, s.deps.Log, errPhotoNotFound)
		return
	}
	size := photoLarge
	if m[2] != "" {
		size = photoSmall
	}
	etag := `"` + m[1] + m[2] + `"`
	data, err := s.deps.Photos.Photo(r.Context(), m[1], size)
	if err != nil {
		s.deps.Log.Error("photo read failed", "hash", m[1], "err", err)
		writeError(w, s.deps.Log, unavailable(2*time.Second))
		return
	}
	if data == nil {
		writeError(w, s.deps.Log, errPhotoNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data) // headers are sent: a failed write is a client gone
	}
}
