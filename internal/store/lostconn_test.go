package store_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/problem"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// cutter is a TCP proxy between the store and PostgreSQL that reads the
// client's protocol messages and, once, cuts both connections at a chosen
// message: the store sees what it sees when the primary dies mid-request.
// It is a fake of the network, by hand; the database behind it is real.
type cutter struct {
	ln     net.Listener
	target string
	// match is text in one client message (a query, a Parse or a Bind
	// with its parameters). before cuts without forwarding that message;
	// otherwise the message and everything up to the next Sync (or the
	// simple query itself) are forwarded, the server is given time to run
	// them, and the connection is cut before the answer reaches the store.
	match  string
	before bool
	mu     sync.Mutex
	active bool // set by arm: migrations at Open pass untouched
	fired  bool
}

func newCutter(t *testing.T, target, match string, before bool) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, match: strings.ToLower(match), before: before}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go c.serve(conn)
		}
	}()
	return c
}

// Fired tells whether the connection was cut.
func (c *cutter) Fired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fired
}

func (c *cutter) isActive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// arm makes the cutter cut at the next match.
func (c *cutter) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = true
}

func (c *cutter) fire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active || c.fired {
		return false
	}
	c.fired = true
	return true
}

func (c *cutter) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", c.target)
	if err != nil {
		return
	}
	defer server.Close()
	var muted sync.Mutex // held while the server's answers are dropped
	go func() {
		// A connection the server closes closes for the client too
		// (a cancel request is answered so).
		defer client.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				muted.Lock()
				_, werr := client.Write(buf[:n])
				muted.Unlock()
				if werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	// The startup message has no type byte: a length, then the rest.
	var n [4]byte
	if _, err := io.ReadFull(client, n[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(n[:])-4)
	if _, err := io.ReadFull(client, startup); err != nil {
		return
	}
	server.Write(append(n[:], startup...))
	armed := false
	for {
		var head [5]byte
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		typ := head[0]
		hit := !armed && c.isActive() && (typ == 'Q' || typ == 'P' || typ == 'B') && bytes.Contains(bytes.ToLower(body), []byte(c.match))
		if hit && c.before && c.fire() {
			return
		}
		if hit && !c.before {
			armed = true
		}
		last := armed && (typ == 'S' || typ == 'Q') && c.fire()
		if last {
			// From here on the store hears nothing back.
			muted.Lock()
		}
		if _, err := server.Write(append(head[:], body...)); err != nil {
			return
		}
		if last {
			// The server runs what it was sent; then both connections
			// close, the answer unsent.
			time.Sleep(300 * time.Millisecond)
			client.Close()
			muted.Unlock()
			return
		}
	}
}

// throughCutter returns a PostgreSQL store of a fresh schema whose
// connections go through a cutter.
func throughCutter(t *testing.T, match string, before bool) (*store.Store, *cutter) {
	t.Helper()
	dsn := storetest.Schema(t) // skips without PostgreSQL
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c := newCutter(t, u.Host, match, before)
	u.Host = c.ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	s, err := store.Open(context.Background(), store.Options{DSN: u.String(), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c.arm()
	return s, c
}

func account(id string) store.Account {
	return store.Account{ID: id, Username: "user" + id, PasswordHash: "x", Role: store.RoleStaff, StationCode: "BJP", CreatedAt: time.Now()}
}

// A write whose connection is lost before its COMMIT was sent has changed
// nothing: the store runs the whole transaction again on a new connection
// and it commits once.
func TestAWriteLostBeforeItsCommitIsRunAgainAndCommitsOnce(t *testing.T) {
	s, c := throughCutter(t, "INSERT INTO accounts", true)
	id := store.NewID()
	if err := s.CreateAccount(context.Background(), store.CLI, account(id)); err != nil {
		t.Fatalf("the retried write failed: %v", err)
	}
	if !c.Fired() {
		t.Fatal("the connection was never cut")
	}
	for table, want := range map[string]int{
		"accounts WHERE id = '" + id + "'":                 1,
		"audit_events WHERE object = 'account:" + id + "'": 1,
	} {
		if n, err := store.CountForTest(s, table); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
}

// A write whose COMMIT was sent but never answered may have committed:
// the store must not run it again (here the retry would have been refused
// as a taken username, and a retried application could issue twice). The
// client hears 503 unavailable, told that the change may have been made,
// and the change is there exactly once.
func TestAWriteWhoseCommitWasNotAnsweredIsNotRunAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match string
		write func(s *store.Store, id string) error
		table string
	}{
		{"a transaction lost at COMMIT", "commit", func(s *store.Store, id string) error {
			return s.CreateAccount(context.Background(), store.CLI, account(id))
		}, "accounts"},
		{"a verification's batch, lost after its pipeline with the COMMIT was sent", "", func(s *store.Store, id string) error {
			actor := store.TerminalActor("gate")
			_, err := s.RecordVerification(context.Background(), actor, store.Verification{ID: id, CertificateID: "c0ffee", Step: 7,
				Operation: "entry", Verifier: string(actor), Verdict: store.VerdictValid, At: time.Now()}, true)
			return err
		}, "verifications"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := store.NewID()
			match := tc.match
			if match == "" {
				match = id // the Bind message carries the verification's id
			}
			s, c := throughCutter(t, match, false)
			err := tc.write(s, id)
			if !c.Fired() {
				t.Fatal("the connection was never cut")
			}
			p, ok := problem.As(err)
			if !ok || p.Code != problem.Unavailable {
				t.Fatalf("error %v, want 503 unavailable", err)
			}
			if !strings.Contains(p.Detail, "may have been made") {
				t.Errorf("detail %q: the client must not be told that nothing was changed", p.Detail)
			}
			if n, err := store.CountForTest(s, tc.table+" WHERE id = '"+id+"'"); err != nil || n != 1 {
				t.Errorf("%d rows (%v): the unanswered commit should have committed once", n, err)
			}
		})
	}
}

// A batch of verifications whose connection is lost after the pipeline
// with its COMMIT went out may have committed: every write of the batch is
// told so, none is run again, and each was made once.
func TestABatchWhoseCommitWasNotAnsweredTellsEveryWrite(t *testing.T) {
	cert := store.NewID()
	vs := []store.Verification{gateVerification(cert, 1), gateVerification(cert, 2), gateVerification(cert, 3)}
	s, c := throughCutter(t, vs[1].ID, false)
	errs := store.RecordInOneBatchForTest(s, store.TerminalActor("gate"), vs)
	if !c.Fired() {
		t.Fatal("the connection was never cut")
	}
	for i, err := range errs {
		p, ok := problem.As(err)
		if !ok || p.Code != problem.Unavailable || !strings.Contains(p.Detail, "may have been made") {
			t.Errorf("write %d: %v, want 503 saying the change may have been made", i+1, err)
		}
	}
	if n, err := store.CountForTest(s, "verifications WHERE id IN ("+idList(vs...)+")"); err != nil || n != len(vs) {
		t.Errorf("%d verifications (%v): the unanswered commit should have committed each once", n, err)
	}
}

// Through the node's writer, whose batches overlap on one connection: a
// verification whose connection is lost before anything of it was sent
// runs again and is made once; one whose COMMIT went out unanswered is
// told that it may have been made, is not run again, and was made once.
func TestTheWriterTellsALostVerificationWhatMayHaveHappened(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lostSent bool // the connection is lost after the matching bytes went out
		wantErr  bool
	}{
		{"lost before its claim was sent", false, false},
		{"lost after its COMMIT was sent", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := gateVerification(store.NewID(), 1)
			// The claim names the certificate; only the second pipeline,
			// with the rows and the COMMIT, names the verification.
			match := v.CertificateID
			if tc.lostSent {
				match = v.ID
			}
			s, c := throughCutter(t, match, !tc.lostSent)
			_, err := s.RecordVerification(context.Background(), store.TerminalActor("gate"), v, true)
			if !c.Fired() {
				t.Fatal("the connection was never cut")
			}
			p, ok := problem.As(err)
			switch {
			case tc.wantErr && (!ok || p.Code != problem.Unavailable || !strings.Contains(p.Detail, "may have been made")):
				t.Errorf("%v, want 503 saying the change may have been made", err)
			case !tc.wantErr && err != nil:
				t.Errorf("the verification was not run again: %v", err)
			}
			if n, err := store.CountForTest(s, "verifications WHERE id = '"+v.ID+"'"); err != nil || n != 1 {
				t.Errorf("%d verifications (%v), want it made once", n, err)
			}
		})
	}
}
