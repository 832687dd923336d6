package face

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed" // for the cascade
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"sync"

	pigo "github.com/esimov/pigo/core"
)

// Bounds on a capture the Simulator will decode. A phone camera frame is a few hundred
// kilobytes and well under 16 megapixels; anything beyond is refused rather than decoded.
const (
	// MaxCaptureBytes is the largest encoded capture accepted.
	MaxCaptureBytes = 8 << 20
	// MaxCapturePixels is the largest width×height accepted, checked from the image
	// header before any pixel is decoded, so that a small file declaring huge dimensions
	// (a decompression bomb) costs nothing.
	MaxCapturePixels = 16_000_000
)

// Detection tuning, calibrated on the facetest sample (one frontal face, 320×400) and on
// negatives (gradient, random noise, checkerboard, the sample upside down, all in the
// tests; a drawn smiley and the sample rotated by 90° besides): with these settings the sample's face clusters at a quality of about
// 340 and every negative stays below 1. MinQuality sits well between the two, low enough
// for a real, less frontal webcam face made of a handful of detections.
const (
	// MinQuality is the least clustered pigo quality counted as a face.
	MinQuality = 20
	// workingSide bounds the longer side of the image the detector scans; larger
	// captures are averaged down first, which keeps a check at tens of milliseconds
	// whatever the camera, and a selfie face stays far above minFaceSize.
	workingSide = 640
	// minFaceSize is the smallest face, in working-image pixels, the detector looks for.
	minFaceSize = 20
	// clusterIoU merges detections overlapping by more than this into one face.
	clusterIoU = 0.2
	// The window moves by a tenth of its size and grows by a tenth per scale. pigo sums
	// a cluster's detections into its quality, so MinQuality holds only with these.
	shiftFactor = 0.1
	scaleFactor = 1.1
)

//go:embed cascade/facefinder
var facefinder []byte

// The cascade is unpacked once per process and only read afterwards, so one copy serves
// every Simulator and every concurrent Check.
var (
	cascadeOnce sync.Once
	cascade     *pigo.Pigo
	cascadeErr  error
)

func classifier() (*pigo.Pigo, error) {
	cascadeOnce.Do(func() {
		cascade, cascadeErr = pigo.NewPigo().Unpack(facefinder)
		if cascadeErr != nil {
			cascadeErr = fmt.Errorf("face: unpack cascade: %w", cascadeErr)
		}
	})
	return cascade, cascadeErr
}

// Simulator is a development-only Provider that passes a capture showing exactly one face.
//
// It does NO identity comparison — any face passes for any subject — and NO liveness
// check — a printed photo passes. It must never decide a real certificate; the server
// refuses it unless started in demo/development mode. It keeps the capture only in memory
// during Check. The zero value is ready to use and safe for concurrent use.
type Simulator struct{}

var _ Provider = (*Simulator)(nil)

// NewSimulator returns a Simulator. It is cheap: the detector's cascade is shared by all.
func NewSimulator() *Simulator { return &Simulator{} }

// Name returns "simulator".
func (*Simulator) Name() string { return "simulator" }

// Development returns true: the Simulator proves nothing about who is in front of the
// camera.
func (*Simulator) Development() bool { return true }

// Check decodes c as a JPEG or PNG within the capture bounds and counts the faces in it.
// It passes with exactly one face, Score being that face's pigo quality; subject is
// ignored. Errors are only for a cancelled context or a broken detector.
func (*Simulator) Check(ctx context.Context, _ Subject, c Capture) (Result, error) {
	p, err := classifier()
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	ref := "sim-" + rand.Text()
	fail := func(reason string) (Result, error) {
		return Result{Reason: reason, Reference: ref}, nil
	}

	img, reason := decodeBounded(c.Data)
	if reason != "" {
		return fail(reason)
	}
	// Decoding is the slow part for a large capture; a caller that has given up by now
	// should not wait for the detector as well.
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	pix, w, h := grayscale(img, workingSide)
	dets := p.RunCascade(pigo.CascadeParams{
		MinSize:     minFaceSize,
		MaxSize:     min(w, h),
		ShiftFactor: shiftFactor,
		ScaleFactor: scaleFactor,
		ImageParams: pigo.ImageParams{Pixels: pix, Rows: h, Cols: w, Dim: w},
	}, 0)
	var faces []pigo.Detection
	for _, d := range p.ClusterDetections(dets, clusterIoU) {
		if d.Q >= MinQuality {
			faces = append(faces, d)
		}
	}
	switch len(faces) {
	case 0:
		return fail(ReasonNoFace)
	case 1:
		return Result{Passed: true, Score: float64(faces[0].Q), Reference: ref}, nil
	default:
		return fail(ReasonMultipleFaces)
	}
}

// codec is one image format the Simulator accepts.
type codec struct {
	magic  []byte
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecs are called directly rather than through image.Decode, so that a format some other
// package registers (GIF, WebP, BMP) never widens what a capture may be.
var codecs = []codec{
	{[]byte{0xFF, 0xD8, 0xFF}, jpeg.DecodeConfig, jpeg.Decode},
	{[]byte("\x89PNG\r\n\x1a\n"), png.DecodeConfig, png.Decode},
}

// decodeBounded decodes data as JPEG or PNG, or gives the reason it will not.
func decodeBounded(data []byte) (image.Image, string) {
	if len(data) > MaxCaptureBytes {
		return nil, ReasonImageTooLarge
	}
	for _, c := range codecs {
		if !bytes.HasPrefix(data, c.magic) {
			continue
		}
		cfg, err := c.config(bytes.NewReader(data))
		if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
			return nil, ReasonUnreadableImage
		}
		if cfg.Width > MaxCapturePixels/cfg.Height {
			return nil, ReasonImageTooLarge
		}
		img, err := c.decode(bytes.NewReader(data))
		if err != nil {
			return nil, ReasonUnreadableImage
		}
		return img, ""
	}
	return nil, ReasonUnreadableImage
}

// grayscale returns img's luma, averaged down by a whole factor so that neither side
// exceeds maxSide, as pigo wants it: row-major, one byte per pixel.
func grayscale(img image.Image, maxSide int) (pix []uint8, w, h int) {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	k := (max(sw, sh) + maxSide - 1) / maxSide
	w, h = sw/k, sh/k
	luma := lumaReader(img)
	sum := make([]uint32, w*h)
	for y := 0; y < h*k; y++ {
		row := sum[(y/k)*w : (y/k+1)*w]
		for x := 0; x < w*k; x++ {
			row[x/k] += uint32(luma(b.Min.X+x, b.Min.Y+y))
		}
	}
	pix = make([]uint8, w*h)
	area := uint32(k * k)
	for i, s := range sum {
		pix[i] = uint8((s + area/2) / area)
	}
	return pix, w, h
}

// lumaReader returns a function reading one pixel's luma: straight from the Y plane for
// JPEG and from the bytes for the common PNG layouts, since the generic At path allocates
// for every pixel.
func lumaReader(img image.Image) func(x, y int) uint8 {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) uint8 { return m.Y[m.YOffset(x, y)] }
	case *image.Gray:
		return func(x, y int) uint8 { return m.Pix[m.PixOffset(x, y)] }
	case *image.NRGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			return rgbLuma(uint32(p[0]), uint32(p[1]), uint32(p[2]))
		}
	case *image.RGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			return rgbLuma(uint32(p[0]), uint32(p[1]), uint32(p[2]))
		}
	default:
		return func(x, y int) uint8 {
			r, g, b, _ := img.At(x, y).RGBA()
			return rgbLuma(r>>8, g>>8, b>>8)
		}
	}
}

// rgbLuma is ITU-R BT.601 luma, the weights pigo converts with, for 8-bit components.
func rgbLuma(r, g, b uint32) uint8 {
	return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
}
