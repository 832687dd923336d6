// Package audit defines tempid's audit entries and their hash chain.
//
// Every state change writes an Entry in the same database transaction as the
// change, and the entry takes its place in the chain as it is written: link
// n holds SHA-256(link n-1 || canonical bytes of entry n). The chain's head
// (the last position and hash) is one row that every writing transaction
// holds until it commits — on SQLite the single writer holds everything, on
// PostgreSQL the row is locked by the first entry of the transaction — so
// the chain has one order, the order of commits, and an entry is never
// committed without its link.
//
// Entries hold masked data only: never a full ID number or name.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// Entry is one audit record.
type Entry struct {
	ID     int64
	At     time.Time
	Actor  string // "account:<id>", "terminal:<id>", "system", "cli"
	Action string // e.g. "certificate.issue"
	Object string // e.g. "certificate:<id>"
	Detail string // JSON object with masked data only
}

// Link is an entry's position in the chain and the hash stored with it.
type Link struct {
	Seq  int64
	Hash []byte
}

// Genesis is the hash before the first link.
var Genesis = make([]byte, sha256.Size)

// Hash computes the link hash of an entry at seq following prev. The
// PostgreSQL function audit_link_hash (migration 0012) computes the same
// bytes inside the database.
func Hash(prev []byte, seq int64, e Entry) []byte {
	h := sha256.New()
	h.Write([]byte("tempid-audit-v1"))
	h.Write(prev)
	var n [8]byte
	for _, v := range []int64{seq, e.ID, e.At.UnixMilli()} {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	for _, s := range []string{e.Actor, e.Action, e.Object, e.Detail} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// Problem describes the first place where a chain does not hold.
type Problem struct {
	Seq     int64
	EntryID int64
	Reason  string
}

func (p *Problem) String() string {
	return fmt.Sprintf("link %d (entry %d): %s", p.Seq, p.EntryID, p.Reason)
}

// Checker walks a chain entry by entry, in sequence order.
type Checker struct {
	prev []byte
	next int64
}

// NewChecker starts a walk at the first link.
func NewChecker() *Checker { return &Checker{prev: Genesis, next: 1} }

// Check verifies the next entry and its link: the position must be the
// next one, and the stored hash must be the hash of the entry after the
// link before it. An entry edited, moved to another position, or given
// another entry's hash fails the second test; an entry removed leaves a
// position missing.
func (c *Checker) Check(l Link, e Entry) *Problem {
	switch {
	case l.Seq != c.next:
		return &Problem{Seq: c.next, EntryID: e.ID, Reason: fmt.Sprintf("link %d is missing (next link found is %d)", c.next, l.Seq)}
	case !bytes.Equal(Hash(c.prev, l.Seq, e), l.Hash):
		return &Problem{Seq: l.Seq, EntryID: e.ID, Reason: "entry does not match its hash (edited, moved or its link replaced)"}
	}
	c.prev = l.Hash
	c.next++
	return nil
}

// Next is the position the walk expects next: one past the last link
// checked.
func (c *Checker) Next() int64 { return c.next }

// Last is the hash of the last link checked (Genesis before the first).
func (c *Checker) Last() []byte { return c.prev }
