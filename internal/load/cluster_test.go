package load

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"tempid/internal/credential"
	"tempid/internal/pii"
	"tempid/internal/store/storetest"
)

// demoAdmin is the administrator every demo server creates (cli's demo
// accounts); its password is public on purpose.
const demoAdmin, demoAdminPassword = "admin", "tempid-demo-3"

// TestThreeNodesOnOneDatabaseKeepTheRules runs three tempid processes on
// one PostgreSQL schema, with one master key, and shows that the rules
// that must hold across nodes do: the monthly quota, replay detection and
// revocation. It also reports (never asserts) issuance throughput of three
// nodes against one.
func TestThreeNodesOnOneDatabaseKeepTheRules(t *testing.T) {
	dsn := storetest.Schema(t) // skips with a message without PostgreSQL
	ctx := context.Background()
	env := nodeEnv(pii.NewKeyFile())
	serve := func() []string {
		return []string{"serve", "--demo", "--database", dsn, "--data", t.TempDir(), "--listen", "127.0.0.1:0"}
	}
	// The first node migrates and creates the keys and demo accounts; the
	// other two start together on the migrated schema.
	nodes := []*node{startNode(t, env, serve()...)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := startNode(t, env, serve()...)
			mu.Lock()
			nodes = append(nodes, n)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(nodes) != 3 {
		t.Fatal("a node did not start")
	}
	tr := newTransport(16)
	defer tr.CloseIdleConnections()
	on := func(c *client, i int) *client {
		cc := *c
		cc.base = nodes[i%3].url
		return &cc
	}
	admin := newClient(nodes[0].url, tr, nil)
	if err := admin.login(ctx, opAdminLogin, demoAdmin, demoAdminPassword); err != nil {
		t.Fatal(err)
	}
	revoke := func(node int, id string) {
		t.Helper()
		if err := on(admin, node).json(ctx, opRevoke, "POST", "/api/v1/admin/certificates/"+id+"/revoke",
			map[string]any{"reason": "cluster test"}, nil); err != nil {
			t.Fatalf("revoke on node %d: %v", node+1, err)
		}
	}
	offset := RandomOffset()

	t.Run("parallel applications over three nodes issue exactly the quota", func(t *testing.T) {
		// With the real clock R5 lets a person hold one active
		// certificate, so a race among fresh applications could only
		// ever issue one. The person is therefore brought to two
		// certificates, both revoked (a revoked certificate still counts,
		// R2): the race then decides the third and last, and after that
		// revocation a second race must issue none — a refusal by the
		// count alone.
		me := PersonAt(offset)
		c := newClient(nodes[0].url, tr, nil)
		if err := c.signUp(ctx, fmt.Sprintf("quota-%d", offset%1000000), me); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			check, err := on(c, i).faceCheck(ctx, purposeApply, me, "", newDevice(), captureImage())
			if err != nil {
				t.Fatal(err)
			}
			a, err := on(c, i+1).apply(ctx, opApply, me, check)
			if err != nil {
				t.Fatal(err)
			}
			revoke(i+2, a.Certificate.ID)
		}
		// The face checks of both races pass first: once the quota is
		// spent, starting a check for the account's own identity is
		// refused early (R2), and the second race is about the count in
		// the application's own transaction.
		checks := make([]string, 9+6)
		for i := range checks {
			check, err := on(c, i).faceCheck(ctx, purposeApply, me, "", newDevice(), captureImage())
			if err != nil {
				t.Fatal(err)
			}
			checks[i] = check
		}
		race := func(checks []string) (issued []string, refusals map[string]int) {
			refusals = map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, check := range checks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					a, err := on(c, i).apply(ctx, opApply, me, check)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						issued = append(issued, a.Certificate.ID)
					} else {
						refusals[codeOf(err)]++
					}
				}()
			}
			close(start)
			wg.Wait()
			return issued, refusals
		}
		issued, refusals := race(checks[:9])
		if len(issued) != 1 {
			t.Fatalf("%d certificates issued from two used, want exactly 1 (refusals %v)", len(issued), refusals)
		}
		for code := range refusals {
			if code != "active_certificate_exists" && code != "quota_exhausted" {
				t.Errorf("refusal %q, want only active_certificate_exists or quota_exhausted", code)
			}
		}
		revoke(2, issued[0])
		issued, refusals = race(checks[9:])
		if len(issued) != 0 || refusals["quota_exhausted"] != 6 {
			t.Errorf("with the quota used: %d issued, refusals %v; want none issued and 6 quota_exhausted", len(issued), refusals)
		}
		for i := range 3 {
			q, err := on(c, i).quota(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if q.Quota.Used != 3 || q.Quota.Remaining != 0 {
				t.Errorf("node %d: quota used %d remaining %d, want 3 and 0", i+1, q.Quota.Used, q.Quota.Remaining)
			}
		}
	})

	t.Run("a code is a replay on every other node and terminal, and a revocation is seen at once", func(t *testing.T) {
		me, dev := PersonAt(offset+1), newDevice()
		c := newClient(nodes[1].url, tr, nil)
		if err := c.signUp(ctx, fmt.Sprintf("replay-%d", offset%1000000), me); err != nil {
			t.Fatal(err)
		}
		check, err := c.faceCheck(ctx, purposeApply, me, "", dev, captureImage())
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.apply(ctx, opApply, me, check)
		if err != nil {
			t.Fatal(err)
		}
		if a.Pass == nil {
			t.Skip("the server issues no passes yet")
		}
		pass, err := decodePass(a.Pass.Pass)
		if err != nil {
			t.Fatal(err)
		}
		gate := func(node, terminal int) *client {
			g := newClient(nodes[node].url, tr, nil)
			g.apiKey = nodes[terminal].apiKey
			return g
		}
		code, err := dev.code(pass, credential.StepAt(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name           string
			node, terminal int
			operation      string
			valid, replay  bool
		}{
			{"first use at gate 1 through node 1", 0, 0, "entry", true, false},
			{"same operation through node 2 at gate 2", 1, 1, "entry", false, true},
			{"same operation through node 3 at gate 1", 2, 0, "entry", false, true},
			{"another operation at gate 1 through node 3", 2, 0, "ticket_check", true, false},
			{"another operation at a second gate through node 2", 1, 2, "id_check", false, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v, err := gate(tc.node, tc.terminal).verify(ctx, code, tc.operation)
				if err != nil {
					t.Fatal(err)
				}
				if got := v.Verdict == "valid"; got != tc.valid || v.Replay != tc.replay {
					t.Errorf("verdict %s (%s) replay %v, want valid %v replay %v", v.Verdict, v.Reason, v.Replay, tc.valid, tc.replay)
				}
			})
		}
		revoke(0, a.Certificate.ID)
		for i, op := range []string{"change", "refund"} {
			v, err := gate(1+i, 0).verify(ctx, code, op)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != "invalid" || v.Reason != "revoked" {
				t.Errorf("node %d right after revocation on node 1: %s (%s), want invalid (revoked)", 2+i, v.Verdict, v.Reason)
			}
		}
	})

	t.Run("issuance throughput of three nodes against one is reported", func(t *testing.T) {
		var lines []string
		for _, servers := range [][]string{{nodes[0].url}, {nodes[0].url, nodes[1].url, nodes[2].url}} {
			rep, err := Run(ctx, Config{Servers: servers, Scenario: ScenarioIssue, Count: 60, Concurrency: 6,
				Duration: time.Minute, Capture: captureImage()})
			if err != nil {
				t.Fatal(err)
			}
			op, _ := rep.Measure.Op(opApply)
			if op.OK != 60 {
				t.Errorf("%d of 60 applications issued: %v", op.OK, op.Errors)
			}
			lines = append(lines, fmt.Sprintf("%d node(s): %.0f issued/s, p50 %s p99 %s", len(servers), op.PerSecond, op.P50, op.P99))
		}
		t.Log("issuance (not asserted): " + strings.Join(lines, "; "))
	})
}
