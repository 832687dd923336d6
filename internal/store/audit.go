package store

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
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
	if actor == "" {
		return fmt.Errorf("audit %s: no actor", action)
	}
	d := []byte("{}")
	if detail != nil {
		var err error
		if d, err = json.Marshal(detail); err != nil {
			return err
		}
	}
	if err := t.appendAudit(ctx, audit.Entry{At: at, Actor: string(actor), Action: action, Object: object, Detail: string(d)}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
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
	next.seq++
	next.lastID++
	e.ID = next.lastID
	next.hash = audit.Hash(t.chain.hash, next.seq, e)
	next.dirty = true
	if _, err := t.exec(ctx, `INSERT INTO audit_events (id, at, actor, action, object, detail, seq, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, ms(e.At), e.Actor, e.Action, e.Object, e.Detail, next.seq, next.hash); err != nil {
		return err
	}
	t.chain = next
	return nil
}

// appendAuditPostgres links an entry ($1 at, $2 actor, $3 action, $4
// object, $5 detail) under the head's row lock, in one statement.
const appendAuditPostgres = `WITH h AS (
		UPDATE audit_head SET seq = seq + 1, last_id = last_id + 1,
			hash = audit_link_hash(hash, seq + 1, last_id + 1, $1, $2, $3, $4, $5)
		WHERE id = 1 RETURNING seq, last_id, hash)
	INSERT INTO audit_events (id, at, actor, action, object, detail, seq, hash)
	SELECT last_id, $1, $2, $3, $4, $5, seq, hash FROM h`

// chainHead is a SQLite transaction's view of the chain's head: loaded at
// its first entry, advanced by each, written back by sealChain. A batch
// that rolls one write back to its savepoint restores the value it had
// before that write (batch.go).
type chainHead struct {
	loaded, dirty bool
	seq, lastID   int64
	hash          []byte
}

// sealChain writes the head back when the transaction linked entries; the
// writer calls it before every commit.
func (t *Tx) sealChain(ctx context.Context) error {
	if !t.chain.dirty {
		return nil
	}
	if _, err := t.exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2, last_id = $3 WHERE id = 1`, t.chain.seq, t.chain.hash, t.chain.lastID); err != nil {
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
