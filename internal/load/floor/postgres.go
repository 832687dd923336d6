package floor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tempid/internal/problem"
)

// defaultSchema holds the floor's tables when the DSN names no
// search_path.
const defaultSchema = "tempid_floor"

// postgresSchema is schema in PostgreSQL's words.
func postgresSchema() string {
	r := strings.NewReplacer(" WITHOUT ROWID", "", "BLOB", "BYTEA", "INTEGER", "BIGINT")
	return r.Replace(schema) + `
CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash BYTEA NOT NULL);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING;`
}

// pgDB is the floor on PostgreSQL through native pgx: reads from the
// pool, writes by one goroutine that sends a batch's statements as two
// pipelines on one connection — BEGIN, the chain head's lock and the
// statements whose answers decide (claims; the holder's lock with the
// month's count and the face check's use), then the inserts, the new
// head and COMMIT — so a batch of N writes costs two round trips and one
// commit.
type pgDB struct {
	pool  *pgxpool.Pool
	jobs  chan *write
	quit  chan struct{}
	done  chan struct{}
	carry []*write
}

func openPostgres(ctx context.Context, dsn string) (*pgDB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("floor: database: %w", err)
	}
	schemaName := cfg.ConnConfig.RuntimeParams["search_path"]
	if schemaName == "" {
		schemaName = defaultSchema
		cfg.ConnConfig.RuntimeParams["search_path"] = schemaName
	}
	cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)) + 1)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("floor: database: %w", err)
	}
	if _, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schemaName}.Sanitize()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("floor: schema: %w", err)
	}
	if _, err := pool.Exec(ctx, postgresSchema()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("floor: schema: %w", err)
	}
	d := &pgDB{pool: pool, jobs: make(chan *write, 1024), quit: make(chan struct{}), done: make(chan struct{})}
	go d.writer()
	return d, nil
}

// SchemaOf returns the schema a floor on dsn uses.
func SchemaOf(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		if s := u.Query().Get("search_path"); s != "" {
			return s
		}
	}
	return defaultSchema
}

func (d *pgDB) dialect() string { return "postgres" }

func (d *pgDB) exec(ctx context.Context, q string, args ...any) error {
	_, err := d.execCount(ctx, q, args...)
	return err
}

func (d *pgDB) execCount(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, q, args...)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return 0, problem.New(problem.Conflict, "already exists")
		}
		return 0, err
	}
	return tag.RowsAffected(), nil
}

type pgRow struct{ pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (d *pgDB) queryRow(ctx context.Context, q string, args ...any) row {
	return pgRow{d.pool.QueryRow(ctx, q, args...)}
}

func (d *pgDB) record(ctx context.Context, w *write) error {
	w.done = make(chan error, 1)
	select {
	case d.jobs <- w:
	case <-d.quit:
		return errors.New("floor: closed")
	}
	return <-w.done
}

// writer batches writes as the SQLite writer does. Two issuances for one
// person never share a batch: the second waits for the next, so each
// counts the month after the other's certificate.
func (d *pgDB) writer() {
	defer close(d.done)
	for {
		batch := d.carry
		d.carry = nil
		if len(batch) == 0 {
			select {
			case j := <-d.jobs:
				batch = append(batch, j)
			case <-d.quit:
				return
			}
		}
		holders := map[string]bool{}
		kept := batch[:0]
		for _, j := range batch {
			kept = d.admit(kept, j, holders)
		}
		batch = kept
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-d.jobs:
				batch = d.admit(batch, j, holders)
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

// admit adds j to the batch, or to the next one when the batch already
// holds an issuance for the same person.
func (d *pgDB) admit(batch []*write, j *write, holders map[string]bool) []*write {
	if j.i != nil {
		h := string(j.i.Cert.HolderIndex)
		if holders[h] {
			d.carry = append(d.carry, j)
			return batch
		}
		holders[h] = true
	}
	return append(batch, j)
}

// useFaceCheck marks the face check used if the month's count, taken
// after the holder's lock, leaves room; it answers the count and whether
// it marked the check.
const useFaceCheck = `WITH n AS (SELECT count(*) AS used FROM certificates WHERE holder_index = $3 AND issued_at >= $4 AND issued_at < $5),
	u AS (UPDATE face_checks SET used_at = $2 FROM n WHERE id = $1 AND used_at IS NULL AND n.used < $6 RETURNING 1)
	SELECT n.used, EXISTS (SELECT 1 FROM u) FROM n`

func (d *pgDB) commit(batch []*write) (err error) {
	ctx := context.Background()
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	open := false
	defer func() {
		if err != nil && open {
			// A failed pipeline leaves the transaction open or aborted.
			if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
				conn.Conn().Close(ctx)
			}
		}
	}()

	first := &pgx.Batch{}
	first.Queue("BEGIN")
	first.Queue(`SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`)
	for _, w := range batch {
		switch {
		case w.v != nil && w.v.Claim:
			first.Queue(claimCode, w.v.Step, w.v.CertificateID, w.v.Verifier, w.v.Bit)
		case w.i != nil:
			i := w.i
			first.Queue(lockHolder, i.Cert.HolderIndex)
			first.Queue(useFaceCheck, i.FaceCheckID, i.Cert.IssuedAt.UnixMilli(), i.Cert.HolderIndex, i.MonthStart, i.MonthEnd, i.Limit)
		}
	}
	open = true
	br := conn.SendBatch(ctx, first)
	var head chain
	if _, err = br.Exec(); err == nil {
		err = br.QueryRow().Scan(&head.seq, &head.hash)
	}
	for _, w := range batch {
		if err != nil {
			break
		}
		switch {
		case w.v != nil && w.v.Claim:
			var one int
			if e := br.QueryRow().Scan(&one); errors.Is(e, pgx.ErrNoRows) {
				w.v.asReplay()
			} else {
				err = e
			}
		case w.i != nil:
			i := w.i
			i.Refused, i.Used = "", 0
			var marked bool
			if _, err = br.Exec(); err != nil {
				break
			}
			if err = br.QueryRow().Scan(&i.Used, &marked); err != nil {
				break
			}
			switch {
			case marked:
				i.Used++
			case i.Used >= i.Limit:
				i.Refused = problem.QuotaExhausted
			default:
				i.Refused = problem.FaceCheckUsed
			}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	second := &pgx.Batch{}
	for _, w := range batch {
		if w.v != nil {
			second.Queue(insertVerification, w.v.args()...)
		} else if w.i.Refused == "" {
			second.Queue(insertCert, w.i.certArgs()...)
			second.Queue(insertPass, w.i.passArgs()...)
		}
		if e, ok := w.audit(); ok {
			seq, hash := head.next(e)
			second.Queue(insertAudit, auditArgs(seq, hash, e)...)
		}
	}
	second.Queue(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, head.seq, head.hash)
	second.Queue("COMMIT")
	if err = conn.SendBatch(ctx, second).Close(); err != nil {
		return err
	}
	open = false
	return nil
}

func (d *pgDB) auditRows(ctx context.Context) ([]auditRow, error) {
	rows, err := d.pool.Query(ctx, `SELECT seq, at, actor, action, object, detail, hash FROM audit ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
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

func (d *pgDB) close() {
	close(d.quit)
	<-d.done
	d.pool.Close()
}
