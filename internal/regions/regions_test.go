package regions

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t testing.TB) *Index {
	t.Helper()
	ix, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// The positions are WGS-84, as a phone reports them, read off maps to about
// 100 m; each is at least a kilometre from every simplified boundary, so the
// test does not hang on how a border was simplified.
var places = []struct {
	name     string
	lat, lon float64
	code     string // empty: in no city
	city     string
}{
	{"Beijing West station is in Beijing", 39.8952, 116.3215, "110100", "北京市"},
	{"Shanghai Hongqiao station is in Shanghai", 31.1942, 121.3206, "310100", "上海市"},
	{"Guangzhou South station is in Guangzhou", 22.9893, 113.2693, "440100", "广州市"},
	{"Chengdu East station is in Chengdu", 30.6295, 104.1413, "510100", "成都市"},
	{"Ürümqi station is in Ürümqi", 43.8238, 87.5636, "650100", "乌鲁木齐市"},
	{"Lhasa station is in Lhasa", 29.6165, 91.0722, "540100", "拉萨市"},
	{"Sanya station is in Sanya", 18.3036, 109.4947, "460200", "三亚市"},
	{"Xiantao, a county-level city under Hubei, is its own unit", 30.3640, 113.4180, "429004", "仙桃市"},
	{"Shenzhen Futian station is in Shenzhen", 22.5390, 114.0550, "440300", "深圳市"},
	{"Hong Kong Central is in no city", 22.2810, 114.1590, "", ""},
	{"Macau is in no city", 22.1935, 113.5398, "", ""},
	{"Taipei is in no city", 25.0339, 121.5645, "", ""},
	{"Tokyo is in no city", 35.6812, 139.7671, "", ""},
	{"the open East China Sea is in no city", 29.5, 124.5, "", ""},
}

func TestLocateFindsTheCityOfRealPlaces(t *testing.T) {
	ix := mustLoad(t)
	for _, p := range places {
		t.Run(p.name, func(t *testing.T) {
			c, ok := ix.Locate(p.lat, p.lon)
			if got, want := ok, p.code != ""; got != want {
				t.Fatalf("found = %v (%+v), want %v", got, c, want)
			}
			if got, want := c.Code, p.code; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			if got, want := c.Name, p.city; got != want {
				t.Errorf("name = %q, want %q", got, want)
			}
		})
	}
}

func TestLocateRefusesImpossibleCoordinates(t *testing.T) {
	ix := mustLoad(t)
	for _, c := range []struct {
		name     string
		lat, lon float64
	}{
		{"latitude NaN", math.NaN(), 116.3},
		{"longitude NaN", 39.9, math.NaN()},
		{"latitude beyond the pole", 91, 116.3},
		{"longitude beyond the antimeridian", 39.9, 181},
		{"infinite longitude", 39.9, math.Inf(-1)},
		{"null island, which is real but in no city", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, ok := ix.Locate(c.lat, c.lon); ok {
				t.Errorf("Locate(%v, %v) = %+v, want not found", c.lat, c.lon, got)
			}
		})
	}
}

func TestEveryCityHasACodeAndAProvince(t *testing.T) {
	ix := mustLoad(t)
	cities := ix.Cities()
	// 364 prefecture-level units in the reference data's README.
	if got, want := len(cities), 364; got != want {
		t.Errorf("len(Cities()) = %d, want %d", got, want)
	}
	sixDigits := regexp.MustCompile(`^[1-8][0-9]{5}$`)
	for _, c := range cities {
		if !sixDigits.MatchString(c.Code) {
			t.Errorf("%+v: code is not six digits", c)
		}
		if c.Name == "" || c.Province == "" {
			t.Errorf("%+v: name or province missing", c)
		}
		if got, ok := ix.City(c.Code); !ok || got != c {
			t.Errorf("City(%q) = %+v, %v; want %+v", c.Code, got, ok, c)
		}
	}
	if !slices.IsSortedFunc(cities, func(a, b City) int { return strings.Compare(a.Code, b.Code) }) {
		t.Error("Cities() is not sorted by code")
	}
}

func TestCitiesIsACopy(t *testing.T) {
	ix := mustLoad(t)
	ix.Cities()[0].Name = "changed"
	if got := ix.Cities()[0].Name; got == "changed" {
		t.Error("changing the result of Cities changed the Index")
	}
}

func TestCityLooksUpByCode(t *testing.T) {
	ix := mustLoad(t)
	for _, c := range []struct {
		name, code string
		want       City
		found      bool
	}{
		{"a prefecture", "440100", City{"440100", "广州市", "广东省"}, true},
		{"a municipality under its own name", "310100", City{"310100", "上海市", "上海市"}, true},
		{"a county-level city under a province", "469002", City{"469002", "琼海市", "海南省"}, true},
		{"a province is not a city", "440000", City{}, false},
		{"a county is not a city", "110101", City{}, false},
		{"an empty code", "", City{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ix.City(c.code)
			if ok != c.found || got != c.want {
				t.Errorf("City(%q) = %+v, %v; want %+v, %v", c.code, got, ok, c.want, c.found)
			}
		})
	}
}

// gcj02ToWGS84 inverts wgs84ToGCJ02 by fixed-point iteration; the offset
// varies slowly, so a few rounds reach far below a millimetre.
func gcj02ToWGS84(lat, lon float64) (float64, float64) {
	wlat, wlon := lat, lon
	for range 8 {
		glat, glon := wgs84ToGCJ02(wlat, wlon)
		wlat, wlon = wlat-(glat-lat), wlon-(glon-lon)
	}
	return wlat, wlon
}

func TestLocateFindsTheCityAtItsSeat(t *testing.T) {
	ix := mustLoad(t)
	// Centres from the reference data's regions.csv, in GCJ-02.
	for _, c := range []struct {
		name     string
		lon, lat float64
		code     string
	}{
		{"Shijiazhuang", 114.514793, 38.042228, "130100"},
		{"Hohhot", 111.749995, 40.842356, "150100"},
		{"Harbin", 126.534967, 45.803775, "230100"},
		{"Nanjing", 118.796682, 32.05957, "320100"},
		{"Wuhan", 114.305469, 30.593175, "420100"},
		{"Kunming", 102.832891, 24.880095, "530100"},
		{"Xi'an", 108.93977, 34.341574, "610100"},
		{"Lanzhou", 103.834303, 36.061089, "620100"},
		{"Shihezi", 86.080602, 44.306097, "659001"},
	} {
		t.Run(c.name+" is found at its centre", func(t *testing.T) {
			lat, lon := gcj02ToWGS84(c.lat, c.lon)
			got, ok := ix.Locate(lat, lon)
			if !ok {
				t.Fatalf("Locate(%v, %v) found nothing", lat, lon)
			}
			if got, want := got.Code, c.code; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
		})
	}
}

// A brute-force scan of every ring of every feature must agree with the
// grid and latitude bands, including near borders where the index is most
// likely to go wrong.
func TestIndexAgreesWithAScanOfEveryRing(t *testing.T) {
	ix := mustLoad(t)
	scan := func(lat, lon float64) int {
		px, py := lon*scale, lat*scale
		inside := make([]bool, len(ix.cities))
		for _, r := range ix.rings {
			if px < float64(r.minX) || px > float64(r.maxX) || py < float64(r.minY) || py > float64(r.maxY) {
				continue
			}
			pts := ix.pts[2*r.start : 2*(r.start+r.n)]
			for i, j := int32(0), r.n-1; i < r.n; j, i = i, i+1 {
				xi, yi := float64(pts[2*i]), float64(pts[2*i+1])
				xj, yj := float64(pts[2*j]), float64(pts[2*j+1])
				if (yi > py) != (yj > py) && px < (xj-xi)*(py-yi)/(yj-yi)+xi {
					inside[r.feature] = !inside[r.feature]
				}
			}
		}
		return slices.Index(inside, true)
	}
	check := func(lat, lon float64) {
		t.Helper()
		if got, want := ix.locateGCJ02(lat, lon), scan(lat, lon); got != want {
			t.Errorf("at %.5f,%.5f: index says feature %d, scan says %d", lat, lon, got, want)
		}
	}
	// Points on a lattice over China, offset so that they rarely sit exactly
	// on a vertex's latitude or a cell's edge.
	n := 0
	for lat := 18.00037; lat < 54; lat += 0.23 {
		for lon := 73.00041; lon < 135; lon += 0.29 {
			check(lat, lon)
			n++
		}
	}
	// And points just beside vertices, where edges and bands meet.
	for i := 0; i < len(ix.pts); i += 2 * 29 {
		check(float64(ix.pts[i+1])/scale+0.00002, float64(ix.pts[i])/scale+0.00003)
		check(float64(ix.pts[i+1])/scale-0.00002, float64(ix.pts[i])/scale-0.00003)
		n += 2
	}
	t.Logf("%d points compared", n)
}

func BenchmarkLocate(b *testing.B) {
	ix := mustLoad(b)
	for b.Loop() {
		for _, p := range places {
			ix.Locate(p.lat, p.lon)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(places)), "ns/locate")
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLocateRespectsEnclaves(t *testing.T) {
	ix := mustLoad(t)
	// Points inside holes of one unit's boundary, in GCJ-02, found with the
	// reference GeoJSON (each hole's centroid, checked to lie inside it).
	for _, c := range []struct {
		name     string
		lon, lat float64
		code     string // empty: in no city
	}{
		{"Jiagedaqi, run by Heilongjiang's Da Hinggan Ling inside Hulunbuir", 124.1380, 50.3753, "232700"},
		{"Karamay's exclave inside Tacheng", 85.1850, 45.5089, "650200"},
		{"Aral, a city of its own inside Aksu", 81.3440, 40.6020, "659002"},
		// Beitun (北屯市) post-dates the data's division list, so its land is
		// a hole in Altay with no feature: unknown, not wrongly Altay.
		{"Beitun, missing from the data, is in no city", 87.9263, 47.2578, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			lat, lon := gcj02ToWGS84(c.lat, c.lon)
			got, _ := ix.Locate(lat, lon)
			if got, want := got.Code, c.code; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
		})
	}
}
