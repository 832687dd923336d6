// Package registry confirms that a name and an ID number belong together,
// as the national identity registry would (R1). Two implementations ship:
// Development, which confirms every well-formed pair and is refused
// outside demo mode, and File, a CSV list of persons for tests and small
// deployments. A real registry plugs in behind the same interface.
package registry

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tempid/internal/idnumber"
	"tempid/internal/problem"
)

// Registry confirms identities. Confirm returns a problem with code
// identity_mismatch when the pair is not confirmed, and another error when
// the registry itself failed.
type Registry interface {
	Name() string
	// Development reports whether this registry confirms without checking.
	Development() bool
	Confirm(ctx context.Context, name string, id idnumber.Number) error
}

var (
	_ Registry = Development{}
	_ Registry = (*File)(nil)
)

// Development confirms every well-formed pair: it checks nothing and must
// never run in production.
type Development struct{}

// Name is "development".
func (Development) Name() string { return "development" }

// Development is true.
func (Development) Development() bool { return true }

// Confirm accepts any pair.
func (Development) Confirm(context.Context, string, idnumber.Number) error { return nil }

// Photos is the optional capability of a registry that holds a reference
// photo per person, shown to an officer at the manual window and to a
// clerk at a staffed lane. The photo is fetched for the screen and never
// stored or logged.
type Photos interface {
	// Photo returns the reference photo of a confirmed pair as a data URL
	// ("data:image/jpeg;base64,…"), "" when the registry has none for this
	// person, and an error when the registry failed.
	Photo(ctx context.Context, name string, id idnumber.Number) (string, error)
}

// PhotoOf asks r for a reference photo when it has the capability; a
// registry without it has none.
func PhotoOf(ctx context.Context, r Registry, name string, id idnumber.Number) (string, error) {
	p, ok := r.(Photos)
	if !ok {
		return "", nil
	}
	return p.Photo(ctx, name, id)
}

// File is a registry read from a CSV file of persons, one
// "name,id_number[,photo]" per line (a header line starting "name,id_number"
// is allowed). photo names a JPEG or PNG file, relative to Dir.
type File struct {
	persons map[idnumber.Number]string
	photos  map[idnumber.Number]string
	// Dir is the directory photo file names are relative to.
	Dir string
}

var _ Photos = (*File)(nil)

// Photo reads the person's photo file, if the list names one, as a data URL.
func (f *File) Photo(_ context.Context, name string, id idnumber.Number) (string, error) {
	if listed, ok := f.persons[id]; !ok || listed != strings.TrimSpace(name) {
		return "", nil
	}
	file := f.photos[id]
	if file == "" {
		return "", nil
	}
	raw, err := os.ReadFile(filepath.Join(f.Dir, filepath.Clean("/"+file)))
	if err != nil {
		return "", fmt.Errorf("registry: reading a reference photo: %w", err)
	}
	mime := "image/jpeg"
	if strings.HasSuffix(strings.ToLower(file), ".png") {
		mime = "image/png"
	}
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(raw), nil
}

// ParseFile reads a CSV list of persons. Every ID number must be valid.
func ParseFile(r io.Reader, now time.Time) (*File, error) {
	f := &File{persons: map[idnumber.Number]string{}, photos: map[idnumber.Number]string{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		if len(rec) != 2 && len(rec) != 3 {
			return nil, fmt.Errorf("registry line %d: %d fields, want name,id_number[,photo]", line, len(rec))
		}
		if line == 1 && rec[0] == "name" {
			continue
		}
		id, err := idnumber.Parse(rec[1], now)
		if err != nil {
			return nil, fmt.Errorf("registry line %d: %w", line, err)
		}
		f.persons[id] = strings.TrimSpace(rec[0])
		if len(rec) == 3 {
			f.photos[id] = strings.TrimSpace(rec[2])
		}
	}
	return f, nil
}

// Name is "file".
func (*File) Name() string { return "file" }

// Development is false: the file is a real, if small, registry.
func (*File) Development() bool { return false }

// Confirm accepts only a listed person under their listed name. An unknown
// number and a wrong name are refused alike, so the answer does not tell
// which numbers are listed.
func (f *File) Confirm(_ context.Context, name string, id idnumber.Number) error {
	if listed, ok := f.persons[id]; !ok || listed != strings.TrimSpace(name) {
		return problem.New(problem.IdentityMismatch, "the identity registry does not confirm this name and ID number")
	}
	return nil
}

// Confirmed asks r to confirm a pair and tells a refusal (identity_mismatch)
// from a registry that failed (unavailable, nothing changed).
func Confirmed(ctx context.Context, r Registry, name string, id idnumber.Number) error {
	err := r.Confirm(ctx, name, id)
	if err == nil {
		return nil
	}
	if _, ok := problem.As(err); ok {
		return err
	}
	return errors.Join(problem.New(problem.Unavailable, "the identity registry is unavailable; try again"), err)
}
