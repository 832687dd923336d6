package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"tempid/internal/accounts"
	"tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
)

// StorageFlags are the flags every command that opens the database takes.
type StorageFlags struct {
	data          string
	database      string
	masterKeyFile string
}

// Register adds the storage flags to fs.
func (f *StorageFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "data", "directory of the embedded SQLite database (and, with --demo, the generated master key)")
	fs.StringVar(&f.database, "database", "", "PostgreSQL URL (postgres://…); empty means SQLite in --data")
	fs.StringVar(&f.masterKeyFile, "master-key-file", "", "file of master keys (TEMPID_MASTER_KEY may hold the contents instead)")
}

func (f *StorageFlags) open(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, store.Options{DSN: f.database, DataDir: f.data})
}

// demoKeyFile is where --demo keeps the master key it creates.
const demoKeyFile = "master.key"

// openWithKeys loads the master keys (creating a demo key file when
// demoKey is set, as keyring does) and opens the store: what every
// command that reads or writes sealed data starts with. Warnings go to
// standard error.
func (f *StorageFlags) openWithKeys(ctx context.Context, e *Env, demoKey bool) (*pii.Keyring, *store.Store, error) {
	keys, err := f.keyring(demoKey, func(msg string) { fmt.Fprintln(e.Stderr, "warning:", msg) })
	if err != nil {
		return nil, nil, err
	}
	st, err := f.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return keys, st, nil
}

// OpenApp opens the master keys and the store and wires the services
// with app.Wire, as every command that works on the data does; the caller
// closes a.Store. The registry is for commands that sign passengers up.
func (f *StorageFlags) OpenApp(ctx context.Context, e *Env, demoKey bool, reg registry.Registry) (*app.App, error) {
	keys, st, err := f.openWithKeys(ctx, e, demoKey)
	if err != nil {
		return nil, err
	}
	a, err := app.Wire(app.Config{Store: st, PII: keys, Registry: reg, Policy: policy.Default(), Clock: clock.Real{}, Password: accounts.DefaultPassword})
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// keyring loads the master keys: from --master-key-file, else from
// TEMPID_MASTER_KEY, else — only in demo mode — from a key file created in
// the data directory on first start.
func (f *StorageFlags) keyring(demo bool, warn func(string)) (*pii.Keyring, error) {
	switch {
	case f.masterKeyFile != "":
		b, err := os.ReadFile(f.masterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		return pii.ParseKeyring(b)
	case os.Getenv("TEMPID_MASTER_KEY") != "":
		return pii.ParseKeyring([]byte(os.Getenv("TEMPID_MASTER_KEY")))
	}
	path := filepath.Join(f.data, demoKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		if !demo {
			warn("using the master key that demo mode created in the data directory: keep master keys apart from the data in production")
		}
		return pii.ParseKeyring(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if !demo {
		return nil, errors.New("no master key: give --master-key-file or TEMPID_MASTER_KEY (demo mode creates one)")
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pii.NewKeyFile(), 0o600); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	warn("DEMO: created a new master key in " + path + "; it protects every ID number in this database")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return pii.ParseKeyring(b)
}

func runMigrate(ctx context.Context, e *Env, args []string) error {
	fs := NewFlags(e, "migrate")
	var sf StorageFlags
	sf.Register(fs)
	if err := Parse(fs, args); err != nil {
		return err
	}
	s, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(e.Stdout, "migrations applied (%s)\n", s.Dialect())
	// Stations are three capital letters since migration 0008, which
	// upper-cased the codes that fit; the others need an operator.
	bad, err := s.NonconformingStations(ctx)
	if err != nil {
		return err
	}
	for _, code := range bad {
		fmt.Fprintf(e.Stderr, "warning: station code %q is not a three-letter telegraph code; change it (SPEC: a station is its telegraph code)\n", code)
	}
	return nil
}

func runAudit(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(e.Stderr, "usage: tempid audit verify [--data D | --database DSN]")
		return ErrUsage
	}
	fs := NewFlags(e, "audit verify")
	var sf StorageFlags
	sf.Register(fs)
	// Entries are linked as they are written; --seal, which linked the
	// pending ones first, is still accepted and has nothing to do.
	fs.Bool("seal", true, "accepted for older scripts; entries are chained as they are written")
	if err := Parse(fs, args[1:]); err != nil {
		return err
	}
	s, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if rep.FirstBad != nil {
		fmt.Fprintf(e.Stdout, "audit chain BROKEN after %d good entries: first bad %s\n", rep.Entries, rep.FirstBad)
		return ErrNotValid
	}
	fmt.Fprintf(e.Stdout, "audit chain ok: %d entries\n", rep.Entries)
	return nil
}

// trimLine reads the first line of r, for passwords given on stdin.
func trimLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}
