// Package load drives running tempid servers through the real HTTP API
// with many simulated passengers and terminals — sign-ups, face checks,
// applications, passes, code verifications, renewals — and reports, per
// operation, the count, throughput, latency quantiles and the errors by
// problem code. Each scenario prepares what it needs first and then times
// only the operation it is about, so preparation (argon2 at sign-up, the
// face provider) does not hide the cost of the operation measured.
//
// It sends traffic to loopback addresses only, and every run is bounded in
// count and time: it is a tool for a developer's machine and CI, not for
// anyone else's server.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios.
const (
	// ScenarioIssue prepares passed face checks for distinct persons, then
	// times only the applications (POST /api/v1/certificates).
	ScenarioIssue = "issue"
	// ScenarioVerify prepares certificates with passes, then times only
	// code verifications (POST /api/v1/verifications) by a terminal.
	ScenarioVerify = "verify"
	// ScenarioMixed times whole passenger journeys: sign-up, login, face
	// check, application, quota, a refused early renewal, a view face
	// check and a new pass, two verifications, logout.
	ScenarioMixed = "mixed"
	// ScenarioQuota prepares one account per worker, then times only the
	// quota check (GET /api/v1/quota).
	ScenarioQuota = "quota"
)

// Scenarios lists the scenario names.
var Scenarios = []string{ScenarioIssue, ScenarioVerify, ScenarioMixed, ScenarioQuota}

// Bounds of a run.
const (
	MaxDuration    = 10 * time.Minute
	MaxCount       = 200_000
	MaxConcurrency = 512
	MaxPassengers  = 100_000
)

// Config is one run.
type Config struct {
	// Servers are the base URLs (loopback only); workers are spread over
	// them round-robin, so several nodes share the load.
	Servers []string
	// Scenario is one of Scenarios.
	Scenario string
	// Count bounds the timed operations (journeys for mixed); zero means
	// Passengers for issue and until Duration for the others.
	Count int
	// Duration bounds the timed phase (at most MaxDuration).
	Duration time.Duration
	// Concurrency is the number of workers.
	Concurrency int
	// Passengers is how many persons verify prepares (each gives seven
	// fresh codes a minute) and how many checks issue prepares without a
	// Count.
	Passengers int
	// APIKey is a terminal's key for verifications. Without it, a run that
	// verifies logs in as AdminUser and registers a terminal.
	APIKey                   string
	AdminUser, AdminPassword string
	// Capture is the image every face check sends (facetest.SampleJPEG()
	// for the development simulator).
	Capture []byte
	// Offset is the first synthetic person; zero picks one at random.
	Offset uint64
	// Progress receives a line a second; Interactive overwrites it in
	// place (a terminal).
	Progress    io.Writer
	Interactive bool
	// AroundMeasure, if set, is called just before the timed phase starts
	// (true) and just after it ends (false), outside its timing: where a
	// caller reads the server's CPU time.
	AroundMeasure func(begin bool)
}

// Report is the result of a run.
type Report struct {
	Scenario    string
	Servers     []string
	Concurrency int
	// Prepare is the untimed preparation, Measure the timed phase.
	Prepare, Measure Phase
	// Issued are the certificates the run received a 201 for.
	Issued []string
	// Notes say what limited or skipped part of the run.
	Notes []string
}

// ErrNoVerification means the server has no online verification endpoint
// or issues no passes, so there is nothing for verify to time.
var ErrNoVerification = errors.New("the server issues no passes or has no POST /api/v1/verifications yet")

func (c *Config) check() error {
	if len(c.Servers) == 0 {
		return errors.New("no server")
	}
	for _, s := range c.Servers {
		if _, err := CheckLoopback(s); err != nil {
			return err
		}
	}
	found := false
	for _, s := range Scenarios {
		found = found || s == c.Scenario
	}
	switch {
	case !found:
		return fmt.Errorf("scenario %q: one of %s", c.Scenario, strings.Join(Scenarios, ", "))
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("duration %s: between 1s and %s", c.Duration, MaxDuration)
	case c.Count < 0 || c.Count > MaxCount:
		return fmt.Errorf("count %d: between 0 and %d", c.Count, MaxCount)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d: between 1 and %d", c.Concurrency, MaxConcurrency)
	case c.Passengers < 0 || c.Passengers > MaxPassengers:
		return fmt.Errorf("passengers %d: between 0 and %d", c.Passengers, MaxPassengers)
	case len(c.Capture) == 0:
		return errors.New("no capture image for face checks")
	}
	return nil
}

// runner is the state of one run.
type runner struct {
	cfg     Config
	tr      *http.Transport
	next    atomic.Uint64 // next synthetic person
	runID   string
	users   atomic.Int64
	mu      sync.Mutex
	issued  []string
	notes   []string
	servers []string
}

// Run runs a scenario and returns its report. It stops early, with what it
// measured so far, when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Offset == 0 {
		cfg.Offset = RandomOffset()
	}
	r := &runner{cfg: cfg, tr: newTransport(cfg.Concurrency), runID: fmt.Sprintf("%x", cfg.Offset%0xffffff), servers: cfg.Servers}
	r.next.Store(cfg.Offset)
	defer r.tr.CloseIdleConnections()
	rep := &Report{Scenario: cfg.Scenario, Servers: cfg.Servers, Concurrency: cfg.Concurrency}
	var err error
	switch cfg.Scenario {
	case ScenarioIssue:
		err = r.issue(ctx, rep)
	case ScenarioVerify:
		err = r.verifyScenario(ctx, rep)
	case ScenarioMixed:
		err = r.mixed(ctx, rep)
	case ScenarioQuota:
		err = r.quotaScenario(ctx, rep)
	}
	rep.Issued, rep.Notes = r.issued, r.notes
	return rep, err
}

func (r *runner) person() Person { return PersonAt(r.next.Add(1) - 1) }

func (r *runner) username() string {
	return fmt.Sprintf("load-%s-%d", r.runID, r.users.Add(1))
}

func (r *runner) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *runner) addIssued(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.issued = append(r.issued, id)
}

// server returns the server worker w talks to.
func (r *runner) server(w int) string { return r.servers[w%len(r.servers)] }

// phase runs fn on every worker with a fresh recorder, prints progress
// while it runs, and summarises it. fn returns when its worker is done.
func (r *runner) phase(ctx context.Context, name string, label func(done int64) string, fn func(ctx context.Context, w int, rec *recorder)) Phase {
	if around := r.cfg.AroundMeasure; around != nil && name == "measure" {
		around(true)
		defer around(false)
	}
	rec := newRecorder()
	stop := r.progress(name, rec, label)
	var wg sync.WaitGroup
	for w := range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(ctx, w, rec)
		}()
	}
	wg.Wait()
	elapsed := time.Since(rec.start)
	stop()
	return rec.phase(name, elapsed)
}

// progress prints a line a second until the returned stop is called.
func (r *runner) progress(name string, rec *recorder, label func(done int64) string) (stop func()) {
	w := r.cfg.Progress
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-done:
				if r.cfg.Interactive {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
			}
			n := rec.done.Load()
			line := fmt.Sprintf("%-8s %5.0fs  %s  %d calls (%d/s)  %d errors", name, time.Since(rec.start).Seconds(),
				label(n), n, n-last, rec.fails.Load())
			last = n
			if r.cfg.Interactive {
				fmt.Fprint(w, "\r\033[K"+line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// budget hands out at most n units of work (n < 0: unbounded) until a
// deadline.
type budget struct {
	left     atomic.Int64
	deadline time.Time
}

func newBudget(n int, d time.Duration) *budget {
	b := &budget{deadline: time.Now().Add(d)}
	b.left.Store(int64(n))
	return b
}

func (b *budget) take(ctx context.Context) bool {
	if ctx.Err() != nil || time.Now().After(b.deadline) {
		return false
	}
	return b.left.Add(-1) >= 0
}

// timedCtx bounds the timed phase by Duration as well as by ctx.
func (r *runner) timedCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.Duration+30*time.Second)
}

// Write prints the report.
func (rep *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "scenario %s against %s, %d workers\n", rep.Scenario, strings.Join(rep.Servers, ", "), rep.Concurrency)
	if len(rep.Prepare.Ops) > 0 {
		writePhase(w, rep.Prepare)
	}
	writePhase(w, rep.Measure)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}
