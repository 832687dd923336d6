package floor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"tempid/internal/problem"

	_ "modernc.org/sqlite" // the driver tempid uses
)

// backend is the floor's database: plain reads and untimed writes, and
// record, which group-commits one request's durable work.
type backend interface {
	dialect() string
	exec(ctx context.Context, q string, args ...any) error
	execCount(ctx context.Context, q string, args ...any) (int64, error)
	queryRow(ctx context.Context, q string, args ...any) row
	record(ctx context.Context, w *write) error
	auditRows(ctx context.Context) ([]auditRow, error)
	close()
}

type row interface{ Scan(dest ...any) error }

// schema is the floor's tables, in SQLite's words; PostgreSQL's are made
// from it by postgresSchema. Each table has the keys the floor's queries
// need and no other index.
const schema = `
CREATE TABLE IF NOT EXISTS accounts (
	id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash BLOB NOT NULL, role TEXT NOT NULL, id_index BLOB
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
	token_hash BLOB PRIMARY KEY, account_id TEXT NOT NULL, role TEXT NOT NULL, csrf_token TEXT NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS terminals (
	key_hash BLOB PRIMARY KEY, id TEXT NOT NULL, station_code TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS face_checks (
	id TEXT PRIMARY KEY, account_id TEXT NOT NULL, subject_index BLOB NOT NULL, device_key BLOB NOT NULL,
	created_at INTEGER NOT NULL, completed_at INTEGER, used_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holders (
	id_index BLOB PRIMARY KEY, version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS certificates (
	id TEXT PRIMARY KEY, holder_index BLOB NOT NULL, account_id TEXT NOT NULL, name_ct BLOB NOT NULL, id_number_ct BLOB NOT NULL,
	name_masked TEXT NOT NULL, id_masked TEXT NOT NULL, city_code TEXT NOT NULL, status TEXT NOT NULL,
	issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS certificates_by_holder ON certificates (holder_index, issued_at);
CREATE TABLE IF NOT EXISTS passes (
	id TEXT PRIMARY KEY, certificate_id TEXT NOT NULL, face_check_id TEXT NOT NULL, device_key_hash BLOB NOT NULL,
	not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, issued_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revoked_devices (
	device_key_hash BLOB PRIMARY KEY, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS code_claims (
	step INTEGER NOT NULL, certificate_id TEXT NOT NULL, verifier TEXT NOT NULL, operations INTEGER NOT NULL,
	PRIMARY KEY (step, certificate_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verifications (
	id TEXT PRIMARY KEY, certificate_id TEXT, step INTEGER, operation TEXT NOT NULL, verifier TEXT NOT NULL,
	station_code TEXT, verdict TEXT NOT NULL, reason TEXT, replay INTEGER NOT NULL, at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
	seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL,
	detail TEXT NOT NULL, hash BLOB NOT NULL
);
`

// The statements of the timed writes, the same on both databases.
const (
	claimCode = `INSERT INTO code_claims AS c (step, certificate_id, verifier, operations) VALUES ($1, $2, $3, $4)
		ON CONFLICT (step, certificate_id) DO UPDATE SET operations = c.operations | $4
		WHERE c.verifier = $3 AND c.operations & $4 = 0
		RETURNING 1`
	insertVerification = `INSERT INTO verifications (id, certificate_id, step, operation, verifier, station_code, verdict, reason, replay, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	insertAudit = `INSERT INTO audit (seq, at, actor, action, object, detail, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	lockHolder  = `INSERT INTO holders (id_index, version) VALUES ($1, 1)
		ON CONFLICT (id_index) DO UPDATE SET version = holders.version + 1`
	countMonth = `SELECT count(*) FROM certificates WHERE holder_index = $1 AND issued_at >= $2 AND issued_at < $3`
	markUsed   = `UPDATE face_checks SET used_at = $2 WHERE id = $1 AND used_at IS NULL`
	insertCert = `INSERT INTO certificates (id, holder_index, account_id, name_ct, id_number_ct, name_masked, id_masked, city_code, status, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10)`
	insertPass = `INSERT INTO passes (id, certificate_id, face_check_id, device_key_hash, not_before, not_after, issued_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
)

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (v *verificationWrite) args() []any {
	var step any
	if v.CertificateID != "" {
		step = v.Step
	}
	return []any{v.ID, nullable(v.CertificateID), step, v.Operation, v.Verifier, nullable(v.Station), v.Verdict, nullable(v.Reason), boolInt(v.Replay), v.At.UnixMilli()}
}

func (i *issuanceWrite) certArgs() []any {
	c := i.Cert
	return []any{c.ID, c.HolderIndex, c.AccountID, c.NameCT, c.IDNumberCT, c.NameMasked, c.IDMasked, c.CityCode, c.IssuedAt.UnixMilli(), c.ExpiresAt.UnixMilli()}
}

func (i *issuanceWrite) passArgs() []any {
	p := i.Pass
	return []any{p.ID, i.Cert.ID, i.FaceCheckID, p.DeviceKeyHash, p.NotBefore.UnixMilli(), p.NotAfter.UnixMilli(), i.Cert.IssuedAt.UnixMilli()}
}

func auditArgs(seq int64, hash []byte, e auditEntry) []any {
	return []any{seq, e.At, e.Actor, e.Action, e.Object, string(e.Detail), hash}
}

// maxBatch bounds the writes one commit carries.
const maxBatch = 64

// sqliteDB is the floor on SQLite: a pool of read-only connections and
// one writer connection owned by one goroutine, which runs every write
// waiting when it is free in one transaction and commits them together.
type sqliteDB struct {
	r, w  *sql.DB
	stmts map[string]*sql.Stmt // prepared on the writer
	reads sync.Map             // query → *sql.Stmt on the readers
	writeQueue
	head chain
}

func openSQLite(ctx context.Context, dir string) (*sqliteDB, error) {
	if dir == "" {
		return nil, errors.New("floor: no data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// tempid's pragmas: WAL, synchronous FULL (an answered write survives
	// power loss), temporary data in memory, an immediate write lock.
	file := "file:" + filepath.Join(dir, "floor.db")
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)"
	w, err := sql.Open("sqlite", file+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", file+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	conns := max(8, 4*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(conns)
	r.SetMaxIdleConns(conns)
	d := &sqliteDB{r: r, w: w, stmts: map[string]*sql.Stmt{}, writeQueue: newWriteQueue()}
	if _, err := w.ExecContext(ctx, schema); err != nil {
		d.closeDBs()
		return nil, fmt.Errorf("floor: schema: %w", err)
	}
	for _, q := range []string{claimCode, insertVerification, insertAudit, lockHolder, countMonth, markUsed, insertCert, insertPass} {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			d.closeDBs()
			return nil, fmt.Errorf("floor: prepare: %w", err)
		}
		d.stmts[q] = st
	}
	if err := d.loadHead(ctx); err != nil {
		d.closeDBs()
		return nil, err
	}
	go d.writer()
	return d, nil
}

func (d *sqliteDB) dialect() string { return "sqlite" }

func (d *sqliteDB) loadHead(ctx context.Context) error {
	d.head = chain{}
	err := d.w.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&d.head.seq, &d.head.hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

// exec runs an untimed write through the writer, so it never waits for
// SQLite's lock.
func (d *sqliteDB) exec(ctx context.Context, q string, args ...any) error {
	_, err := d.execCount(ctx, q, args...)
	return err
}

func (d *sqliteDB) execCount(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := d.w.ExecContext(ctx, q, args...)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return 0, problem.New(problem.Conflict, "already exists")
		}
		return 0, err
	}
	return res.RowsAffected()
}

type sqlRow struct{ *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

// queryRow reads with a statement prepared once per connection, as
// tempid's store does.
func (d *sqliteDB) queryRow(ctx context.Context, q string, args ...any) row {
	st, ok := d.reads.Load(q)
	if !ok {
		prepared, err := d.r.PrepareContext(ctx, q)
		if err != nil {
			return errRow{err}
		}
		if st, ok = d.reads.LoadOrStore(q, prepared); ok {
			prepared.Close()
		}
	}
	return sqlRow{st.(*sql.Stmt).QueryRowContext(ctx, args...)}
}

// errRow is a row whose query could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// writer takes the first waiting write, every other one waiting up to
// maxBatch, and commits them in one transaction. If the transaction
// fails, each write is tried again alone, so one failing write does not
// fail the others.
func (d *sqliteDB) writer() {
	defer close(d.done)
	batch := make([]*write, 0, maxBatch)
	for {
		select {
		case j := <-d.jobs:
			batch = append(batch[:0], j)
		case <-d.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-d.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		err := d.commit(batch)
		if err != nil && len(batch) > 1 {
			for _, j := range batch {
				j.done <- d.commit([]*write{j})
			}
			continue
		}
		for _, j := range batch {
			j.done <- err
		}
	}
}

func (d *sqliteDB) commit(batch []*write) error {
	ctx := context.Background()
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	head := d.head
	for _, j := range batch {
		if err := d.run(ctx, tx, j, &head); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		d.loadHead(ctx)
		return err
	}
	d.head = head
	return nil
}

func (d *sqliteDB) stmt(tx *sql.Tx, q string) *sql.Stmt { return tx.Stmt(d.stmts[q]) }

// run does one write in the writer's transaction; a refused issuance
// writes nothing but the holder's lock.
func (d *sqliteDB) run(ctx context.Context, tx *sql.Tx, w *write, head *chain) error {
	if v := w.v; v != nil {
		if v.Claim {
			v.claimed()
			var one int
			err := d.stmt(tx, claimCode).QueryRowContext(ctx, v.Step, v.CertificateID, v.Verifier, v.Bit).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				v.asReplay()
			} else if err != nil {
				return err
			}
		}
		if _, err := d.stmt(tx, insertVerification).ExecContext(ctx, v.args()...); err != nil {
			return err
		}
	} else {
		i := w.i
		i.Refused, i.Used = "", 0
		if _, err := d.stmt(tx, lockHolder).ExecContext(ctx, i.Cert.HolderIndex); err != nil {
			return err
		}
		if err := d.stmt(tx, countMonth).QueryRowContext(ctx, i.Cert.HolderIndex, i.MonthStart, i.MonthEnd).Scan(&i.Used); err != nil {
			return err
		}
		if i.Used >= i.Limit {
			i.Refused = problem.QuotaExhausted
			return nil
		}
		res, err := d.stmt(tx, markUsed).ExecContext(ctx, i.FaceCheckID, i.Cert.IssuedAt.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			i.Refused = problem.FaceCheckUsed
			return nil
		}
		i.Used++
		if _, err := d.stmt(tx, insertCert).ExecContext(ctx, i.certArgs()...); err != nil {
			return err
		}
		if _, err := d.stmt(tx, insertPass).ExecContext(ctx, i.passArgs()...); err != nil {
			return err
		}
	}
	e, ok := w.audit()
	if !ok {
		return nil
	}
	seq, hash := head.next(e)
	_, err := d.stmt(tx, insertAudit).ExecContext(ctx, auditArgs(seq, hash, e)...)
	return err
}

func (d *sqliteDB) auditRows(ctx context.Context) ([]auditRow, error) {
	rows, err := d.r.QueryContext(ctx, auditQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanAudit(rows)
}

// auditQuery reads the chain in order, for its check; both dialects.
const auditQuery = `SELECT seq, at, actor, action, object, detail, hash FROM audit ORDER BY seq`

// scanAudit reads auditQuery's rows from either driver.
func scanAudit(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]auditRow, error) {
	var out []auditRow
	for rows.Next() {
		var r auditRow
		var detail string
		if err := rows.Scan(&r.Seq, &r.At, &r.Actor, &r.Action, &r.Object, &detail, &r.Hash); err != nil {
			return nil, err
		}
		r.Detail = []byte(detail)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (d *sqliteDB) close() {
	d.stop()
	d.closeDBs()
}

func (d *sqliteDB) closeDBs() {
	for _, st := range d.stmts {
		st.Close()
	}
	d.reads.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	d.w.Close()
	d.r.Close()
}
