package gate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tempid/internal/offline"
)

// scanLog is the gate's queue of verdicts to upload: a SQLite file, so a
// verdict written before it is printed survives a crash or a power cut,
// and rows leave it only when the server has acknowledged them.
type scanLog struct {
	db *sql.DB
}

// errLogFull is a write refused because the disk (or the log's size
// limit) is full; the gate keeps verifying and says so.
var errLogFull = errors.New("the scan log is full")

// openScanLog opens (creating) the log at path. maxPages, when set, caps
// the file's size in 4 KiB pages: a full disk in small, for tests.
func openScanLog(ctx context.Context, path string, maxPages int) (*scanLog, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	if maxPages > 0 {
		dsn += fmt.Sprintf("&_pragma=max_page_count(%d)", maxPages)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: the gate is the only writer, and WAL readers gain
	// nothing here.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS scans (
		seq        INTEGER PRIMARY KEY AUTOINCREMENT,
		client_id  TEXT NOT NULL UNIQUE,
		code       TEXT NOT NULL,
		operation  TEXT NOT NULL,
		verdict    TEXT NOT NULL,
		reason     TEXT NOT NULL,
		scanned_at INTEGER NOT NULL
	);
	CREATE TABLE IF NOT EXISTS rejected (
		client_id  TEXT PRIMARY KEY,
		scanned_at INTEGER NOT NULL,
		why        TEXT NOT NULL
	)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("scan log %s: %w", path, err)
	}
	return &scanLog{db: db}, nil
}

func (l *scanLog) close() error { return l.db.Close() }

// newClientID is a scan's unique id: 128 random bits in hex, 32
// characters.
func newClientID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// add appends a scan. A full disk is errLogFull.
func (l *scanLog) add(ctx context.Context, s offline.Scan) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO scans (client_id, code, operation, verdict, reason, scanned_at) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ClientID, s.Code, s.Operation, s.Verdict, s.Reason, s.ScannedAt.UnixMilli())
	if isFull(err) {
		return errLogFull
	}
	return err
}

func isFull(err error) bool {
	var lite *sqlite.Error
	return errors.As(err, &lite) && lite.Code()&0xff == sqlite3.SQLITE_FULL
}

// oldest returns up to n scans, oldest first.
func (l *scanLog) oldest(ctx context.Context, n int) ([]offline.Scan, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT client_id, code, operation, verdict, reason, scanned_at FROM scans ORDER BY seq LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []offline.Scan
	for rows.Next() {
		var s offline.Scan
		var at int64
		if err := rows.Scan(&s.ClientID, &s.Code, &s.Operation, &s.Verdict, &s.Reason, &at); err != nil {
			return nil, err
		}
		s.ScannedAt = time.UnixMilli(at).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}

// pending counts the scans not yet acknowledged.
func (l *scanLog) pending(ctx context.Context) (int, error) {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM scans`).Scan(&n)
	return n, err
}

// done removes acknowledged scans.
func (l *scanLog) done(ctx context.Context, clientIDs []string) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range clientIDs {
		if _, err := tx.ExecContext(ctx, `DELETE FROM scans WHERE client_id = ?`, id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// reject moves a scan the server refused out of the queue, keeping its id
// and the reason on record: it is never sent again.
func (l *scanLog) reject(ctx context.Context, s offline.Scan, why string) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO rejected (client_id, scanned_at, why) VALUES (?, ?, ?) ON CONFLICT (client_id) DO NOTHING`,
		s.ClientID, s.ScannedAt.UnixMilli(), why); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM scans WHERE client_id = ?`, s.ClientID); err != nil {
		return err
	}
	return tx.Commit()
}
