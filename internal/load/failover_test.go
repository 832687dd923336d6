package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tempid/internal/pii"
)

// event is one request of the failover load: when it started and ended,
// through which node, and how (status 0 and no code: success).
type event struct {
	start  time.Time
	at     time.Time
	node   int
	op     string
	status int
	code   string
	detail string
}

func (e event) ok() bool { return e.status == 0 && e.code == "" }

// failoverLoad is issuance and verification traffic through two tempid
// nodes, kept running across the cluster's failures, recording every
// request.
type failoverLoad struct {
	t       *testing.T
	nodes   []*node
	tr      *http.Transport
	offset  atomic.Uint64
	mu      sync.Mutex
	events  []event
	issued  []string // certificates a 201 acknowledged
	valid   []claimed
	wrong   []string // verdicts that are neither valid nor a 503
	stop    chan struct{}
	running sync.WaitGroup
}

// claimed is a code accepted once.
type claimed struct {
	cert      string
	step      uint32
	operation string
	code      string
	node      int
}

func (l *failoverLoad) record(start time.Time, node int, op string, err error) bool {
	e := event{start: start, at: time.Now(), node: node, op: op}
	var pe *problemError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		e.status, e.code, e.detail = pe.status, pe.code, pe.detail
	default:
		e.status, e.code, e.detail = -1, "client", err.Error()
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	return err == nil
}

func (l *failoverLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// issue is one issuance worker: a companion account on its node applies
// for one new person after another (face check, then application).
func (l *failoverLoad) issue(ctx context.Context, n int) {
	defer l.running.Done()
	c := newClient(l.nodes[n].url, l.tr, nil)
	for !l.stopped() {
		if l.record(time.Now(), n, "signup", c.signUp(ctx, fmt.Sprintf("fo-%x", l.offset.Add(1)), PersonAt(l.offset.Add(1)))) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for !l.stopped() {
		p := PersonAt(l.offset.Add(1))
		start := time.Now()
		check, err := c.faceCheck(ctx, purposeApply, p, "", newDevice(), captureImage())
		if !l.record(start, n, "face_check", err) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		start = time.Now()
		a, err := c.apply(ctx, opApply, p, check)
		if l.record(start, n, "apply", err) {
			l.mu.Lock()
			l.issued = append(l.issued, a.Certificate.ID)
			l.mu.Unlock()
		}
	}
}

// verify is one verification worker: a terminal scanning fresh codes of
// prepared passes through its node, about one a second (as many as the
// passes give fresh codes a minute).
func (l *failoverLoad) verify(ctx context.Context, n int, apiKey string, passes []readyCheck, alloc *codeAlloc) {
	defer l.running.Done()
	term := newClient(l.nodes[n].url, l.tr, nil)
	term.apiKey = apiKey
	for !l.stopped() {
		time.Sleep(time.Second)
		step, i, ok := alloc.next(time.Now())
		if !ok {
			continue
		}
		rc, op := passes[i%len(passes)], operations[i/len(passes)]
		code, err := rc.dev.code(rc.pass, step)
		if err != nil {
			l.t.Error(err)
			return
		}
		start := time.Now()
		v, err := term.verify(ctx, code, op)
		l.record(start, n, "verify", err)
		if err != nil {
			continue
		}
		l.mu.Lock()
		if v.Verdict == "valid" {
			l.valid = append(l.valid, claimed{rc.certID, step, op, code, n})
		} else {
			l.wrong = append(l.wrong, fmt.Sprintf("node %d: a fresh code for %s answered %s (%s)", n+1, op, v.Verdict, v.Reason))
		}
		l.mu.Unlock()
	}
}

// window summarises the events that ended in [from, to): per node, the
// first successful write among the requests started after from (when it
// ended), the failures before it, and every failure that is not 503
// unavailable.
type window struct {
	firstWrite []time.Duration // -1: none
	failed     []int
	total      int
	failures   map[string]int // "status code" → count
	bad        []string
}

func (l *failoverLoad) window(from, to time.Time) window {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := window{firstWrite: []time.Duration{-1, -1}, failed: make([]int, 2), failures: map[string]int{}}
	events := append([]event(nil), l.events...)
	sort.Slice(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	for _, e := range events {
		if e.at.Before(from) || !e.at.Before(to) {
			continue
		}
		w.total++
		if e.ok() {
			if w.firstWrite[e.node] < 0 && e.op != "signup" && !e.start.Before(from) {
				w.firstWrite[e.node] = e.at.Sub(from)
			}
			continue
		}
		key := fmt.Sprintf("%d %s", e.status, e.code)
		w.failures[key]++
		if w.firstWrite[e.node] < 0 {
			w.failed[e.node]++
		}
		if e.status != http.StatusServiceUnavailable || e.code != "unavailable" {
			w.bad = append(w.bad, fmt.Sprintf("node %d %s: %s %s", e.node+1, e.op, key, e.detail))
		}
	}
	return w
}

func (w window) String() string {
	var b strings.Builder
	for n, d := range w.firstWrite {
		first := "none"
		if d >= 0 {
			first = fmt.Sprintf("%.1f s", d.Seconds())
		}
		fmt.Fprintf(&b, "node %d: first successful write after %s, %d requests failed before it; ", n+1, first, w.failed[n])
	}
	fmt.Fprintf(&b, "%d requests in all, failures %v", w.total, w.failures)
	return b.String()
}

// TestFailoverOnAPatroniClusterLosesNothing runs two tempid nodes on a
// Patroni cluster (scripts/pg-cluster.sh: a primary and two replicas,
// synchronous replication) under issuance and verification load, and
// then:
//
//   - SIGKILLs the primary's postgres: every request that fails meanwhile
//     is 503 unavailable, each node writes again by itself (no restart),
//     /readyz fails and recovers, and afterwards every certificate a 201
//     acknowledged is on the new primary, no person holds more than 3
//     certificates although applications for persons at their last one
//     race across the kill, every code accepted once is a replay, and the
//     audit chain verifies;
//   - SIGKILLs the synchronous standby's postgres: nothing fails;
//   - stops etcd for 12 s: the cluster never has two primaries, writes are
//     refused (503) or go to the one primary, and resume after etcd is back.
//
// It reports the seconds from each kill to the first successful write
// through each node and the requests that failed in between.
func TestFailoverOnAPatroniClusterLosesNothing(t *testing.T) {
	cluster := startPGCluster(t) // skips without Patroni (fails in CI)
	ctx := context.Background()
	env := nodeEnv(pii.NewKeyFile())
	serve := func() []string {
		return []string{"serve", "--demo", "--database", cluster.dsn, "--data", t.TempDir(), "--listen", "127.0.0.1:0"}
	}
	nodes := []*node{startNode(t, env, serve()...)}
	nodes = append(nodes, startNode(t, env, serve()...))
	tr := newTransport(32)
	defer tr.CloseIdleConnections()
	l := &failoverLoad{t: t, nodes: nodes, tr: tr, stop: make(chan struct{})}
	l.offset.Store(RandomOffset())

	admin := newClient(nodes[0].url, tr, nil)
	if err := admin.login(ctx, opAdminLogin, demoAdmin, demoAdminPassword); err != nil {
		t.Fatal(err)
	}

	// Passes for the verification load, made by one companion account.
	companion := newClient(nodes[0].url, tr, nil)
	if err := companion.signUp(ctx, fmt.Sprintf("fo-companion-%d", l.offset.Load()%1000000), PersonAt(l.offset.Add(1))); err != nil {
		t.Fatal(err)
	}
	var passes []readyCheck
	for range 16 {
		p, dev := PersonAt(l.offset.Add(1)), newDevice()
		check, err := companion.faceCheck(ctx, purposeApply, p, "", dev, captureImage())
		if err != nil {
			t.Fatal(err)
		}
		a, err := companion.apply(ctx, opApply, p, check)
		if err != nil {
			t.Fatal(err)
		}
		pass, err := decodePass(a.Pass.Pass)
		if err != nil {
			t.Fatal(err)
		}
		passes = append(passes, readyCheck{p: p, dev: dev, certID: a.Certificate.ID, pass: pass})
		l.issued = append(l.issued, a.Certificate.ID)
	}

	// Persons at their last certificate of the month: two issued and
	// revoked (a revoked certificate still counts), and four passed face
	// checks each, to race for the third across the failover.
	type racer struct {
		p      Person
		c      *client
		checks []string
	}
	racers := make([]*racer, 4)
	for i := range racers {
		r := &racer{p: PersonAt(l.offset.Add(1)), c: companion}
		for range 2 {
			check, err := companion.faceCheck(ctx, purposeApply, r.p, "", newDevice(), captureImage())
			if err != nil {
				t.Fatal(err)
			}
			a, err := companion.apply(ctx, opApply, r.p, check)
			if err != nil {
				t.Fatal(err)
			}
			l.issued = append(l.issued, a.Certificate.ID)
			if err := admin.json(ctx, opRevoke, "POST", "/api/v1/admin/certificates/"+a.Certificate.ID+"/revoke",
				map[string]any{"reason": "failover test"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for range 4 {
			check, err := companion.faceCheck(ctx, purposeApply, r.p, "", newDevice(), captureImage())
			if err != nil {
				t.Fatal(err)
			}
			r.checks = append(r.checks, check)
		}
		racers[i] = r
	}

	// /readyz of each node, every 100 ms: when it failed and recovered.
	type readiness struct {
		mu             sync.Mutex
		failed, healed [2][]time.Time
		last           []bool
	}
	ready := &readiness{last: []bool{true, true}}
	// failedBetween tells whether each node's /readyz failed in [from, to)
	// and whether it answers 200 now.
	failedBetween := func(t *testing.T, from, to time.Time) {
		t.Helper()
		ready.mu.Lock()
		defer ready.mu.Unlock()
		for n := range nodes {
			failed := false
			for _, at := range ready.failed[n] {
				failed = failed || (!at.Before(from) && at.Before(to))
			}
			if !failed {
				t.Errorf("node %d: /readyz never failed while there was no primary", n+1)
			}
			if !ready.last[n] {
				t.Errorf("node %d: /readyz did not recover without a restart", n+1)
			}
		}
	}
	var probes sync.WaitGroup
	probes.Add(1)
	go func() {
		defer probes.Done()
		hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
		for !l.stopped() {
			for n, nd := range nodes {
				ok := false
				if resp, err := hc.Get(nd.url + "/readyz"); err == nil {
					ok = resp.StatusCode == http.StatusOK
					resp.Body.Close()
				}
				ready.mu.Lock()
				if ok != ready.last[n] {
					if ok {
						ready.healed[n] = append(ready.healed[n], time.Now())
					} else {
						ready.failed[n] = append(ready.failed[n], time.Now())
					}
					ready.last[n] = ok
				}
				ready.mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	alloc := &codeAlloc{n: len(passes) * len(operations), given: map[uint32]int{}}
	for n := range nodes {
		l.running.Add(3)
		go l.issue(ctx, n)
		go l.issue(ctx, n)
		go l.verify(ctx, n, nodes[0].apiKey, passes, alloc)
	}
	defer func() {
		select {
		case <-l.stop:
		default:
			close(l.stop)
		}
		l.running.Wait()
		probes.Wait()
	}()
	time.Sleep(3 * time.Second) // load running before anything fails

	var report []string
	t.Run("the primary killed: acknowledged writes survive and the nodes write again by themselves", func(t *testing.T) {
		var race sync.WaitGroup
		raceIssued := make([][]string, len(racers))
		raceFailures := make([]map[string]int, len(racers))
		fire := func(i int) {
			r := racers[i]
			raceFailures[i] = map[string]int{}
			var mu sync.Mutex
			for j, check := range r.checks {
				race.Add(1)
				go func() {
					defer race.Done()
					c := *r.c
					c.base = nodes[j%2].url
					a, err := c.apply(ctx, opApply, r.p, check)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						raceIssued[i] = append(raceIssued[i], a.Certificate.ID)
						return
					}
					raceFailures[i][codeOf(err)]++
				}()
			}
		}
		// One race just before the kill, the others during the failover.
		fire(0)
		killed, promoted := cluster.failover()
		for i := 1; i < len(racers); i++ {
			time.Sleep(time.Second)
			fire(i)
		}
		race.Wait()
		time.Sleep(3 * time.Second) // load after the failover
		w := l.window(killed, time.Now())
		line := fmt.Sprintf("primary killed (Patroni's REST API named the new primary after %.1f s): %s", promoted, w)
		t.Log(line)
		report = append(report, line)
		for _, b := range w.bad {
			t.Errorf("a request failed otherwise than 503 unavailable: %s", b)
		}
		for n, d := range w.firstWrite {
			if d < 0 {
				t.Errorf("node %d never wrote again after the kill", n+1)
			}
		}
		for i, got := range raceIssued {
			l.mu.Lock()
			l.issued = append(l.issued, got...)
			l.mu.Unlock()
			if len(got) > 1 {
				t.Errorf("racer %d: %d certificates issued from its last one of the month", i+1, len(got))
			}
			for code := range raceFailures[i] {
				if code != "active_certificate_exists" && code != "quota_exhausted" && code != "unavailable" {
					t.Errorf("racer %d: refusal %q", i+1, code)
				}
			}
		}
		failedBetween(t, killed, time.Now())
		cluster.waitHealthy()
	})

	t.Run("the synchronous standby killed: nothing fails", func(t *testing.T) {
		standby := cluster.memberWithRole("sync_standby")
		if standby == "" {
			t.Fatal("no synchronous standby")
		}
		from := time.Now()
		if out, err := cluster.run(10*time.Second, "kill", standby); err != nil {
			t.Fatalf("kill %s: %v\n%s", standby, err, out)
		}
		time.Sleep(6 * time.Second)
		w := l.window(from, time.Now())
		line := fmt.Sprintf("synchronous standby %s killed: %d requests, failures %v", standby, w.total, w.failures)
		t.Log(line)
		report = append(report, line)
		if len(w.failures) > 0 {
			t.Errorf("requests failed while a replica was down: %v", w.failures)
		}
		cluster.waitHealthy()
	})

	t.Run("etcd stopped: never two primaries, writes refused or on the one primary", func(t *testing.T) {
		dbs := cluster.direct(t)
		var most atomic.Int64
		var restartedAt, primaryAgain atomic.Int64 // Unix ns
		watch := make(chan struct{})
		var watching sync.WaitGroup
		watching.Add(1)
		go func() {
			defer watching.Done()
			for {
				select {
				case <-watch:
					return
				default:
				}
				n := int64(cluster.primaries(ctx, dbs))
				if n > most.Load() {
					most.Store(n)
				}
				if r := restartedAt.Load(); r != 0 && n == 1 && primaryAgain.Load() == 0 {
					primaryAgain.Store(time.Now().UnixNano())
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		from := time.Now()
		if out, err := cluster.run(30*time.Second, "etcd", "stop"); err != nil {
			t.Fatalf("etcd stop: %v\n%s", err, out)
		}
		time.Sleep(12 * time.Second)
		restarted := time.Now()
		restartedAt.Store(restarted.UnixNano())
		if out, err := cluster.run(30*time.Second, "etcd", "start"); err != nil {
			t.Fatalf("etcd start: %v\n%s", err, out)
		}
		cluster.waitHealthy()
		time.Sleep(2 * time.Second)
		failedBetween(t, from, restarted)
		close(watch)
		watching.Wait()
		during, after := l.window(from, restarted), l.window(restarted, time.Now())
		line := fmt.Sprintf("etcd stopped for 12 s: at most %d primary at once; while stopped %d requests, failures %v; "+
			"after etcd was started again a primary accepted writes after %.1f s, and %s",
			most.Load(), during.total, during.failures, time.Duration(primaryAgain.Load()-restarted.UnixNano()).Seconds(), after)
		t.Log(line)
		report = append(report, line)
		if most.Load() > 1 {
			t.Errorf("%d primaries at once", most.Load())
		}
		for _, b := range append(during.bad, after.bad...) {
			t.Errorf("a request failed otherwise than 503 unavailable: %s", b)
		}
		for n, d := range after.firstWrite {
			if d < 0 {
				t.Errorf("node %d never wrote again after etcd came back", n+1)
			}
		}
	})

	close(l.stop)
	l.running.Wait()
	probes.Wait()

	t.Run("afterwards the new primary has every acknowledged write and the rules held", func(t *testing.T) {
		db, err := sql.Open("pgx", cluster.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, w := range l.wrong {
			t.Errorf("wrong verdict: %s", w)
		}
		missing := 0
		for _, id := range l.issued {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM certificates WHERE id = $1`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%d of %d certificates acknowledged with 201 are not on the primary", missing, len(l.issued))
		}
		var over int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT holder_index FROM certificates GROUP BY holder_index HAVING count(*) > 3) o`).Scan(&over); err != nil {
			t.Fatal(err)
		}
		if over > 0 {
			t.Errorf("%d persons hold more than 3 certificates", over)
		}
		for i, r := range racers {
			q, err := r.c.quota(ctx, r.p.IDNumber)
			if err != nil {
				t.Fatal(err)
			}
			if q.Quota.Used > 3 {
				t.Errorf("racer %d: quota used %d", i+1, q.Quota.Used)
			}
		}
		// Every code accepted is claimed on the primary (the claim is what
		// makes it a replay), and those still fresh are replays through
		// either node.
		term := newClient(nodes[1].url, tr, nil)
		term.apiKey = nodes[0].apiKey
		rechecked := 0
		for _, v := range l.valid {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM code_claims WHERE certificate_id = $1 AND step = $2`, v.cert, int64(v.step)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("a code accepted at step %d is not claimed on the primary", v.step)
			}
			// A code lives until 60·(s+1) + skew (CREDENTIAL.md step 7); past
			// that it is code_expired before it could be a replay. Rescan
			// only those with a few seconds to spare.
			if time.Now().Before(time.Unix(int64(v.step+1)*60, 0).Add(30*time.Second - 3*time.Second)) {
				got, err := term.verify(ctx, v.code, v.operation)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Replay {
					t.Errorf("a code accepted once is %s (%s) again, not a replay", got.Verdict, got.Reason)
				}
				rechecked++
			}
		}
		if len(l.valid) == 0 {
			t.Error("no code was accepted")
		}
		out, err := tempid(t, env, "audit", "verify", "--database", cluster.dsn)
		if err != nil {
			t.Errorf("tempid audit verify: %v\n%s", err, out)
		}
		line := fmt.Sprintf("after: %d acknowledged certificates all on the primary, %d accepted codes claimed (%d re-scanned: replays), audit: %s",
			len(l.issued), len(l.valid), rechecked, strings.TrimSpace(out))
		t.Log(line)
		report = append(report, line)
	})
	t.Log("failover figures:\n  " + strings.Join(report, "\n  "))
}
