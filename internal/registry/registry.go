// Package registry confirms that a name and an ID number belong together,
// as the national identity registry would (R1). Two implementations ship:
// Development, which confirms every well-formed pair and is refused
// outside demo mode, and File, a CSV list of persons for tests and small
// deployments. A real registry plugs in behind the same interface.
package registry

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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

// File is a registry read from a CSV file of persons, one "name,id_number"
// per line (a header line "name,id_number" is allowed).
type File struct {
	persons map[idnumber.Number]string
}

// ParseFile reads a CSV list of persons. Every ID number must be valid.
func ParseFile(r io.Reader, now time.Time) (*File, error) {
	f := &File{persons: map[idnumber.Number]string{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	cr.Comment = '#'
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		if line == 1 && rec[0] == "name" {
			continue
		}
		id, err := idnumber.Parse(rec[1], now)
		if err != nil {
			return nil, fmt.Errorf("registry line %d: %w", line, err)
		}
		f.persons[id] = strings.TrimSpace(rec[0])
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
