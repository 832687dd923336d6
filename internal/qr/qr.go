// Package qr draws a tempid code as a QR symbol for `tempid qr`.
//
// The credential format fixes how the symbol is built (CREDENTIAL.md, "Bytes"): the code
// uses only Base45's alphabet, which is exactly QR's alphanumeric set, so the symbol is
// always encoded in alphanumeric mode at error-correction level M. Alphanumeric mode packs
// two characters into 11 bits instead of 16, which is what lets a code meet the format's
// version bounds (13 with a sealed ID, 11 without); and a keyboard-wedge scanner types the
// text back unchanged.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// QuietZone is the width, in modules, of the light margin around every symbol. ISO/IEC
// 18004 asks for four; scanners that find the finder patterns by contrast fail without it.
const QuietZone = 4

// MaxModuleSize bounds the pixels per module of a PNG so that a typo on the command line
// cannot ask for an image of hundreds of megapixels.
const MaxModuleSize = 32

// alphabet is Base45's alphabet (RFC 9285 §4), which is also QR's alphanumeric character
// set; a character outside it would silently push the encoder into byte mode.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// ErrNotAlphanumeric reports a code holding a character outside Base45's alphabet, such as
// a lowercase letter: such a code was damaged on its way here and must not be drawn.
var ErrNotAlphanumeric = errors.New("qr: code has a character outside the Base45 alphabet")

// ErrEmpty reports an empty code; a symbol of nothing would scan as a valid empty string.
var ErrEmpty = errors.New("qr: empty code")

// Render draws code as a QR symbol in format "png" or "svg", moduleSize pixels (PNG) or
// user units (SVG) per module, with a quiet zone of QuietZone modules. The whole image is
// built in memory first, so an error never leaves half an image in w.
func Render(w io.Writer, code string, format string, moduleSize int) error {
	if moduleSize < 1 || moduleSize > MaxModuleSize {
		return fmt.Errorf("qr: module size %d outside 1..%d", moduleSize, MaxModuleSize)
	}
	m, err := encode(code)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch format {
	case "png":
		err = writePNG(&buf, m, moduleSize)
	case "svg":
		writeSVG(&buf, m, moduleSize)
	default:
		return fmt.Errorf("qr: unknown format %q (want png or svg)", format)
	}
	if err != nil {
		return err
	}
	_, err = buf.WriteTo(w)
	return err
}

// Version returns the QR version (1..40) that code needs at error-correction level M in
// alphanumeric mode. The issuer checks it against the bounds of the credential format.
func Version(code string) (int, error) {
	m, err := encode(code)
	if err != nil {
		return 0, err
	}
	// A version-v symbol is 17+4v modules wide, quiet zone excluded.
	return (len(m) - 17) / 4, nil
}

// encode builds the symbol's modules, true for dark, indexed [row][column], without the
// quiet zone.
func encode(code string) ([][]bool, error) {
	if code == "" {
		return nil, ErrEmpty
	}
	for i := 0; i < len(code); i++ {
		if !isAlphanumeric(code[i]) {
			return nil, fmt.Errorf("%w: byte %#02x at offset %d", ErrNotAlphanumeric, code[i], i)
		}
	}
	sym, err := qrcode.NewWith(code,
		qrcode.WithEncodingMode(qrcode.EncModeAlphanumeric),
		qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium),
	)
	if err != nil {
		return nil, fmt.Errorf("qr: encode: %w", err)
	}
	var c capture
	if err := sym.Save(&c); err != nil {
		return nil, fmt.Errorf("qr: encode: %w", err)
	}
	return c.bitmap, nil
}

func isAlphanumeric(b byte) bool {
	return strings.IndexByte(alphabet, b) >= 0
}

// capture is a qrcode.Writer that keeps the finished matrix, so that both output formats
// are drawn here with the same quiet zone and module size rather than by two libraries.
type capture struct {
	bitmap [][]bool
}

func (c *capture) Write(m qrcode.Matrix) error {
	c.bitmap = m.Bitmap()
	return nil
}

func (c *capture) Close() error { return nil }

// writePNG draws the symbol as a two-colour paletted PNG: one bit per pixel keeps a large
// symbol small, and pure black on pure white gives scanners the most contrast.
func writePNG(w io.Writer, m [][]bool, moduleSize int) error {
	side := (len(m) + 2*QuietZone) * moduleSize
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			x0, y0 := (x+QuietZone)*moduleSize, (y+QuietZone)*moduleSize
			for py := y0; py < y0+moduleSize; py++ {
				line := img.Pix[py*img.Stride:]
				for px := x0; px < x0+moduleSize; px++ {
					line[px] = 1
				}
			}
		}
	}
	return png.Encode(w, img)
}

// writeSVG draws the dark modules as a single path of horizontal runs, which keeps the file
// small, and asks for crisp edges so that renderers do not anti-alias module borders into
// grey seams that confuse scanners.
func writeSVG(w *bytes.Buffer, m [][]bool, moduleSize int) {
	side := (len(m) + 2*QuietZone) * moduleSize
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+"\n",
		side, side, side, side)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", side, side)
	w.WriteString(`<path fill="#000000" d="`)
	for y, row := range m {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 0
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(w, "M%d %dh%dv%dh-%dz",
				(x+QuietZone)*moduleSize, (y+QuietZone)*moduleSize,
				run*moduleSize, moduleSize, run*moduleSize)
			x += run
		}
	}
	w.WriteString(`"/>` + "\n</svg>\n")
}
