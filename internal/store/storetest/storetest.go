// Package storetest opens real databases for tests: SQLite always, and
// PostgreSQL when TEMPID_TEST_POSTGRES holds a DSN. Each PostgreSQL store
// lives in a schema of its own, dropped when the test ends, so test runs
// never see each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"tempid/internal/store"
)

// EnvPostgres names the environment variable with the PostgreSQL DSN.
const EnvPostgres = "TEMPID_TEST_POSTGRES"

// Backends are the databases a test runs on: "sqlite", and "postgres"
// when configured.
func Backends(t testing.TB) []string {
	if os.Getenv(EnvPostgres) == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: in CI the PostgreSQL suite must run", EnvPostgres)
		}
		return []string{"sqlite"}
	}
	return []string{"sqlite", "postgres"}
}

// Each runs fn as a subtest on a fresh store of every backend.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	if os.Getenv(EnvPostgres) == "" && os.Getenv("CI") == "" {
		t.Logf("PostgreSQL not tested: set %s=postgres://… to run these tests on PostgreSQL too", EnvPostgres)
	}
	for _, b := range Backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, Open(t, b)) })
	}
}

// Open returns a fresh, migrated store of one backend, closed at cleanup.
func Open(t testing.TB, backend string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), Options(t, backend))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Options returns storage options for a fresh database of one backend: a
// temporary directory for SQLite, a new schema for PostgreSQL.
func Options(t testing.TB, backend string) store.Options {
	t.Helper()
	if backend == "sqlite" {
		return store.Options{DataDir: t.TempDir()}
	}
	return store.Options{DSN: Schema(t)}
}

// Schema creates a new PostgreSQL schema, dropped at cleanup, and returns
// a DSN whose search_path selects it.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		t.Skipf("set %s=postgres://… to run this test", EnvPostgres)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "tempid_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
