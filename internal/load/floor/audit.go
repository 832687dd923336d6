package floor

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// auditEntry is one audit row before it is chained.
type auditEntry struct {
	At                    int64
	Actor, Action, Object string
	Detail                []byte
}

func newAuditEntry(at time.Time, actor, action, object string, detail any) auditEntry {
	b, err := json.Marshal(detail)
	if err != nil {
		// The details are structs of strings, numbers and booleans.
		panic("floor: audit detail: " + err.Error())
	}
	return auditEntry{At: at.UnixMilli(), Actor: actor, Action: action, Object: object, Detail: b}
}

// hash chains the entry numbered seq to the hash of the one before it:
// SHA-256 over the previous hash, the sequence number, the time and the
// length-prefixed fields, so no field can run into the next.
func (e auditEntry) hash(prev []byte, seq int64) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At))
	h.Write(n[:])
	for _, f := range [][]byte{[]byte(e.Actor), []byte(e.Action), []byte(e.Object), e.Detail} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(f)))
		h.Write(n[:4])
		h.Write(f)
	}
	return h.Sum(nil)
}

// chain is the head of the audit chain as the single writer holds it.
type chain struct {
	seq  int64
	hash []byte
}

// next chains e after the head and moves the head to it.
func (c *chain) next(e auditEntry) (seq int64, hash []byte) {
	c.seq++
	c.hash = e.hash(c.hash, c.seq)
	return c.seq, c.hash
}

// auditRow is a stored audit row.
type auditRow struct {
	auditEntry
	Seq  int64
	Hash []byte
}

// ErrAuditChain means a stored audit row does not hash to its chain.
var ErrAuditChain = errors.New("floor: the audit chain is broken")

// VerifyAudit recomputes the audit chain from its first row and returns
// the number of rows, or ErrAuditChain at the first row that does not
// follow from the one before it.
func (s *Server) VerifyAudit(ctx context.Context) (int, error) {
	rows, err := s.db.auditRows(ctx)
	if err != nil {
		return 0, err
	}
	var prev []byte
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			return i, fmt.Errorf("%w: row %d where %d belongs", ErrAuditChain, r.Seq, i+1)
		}
		want := r.auditEntry.hash(prev, r.Seq)
		if string(want) != string(r.Hash) {
			return i, fmt.Errorf("%w at row %d", ErrAuditChain, r.Seq)
		}
		prev = r.Hash
	}
	return len(rows), nil
}
