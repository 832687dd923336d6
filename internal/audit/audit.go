// Package audit defines tempid's audit entries and their hash chain.
//
// Every state change writes an Entry in the same database transaction as the
// change. Entries are then sealed into a chain, in the order the sealer sees
// them: link n holds SHA-256(link n-1 || canonical bytes of entry n). Sealing
// runs after commit, in small batches, so that no write transaction has to
// wait for a single global "last hash" row: on PostgreSQL with several nodes
// that row would serialise every write. An entry is sealed within a second
// or so of its commit; Verify reports entries not yet sealed.
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

// Link is one sealed position of the chain.
type Link struct {
	Seq      int64
	EntryID  int64
	PrevHash []byte
	Hash     []byte
}

// Genesis is the hash before the first link.
var Genesis = make([]byte, sha256.Size)

// Hash computes the link hash of an entry at seq following prev.
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

// Checker walks a chain link by link, in sequence order.
type Checker struct {
	prev []byte
	next int64
}

// NewChecker starts a walk at the first link.
func NewChecker() *Checker { return &Checker{prev: Genesis, next: 1} }

// Check verifies the next link against its entry. entry is nil when the
// entry row is missing.
func (c *Checker) Check(l Link, entry *Entry) *Problem {
	switch {
	case l.Seq != c.next:
		return &Problem{Seq: c.next, EntryID: l.EntryID, Reason: fmt.Sprintf("link %d is missing (next link found is %d)", c.next, l.Seq)}
	case !bytes.Equal(l.PrevHash, c.prev):
		return &Problem{Seq: l.Seq, EntryID: l.EntryID, Reason: "previous hash does not match the link before"}
	case entry == nil:
		return &Problem{Seq: l.Seq, EntryID: l.EntryID, Reason: "entry is missing"}
	case !bytes.Equal(Hash(l.PrevHash, l.Seq, *entry), l.Hash):
		return &Problem{Seq: l.Seq, EntryID: l.EntryID, Reason: "entry does not match its hash (edited or moved)"}
	}
	c.prev = l.Hash
	c.next++
	return nil
}
