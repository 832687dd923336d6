package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
)

//go:embed migrations
var migrations embed.FS

// Migrate applies the migrations not yet applied, each in its own
// transaction together with its row in schema_migrations. Two processes
// migrating at once are safe: the second one's insert of the version row
// conflicts, and it then sees the migration as applied.
func (s *Store) Migrate(ctx context.Context) error { return s.migrate(ctx, "") }

// migrate applies the migrations whose versions sort at or before upTo, or
// all of them when upTo is empty. Versions are file names without ".sql",
// so a full name ("0002_key_schedule") includes that migration and a bare
// number ("0014") stops before the migration it numbers.
func (s *Store) migrate(ctx context.Context, upTo string) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return classify(fmt.Errorf("migrate: %w", err))
	}
	dir := "migrations/" + s.dialect.name
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		if upTo != "" && version > upTo {
			break
		}
		body, err := migrations.ReadFile(dir + "/" + name)
		if err != nil {
			return err
		}
		err = s.writeOnce(ctx, func(t *Tx) error {
			var n int
			if err := t.queryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := t.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, ms(time.Now())); err != nil {
				return err
			}
			for _, stmt := range splitStatements(string(body)) {
				if _, err := t.exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			return nil
		})
		if err != nil && !isUniqueViolation(err) {
			return classify(fmt.Errorf("migrate %s: %w", version, err))
		}
	}
	return nil
}

// splitStatements splits a migration at semicolons that end a line. The
// migrations are ours and hold no semicolons inside literals.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			if stmt := strings.TrimSpace(cur.String()); stmt != ";" {
				out = append(out, stmt)
			}
			cur.Reset()
		}
	}
	if stmt := strings.TrimSpace(cur.String()); stmt != "" {
		out = append(out, stmt)
	}
	return out
}
