package face_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"tempid/internal/face"
	"tempid/internal/face/facetest"
)

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("png.Encode: %v", err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatalf("jpeg.Encode: %v", err)
	}
	return buf.Bytes()
}

// tiled returns n copies of img side by side.
func tiled(img image.Image, n int) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, n*b.Dx(), b.Dy()))
	for i := range n {
		draw.Draw(out, b.Sub(b.Min).Add(image.Pt(i*b.Dx(), 0)), img, b.Min, draw.Src)
	}
	return out
}

// enlarged returns img scaled up k times by repeating pixels.
func enlarged(img image.Image, k int) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, k*b.Dx(), k*b.Dy()))
	for y := range out.Rect.Dy() {
		for x := range out.Rect.Dx() {
			out.Set(x, y, img.At(b.Min.X+x/k, b.Min.Y+y/k))
		}
	}
	return out
}

// upsideDown returns img flipped vertically: a face the frontal detector must not see.
func upsideDown(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Set(x, b.Dy()-1-y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// pngHeaderOnly returns a PNG signature and an IHDR chunk, with a correct CRC, declaring
// an 8-bit RGB image of w×h pixels, then an empty IDAT and IEND: a few dozen bytes that
// would decode to w×h×3 bytes of pixels.
func pngHeaderOnly(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		var c []byte
		c = binary.BigEndian.AppendUint32(c, uint32(len(data)))
		c = append(c, typ...)
		c = append(c, data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	var ihdr []byte
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // bit depth 8, truecolour, deflate, no filter, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", nil)...)
	return append(out, chunk("IEND", nil)...)
}

// jpegDeclaring returns a copy of the JPEG jpg whose frame header declares w×h pixels,
// found by walking the marker segments (the ICC profile may hold stray 0xFFC0 bytes).
func jpegDeclaring(t testing.TB, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(jpg)
	for i := 2; i+4 <= len(out); {
		if out[i] != 0xFF {
			t.Fatalf("no marker at offset %d", i)
		}
		marker, length := out[i+1], int(binary.BigEndian.Uint16(out[i+2:]))
		if marker >= 0xC0 && marker <= 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + length
	}
	t.Fatal("no start-of-frame marker")
	return nil
}

func noise(w, h int) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	copy(img.Pix, randomBytes(len(img.Pix)))
	return img
}

func checkerboard(w, h, square int) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if (x/square+y/square)%2 == 0 {
				img.Pix[y*img.Stride+x] = 255
			}
		}
	}
	return img
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestSimulatorCheck(t *testing.T) {
	sample := facetest.SampleImage()
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, sample, nil); err != nil {
		t.Fatalf("gif.Encode: %v", err)
	}
	tests := []struct {
		name       string
		data       []byte
		wantPassed bool
		wantReason string
	}{
		{"the sample photograph passes with one face", facetest.SampleJPEG(), true, ""},
		{"the sample re-encoded as PNG passes", encodePNG(t, sample), true, ""},
		{"the sample re-encoded as a baseline JPEG passes", encodeJPEG(t, sample), true, ""},
		{"the sample enlarged four times is scaled down and passes", encodeJPEG(t, enlarged(sample, 4)), true, ""},
		{"a plain gradient has no face", facetest.PlainJPEG(), false, face.ReasonNoFace},
		{"a plain gradient as PNG has no face", encodePNG(t, facetest.PlainImage()), false, face.ReasonNoFace},
		{"random grey noise has no face", encodePNG(t, noise(640, 480)), false, face.ReasonNoFace},
		{"a checkerboard has no face", encodePNG(t, checkerboard(640, 480, 40)), false, face.ReasonNoFace},
		{"the sample upside down has no face", encodePNG(t, upsideDown(sample)), false, face.ReasonNoFace},
		{"the sample twice side by side has multiple faces", encodePNG(t, tiled(sample, 2)), false, face.ReasonMultipleFaces},
		{"the sample three times side by side, scaled down, has multiple faces", encodeJPEG(t, tiled(sample, 3)), false, face.ReasonMultipleFaces},
		{"random bytes are unreadable", randomBytes(4096), false, face.ReasonUnreadableImage},
		{"a GIF is unreadable", gifData.Bytes(), false, face.ReasonUnreadableImage},
		{"an empty capture is unreadable", nil, false, face.ReasonUnreadableImage},
		{"a truncated JPEG is unreadable", facetest.SampleJPEG()[:2000], false, face.ReasonUnreadableImage},
		{"a PNG with a bad header checksum is unreadable", func() []byte {
			b := pngHeaderOnly(100, 100)
			b[29] ^= 0xFF
			return b
		}(), false, face.ReasonUnreadableImage},
		{"a PNG declaring 100000x100000 pixels is too large", pngHeaderOnly(100000, 100000), false, face.ReasonImageTooLarge},
		{"a PNG declaring 1x2^31-1 pixels is too large", pngHeaderOnly(1, 1<<31-1), false, face.ReasonImageTooLarge},
		{"a JPEG declaring 60000x60000 pixels is too large", jpegDeclaring(t, facetest.SampleJPEG(), 60000, 60000), false, face.ReasonImageTooLarge},
		{"a capture over 8 MiB is too large", append(facetest.SampleJPEG(), make([]byte, face.MaxCaptureBytes)...), false, face.ReasonImageTooLarge},
	}
	sim := face.NewSimulator()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sim.Check(t.Context(), face.Subject{NameMasked: "李*"}, face.Capture{ContentType: "image/jpeg", Data: tt.data})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got, want := res.Passed, tt.wantPassed; got != want {
				t.Errorf("Passed = %v, want %v (result %+v)", got, want, res)
			}
			if got, want := res.Reason, tt.wantReason; got != want {
				t.Errorf("Reason = %q, want %q (result %+v)", got, want, res)
			}
			if got, want := res.Passed, res.Score >= face.MinQuality; got != want {
				t.Errorf("Score = %v with Passed %v, want a passing score iff passed", res.Score, res.Passed)
			}
			if res.Reference == "" {
				t.Error("Reference is empty, want the check's reference")
			}
			t.Logf("score %.1f", res.Score)
		})
	}
}

func TestSimulatorRefusesABombWithoutDecodingIt(t *testing.T) {
	sim := face.NewSimulator()
	// The first Check unpacks the shared cascade; keep that out of the measurement.
	if _, err := sim.Check(t.Context(), face.Subject{}, face.Capture{Data: facetest.PlainJPEG()}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	bomb := pngHeaderOnly(100000, 100000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := sim.Check(t.Context(), face.Subject{}, face.Capture{Data: bomb})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got, want := res.Reason, face.ReasonImageTooLarge; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	// 30 GB of pixels were declared; reading the header costs a few kilobytes.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20); got > limit {
		t.Errorf("Check allocated %d bytes, want at most %d", got, limit)
	}
}

func TestSimulatorIsSafeForConcurrentUse(t *testing.T) {
	sim := face.NewSimulator()
	captures := []struct {
		data []byte
		want bool
	}{
		{facetest.SampleJPEG(), true},
		{facetest.PlainJPEG(), false},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			c := captures[i%len(captures)]
			res, err := sim.Check(t.Context(), face.Subject{}, face.Capture{Data: c.data})
			if err != nil {
				errs <- err
				return
			}
			if res.Passed != c.want {
				errs <- errors.New("a concurrent check gave a different answer")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSimulatorReturnsAnErrorWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := face.NewSimulator().Check(ctx, face.Subject{}, face.Capture{Data: facetest.SampleJPEG()})
	if got, want := err, context.Canceled; !errors.Is(got, want) {
		t.Errorf("Check error = %v, want %v", got, want)
	}
}

func TestSimulatorDeclaresItselfForDevelopment(t *testing.T) {
	var p face.Provider = face.NewSimulator()
	if got, want := p.Name(), "simulator"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if got, want := p.Development(), true; got != want {
		t.Errorf("Development = %v, want %v", got, want)
	}
}

func TestSimulatorGivesEachCheckItsOwnReference(t *testing.T) {
	sim := face.NewSimulator()
	seen := map[string]bool{}
	for range 3 {
		res, err := sim.Check(t.Context(), face.Subject{}, face.Capture{Data: []byte("not an image")})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if seen[res.Reference] {
			t.Errorf("reference %q given twice", res.Reference)
		}
		seen[res.Reference] = true
	}
}

// The greyscale fast paths and the generic path must agree, or a capture's format would
// change the verdict; a paletted PNG takes the generic path.
func TestSimulatorPassesTheSampleInEveryPixelLayout(t *testing.T) {
	sample := facetest.SampleImage()
	b := sample.Bounds()
	gray := image.NewGray(b)
	draw.Draw(gray, b, sample, b.Min, draw.Src)
	nrgba := image.NewNRGBA(b)
	draw.Draw(nrgba, b, sample, b.Min, draw.Src)
	pal := image.NewPaletted(b, grayPalette())
	draw.Draw(pal, b, gray, b.Min, draw.Src)
	tests := []struct {
		name string
		img  image.Image
	}{
		{"a greyscale PNG passes", gray},
		{"an RGBA PNG with alpha passes", nrgba},
		{"a paletted PNG passes", pal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := face.NewSimulator().Check(t.Context(), face.Subject{}, face.Capture{Data: encodePNG(t, tt.img)})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got, want := res.Passed, true; got != want {
				t.Errorf("Passed = %v, want %v (result %+v)", got, want, res)
			}
		})
	}
}

func grayPalette() color.Palette {
	p := make(color.Palette, 256)
	for i := range p {
		p[i] = color.Gray{Y: uint8(i)}
	}
	return p
}

func BenchmarkSimulatorCheck(b *testing.B) {
	sim := face.NewSimulator()
	c := face.Capture{ContentType: "image/jpeg", Data: facetest.SampleJPEG()}
	for b.Loop() {
		res, err := sim.Check(b.Context(), face.Subject{}, c)
		if err != nil || !res.Passed {
			b.Fatalf("Check = %+v, %v", res, err)
		}
	}
}
