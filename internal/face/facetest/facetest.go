// Package facetest provides face images for tests of code that runs face checks: a
// photograph that the face.Simulator passes, a plain picture it fails with no face, and
// a YUV4MPEG2 writer that turns either into a video for Chromium's fake camera.
//
// Only tests should import it; it embeds a photograph that has no place in a binary.
package facetest

import (
	"bytes"
	_ "embed" // for the sample
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
)

//go:embed testdata/sample.jpg
var sample []byte

// SampleJPEG returns a 320×400 JPEG portrait showing exactly one frontal face (pigo's test
// image; see testdata/NOTICE). Each call returns a fresh copy, so a test may alter it.
func SampleJPEG() []byte {
	return bytes.Clone(sample)
}

// SampleImage returns the decoded SampleJPEG.
func SampleImage() image.Image {
	img, err := jpeg.Decode(bytes.NewReader(sample))
	if err != nil {
		// The sample is embedded at build time; failing to decode it is a broken build.
		panic("facetest: embedded sample does not decode: " + err.Error())
	}
	return img
}

// PlainImage returns a 320×400 diagonal grey gradient: an image that decodes well and
// shows no face.
func PlainImage() image.Image {
	const w, h = 320, 400
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Pix[y*img.Stride+x] = uint8(40 + (x+y)*180/(w+h))
		}
	}
	return img
}

// PlainJPEG returns PlainImage encoded as a JPEG: a well-formed capture with no face.
func PlainJPEG() []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, PlainImage(), &jpeg.Options{Quality: 90}); err != nil {
		panic("facetest: encode plain image: " + err.Error())
	}
	return buf.Bytes()
}

// frameMarker starts every frame of a YUV4MPEG2 stream; it may carry parameters, which
// these videos do not need.
const frameMarker = "FRAME\n"

// Y4M returns a YUV4MPEG2 video of frames identical frames of img at 25 frames per second,
// in the 4:2:0 layout (header "C420jpeg") that Chromium's fake camera reads with
// --use-file-for-fake-video-capture. Chromium loops the file, so a few frames suffice.
//
// frames below 1 count as 1, since an empty stream is not a video.
//
// An odd width or height is cut down by one pixel: 4:2:0 shares one chroma sample among
// 2×2 pixels, and readers disagree about how to size the planes of odd frames.
func Y4M(img image.Image, frames int) []byte {
	b := img.Bounds()
	w, h := b.Dx()&^1, b.Dy()&^1
	cw, ch := w/2, h/2

	// The frame is converted once; every frame of the video is the same bytes.
	frame := make([]byte, w*h+2*cw*ch)
	yp, cb, cr := frame[:w*h], frame[w*h:w*h+cw*ch], frame[w*h+cw*ch:]
	for cy := range ch {
		for cx := range cw {
			var sumCb, sumCr int
			for dy := range 2 {
				for dx := range 2 {
					x, y := 2*cx+dx, 2*cy+dy
					c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
					ly, lcb, lcr := color.RGBToYCbCr(c.R, c.G, c.B)
					yp[y*w+x] = ly
					sumCb += int(lcb)
					sumCr += int(lcr)
				}
			}
			cb[cy*cw+cx] = uint8((sumCb + 2) / 4)
			cr[cy*cw+cx] = uint8((sumCr + 2) / 4)
		}
	}

	frames = max(frames, 1)
	header := fmt.Sprintf("YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C420jpeg\n", w, h)
	out := make([]byte, 0, len(header)+frames*(len(frameMarker)+len(frame)))
	out = append(out, header...)
	for range frames {
		out = append(out, frameMarker...)
		out = append(out, frame...)
	}
	return out
}
