package regions

import (
	"math"
	"testing"
)

// metres is the distance between two nearby positions, close enough for
// offsets of a few hundred metres.
func metres(lat1, lon1, lat2, lon2 float64) float64 {
	const perDegree = 111_195.0 // metres per degree on a 6371 km sphere
	dy := (lat2 - lat1) * perDegree
	dx := (lon2 - lon1) * perDegree * math.Cos((lat1+lat2)/2*math.Pi/180)
	return math.Hypot(dx, dy)
}

func TestGCJ02MatchesReferencePairs(t *testing.T) {
	for _, c := range []struct {
		name                 string
		lat, lon             float64 // WGS-84
		wantLat, wantLon     float64 // GCJ-02
		minMetres, maxMetres float64
	}{
		// The example pair quoted with many published implementations of
		// the formula; ours agrees to 1e-9°.
		{"Pudong, the commonly quoted example", 31.1774276, 121.5272106, 31.17530398364597, 121.531541859215, 300, 600},
		// Tiananmen: GCJ-02 maps put it about 550 m east-north-east of
		// its GPS position, the familiar "Beijing offset".
		{"Tiananmen in Beijing", 39.9087, 116.3975, 39.910103499345, 116.403743572652, 400, 700},
		{"Beijing West station", 39.8952, 116.3215, 39.896498346672, 116.327617442943, 400, 700},
		{"Shenzhen Futian station", 22.5390, 114.0550, 22.536277273686, 114.060110167736, 400, 700},
	} {
		t.Run(c.name, func(t *testing.T) {
			lat, lon := wgs84ToGCJ02(c.lat, c.lon)
			if math.Abs(lat-c.wantLat) > 1e-9 || math.Abs(lon-c.wantLon) > 1e-9 {
				t.Errorf("wgs84ToGCJ02(%v, %v) = %.12f, %.12f; want %.12f, %.12f",
					c.lat, c.lon, lat, lon, c.wantLat, c.wantLon)
			}
			if d := metres(c.lat, c.lon, lat, lon); d < c.minMetres || d > c.maxMetres {
				t.Errorf("offset %.0f m, want between %.0f and %.0f m", d, c.minMetres, c.maxMetres)
			}
		})
	}
}

func TestGCJ02LeavesPositionsOutsideChinaAlone(t *testing.T) {
	for _, c := range []struct {
		name     string
		lat, lon float64
	}{
		{"Tokyo", 35.6812, 139.7671},
		{"London", 51.5074, -0.1278},
		{"Sydney", -33.8688, 151.2093},
		{"Karachi", 24.8607, 67.0011},
		{"Moscow", 55.7558, 37.6173},
	} {
		t.Run(c.name, func(t *testing.T) {
			lat, lon := wgs84ToGCJ02(c.lat, c.lon)
			if lat != c.lat || lon != c.lon {
				t.Errorf("wgs84ToGCJ02(%v, %v) = %v, %v; want unchanged", c.lat, c.lon, lat, lon)
			}
		})
	}
}

func TestGCJ02OffsetIsHundredsOfMetresAcrossChina(t *testing.T) {
	// The offset is meant to be a nuisance, not a relocation: anywhere in
	// the box it stays under about a kilometre, which is why boundaries
	// simplified to 400 m still need it applied.
	for lat := 18.0; lat <= 53; lat += 1 {
		for lon := 74.0; lon <= 134; lon += 1 {
			glat, glon := wgs84ToGCJ02(lat, lon)
			if d := metres(lat, lon, glat, glon); d < 10 || d > 1200 {
				t.Errorf("offset at %v,%v is %.0f m", lat, lon, d)
			}
		}
	}
}

func TestGCJ02InverseUsedByTestsRoundTrips(t *testing.T) {
	glat, glon := wgs84ToGCJ02(39.9087, 116.3975)
	lat, lon := gcj02ToWGS84(glat, glon)
	if d := metres(lat, lon, 39.9087, 116.3975); d > 0.001 {
		t.Errorf("round trip is %.6f m off", d)
	}
}
