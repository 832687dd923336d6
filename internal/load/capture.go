package load

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
)

// ShrinkJPEG returns the JPEG b with each side divided by f, every pixel
// the mean of an f×f block. A smaller portrait makes a development face
// check cheaper where the check is only preparation, as in tempid-dev
// compare; f = 1 returns b.
func ShrinkJPEG(b []byte, f int) ([]byte, error) {
	if f <= 1 {
		return b, nil
	}
	src, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r := src.Bounds()
	w, h := r.Dx()/f, r.Dy()/f
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("a %d×%d image cannot be divided by %d", r.Dx(), r.Dy(), f)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	n := uint32(f * f)
	for y := range h {
		for x := range w {
			var rs, gs, bs uint32
			for dy := range f {
				for dx := range f {
					cr, cg, cb, _ := src.At(r.Min.X+x*f+dx, r.Min.Y+y*f+dy).RGBA()
					rs, gs, bs = rs+cr, gs+cg, bs+cb
				}
			}
			dst.SetRGBA64(x, y, color.RGBA64{R: uint16(rs / n), G: uint16(gs / n), B: uint16(bs / n), A: 0xffff})
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
