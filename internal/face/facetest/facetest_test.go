package facetest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

func TestSamplesDecode(t *testing.T) {
	tests := []struct {
		name          string
		data          []byte
		width, height int
	}{
		{"the sample is a 320x400 JPEG", SampleJPEG(), 320, 400},
		{"the plain picture is a 320x400 JPEG", PlainJPEG(), 320, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := jpeg.Decode(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("jpeg.Decode: %v", err)
			}
			if got, want := img.Bounds().Size(), image.Pt(tt.width, tt.height); got != want {
				t.Errorf("size = %v, want %v", got, want)
			}
		})
	}
}

func TestSampleJPEGReturnsACopy(t *testing.T) {
	a := SampleJPEG()
	a[0] = 0
	if got, want := SampleJPEG()[0], byte(0xFF); got != want {
		t.Errorf("first byte after a caller changed its copy = %#x, want %#x", got, want)
	}
}

func TestY4MHeaderAndFrameSizes(t *testing.T) {
	tests := []struct {
		name          string
		img           image.Image
		frames        int
		width, height int
		wantFrames    int
	}{
		{"the sample makes 320x400 frames", SampleImage(), 3, 320, 400, 3},
		{"an odd-sized image loses its last row and column", image.NewGray(image.Rect(0, 0, 33, 21)), 2, 32, 20, 2},
		{"an image not at the origin is read from its bounds", image.NewGray(image.Rect(10, 10, 30, 20)), 1, 20, 10, 1},
		{"zero frames still makes one", PlainImage(), 0, 320, 400, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Y4M(tt.img, tt.frames)
			header := fmt.Sprintf("YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C420jpeg\n", tt.width, tt.height)
			if got, want := string(v[:min(len(v), len(header))]), header; got != want {
				t.Fatalf("header = %q, want %q", got, want)
			}
			frameSize := tt.width*tt.height + 2*(tt.width/2)*(tt.height/2)
			if got, want := len(v), len(header)+tt.wantFrames*(len("FRAME\n")+frameSize); got != want {
				t.Fatalf("length = %d, want %d", got, want)
			}
			for i := range tt.wantFrames {
				at := len(header) + i*(len("FRAME\n")+frameSize)
				if got, want := string(v[at:at+len("FRAME\n")]), "FRAME\n"; got != want {
					t.Errorf("frame %d starts %q, want %q", i, got, want)
				}
			}
		})
	}
}

func TestY4MKeepsGreyLevels(t *testing.T) {
	// A grey pixel has luma equal to its level and neutral chroma (128) in full-range
	// BT.601, so the planes can be checked exactly.
	img := image.NewGray(image.Rect(0, 0, 4, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 30)
	}
	v := Y4M(img, 1)
	frame := v[bytes.Index(v, []byte("FRAME\n"))+len("FRAME\n"):]
	if got, want := frame[:8], img.Pix; !bytes.Equal(got, want) {
		t.Errorf("Y plane = %v, want %v", got, want)
	}
	if got, want := frame[8:], []byte{128, 128, 128, 128}; !bytes.Equal(got, want) {
		t.Errorf("chroma planes = %v, want %v", got, want)
	}
}

func TestY4MConvertsColour(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	for i := range 4 {
		img.Set(i%2, i/2, color.NRGBA{R: 255, A: 255})
	}
	v := Y4M(img, 1)
	frame := v[bytes.Index(v, []byte("FRAME\n"))+len("FRAME\n"):]
	wy, wcb, wcr := color.RGBToYCbCr(255, 0, 0)
	if got, want := frame, []byte{wy, wy, wy, wy, wcb, wcr}; !bytes.Equal(got, want) {
		t.Errorf("frame of pure red = %v, want %v", got, want)
	}
}
