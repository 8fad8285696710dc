package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A photo uploaded through the dashboard, in a real browser against the real
// binary, is shown on the voter page at its content-hash address, cached for
// a year; a file that is not an image is refused with the server's reason;
// removing the photo puts the generated avatar back. The generated avatars
// of the demo paredão have colours of their own.
func TestPhotoBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	const token = "browser-photo-token-0123456789abcdef"
	env := runEnv(t, t.TempDir())
	env["PAREDAO_PRODUCTION_TOKEN"] = token
	p := start(t, env, "run")

	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			img.Set(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 160, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(dir, "ana.png"), filepath.Join(dir, "fake.png")
	if err := os.WriteFile(good, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("<html>not a picture</html>"), 0o600); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, chromium)
	tab := b.tab(t, 1440, 1000, false)
	tab.allow("415 (Unsupported Media Type)") // the fake file's refusal, as Chrome logs it
	tab.do(chromedp.Navigate(p.http+"/production"), chromedp.WaitVisible(chromedp.ID("token")))
	tab.do(chromedp.SendKeys(chromedp.ID("token"), token+"\r"))
	tab.waitJS(`!document.getElementById("dash").hidden && !!document.querySelector('#photos input[data-photo="ana"]')`, 30*time.Second)

	tab.do(chromedp.SetUploadFiles(chromedp.CSS(`#photos input[data-photo="bruno"]`), []string{bad}))
	tab.waitJS(`document.getElementById("photos-message").textContent.includes("não foi aceita")`, 15*time.Second)
	if got := tab.text("#photos-message"); !strings.Contains(got, "not a JPEG, PNG or WebP") {
		t.Errorf("refusal says %q", got)
	}

	tab.do(chromedp.SetUploadFiles(chromedp.CSS(`#photos input[data-photo="ana"]`), []string{good}))
	tab.waitJS(`document.getElementById("photos-message").textContent.includes("atualizada") && document.querySelector('#photos tr[data-participant="ana"] img').getAttribute("src").startsWith("/photos/")`, 15*time.Second)
	url := tab.eval(`document.querySelector('#photos tr[data-participant="ana"] img').getAttribute("src")`)
	if !regexp.MustCompile(`^/photos/[0-9a-f]{64}\.jpg$`).MatchString(url) {
		t.Fatalf("photo address %q", url)
	}
	tab.waitIdle()
	tab.shot("dashboard-photos")

	for _, u := range []string{url, strings.Replace(url, ".jpg", "-128.jpg", 1)} {
		res, err := http.Get(p.http + u)
		if err != nil {
			t.Fatal(err)
		}
		closeQuiet(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %d %v", u, res.StatusCode, res.Header)
		}
	}

	voter := b.tab(t, 1280, 900, false)
	voter.do(chromedp.Navigate(p.http+"/"), chromedp.WaitVisible(chromedp.CSS(`.card[data-participant="ana"]`)))
	voter.waitJS(`(() => { const i = document.querySelector('.card[data-participant="ana"] img'); return i.getAttribute("src") === "`+url+`" && i.complete && i.naturalWidth === 512; })()`, 15*time.Second)
	if got := voter.eval(`document.querySelector('.card[data-participant="bruno"] img').getAttribute("src")`); got != "/avatars/demo/bruno.svg" {
		t.Errorf("bruno shows %q, want the generated avatar", got)
	}
	voter.waitIdle()
	voter.shot("voter-photo")
	voter.checkConsole()

	tab.do(chromedp.Click(chromedp.CSS(`[data-photo-remove="ana"]`)))
	tab.waitJS(`document.querySelector('#photos tr[data-participant="ana"] img').getAttribute("src") === "/avatars/demo/ana.svg"`, 15*time.Second)
	tab.checkConsole()

	var hues []int
	for _, id := range []string{"ana", "bruno", "carla"} {
		_, body := authGet(t, p.http+"/avatars/demo/"+id+".svg", "")
		fill := regexp.MustCompile(`fill="hsl\((\d+),`).FindStringSubmatch(string(body))
		if fill == nil {
			t.Fatalf("avatar of %s: %s", id, body)
		}
		hue, _ := strconv.Atoi(fill[1])
		for _, h := range hues {
			if d := (hue - h + 360) % 360; min(d, 360-d) < 60 {
				t.Errorf("avatar hues %v and %d are too close", hues, hue)
			}
		}
		hues = append(hues, hue)
	}
}
