// Package regions finds the prefecture-level city (地级市, or a county-level
// unit a province administers directly) that contains a phone's position,
// and lists those cities for the manual picker. An application records the
// city where it was made; positions outside mainland China are "unknown"
// rather than the nearest Chinese city.
//
// The boundaries are embedded (see README.md for their source and licence)
// and indexed once, so a lookup costs microseconds and no I/O.
package regions

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// prefecturesGz is written by ./gen from the shared reference data.
//
//go:embed prefectures.bin.gz
var prefecturesGz []byte

// City is a prefecture-level unit.
type City struct {
	// Code is the 6-digit GB/T 2260 division code.
	Code string `json:"code"`
	// Name is the unit's name, e.g. 广州市.
	Name string `json:"name"`
	// Province is the name of the province-level unit it belongs to.
	Province string `json:"province"`
}

// cellSize is the grid cell edge in file units (0.25°): small enough that a
// cell meets few rings, large enough that the grid stays a few tens of
// thousands of cells.
const cellSize = 0.25 * scale

// pointsPerBand sets how finely each ring's edges are bucketed by latitude,
// so that a point-in-ring test reads a handful of edges, not all of them.
const pointsPerBand = 8

// Index answers which city contains a position. It is immutable after Load,
// so one Index may serve any number of goroutines.
type Index struct {
	cities []City // sorted by code; a city's position here is its feature number
	byCode map[string]int

	pts   []int32 // every ring's vertices, x (lon) and y (lat) interleaved, in file units
	rings []ring  // grouped by feature, features in code order
	// edges[bandStart[r.band0+b]:bandStart[r.band0+b+1]] are the edges of
	// ring r that span its latitude band b; an edge is named by the
	// ring-relative index of its end point, its start being the point before.
	bandStart []int32
	edges     []int32

	// The grid: cell (cx, cy) lists, in cellRings[cellStart[c]:cellStart[c+1]]
	// with c = cy*nx+cx, the rings whose bounding box meets it, in ring order.
	gridX, gridY float64 // south-west corner, file units
	nx, ny       int
	cellStart    []int32
	cellRings    []int32
}

// ring is one closed ring of a feature with its bounding box and bands.
type ring struct {
	feature                int32
	minX, minY, maxX, maxY int32
	start, n               int32   // points pts[2*start : 2*(start+n)]
	bands                  int32   // number of latitude bands
	band0                  int32   // this ring's first entry in Index.bandStart
	bandScale              float64 // bands per file unit of latitude
}

// Load decodes the embedded boundaries and builds the index. It takes a few
// milliseconds, so call it once at start-up (or use Default).
func Load() (*Index, error) {
	features, err := decode(prefecturesGz)
	if err != nil {
		return nil, fmt.Errorf("regions: embedded data: %w", err)
	}
	if len(features) == 0 {
		return nil, errors.New("regions: embedded data has no cities")
	}
	// Sizing the flat arrays up front saves most of the start-up time,
	// which would otherwise go to growing them ring by ring.
	var nRings, nPts int
	for _, f := range features {
		nRings += len(f.rings)
		for _, r := range f.rings {
			nPts += len(r) / 2
		}
	}
	ix := &Index{
		byCode:    make(map[string]int, len(features)),
		cities:    make([]City, 0, len(features)),
		rings:     make([]ring, 0, nRings),
		pts:       make([]int32, 0, 2*nPts),
		bandStart: make([]int32, 0, nRings+nPts/pointsPerBand+nRings),
		edges:     make([]int32, 0, nPts+nPts/2),
	}
	for i, f := range features {
		// Locate breaks ties between overlapping boundaries by feature order
		// and Cities promises code order, so the generator's sort is checked.
		if i > 0 && f.city.Code <= features[i-1].city.Code {
			return nil, fmt.Errorf("regions: embedded data not sorted by code at %s", f.city.Code)
		}
		ix.cities = append(ix.cities, f.city)
		ix.byCode[f.city.Code] = i
		for _, pts := range f.rings {
			ix.addRing(int32(i), pts)
		}
	}
	ix.buildGrid()
	return ix, nil
}

var loadDefault = sync.OnceValues(Load)

// Default returns the Index of the embedded data, loading it on first use
// and sharing it afterwards.
func Default() (*Index, error) { return loadDefault() }

// Cities returns every prefecture-level unit, sorted by code, for the
// manual city picker. The slice is the caller's to keep or change.
func (ix *Index) Cities() []City { return slices.Clone(ix.cities) }

// City returns the city with the given 6-digit code.
func (ix *Index) City(code string) (City, bool) {
	i, ok := ix.byCode[code]
	if !ok {
		return City{}, false
	}
	return ix.cities[i], true
}

// Locate returns the city containing a WGS-84 position, as a phone's GPS
// reports it. It reports false for positions in no city's boundary (Hong
// Kong, Macau, Taiwan, abroad, at sea) and for impossible coordinates. The
// boundaries are simplified to about 400 m, so a position that close to a
// border may land on either side; where simplified boundaries overlap, the
// lower code wins.
func (ix *Index) Locate(lat, lon float64) (City, bool) {
	// Written so that NaN fails every comparison and is refused.
	if !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
		return City{}, false
	}
	glat, glon := wgs84ToGCJ02(lat, lon)
	f := ix.locateGCJ02(glat, glon)
	if f < 0 {
		return City{}, false
	}
	return ix.cities[f], true
}

// locateGCJ02 returns the feature number containing a GCJ-02 position, or -1.
func (ix *Index) locateGCJ02(lat, lon float64) int {
	px, py := lon*scale, lat*scale
	fx, fy := math.Floor((px-ix.gridX)/cellSize), math.Floor((py-ix.gridY)/cellSize)
	if !(fx >= 0 && fx < float64(ix.nx) && fy >= 0 && fy < float64(ix.ny)) {
		return -1
	}
	c := int(fy)*ix.nx + int(fx)
	// A feature contains the point when an odd number of its rings do: that
	// is "inside an outer ring and not in one of its holes" without storing
	// which ring is which. Rings whose box misses the point contain it zero
	// times and so do not change the parity.
	current, inside := int32(-1), false
	for _, ri := range ix.cellRings[ix.cellStart[c]:ix.cellStart[c+1]] {
		r := &ix.rings[ri]
		if r.feature != current {
			if inside {
				return int(current)
			}
			current, inside = r.feature, false
		}
		if px < float64(r.minX) || px > float64(r.maxX) || py < float64(r.minY) || py > float64(r.maxY) {
			continue
		}
		if ix.inRing(r, px, py) {
			inside = !inside
		}
	}
	if inside {
		return int(current)
	}
	return -1
}

// inRing is the even-odd (ray casting) test against the edges of one ring
// that span the point's latitude band.
func (ix *Index) inRing(r *ring, px, py float64) bool {
	b := r.band(py)
	pts := ix.pts[2*r.start : 2*(r.start+r.n)]
	in := false
	for _, e := range ix.edges[ix.bandStart[r.band0+b]:ix.bandStart[r.band0+b+1]] {
		s := e - 1
		if e == 0 {
			s = r.n - 1
		}
		xi, yi := float64(pts[2*e]), float64(pts[2*e+1])
		xj, yj := float64(pts[2*s]), float64(pts[2*s+1])
		if (yi > py) != (yj > py) && px < (xj-xi)*(py-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// band returns the latitude band of y. It is monotonic in y, which is what
// lets an edge be filed under the bands of its two end points and all
// between.
func (r *ring) band(y float64) int32 {
	b := int32((y - float64(r.minY)) * r.bandScale)
	return max(0, min(b, r.bands-1))
}

// addRing appends a ring (x0, y0, x1, y1, … in file units) of feature f.
func (ix *Index) addRing(f int32, pts []int32) {
	n := int32(len(pts) / 2)
	r := ring{
		feature: f,
		minX:    math.MaxInt32, minY: math.MaxInt32,
		maxX: math.MinInt32, maxY: math.MinInt32,
		start: int32(len(ix.pts) / 2), n: n,
		bands: max(1, n/pointsPerBand),
		band0: int32(len(ix.bandStart)),
	}
	for i := 0; i < len(pts); i += 2 {
		r.minX, r.maxX = min(r.minX, pts[i]), max(r.maxX, pts[i])
		r.minY, r.maxY = min(r.minY, pts[i+1]), max(r.maxY, pts[i+1])
	}
	if r.maxY > r.minY {
		r.bandScale = float64(r.bands) / float64(r.maxY-r.minY)
	}
	ix.pts = append(ix.pts, pts...)

	// Bucket the edges by band: count, then fill, as for the grid below.
	counts := make([]int32, r.bands+1)
	span := func(e int32) (int32, int32) {
		s := e - 1
		if e == 0 {
			s = n - 1
		}
		y0, y1 := pts[2*s+1], pts[2*e+1]
		return r.band(float64(min(y0, y1))), r.band(float64(max(y0, y1)))
	}
	for e := range n {
		lo, hi := span(e)
		for b := lo; b <= hi; b++ {
			counts[b+1]++
		}
	}
	base := int32(len(ix.edges))
	for b := range r.bands {
		counts[b+1] += counts[b]
	}
	for _, c := range counts {
		ix.bandStart = append(ix.bandStart, base+c)
	}
	ix.edges = append(ix.edges, make([]int32, counts[r.bands])...)
	fill := counts[:r.bands]
	for e := range n {
		lo, hi := span(e)
		for b := lo; b <= hi; b++ {
			ix.edges[base+fill[b]] = e
			fill[b]++
		}
	}
	ix.rings = append(ix.rings, r)
}

// buildGrid files every ring under the grid cells its bounding box meets.
func (ix *Index) buildGrid() {
	minX, minY := int32(math.MaxInt32), int32(math.MaxInt32)
	maxX, maxY := int32(math.MinInt32), int32(math.MinInt32)
	for _, r := range ix.rings {
		minX, minY = min(minX, r.minX), min(minY, r.minY)
		maxX, maxY = max(maxX, r.maxX), max(maxY, r.maxY)
	}
	ix.gridX, ix.gridY = float64(minX), float64(minY)
	ix.nx = int(float64(maxX-minX)/cellSize) + 1
	ix.ny = int(float64(maxY-minY)/cellSize) + 1
	cells := func(r *ring) (x0, y0, x1, y1 int) {
		return int(float64(r.minX-minX) / cellSize), int(float64(r.minY-minY) / cellSize),
			int(float64(r.maxX-minX) / cellSize), int(float64(r.maxY-minY) / cellSize)
	}

	ix.cellStart = make([]int32, ix.nx*ix.ny+1)
	for i := range ix.rings {
		x0, y0, x1, y1 := cells(&ix.rings[i])
		for cy := y0; cy <= y1; cy++ {
			for cx := x0; cx <= x1; cx++ {
				ix.cellStart[cy*ix.nx+cx+1]++
			}
		}
	}
	for c := range ix.nx * ix.ny {
		ix.cellStart[c+1] += ix.cellStart[c]
	}
	ix.cellRings = make([]int32, ix.cellStart[ix.nx*ix.ny])
	fill := slices.Clone(ix.cellStart[:ix.nx*ix.ny])
	// Rings are visited in order, so each cell's list comes out in ring
	// order and hence grouped by feature, which locateGCJ02 relies on.
	for i := range ix.rings {
		x0, y0, x1, y1 := cells(&ix.rings[i])
		for cy := y0; cy <= y1; cy++ {
			for cx := x0; cx <= x1; cx++ {
				c := cy*ix.nx + cx
				ix.cellRings[fill[c]] = int32(i)
				fill[c]++
			}
		}
	}
}

// Known reports whether code names a city of the index, for validating
// the city of an application.
func (ix *Index) Known(code string) bool {
	_, ok := ix.City(code)
	return ok
}
