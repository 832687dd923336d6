// Command gen turns the reference data (prefectures.geojson and regions.csv)
// into the compact file that package regions embeds, so that the service
// carries about 420 kB instead of a 2.8 MB GeoJSON parsed at every start.
//
// Usage:
//
//	go run ./internal/regions/gen -data DIR -out internal/regions/prefectures.bin.gz
//
// The output format is described in internal/regions/format.go; the two must
// change together. The output is deterministic, so regenerating from the same
// data yields the same bytes.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// magic must equal the constant of the same name in package regions.
const magic = "TIDREG1\n"

// scale turns degrees into the integer units stored in the file: the source
// is rounded to 4 decimals (about 11 m), so 1e-4° units lose nothing.
const scale = 1e4

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	dataDir := fs.String("data", "", "directory holding prefectures.geojson and regions.csv")
	out := fs.String("out", "", "file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || *out == "" {
		return errors.New("both -data and -out are required")
	}

	provinces, err := readProvinces(filepath.Join(*dataDir, "regions.csv"))
	if err != nil {
		return err
	}
	features, err := readFeatures(filepath.Join(*dataDir, "prefectures.geojson"))
	if err != nil {
		return err
	}
	for _, f := range features {
		p, ok := provinces[f.Code]
		if !ok {
			return fmt.Errorf("feature %s %s is not in regions.csv", f.Code, f.Name)
		}
		// regions.csv is the authority on which province a unit belongs to;
		// a disagreement means the two files come from different releases.
		if p != f.Province {
			return fmt.Errorf("feature %s %s: province %q, regions.csv says %q", f.Code, f.Name, f.Province, p)
		}
	}

	raw := encode(features)
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(*out, gz.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d features, %d bytes raw, %d bytes gzip'd -> %s\n",
		len(features), len(raw), gz.Len(), *out)
	return nil
}

// feature is one prefecture-level unit with its rings in file units.
type feature struct {
	Code, Name, Province string
	// Rings holds every ring of every polygon, outer rings and holes alike:
	// the index decides inside-ness by even-odd parity over all of them,
	// so which ring is a hole need not be stored.
	Rings [][][2]int32
}

// readProvinces maps each division code in regions.csv to its province name.
func readProvinces(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, name := range []string{"code", "province"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("%s: no %q column", path, name)
		}
	}
	provinces := map[string]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return provinces, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		provinces[rec[col["code"]]] = rec[col["province"]]
	}
}

// readFeatures reads the GeoJSON, quantises it and returns the features
// sorted by code, which is the order package regions relies on.
func readFeatures(path string) ([]feature, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Type     string `json:"type"`
		CRS      string `json:"crs"`
		Features []struct {
			Properties struct {
				Code     string `json:"code"`
				Name     string `json:"name"`
				Province string `json:"province"`
			} `json:"properties"`
			Geometry struct {
				Type        string           `json:"type"`
				Coordinates [][][][2]float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Type != "FeatureCollection" {
		return nil, fmt.Errorf("%s: type %q, want FeatureCollection", path, doc.Type)
	}
	// The index converts phone positions to GCJ-02 before looking up, so
	// boundaries in any other datum would be silently off by hundreds of metres.
	if doc.CRS != "GCJ-02" {
		return nil, fmt.Errorf("%s: crs %q, want GCJ-02", path, doc.CRS)
	}

	var features []feature
	for _, f := range doc.Features {
		p := f.Properties
		if len(p.Code) != 6 || p.Name == "" || p.Province == "" {
			return nil, fmt.Errorf("%s: feature with incomplete properties %+v", path, p)
		}
		if f.Geometry.Type != "MultiPolygon" {
			return nil, fmt.Errorf("%s: feature %s is a %s, want MultiPolygon", path, p.Code, f.Geometry.Type)
		}
		out := feature{Code: p.Code, Name: p.Name, Province: p.Province}
		for _, poly := range f.Geometry.Coordinates {
			for _, ring := range poly {
				q, err := quantise(ring)
				if err != nil {
					return nil, fmt.Errorf("%s: feature %s: %w", path, p.Code, err)
				}
				out.Rings = append(out.Rings, q)
			}
		}
		if len(out.Rings) == 0 {
			return nil, fmt.Errorf("%s: feature %s has no rings", path, p.Code)
		}
		features = append(features, out)
	}
	slices.SortFunc(features, func(a, b feature) int { return cmp.Compare(a.Code, b.Code) })
	for i := 1; i < len(features); i++ {
		if features[i].Code == features[i-1].Code {
			return nil, fmt.Errorf("%s: code %s appears twice", path, features[i].Code)
		}
	}
	return features, nil
}

// quantise converts a GeoJSON ring to file units, dropping the repeated
// closing point (the index closes every ring itself) and consecutive
// duplicates, which rounding can create and which carry no edge.
func quantise(ring [][2]float64) ([][2]int32, error) {
	var q [][2]int32
	for _, pt := range ring {
		lon, lat := pt[0], pt[1]
		if !(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90) {
			return nil, fmt.Errorf("coordinate %v out of range", pt)
		}
		p := [2]int32{int32(math.Round(lon * scale)), int32(math.Round(lat * scale))}
		if len(q) > 0 && q[len(q)-1] == p {
			continue
		}
		q = append(q, p)
	}
	if len(q) > 1 && q[0] == q[len(q)-1] {
		q = q[:len(q)-1]
	}
	if len(q) < 3 {
		return nil, fmt.Errorf("ring with %d distinct points", len(q))
	}
	return q, nil
}

// encode returns the uncompressed format described in
// internal/regions/format.go.
func encode(features []feature) []byte {
	b := []byte(magic)
	b = binary.AppendUvarint(b, uint64(len(features)))
	var prevX, prevY int32
	for _, f := range features {
		for _, s := range []string{f.Code, f.Name, f.Province} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendUvarint(b, uint64(len(f.Rings)))
		for _, ring := range f.Rings {
			b = binary.AppendUvarint(b, uint64(len(ring)))
			// Neighbouring vertices are close, so deltas are mostly one or
			// two bytes as varints and compress well afterwards.
			for _, p := range ring {
				b = binary.AppendVarint(b, int64(p[0])-int64(prevX))
				b = binary.AppendVarint(b, int64(p[1])-int64(prevY))
				prevX, prevY = p[0], p[1]
			}
		}
	}
	return b
}
