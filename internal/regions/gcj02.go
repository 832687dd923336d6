package regions

import "math"

// GCJ-02 is the datum that Chinese maps, and so the boundary data, use: WGS-84
// shifted by a deterministic, position-dependent offset of a few hundred
// metres. Phones report WGS-84, so positions are shifted before lookup.
//
// The formula below is the widely published one: a polynomial-plus-sines
// offset in metres, turned into degrees on the Krasovsky 1940 ellipsoid.

const (
	// krasovskyA is the semi-major axis of the Krasovsky 1940 ellipsoid, in metres.
	krasovskyA = 6378245.0
	// krasovskyE2 is that ellipsoid's first eccentricity squared.
	krasovskyE2 = 0.00669342162296594323
)

// outsideChina reports whether a position is outside the rough rectangle in
// which the GCJ-02 offset is applied; outside it, GCJ-02 equals WGS-84.
func outsideChina(lat, lon float64) bool {
	return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
}

// wgs84ToGCJ02 converts a WGS-84 position to GCJ-02.
func wgs84ToGCJ02(lat, lon float64) (float64, float64) {
	if outsideChina(lat, lon) {
		return lat, lon
	}
	dLat, dLon := gcjOffset(lat, lon)
	return lat + dLat, lon + dLon
}

// gcjOffset returns the GCJ-02 offset at a WGS-84 position, in degrees.
func gcjOffset(lat, lon float64) (dLat, dLon float64) {
	x, y := lon-105, lat-35
	radLat := lat * math.Pi / 180
	sinLat := math.Sin(radLat)
	w := 1 - krasovskyE2*sinLat*sinLat
	sqrtW := math.Sqrt(w)
	// Metres of offset over metres per degree of latitude (meridian radius
	// of curvature) and of longitude (prime-vertical radius × cos lat).
	dLat = offsetNorth(x, y) * 180 / (krasovskyA * (1 - krasovskyE2) / (w * sqrtW) * math.Pi)
	dLon = offsetEast(x, y) * 180 / (krasovskyA / sqrtW * math.Cos(radLat) * math.Pi)
	return dLat, dLon
}

// offsetNorth is the northward part of the offset, in metres, at x degrees
// east of 105°E and y degrees north of 35°N.
func offsetNorth(x, y float64) float64 {
	v := -100 + 2*x + 3*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	v += (20*math.Sin(6*x*math.Pi) + 20*math.Sin(2*x*math.Pi)) * 2 / 3
	v += (20*math.Sin(y*math.Pi) + 40*math.Sin(y/3*math.Pi)) * 2 / 3
	v += (160*math.Sin(y/12*math.Pi) + 320*math.Sin(y/30*math.Pi)) * 2 / 3
	return v
}

// offsetEast is the eastward part of the offset, in metres, in the same
// coordinates as offsetNorth.
func offsetEast(x, y float64) float64 {
	v := 300 + x + 2*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	v += (20*math.Sin(6*x*math.Pi) + 20*math.Sin(2*x*math.Pi)) * 2 / 3
	v += (20*math.Sin(x*math.Pi) + 40*math.Sin(x/3*math.Pi)) * 2 / 3
	v += (150*math.Sin(x/12*math.Pi) + 300*math.Sin(x/30*math.Pi)) * 2 / 3
	return v
}
