package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"tempid/internal/credential"
	"tempid/internal/httpapi/apiv1"
)

// unbounded is the budget of a phase bounded by time only.
const unbounded = math.MaxInt64 / 2

func (r *runner) timedBudget() *budget {
	if r.cfg.Count > 0 {
		return newBudget(r.cfg.Count, r.cfg.Duration)
	}
	return newBudget(unbounded, r.cfg.Duration)
}

// faceCheckUseWindow is how long a passed face check may be used (the
// policy default); preparation longer than this loses its first checks.
const faceCheckUseWindow = 5 * time.Minute

// readyCheck is a passed apply face check waiting to be used.
type readyCheck struct {
	c      *client
	p      Person
	dev    device
	check  string
	certID string
	pass   []byte
}

// companion signs up one account per worker; it then applies for other
// persons, as a companion does (R1), which keeps argon2 out of the
// preparation of every person after the first.
func (r *runner) companion(ctx context.Context, w int, rec *recorder) (*client, Person, error) {
	c := newClient(r.server(w), r.tr, rec)
	p := r.person()
	if err := c.signUp(ctx, r.username(), p); err != nil {
		return nil, p, err
	}
	return c, p, nil
}

func (r *runner) issue(ctx context.Context, rep *Report) error {
	n := r.cfg.Count
	if n == 0 {
		n = r.cfg.Passengers
	}
	if n == 0 {
		n = 1000
	}
	checks := make(chan readyCheck, n)
	prep := newBudget(n, MaxDuration)
	var prepared atomic.Int64
	rep.Prepare = r.phase(ctx, "prepare", func(int64) string {
		return fmt.Sprintf("face checks %d/%d", prepared.Load(), n)
	}, func(ctx context.Context, w int, rec *recorder) {
		c, _, err := r.companion(ctx, w, rec)
		if err != nil {
			return
		}
		for prep.take(ctx) {
			p := r.person()
			check, err := c.faceCheck(ctx, purposeApply, p, "", newDevice(), r.cfg.Capture)
			if err != nil {
				continue
			}
			prepared.Add(1)
			checks <- readyCheck{c: c, p: p, check: check}
		}
	})
	close(checks)
	if err := ctx.Err(); err != nil {
		return err
	}
	if rep.Prepare.Elapsed > faceCheckUseWindow-30*time.Second {
		r.note("preparation took %s: the first face checks may have expired (usable for %s); lower --count", rep.Prepare.Elapsed.Round(time.Second), faceCheckUseWindow)
	}
	tctx, cancel := r.timedCtx(ctx)
	defer cancel()
	b := r.timedBudget()
	var issued atomic.Int64
	rep.Measure = r.phase(tctx, "measure", func(int64) string {
		return fmt.Sprintf("issued %d/%d", issued.Load(), len(checks)+int(issued.Load()))
	}, func(ctx context.Context, w int, rec *recorder) {
		for b.take(ctx) {
			rc, ok := <-checks
			if !ok {
				return
			}
			// The session lives in the database, so any node serves it:
			// the application goes to this worker's server.
			c := *rc.c
			c.rec, c.base = rec, r.server(w)
			a, err := c.apply(ctx, opApply, rc.p, rc.check)
			if err == nil {
				issued.Add(1)
				r.addIssued(a.Certificate.ID)
			}
		}
	})
	return nil
}

// terminal returns a client that verifies as a terminal: with the API key
// given, or with one registered through the admin login (demo mode's
// well-known admin, or one given).
func (r *runner) terminal(ctx context.Context, rec *recorder) (*client, error) {
	t := newClient(r.server(0), r.tr, rec)
	if r.cfg.APIKey != "" {
		t.apiKey = r.cfg.APIKey
		return t, nil
	}
	if r.cfg.AdminUser == "" {
		return nil, errors.New("verifications need a terminal: give --api-key (demo mode prints one at start-up) or an admin login")
	}
	admin := newClient(r.server(0), r.tr, rec)
	if err := admin.login(ctx, opAdminLogin, r.cfg.AdminUser, r.cfg.AdminPassword); err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	var out apiv1.NewTerminal
	if err := admin.json(ctx, opTerminalAdd, "POST", "/api/v1/admin/terminals", apiv1.CreateTerminalRequest{
		Name: "load generator " + r.runID, StationCode: "BJP", Offline: false,
	}, &out); err != nil {
		return nil, fmt.Errorf("register a terminal: %w", err)
	}
	t.apiKey = out.APIKey
	return t, nil
}

// hasVerification probes the verification endpoint with an empty code: a
// server that has it refuses the body (400); one that has not answers 404.
func (r *runner) hasVerification(ctx context.Context, t *client) (bool, error) {
	probe := *t
	probe.rec = nil
	_, err := probe.verify(ctx, "", "entry")
	var pe *problemError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &pe) && pe.status == 404:
		return false, nil
	case errors.As(err, &pe) && pe.status == 400:
		return true, nil
	}
	return false, err
}

// operations are the railway operations a code is verified for; a code
// may be used once per operation in its step (replays are refused).
var operations = []string{"entry", "ticket_check", "id_check", "ticket_purchase", "refund", "change", "reimbursement_voucher"}

// codeAlloc hands out unused (person, operation) pairs for the current
// step and, when those run out in the first 20 s of a step, for the
// previous step, which verifiers accept until 30 s (the skew) after it
// ended; 10 s are left for the request. Each pair gives one fresh code.
type codeAlloc struct {
	mu    sync.Mutex
	n     int // persons × operations
	given map[uint32]int
}

func (a *codeAlloc) next(now time.Time) (step uint32, i int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := credential.StepAt(now)
	steps := []uint32{cur}
	if now.Unix()%credential.StepSeconds < 20 {
		steps = append(steps, cur-1)
	}
	for _, s := range steps {
		if a.given[s] < a.n {
			i = a.given[s]
			a.given[s]++
			return s, i, true
		}
	}
	return 0, 0, false
}

func (r *runner) verifyScenario(ctx context.Context, rep *Report) error {
	setup := newRecorder()
	term, err := r.terminal(ctx, setup)
	if err != nil {
		return err
	}
	ok, err := r.hasVerification(ctx, term)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoVerification
	}
	n := r.cfg.Passengers
	if n == 0 {
		n = 100
	}
	if r.cfg.Count > 0 {
		// Two steps of seven operations per person cover Count codes
		// within one minute.
		n = max(n, r.cfg.Count/(2*len(operations))+1)
	}
	n = min(n, MaxPassengers)
	var (
		mu       sync.Mutex
		list     []readyCheck
		noPasses atomic.Bool
	)
	prep := newBudget(n, MaxDuration)
	rep.Prepare = r.phase(ctx, "prepare", func(int64) string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("certificates %d/%d", len(list), n)
	}, func(ctx context.Context, w int, rec *recorder) {
		c, _, err := r.companion(ctx, w, rec)
		if err != nil {
			return
		}
		for !noPasses.Load() && prep.take(ctx) {
			p, dev := r.person(), newDevice()
			check, err := c.faceCheck(ctx, purposeApply, p, "", dev, r.cfg.Capture)
			if err != nil {
				continue
			}
			a, err := c.apply(ctx, opApply, p, check)
			if err != nil {
				continue
			}
			r.addIssued(a.Certificate.ID)
			if a.Pass == nil {
				noPasses.Store(true)
				return
			}
			pass, err := decodePass(a.Pass.Pass)
			if err != nil {
				continue
			}
			mu.Lock()
			list = append(list, readyCheck{p: p, dev: dev, certID: a.Certificate.ID, pass: pass})
			mu.Unlock()
		}
	})
	if noPasses.Load() {
		return ErrNoVerification
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(list) == 0 {
		return errors.New("no certificate could be prepared; see the preparation errors")
	}
	alloc := &codeAlloc{n: len(list) * len(operations), given: map[uint32]int{}}
	var exhausted sync.Once
	tctx, cancel := r.timedCtx(ctx)
	defer cancel()
	b := r.timedBudget()
	rep.Measure = r.phase(tctx, "measure", func(done int64) string {
		return fmt.Sprintf("verified %d", done)
	}, func(ctx context.Context, w int, rec *recorder) {
		t := *term
		t.rec, t.base = rec, r.server(w)
		for b.take(ctx) {
			step, i, ok := alloc.next(time.Now())
			if !ok {
				b.left.Add(1)
				exhausted.Do(func() {
					r.note("every person's codes for this step were used: workers waited for the next minute; raise --passengers")
				})
				if !sleepUntilNextStep(ctx) {
					return
				}
				continue
			}
			rc := list[i%len(list)]
			code, err := rc.dev.code(rc.pass, step)
			if err != nil {
				rec.observe(opVerify, 0, outcome{err: "make_code"})
				continue
			}
			t.verify(ctx, code, operations[i/len(list)])
		}
	})
	return nil
}

func sleepUntilNextStep(ctx context.Context) bool {
	now := time.Now()
	next := now.Truncate(time.Minute).Add(time.Minute)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(next.Sub(now)):
		return true
	}
}

func (r *runner) mixed(ctx context.Context, rep *Report) error {
	setup := newRecorder()
	var term *client
	if r.cfg.APIKey != "" || r.cfg.AdminUser != "" {
		t, err := r.terminal(ctx, setup)
		if err != nil {
			return err
		}
		if ok, err := r.hasVerification(ctx, t); err != nil {
			return err
		} else if ok {
			term = t
		}
	}
	if term == nil {
		r.note("journeys include no verifications: no terminal, or the server has no verification endpoint")
	}
	var noPasses sync.Once
	tctx, cancel := r.timedCtx(ctx)
	defer cancel()
	b := r.timedBudget()
	var journeys atomic.Int64
	rep.Measure = r.phase(tctx, "measure", func(int64) string {
		return fmt.Sprintf("journeys %d", journeys.Load())
	}, func(ctx context.Context, w int, rec *recorder) {
		var t client
		if term != nil {
			t = *term
			t.rec, t.base = rec, r.server(w)
		}
		for b.take(ctx) {
			if r.journey(ctx, w, rec, term != nil, &t, &noPasses) {
				journeys.Add(1)
			}
		}
	})
	return nil
}

// journey is one passenger from sign-up to logout; it reports whether it
// got as far as a certificate.
func (r *runner) journey(ctx context.Context, w int, rec *recorder, verify bool, t *client, noPasses *sync.Once) bool {
	c := newClient(r.server(w), r.tr, rec)
	p, dev := r.person(), newDevice()
	if err := c.signUp(ctx, r.username(), p); err != nil {
		return false
	}
	defer c.json(ctx, opLogout, "DELETE", "/api/v1/session", nil, nil)
	check, err := c.faceCheck(ctx, purposeApply, p, "", dev, r.cfg.Capture)
	if err != nil {
		return false
	}
	a, err := c.apply(ctx, opApply, p, check)
	if err != nil {
		return false
	}
	r.addIssued(a.Certificate.ID)
	c.quota(ctx, "")
	// An early renewal: refused (R5) while the new certificate is far
	// from its expiry, already when its face check starts (the account's
	// own identity), before any picture is taken.
	c.json(ctx, opRenew, "POST", "/api/v1/face-checks", apiv1.FaceCheckRequest{
		Purpose: purposeApply, Subject: &apiv1.Subject{Name: p.Name, IDNumber: p.IDNumber}, DeviceKey: dev.jwk(), Consent: true,
	}, nil, "active_certificate_exists")
	if !verify {
		return true
	}
	if a.Pass == nil {
		noPasses.Do(func() { r.note("the server issued certificates without passes: no verifications") })
		return true
	}
	view, err := c.faceCheck(ctx, purposeView, p, a.Certificate.ID, dev, r.cfg.Capture)
	if err != nil {
		return true
	}
	pass, err := c.newPass(ctx, a.Certificate.ID, view)
	if err != nil {
		return true
	}
	step := credential.StepAt(time.Now())
	for _, op := range []string{"entry", "ticket_check"} {
		code, err := dev.code(pass, step)
		if err == nil {
			t.verify(ctx, code, op)
		}
	}
	return true
}

func (r *runner) quotaScenario(ctx context.Context, rep *Report) error {
	accounts := make([]*client, r.cfg.Concurrency)
	rep.Prepare = r.phase(ctx, "prepare", func(int64) string { return "accounts" }, func(ctx context.Context, w int, rec *recorder) {
		c, own, err := r.companion(ctx, w, rec)
		if err != nil {
			return
		}
		// One certificate of the account's own, so the count has a row
		// to find, as for a passenger who checks after applying.
		if check, err := c.faceCheck(ctx, purposeApply, own, "", newDevice(), r.cfg.Capture); err == nil {
			if a, err := c.apply(ctx, opApply, own, check); err == nil {
				r.addIssued(a.Certificate.ID)
			}
		}
		accounts[w] = c
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	tctx, cancel := r.timedCtx(ctx)
	defer cancel()
	b := r.timedBudget()
	rep.Measure = r.phase(tctx, "measure", func(done int64) string {
		return fmt.Sprintf("quota checks %d", done)
	}, func(ctx context.Context, w int, rec *recorder) {
		if accounts[w] == nil {
			return
		}
		c := *accounts[w]
		c.rec = rec
		for b.take(ctx) {
			c.quota(ctx, "")
		}
	})
	return nil
}
