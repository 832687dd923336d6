package store

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"

	"tempid/internal/audit"
)

// Actor names who made a change: "account:<id>", "terminal:<id>",
// "system" or "cli". It is a required argument of every change.
type Actor string

// Actors that are not accounts or terminals. Guest is a passenger
// without an account (API.md "Guest"); the entry's object and detail say
// which face check authorised the change.
const (
	System Actor = "system"
	CLI    Actor = "cli"
	Guest  Actor = "guest"
)

// ActorOf names the account that made a change: Guest for the guest
// account, which stands for every passenger without one.
func ActorOf(accountID string) Actor {
	if accountID == GuestAccountID {
		return Guest
	}
	return AccountActor(accountID)
}

// AccountActor and TerminalActor name an account or a terminal.
func AccountActor(id string) Actor { return Actor("account:" + id) }

// TerminalActor names a terminal.
func TerminalActor(id string) Actor { return Actor("terminal:" + id) }

// audit records a change in the same transaction, as the next link of the
// chain. detail must hold masked data only: a struct (marshalled as it
// is) or a map.
func (t *Tx) audit(ctx context.Context, at time.Time, actor Actor, action, object string, detail any) error {
	e, err := newEntry(at, actor, action, object, detail)
	if err != nil {
		return err
	}
	if err := t.appendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// newEntry is an audit entry, to be numbered and linked as it is written.
func newEntry(at time.Time, actor Actor, action, object string, detail any) (audit.Entry, error) {
	if actor == "" {
		return audit.Entry{}, fmt.Errorf("audit %s: no actor", action)
	}
	d := []byte("{}")
	if detail != nil {
		var err error
		if d, err = json.Marshal(detail); err != nil {
			return audit.Entry{}, fmt.Errorf("audit %s: %w", action, err)
		}
	}
	return audit.Entry{At: at, Actor: string(actor), Action: action, Object: object, Detail: string(d)}, nil
}

// appendAudit writes e (its ID aside) as the next link of the chain.
//
// On PostgreSQL one statement advances the head row — locking it until
// the transaction ends, so that writers take turns at the chain from
// their first entry to their commit — and inserts the entry with the
// hash the database computes (audit_link_hash, migration 0012).
//
// On SQLite the single writer holds the whole database, so the head is
// read once per transaction, kept in the Tx as entries are linked in Go,
// and written back once before the commit (sealChain).
func (t *Tx) appendAudit(ctx context.Context, e audit.Entry) error {
	if t.s.dialect.name == "postgres" {
		_, err := t.exec(ctx, appendAuditPostgres, ms(e.At), e.Actor, e.Action, e.Object, e.Detail)
		return err
	}
	if !t.chain.loaded {
		if err := t.queryRow(ctx, `SELECT seq, hash, last_id FROM audit_head WHERE id = 1`).Scan(&t.chain.seq, &t.chain.hash, &t.chain.lastID); err != nil {
			return err
		}
		t.chain.loaded = true
	}
	next := t.chain
	next.link(&e)
	if _, err := t.exec(ctx, insertAuditEvent, e.ID, ms(e.At), e.Actor, e.Action, e.Object, e.Detail, next.seq, next.hash); err != nil {
		return err
	}
	t.chain = next
	return nil
}

// insertAuditEvent inserts an entry linked in Go.
const insertAuditEvent = `INSERT INTO audit_events (id, at, actor, action, object, detail, seq, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// appendAuditPostgres links an entry ($1 at, $2 actor, $3 action, $4
// object, $5 detail) under the head's row lock, in one statement.
const appendAuditPostgres = `WITH h AS (
		UPDATE audit_head SET seq = seq + 1, last_id = last_id + 1,
			hash = audit_link_hash(hash, seq + 1, last_id + 1, $1, $2, $3, $4, $5)
		WHERE id = 1 RETURNING seq, last_id, hash)
	INSERT INTO audit_events (id, at, actor, action, object, detail, seq, hash)
	SELECT last_id, $1, $2, $3, $4, $5, seq, hash FROM h`

// chainHead is the chain's head as a transaction that links entries in Go
// sees it: a SQLite transaction loads it at its first entry and writes it
// back in sealChain (a batch that rolls one write back to its savepoint
// restores the value it had before that write, batch.go); a PostgreSQL
// batch reads it under its lock and writes it back before its COMMIT.
type chainHead struct {
	loaded, dirty bool
	seq, lastID   int64
	hash          []byte
}

// link numbers e as the next entry and makes it the head.
func (h *chainHead) link(e *audit.Entry) {
	h.seq++
	h.lastID++
	e.ID = h.lastID
	h.hash = audit.Hash(h.hash, h.seq, *e)
	h.dirty = true
}

// updateAuditHead writes a head linked in Go back.
const updateAuditHead = `UPDATE audit_head SET seq = $1, hash = $2, last_id = $3 WHERE id = 1`

// sealChain writes the head back when the transaction linked entries; the
// writer calls it before every commit.
func (t *Tx) sealChain(ctx context.Context) error {
	if !t.chain.dirty {
		return nil
	}
	if _, err := t.exec(ctx, updateAuditHead, t.chain.seq, t.chain.hash, t.chain.lastID); err != nil {
		return err
	}
	t.chain.dirty = false
	return nil
}

// auditLinkHash is audit.Hash as the SQL function audit_link_hash on
// SQLite, for migration 0012, which links the entries that were waiting
// for the sealer (PostgreSQL has its own, in SQL).
func auditLinkHash(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	prev, ok0 := args[0].([]byte)
	seq, ok1 := args[1].(int64)
	id, ok2 := args[2].(int64)
	at, ok3 := args[3].(int64)
	var s [4]string
	ok := ok0 && ok1 && ok2 && ok3
	for i := range s {
		v, isString := args[4+i].(string)
		s[i], ok = v, ok && isString
	}
	if !ok {
		return nil, fmt.Errorf("audit_link_hash: unexpected argument types %T", args)
	}
	return audit.Hash(prev, seq, audit.Entry{ID: id, At: fromMS(at), Actor: s[0], Action: s[1], Object: s[2], Detail: s[3]}), nil
}

func init() {
	if err := sqlite.RegisterDeterministicScalarFunction("audit_link_hash", 8, auditLinkHash); err != nil {
		panic(err)
	}
}

// scanEntry scans an entry's columns, then into extra the columns selected
// after them.
func scanEntry(rows interface{ Scan(...any) error }, extra ...any) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	if err := rows.Scan(append([]any{&e.ID, &at, &e.Actor, &e.Action, &e.Object, &e.Detail}, extra...)...); err != nil {
		return e, err
	}
	e.At = fromMS(at)
	return e, nil
}

// AuditReport is the result of checking the audit chain.
type AuditReport struct {
	// Entries is how many entries were checked: every entry, since each
	// is linked in the transaction that writes it.
	Entries int64
	// FirstBad is the first place where the chain does not hold, or nil.
	FirstBad *audit.Problem
}

// VerifyAudit walks the whole chain and checks every entry against its
// link and the link before it, and the last link against the head. On
// SQLite entries are read in id order, which is the chain's order there
// (ids are given by the one writer as it links); on PostgreSQL entries
// linked by nodes before migration 0012 may have ids out of the chain's
// order, so they are read in sequence order.
func (s *Store) VerifyAudit(ctx context.Context) (AuditReport, error) {
	var rep AuditReport
	var headSeq int64
	var headHash []byte
	if err := s.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return rep, classify(err)
	}
	order := "id"
	if s.dialect.name == "postgres" {
		order = "seq"
	}
	rows, err := s.query(ctx, `SELECT id, at, actor, action, object, detail, seq, hash FROM audit_events ORDER BY `+order)
	if err != nil {
		return rep, classify(err)
	}
	defer rows.Close()
	check := audit.NewChecker()
	var last audit.Entry
	for rows.Next() {
		var l audit.Link
		e, err := scanEntry(rows, &l.Seq, &l.Hash)
		if err != nil {
			return rep, err
		}
		if p := check.Check(l, e); p != nil {
			rep.FirstBad = p
			return rep, nil
		}
		rep.Entries++
		last = e
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}
	end := check.Next() - 1
	switch {
	case headSeq > end:
		rep.FirstBad = &audit.Problem{Seq: end + 1, Reason: fmt.Sprintf("the chain ends at link %d but its head says %d: links were removed from the end", end, headSeq)}
	case headSeq < end:
		rep.FirstBad = &audit.Problem{Seq: headSeq + 1, EntryID: last.ID, Reason: fmt.Sprintf("the chain goes on to link %d past its head at %d: entries were added behind the writer's back", end, headSeq)}
	case headSeq > 0 && !bytes.Equal(headHash, check.Last()):
		rep.FirstBad = &audit.Problem{Seq: end, EntryID: last.ID, Reason: "the last link does not match the head's hash"}
	}
	return rep, nil
}

// AuditEntries lists entries with id greater than after,
// oldest first.
func (s *Store) AuditEntries(ctx context.Context, after int64, limit int) ([]audit.Entry, error) {
	rows, err := s.query(ctx, `SELECT id, at, actor, action, object, detail FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditQuery selects audit entries: all of its set members hold for each
// entry listed.
type AuditQuery struct {
	// After is the last entry already seen, in the order asked for:
	// entries after it come next (ids below it when Newest).
	After int64
	Limit int
	// ActorName is a staff username, a terminal's name, or an actor as
	// stored ("system", "cli", "guest", "account:<id>").
	ActorName string
	Action    string
	// From and To bound the entries' times, [From, To); zero is unbounded.
	From, To time.Time
	// Newest lists newest first.
	Newest bool
}

// NamedEntry is an audit entry with its actor in words: the account's
// username and role, the terminal's name (role "terminal"), or the actor
// itself for system, cli and guest (the role too).
type NamedEntry struct {
	audit.Entry
	ActorName string
	ActorRole string
}

// AuditPage lists the entries a query selects, each with its actor's name.
func (s *Store) AuditPage(ctx context.Context, q AuditQuery) ([]NamedEntry, error) {
	stmt := `SELECT id, at, actor, action, object, detail FROM audit_events WHERE 1 = 1`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.ActorName != "" {
		actors, err := s.actorsNamed(ctx, q.ActorName)
		if err != nil {
			return nil, err
		}
		list := make([]string, len(actors))
		for i, a := range actors {
			list[i] = arg(a)
		}
		stmt += ` AND actor IN (` + strings.Join(list, ", ") + `)`
	}
	if q.Action != "" {
		stmt += ` AND action = ` + arg(q.Action)
	}
	// A time range is read as a range of ids, widened by auditClockSlack,
	// and then bounded exactly by time.
	if !q.From.IsZero() {
		lo, err := s.auditIDFrom(ctx, q.From.Add(-auditClockSlack))
		if err != nil {
			return nil, err
		}
		stmt += ` AND id >= ` + arg(lo) + ` AND at >= ` + arg(ms(q.From))
	}
	if !q.To.IsZero() {
		hi, err := s.auditIDFrom(ctx, q.To.Add(auditClockSlack))
		if err != nil {
			return nil, err
		}
		stmt += ` AND id < ` + arg(hi) + ` AND at < ` + arg(ms(q.To))
	}
	switch {
	case q.Newest && q.After > 0:
		stmt += ` AND id < ` + arg(q.After) + ` ORDER BY id DESC`
	case q.Newest:
		stmt += ` ORDER BY id DESC`
	default:
		stmt += ` AND id > ` + arg(q.After) + ` ORDER BY id`
	}
	stmt += ` LIMIT ` + arg(max(q.Limit, 0))
	rows, err := s.query(ctx, stmt, args...)
	if err != nil {
		return nil, classify(err)
	}
	var out []NamedEntry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, NamedEntry{Entry: e})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.nameActors(ctx, out)
}

// actorsNamed lists the stored actors a name stands for: the account with
// that username, every terminal with that name, and the name itself (so
// that "system" or "account:<id>" match as they are stored). The list is
// never empty.
func (s *Store) actorsNamed(ctx context.Context, name string) ([]string, error) {
	out := []string{name}
	rows, err := s.query(ctx, `SELECT 'account:' || id FROM accounts WHERE username = $1
		UNION ALL SELECT 'terminal:' || id FROM terminals WHERE name = $2 LIMIT 100`, NormalizeUsername(name), strings.TrimSpace(name))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// nameActors fills in each entry's actor name and role, looking each
// account and terminal up once.
func (s *Store) nameActors(ctx context.Context, entries []NamedEntry) error {
	type who struct{ name, role string }
	known := map[string]who{}
	for i := range entries {
		actor := entries[i].Actor
		w, ok := known[actor]
		if !ok {
			w = who{actor, actor}
			kind, id, _ := strings.Cut(actor, ":")
			var err error
			switch kind {
			case "account":
				err = s.queryRow(ctx, `SELECT username, role FROM accounts WHERE id = $1`, id).Scan(&w.name, &w.role)
			case "terminal":
				w.role = "terminal"
				err = s.queryRow(ctx, `SELECT name FROM terminals WHERE id = $1`, id).Scan(&w.name)
			}
			if errors.Is(err, sql.ErrNoRows) {
				// A purged account keeps its id in the log.
				w.name, err = actor, nil
			}
			if err != nil {
				return classify(err)
			}
			known[actor] = w
		}
		entries[i].ActorName, entries[i].ActorRole = w.name, w.role
	}
	return nil
}

// auditClockSlack bounds how far an entry's time may lie from the order of
// its id: an entry is numbered when its write runs, and dated when its
// request began (a write may wait for the writer, and nodes' clocks
// differ a little).
const auditClockSlack = 10 * time.Minute

// auditIDFrom finds, by bisection on the primary key, the first audit entry
// dated at or after t, and returns its id (one past the last id when there
// is none). The audit log has no index by time: its ids follow the order
// of writing, so a few point reads find a time's place in it however long
// it is.
func (s *Store) auditIDFrom(ctx context.Context, t time.Time) (int64, error) {
	var first, last sql.NullInt64
	if err := s.queryRow(ctx, `SELECT min(id), max(id) FROM audit_events`).Scan(&first, &last); err != nil {
		return 0, classify(err)
	}
	if !first.Valid {
		return 0, nil
	}
	found, lo, hi := last.Int64+1, first.Int64, last.Int64
	for lo <= hi {
		mid := lo + (hi-lo)/2
		var id, at int64
		err := s.queryRow(ctx, `SELECT id, at FROM audit_events WHERE id >= $1 ORDER BY id LIMIT 1`, mid).Scan(&id, &at)
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && id > hi:
			hi = mid - 1 // nothing in [mid, hi]
		case err != nil:
			return 0, classify(err)
		case at >= ms(t):
			found, hi = id, mid-1
		default:
			lo = id + 1
		}
	}
	return found, nil
}
