package qr

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// base45 is a minimal RFC 9285 encoder, kept here so that these tests do not depend on the
// credential packages being built at the same time.
func base45(b []byte) string {
	var s strings.Builder
	for ; len(b) >= 2; b = b[2:] {
		n := int(b[0])<<8 | int(b[1])
		s.WriteByte(alphabet[n%45])
		s.WriteByte(alphabet[n/45%45])
		s.WriteByte(alphabet[n/2025])
	}
	if len(b) == 1 {
		s.WriteByte(alphabet[int(b[0])%45])
		s.WriteByte(alphabet[int(b[0])/45])
	}
	return s.String()
}

// randomCode returns a realistic code of n characters: the "TID1:" prefix, then Base45 of
// random bytes, topped up with random alphabet characters to the exact length.
func randomCode(r *rand.Rand, n int) string {
	raw := make([]byte, (n-5)/3*2)
	for i := range raw {
		raw[i] = byte(r.IntN(256))
	}
	s := "TID1:" + base45(raw)
	for len(s) < n {
		s += string(alphabet[r.IntN(len(alphabet))])
	}
	return s
}

func decodePNG(t *testing.T, b []byte) *gozxing.Result {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("NewBinaryBitmapFromImage: %v", err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR decode: %v", err)
	}
	return res
}

func TestRenderPNGScansBackToTheSameText(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name       string
		code       string
		moduleSize int
	}{
		{"a short code at one pixel per module", "TID1:ABC", 1},
		{"a code without a sealed ID at four pixels per module", randomCode(r, 5+250/2*3), 4},
		{"a 600-character code at three pixels per module", randomCode(r, 600), 3},
		{"every alphabet character at two pixels per module", alphabet + alphabet, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tt.code, "png", tt.moduleSize); err != nil {
				t.Fatalf("Render: %v", err)
			}
			res := decodePNG(t, buf.Bytes())
			if got, want := res.GetText(), tt.code; got != want {
				t.Errorf("scanned text = %q, want %q", got, want)
			}
			if got, want := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL], "M"; got != want {
				t.Errorf("error-correction level = %v, want %v", got, want)
			}
			// The first four bits of the data stream are the mode indicator; 0010 is
			// alphanumeric, so the whole code was encoded in that one mode.
			if got, want := res.GetRawBytes()[0]>>4, byte(0b0010); got != want {
				t.Errorf("mode indicator = %04b, want %04b", got, want)
			}
			v, err := Version(tt.code)
			if err != nil {
				t.Fatalf("Version: %v", err)
			}
			img, _ := png.Decode(bytes.NewReader(buf.Bytes()))
			if got, want := img.Bounds().Dx(), (17+4*v+2*QuietZone)*tt.moduleSize; got != want {
				t.Errorf("image width = %d, want %d", got, want)
			}
		})
	}
}

func TestRenderSVGIsWellFormedWithAViewBox(t *testing.T) {
	code := randomCode(rand.New(rand.NewPCG(3, 4)), 380)
	var buf bytes.Buffer
	if err := Render(&buf, code, "svg", 5); err != nil {
		t.Fatalf("Render: %v", err)
	}
	var doc struct {
		XMLName        xml.Name `xml:"svg"`
		ViewBox        string   `xml:"viewBox,attr"`
		ShapeRendering string   `xml:"shape-rendering,attr"`
		Paths          []struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("xml.Unmarshal: %v", err)
	}
	v, err := Version(code)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	side := (17 + 4*v + 2*QuietZone) * 5
	if got, want := doc.ViewBox, fmt.Sprintf("0 0 %d %d", side, side); got != want {
		t.Errorf("viewBox = %q, want %q", got, want)
	}
	if got, want := doc.ShapeRendering, "crispEdges"; got != want {
		t.Errorf("shape-rendering = %q, want %q", got, want)
	}
	if got, want := len(doc.Paths), 1; got != want {
		t.Fatalf("paths = %d, want %d", got, want)
	}
	// The top-left finder pattern's first row is seven dark modules just inside the quiet
	// zone, so the path must start with that run.
	if got, want := doc.Paths[0].D, "M20 20h35v5h-35z"; !strings.HasPrefix(got, want) {
		t.Errorf("path starts %.20q, want prefix %q", got, want)
	}
}

func TestRenderRefusesBadInput(t *testing.T) {
	tests := []struct {
		name       string
		code       string
		format     string
		moduleSize int
		wantErr    error
	}{
		{"a lowercase letter is refused", "TID1:abc", "png", 4, ErrNotAlphanumeric},
		{"a lowercase letter is refused in SVG too", "TID1:ABc", "svg", 4, ErrNotAlphanumeric},
		{"a non-ASCII character is refused", "TID1:ÄB", "png", 4, ErrNotAlphanumeric},
		{"a newline is refused", "TID1:AB\n", "png", 4, ErrNotAlphanumeric},
		{"an empty code is refused", "", "png", 4, ErrEmpty},
		{"an unknown format is refused", "TID1:AB", "gif", 4, nil},
		{"a zero module size is refused", "TID1:AB", "png", 0, nil},
		{"a huge module size is refused", "TID1:AB", "png", MaxModuleSize + 1, nil},
		{"a code longer than version 40 holds is refused", strings.Repeat("A", 3392), "png", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Render(&buf, tt.code, tt.format, tt.moduleSize)
			if err == nil {
				t.Fatal("Render succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Render error = %v, want %v", err, tt.wantErr)
			}
			if got, want := buf.Len(), 0; got != want {
				t.Errorf("wrote %d bytes on error, want %d", got, want)
			}
		})
	}
}

func TestRenderHandsOverTheFinishedImageInOneWrite(t *testing.T) {
	w := &countingWriter{}
	if err := Render(w, "TID1:ABC", "svg", 2); err != nil {
		t.Fatalf("Render: %v", err)
	}
	if got, want := w.writes, 1; got != want {
		t.Errorf("writes = %d, want %d", got, want)
	}
}

type countingWriter struct{ writes int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return io.Discard.Write(p)
}

// dataCodewordsM is the number of data codewords of each version (index 1..40) at
// error-correction level M, from ISO/IEC 18004:2015 Table 7.
var dataCodewordsM = [41]int{0,
	16, 28, 44, 64, 86, 108, 124, 154, 182, 216,
	254, 290, 334, 365, 415, 453, 507, 563, 627, 669,
	714, 782, 860, 914, 1000, 1062, 1128, 1193, 1267, 1373,
	1455, 1541, 1631, 1725, 1812, 1914, 1992, 2102, 2216, 2334,
}

// alphanumericCapacityM derives the alphanumeric capacity of a version at level M from its
// data codewords: a 4-bit mode indicator, a 9/11/13-bit character count, then 11 bits per
// pair of characters and 6 for a last single one (ISO/IEC 18004:2015 §7.4.4).
func alphanumericCapacityM(v int) int {
	count := 9
	switch {
	case v >= 27:
		count = 13
	case v >= 10:
		count = 11
	}
	bits := dataCodewordsM[v]*8 - 4 - count
	n := bits / 11 * 2
	if bits%11 >= 6 {
		n++
	}
	return n
}

func TestAlphanumericCapacityMatchesThePrintedTable(t *testing.T) {
	// Figures printed in ISO/IEC 18004:2015 Table 7, alphanumeric column, level M.
	tests := []struct {
		name    string
		version int
		want    int
	}{
		{"version 1 holds 20 characters", 1, 20},
		{"version 10 holds 311 characters", 10, 311},
		{"version 11, the bound without a sealed ID, holds 366 characters", 11, 366},
		{"version 12 holds 419 characters", 12, 419},
		{"version 13, the bound with a sealed ID, holds 483 characters", 13, 483},
		{"version 15 holds 600 characters", 15, 600},
		{"version 27 holds 1637 characters", 27, 1637},
		{"version 40 holds 3391 characters", 40, 3391},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := alphanumericCapacityM(tt.version), tt.want; got != want {
				t.Errorf("capacity = %d, want %d", got, want)
			}
		})
	}
}

func TestVersionIsTheSmallestThatHoldsTheCode(t *testing.T) {
	// Every version a code can plausibly need, then the character-count width changes
	// (9→11 bits at 10, 11→13 at 27) and the top; large symbols are slow to mask under
	// -race, and the versions between add nothing the capacity test does not check.
	versions := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 26, 27, 40}
	r := rand.New(rand.NewPCG(5, 6))
	for _, v := range versions {
		capacity := alphanumericCapacityM(v)
		lengths := []int{capacity}
		if v < 40 {
			lengths = append(lengths, capacity+1)
		}
		for _, n := range lengths {
			want := v
			if n > capacity {
				want = v + 1
			}
			got, err := Version(randomCode(r, n))
			if err != nil {
				t.Fatalf("Version of %d characters: %v", n, err)
			}
			if got != want {
				t.Errorf("Version of %d characters = %d, want %d", n, got, want)
			}
		}
	}
}

func BenchmarkRenderPNG(b *testing.B) {
	code := randomCode(rand.New(rand.NewPCG(7, 8)), 480)
	for b.Loop() {
		if err := Render(io.Discard, code, "png", 4); err != nil {
			b.Fatal(err)
		}
	}
}
