package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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

// audit records a change in the same transaction. detail must hold masked
// data only.
func (t *Tx) audit(ctx context.Context, at time.Time, actor Actor, action, object string, detail map[string]any) error {
	if actor == "" {
		return fmt.Errorf("audit %s: no actor", action)
	}
	if detail == nil {
		detail = map[string]any{}
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	if _, err := t.exec(ctx, t.s.dialect.auditInsert, ms(at), string(actor), action, object, string(d)); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// SealAudit chains up to max pending audit entries, in the order of their
// ids, and returns how many it sealed. Only one sealer runs at a time: the
// head row is locked for the transaction.
func (s *Store) SealAudit(ctx context.Context, now time.Time, max int) (int, error) {
	sealed := 0
	err := s.write(ctx, func(t *Tx) error {
		sealed = 0
		var seq int64
		var prev []byte
		if err := t.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+s.dialect.lockRow).Scan(&seq, &prev); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT e.id, e.at, e.actor, e.action, e.object, e.detail
			FROM audit_pending p JOIN audit_events e ON e.id = p.event_id
			ORDER BY p.event_id LIMIT $1`, max)
		if err != nil {
			return err
		}
		var entries []audit.Entry
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			entries = append(entries, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		links := make([]any, 0, 5*len(entries))
		ids := make([]any, 0, len(entries))
		for _, e := range entries {
			seq++
			hash := audit.Hash(prev, seq, e)
			links = append(links, seq, e.ID, prev, hash, ms(now))
			ids = append(ids, e.ID)
			prev = hash
		}
		// Links go in, and pending marks go out, in statements of a few
		// fixed sizes, so that a busy second's thousands of entries cost
		// tens of statements, not two per entry, and the statement cache
		// holds six texts. Marks are deleted by id, a primary-key lookup
		// whatever the planner thinks of the chain's size.
		for len(ids) > 0 {
			n := sealChunk(len(ids))
			if _, err := t.exec(ctx, sealStatements[n].insert, links[:5*n]...); err != nil {
				return err
			}
			if _, err := t.exec(ctx, sealStatements[n].clear, ids[:n]...); err != nil {
				return err
			}
			links, ids = links[5*n:], ids[n:]
		}
		if len(entries) > 0 {
			if _, err := t.exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, prev); err != nil {
				return err
			}
		}
		sealed = len(entries)
		return nil
	})
	return sealed, err
}

// sealSizes are the chunk sizes of sealing, largest first; the last is 1.
var sealSizes = []int{64, 8, 1}

// sealChunk is the number of links to insert in the next statement when
// left remain: the largest size that fits.
func sealChunk(left int) int {
	for _, n := range sealSizes {
		if left >= n {
			return n
		}
	}
	return 1
}

// sealStatements are, per chunk size, the INSERT of that many audit_chain
// rows and the DELETE of that many pending marks.
var sealStatements = func() map[int]struct{ insert, clear string } {
	out := map[int]struct{ insert, clear string }{}
	for _, n := range sealSizes {
		var links, ids strings.Builder
		for i := range n {
			if i > 0 {
				links.WriteString(", ")
				ids.WriteString(", ")
			}
			fmt.Fprintf(&links, "($%d, $%d, $%d, $%d, $%d)", 5*i+1, 5*i+2, 5*i+3, 5*i+4, 5*i+5)
			fmt.Fprintf(&ids, "$%d", i+1)
		}
		out[n] = struct{ insert, clear string }{
			insert: `INSERT INTO audit_chain (seq, event_id, prev_hash, hash, sealed_at) VALUES ` + links.String(),
			clear:  `DELETE FROM audit_pending WHERE event_id IN (` + ids.String() + `)`,
		}
	}
	return out
}()

// SealAllAudit seals until nothing is pending.
func (s *Store) SealAllAudit(ctx context.Context, now time.Time) error {
	for {
		n, err := s.SealAudit(ctx, now, 1000)
		if err != nil || n == 0 {
			return err
		}
	}
}

func scanEntry(rows interface{ Scan(...any) error }) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Object, &e.Detail); err != nil {
		return e, err
	}
	e.At = fromMS(at)
	return e, nil
}

// AuditReport is the result of checking the audit chain.
type AuditReport struct {
	// Entries is how many sealed entries were checked.
	Entries int64
	// Pending is how many entries wait to be sealed.
	Pending int64
	// FirstBad is the first place where the chain does not hold, or nil.
	FirstBad *audit.Problem
}

// VerifyAudit walks the whole chain and checks every link against its
// entry and the link before it, and the last link against the head.
func (s *Store) VerifyAudit(ctx context.Context) (AuditReport, error) {
	var rep AuditReport
	if err := s.queryRow(ctx, `SELECT count(*) FROM audit_pending`).Scan(&rep.Pending); err != nil {
		return rep, classify(err)
	}
	var headSeq int64
	var headHash []byte
	if err := s.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return rep, classify(err)
	}
	rows, err := s.query(ctx, `SELECT c.seq, c.event_id, c.prev_hash, c.hash, e.id, e.at, e.actor, e.action, e.object, e.detail
		FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id ORDER BY c.seq`)
	if err != nil {
		return rep, classify(err)
	}
	defer rows.Close()
	check := audit.NewChecker()
	var last audit.Link
	for rows.Next() {
		var l audit.Link
		var id, at sql.NullInt64
		var actor, action, object, detail sql.NullString
		if err := rows.Scan(&l.Seq, &l.EntryID, &l.PrevHash, &l.Hash, &id, &at, &actor, &action, &object, &detail); err != nil {
			return rep, err
		}
		var entry *audit.Entry
		if id.Valid {
			entry = &audit.Entry{ID: id.Int64, At: fromMS(at.Int64), Actor: actor.String, Action: action.String, Object: object.String, Detail: detail.String}
		}
		if p := check.Check(l, entry); p != nil {
			rep.FirstBad = p
			return rep, nil
		}
		rep.Entries++
		last = l
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}
	if headSeq != last.Seq || (headSeq > 0 && string(headHash) != string(last.Hash)) {
		rep.FirstBad = &audit.Problem{Seq: last.Seq + 1, Reason: fmt.Sprintf("the chain ends at link %d but its head says %d: links were removed from the end", last.Seq, headSeq)}
	}
	return rep, nil
}

// AuditEntries lists sealed and pending entries with id greater than after,
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
	if !q.From.IsZero() {
		stmt += ` AND at >= ` + arg(ms(q.From))
	}
	if !q.To.IsZero() {
		stmt += ` AND at < ` + arg(ms(q.To))
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
