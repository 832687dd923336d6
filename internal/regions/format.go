package regions

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The embedded file is gzip'd; inside, after magic, everything is varints
// (encoding/binary's Uvarint and zigzag Varint):
//
//	uvarint            number of features, sorted by code
//	per feature:
//	  3 × (uvarint length, UTF-8 bytes)   code, name, province
//	  uvarint          number of rings (outer rings and holes, unmarked)
//	  per ring:
//	    uvarint        number of points, the closing point not repeated
//	    per point:     varint Δlon, varint Δlat in units of 1e-4°, each
//	                   relative to the previous point in the file (0,0 first)
//
// Package gen writes it; the two must change together.
const magic = "TIDREG1\n"

// scale is the number of file units per degree.
const scale = 1e4

// rawFeature is one decoded feature before indexing.
type rawFeature struct {
	city  City
	rings [][]int32 // x0, y0, x1, y1, … in file units
}

// decode reads the gzip'd embedded file.
func decode(gz []byte) ([]rawFeature, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	// gzip's trailer records the uncompressed size (mod 2³²); using it as a
	// capacity hint spares io.ReadAll's repeated growing.
	var buf bytes.Buffer
	if n := len(gz); n >= 4 {
		buf.Grow(int(min(binary.LittleEndian.Uint32(gz[n-4:]), 64<<20)))
	}
	if _, err := io.Copy(&buf, zr); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, errors.New("not a regions file")
	}
	d := decoder{b: b[len(magic):]}
	n := d.count()
	features := make([]rawFeature, 0, n)
	var x, y int64
	for range n {
		var f rawFeature
		f.city.Code, f.city.Name, f.city.Province = d.str(), d.str(), d.str()
		nr := d.count()
		for range nr {
			np := d.count()
			ring := make([]int32, 0, 2*np)
			for range np {
				x += d.varint()
				y += d.varint()
				ring = append(ring, int32(x), int32(y))
			}
			f.rings = append(f.rings, ring)
		}
		if d.err != nil {
			return nil, d.err
		}
		features = append(features, f)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	return features, d.err
}

// decoder reads varints from a byte slice, remembering the first error so
// that the loop above stays readable.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or malformed varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or malformed varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length and bounds it by the bytes left, since every counted
// item takes at least one byte; a corrupt count thus cannot ask for a huge
// allocation.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		if d.err == nil {
			d.err = fmt.Errorf("count %d exceeds remaining %d bytes", v, len(d.b))
		}
		return 0
	}
	return int(v)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
