package floor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

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
// pool, writes by one goroutine on one connection. A batch's statements
// go in two parts — BEGIN, the chain head's lock and the statements whose
// answers decide (claims; the holder's lock with the month's count and
// the face check's use), then the inserts, the new head and COMMIT — and
// each pipeline carries one batch's second part with the next batch's
// first, so a batch of N writes costs one round trip and one commit.
type pgDB struct {
	writeQueue
	pool  *pgxpool.Pool
	carry []*write
	conn  *pgxpool.Conn // the writer's
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
	d := &pgDB{pool: pool, writeQueue: newWriteQueue()}
	if d.conn, err = pool.Acquire(ctx); err != nil {
		pool.Close()
		return nil, err
	}
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

// writer batches writes as the SQLite writer does, on a connection of
// its own. In steady state a batch costs one round trip: the pipeline
// that carries its inserts and COMMIT also carries the next batch's
// BEGIN, the chain head's lock and its deciding statements. Two
// issuances for one person never share a batch: the second waits for
// the next, so each counts the month after the other's certificate.
func (d *pgDB) writer() {
	defer close(d.done)
	ctx := context.Background()
	var open []*write // decided, in an open transaction, not yet committed
	var head chain
	for {
		if open == nil {
			batch := d.collect(true)
			if batch == nil {
				return
			}
			b := &pgx.Batch{}
			queueDecide(b, batch)
			br := d.conn.SendBatch(ctx, b)
			h, err := readDecide(br, batch)
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				d.fallBack(ctx, batch)
				continue
			}
			open, head = batch, h
		}
		next := d.collect(false)
		b := &pgx.Batch{}
		n := queueRecord(b, open, &head)
		if len(next) > 0 {
			queueDecide(b, next)
		}
		br := d.conn.SendBatch(ctx, b)
		var err error
		for range n {
			if _, err = br.Exec(); err != nil {
				break
			}
		}
		committed := err == nil
		var h chain
		if committed && len(next) > 0 {
			h, err = readDecide(br, next)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if committed {
			for _, w := range open {
				w.done <- nil
			}
			open = nil
		}
		if err != nil {
			if !committed {
				d.fallBack(ctx, open)
			}
			d.fallBack(ctx, next)
			open = nil
			continue
		}
		if len(next) > 0 {
			open, head = next, h
		}
	}
}

// collect takes the writes waiting, up to maxBatch and those carried
// over first; with wait it blocks for the first one. It returns nil only
// when the store is closing.
func (d *pgDB) collect(wait bool) []*write {
	batch := d.carry
	d.carry = nil
	holders := map[string]bool{}
	kept := batch[:0]
	for _, j := range batch {
		kept = d.admit(kept, j, holders)
	}
	batch = kept
	if len(batch) == 0 && wait {
		select {
		case j := <-d.jobs:
			batch = d.admit(batch, j, holders)
		case <-d.quit:
			return nil
		}
	}
	for len(batch) < maxBatch {
		select {
		case j := <-d.jobs:
			batch = d.admit(batch, j, holders)
		default:
			return batch
		}
	}
	return batch
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

// fallBack ends whatever transaction a failed pipeline left and tries
// each write again alone, so one failing write does not fail the others.
func (d *pgDB) fallBack(ctx context.Context, batch []*write) {
	if _, err := d.conn.Exec(ctx, "ROLLBACK"); err != nil {
		d.reconnect(ctx)
	}
	for _, w := range batch {
		w.done <- d.alone(ctx, w)
	}
}

func (d *pgDB) reconnect(ctx context.Context) {
	d.conn.Conn().Close(ctx)
	d.conn.Release()
	for {
		c, err := d.pool.Acquire(ctx)
		if err == nil {
			d.conn = c
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// alone commits one write in its own transaction, two round trips.
func (d *pgDB) alone(ctx context.Context, w *write) (err error) {
	batch := []*write{w}
	defer func() {
		if err != nil {
			if _, rerr := d.conn.Exec(ctx, "ROLLBACK"); rerr != nil {
				d.reconnect(ctx)
			}
		}
	}()
	b := &pgx.Batch{}
	queueDecide(b, batch)
	br := d.conn.SendBatch(ctx, b)
	head, err := readDecide(br, batch)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	b = &pgx.Batch{}
	queueRecord(b, batch, &head)
	return d.conn.SendBatch(ctx, b).Close()
}

// useFaceCheck marks the face check used if the month's count, taken
// after the holder's lock, leaves room; it answers the count and whether
// it marked the check.
const useFaceCheck = `WITH n AS (SELECT count(*) AS used FROM certificates WHERE holder_index = $3 AND issued_at >= $4 AND issued_at < $5),
	u AS (UPDATE face_checks SET used_at = $2 FROM n WHERE id = $1 AND used_at IS NULL AND n.used < $6 RETURNING 1)
	SELECT n.used, EXISTS (SELECT 1 FROM u) FROM n`

// queueDecide queues a batch's first part: BEGIN, the chain head's lock,
// and the statements whose answers decide each write.
func queueDecide(b *pgx.Batch, batch []*write) {
	b.Queue("BEGIN")
	b.Queue(`SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`)
	for _, w := range batch {
		switch {
		case w.v != nil && w.v.Claim:
			b.Queue(claimCode, w.v.Step, w.v.CertificateID, w.v.Verifier, w.v.Bit)
		case w.i != nil:
			i := w.i
			b.Queue(lockHolder, i.Cert.HolderIndex)
			b.Queue(useFaceCheck, i.FaceCheckID, i.Cert.IssuedAt.UnixMilli(), i.Cert.HolderIndex, i.MonthStart, i.MonthEnd, i.Limit)
		}
	}
}

// readDecide reads queueDecide's answers: the chain head, and each
// write's outcome.
func readDecide(br pgx.BatchResults, batch []*write) (chain, error) {
	var head chain
	if _, err := br.Exec(); err != nil {
		return head, err
	}
	if err := br.QueryRow().Scan(&head.seq, &head.hash); err != nil {
		return head, err
	}
	for _, w := range batch {
		switch {
		case w.v != nil && w.v.Claim:
			w.v.claimed()
			var one int
			if err := br.QueryRow().Scan(&one); errors.Is(err, pgx.ErrNoRows) {
				w.v.asReplay()
			} else if err != nil {
				return head, err
			}
		case w.i != nil:
			i := w.i
			i.Refused, i.Used = "", 0
			var marked bool
			if _, err := br.Exec(); err != nil {
				return head, err
			}
			if err := br.QueryRow().Scan(&i.Used, &marked); err != nil {
				return head, err
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
	return head, nil
}

// queueRecord queues a decided batch's second part: its rows, its audit
// rows chained from head, the new head and COMMIT. It returns how many
// statements it queued.
func queueRecord(b *pgx.Batch, batch []*write, head *chain) int {
	n := b.Len()
	for _, w := range batch {
		if w.v != nil {
			b.Queue(insertVerification, w.v.args()...)
		} else if w.i.Refused == "" {
			b.Queue(insertCert, w.i.certArgs()...)
			b.Queue(insertPass, w.i.passArgs()...)
		}
		if e, ok := w.audit(); ok {
			seq, hash := head.next(e)
			b.Queue(insertAudit, auditArgs(seq, hash, e)...)
		}
	}
	b.Queue(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, head.seq, head.hash)
	b.Queue("COMMIT")
	return b.Len() - n
}

func (d *pgDB) auditRows(ctx context.Context) ([]auditRow, error) {
	rows, err := d.pool.Query(ctx, auditQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanAudit(rows)
}

func (d *pgDB) close() {
	d.stop()
	d.conn.Release()
	d.pool.Close()
}
