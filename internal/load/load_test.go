package load

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/face"
	"tempid/internal/face/facetest"
	"tempid/internal/idnumber"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// inProcess is a complete server on a real database, wired as serve
// wires it (with cheap password hashing), behind httptest on 127.0.0.1.
type inProcess struct {
	url    string
	store  *store.Store
	apiKey string
}

func startInProcess(t *testing.T, s *store.Store) inProcess {
	t.Helper()
	ctx := context.Background()
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	w, err := app.New(ctx, app.Config{Store: s, PII: kr, Registry: registry.Development{}, Provider: face.NewSimulator(),
		Policy: policy.Default(), Clock: clock.Real{}, Password: accounts.TestPassword, Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	api, acc := w.API, w.Accounts
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	term, err := acc.CreateTerminal(ctx, store.CLI, "load test gate", "BJP", false, "")
	if err != nil {
		t.Fatal(err)
	}
	return inProcess{url: srv.URL, store: s, apiKey: term.APIKey}
}

// TestScenariosRunWithoutErrorsAndTheirCountsAddUp runs every scenario
// briefly against an in-process server and checks correctness only: no
// error other than the refusals a scenario provokes, every 201 is a stored
// certificate, and the database holds no certificate the runs did not
// receive. Timings are printed by the command, never asserted.
func TestScenariosRunWithoutErrorsAndTheirCountsAddUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		srv := startInProcess(t, s)
		ctx := context.Background()
		base := Config{Servers: []string{srv.url}, Duration: time.Minute, Concurrency: 3, Capture: facetest.SampleJPEG(), APIKey: srv.apiKey}
		var issued []string
		for _, tc := range []struct {
			name      string
			scenario  string
			count     int
			op        string // the timed operation
			wantOK    int
			wantCerts int
			expected  map[string]int // op → expected refusals
		}{
			{"issue times only applications, one per prepared face check", ScenarioIssue, 9, opApply, 9, 9, nil},
			{"verify times only verifications, every code valid once", ScenarioVerify, 20, opVerify, 20, 2, nil},
			{"mixed journeys are refused an early renewal each", ScenarioMixed, 3, opApply, 3, 3, map[string]int{opRenew: 3}},
			{"quota times only quota checks", ScenarioQuota, 30, opQuota, 30, 3, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := base
				cfg.Scenario, cfg.Count, cfg.Passengers = tc.scenario, tc.count, 2
				// The hook a CPU reading hangs on runs once on each side
				// of the timed phase, and its time is not the phase's.
				var around []bool
				cfg.AroundMeasure = func(begin bool) {
					around = append(around, begin)
					time.Sleep(300 * time.Millisecond)
				}
				rep, err := Run(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(around) != 2 || !around[0] || around[1] {
					t.Errorf("AroundMeasure called %v, want [true false]", around)
				}
				if rep.Measure.Elapsed <= 0 || rep.Measure.Elapsed >= time.Minute {
					t.Errorf("measured %v", rep.Measure.Elapsed)
				}
				for _, ph := range []Phase{rep.Prepare, rep.Measure} {
					for _, o := range ph.Ops {
						if len(o.Errors) > 0 {
							t.Errorf("%s %s: errors %v", ph.Name, o.Name, o.Errors)
						}
					}
				}
				op, ok := rep.Measure.Op(tc.op)
				if !ok {
					t.Fatalf("no %s in the measured phase: %+v", tc.op, rep.Measure.Ops)
				}
				if got, want := op.OK, tc.wantOK; got != want {
					t.Errorf("%s succeeded %d times, want %d", tc.op, got, want)
				}
				for name, want := range tc.expected {
					o, _ := rep.Measure.Op(name)
					if got := o.Expected["active_certificate_exists"]; got != want {
						t.Errorf("%s: %d expected refusals, want %d", name, got, want)
					}
				}
				if got, want := len(rep.Issued), tc.wantCerts; got != want {
					t.Errorf("%d certificates received, want %d", got, want)
				}
				if got := op.Count; got != op.OK+sum(op.Expected)+sum(op.Errors) {
					t.Errorf("count %d is not ok + refusals + errors", got)
				}
				issued = append(issued, rep.Issued...)
			})
		}
		for _, id := range issued {
			if _, err := s.Certificate(ctx, id); err != nil {
				t.Errorf("certificate of a 201: %v", err)
			}
		}
		n, err := s.CountCertificates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, int64(len(issued)); got != want {
			t.Errorf("%d certificates stored, %d received", got, want)
		}
	})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestOnlyLoopbackServersAreAccepted(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		ok   bool
	}{
		{"IPv4 loopback", "http://127.0.0.1:8080", true},
		{"another address in 127/8", "http://127.1.2.3:80", true},
		{"IPv6 loopback", "http://[::1]:8080", true},
		{"localhost", "http://localhost:8080", true},
		{"a private address", "http://10.0.0.1:8080", false},
		{"a public name", "https://example.com", false},
		{"a name ending in localhost", "http://evil-localhost.example:80", false},
		{"no scheme", "127.0.0.1:8080", false},
		{"another scheme", "ftp://127.0.0.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckLoopback(tc.url)
			if got := err == nil; got != tc.ok {
				t.Errorf("accepted %v, want %v (%v)", got, tc.ok, err)
			}
		})
	}
}

func TestRunsAreBounded(t *testing.T) {
	ok := Config{Servers: []string{"http://127.0.0.1:1"}, Scenario: ScenarioIssue, Duration: time.Second, Concurrency: 1, Capture: []byte{1}}
	for _, tc := range []struct {
		name   string
		change func(*Config)
	}{
		{"a duration over ten minutes", func(c *Config) { c.Duration = 11 * time.Minute }},
		{"no duration", func(c *Config) { c.Duration = 0 }},
		{"too many operations", func(c *Config) { c.Count = MaxCount + 1 }},
		{"too many workers", func(c *Config) { c.Concurrency = MaxConcurrency + 1 }},
		{"an unknown scenario", func(c *Config) { c.Scenario = "flood" }},
		{"a remote server among local ones", func(c *Config) { c.Servers = append(c.Servers, "http://192.0.2.1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Servers = append([]string(nil), ok.Servers...)
			tc.change(&c)
			if _, err := Run(context.Background(), c); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestSyntheticPersonsAreValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	now := time.Now()
	for _, i := range []uint64{0, 1, 999, 1000, 1001, PersonSpace - 1, PersonSpace, 123456789} {
		p := PersonAt(i)
		if _, err := idnumber.Parse(p.IDNumber, now); err != nil {
			t.Errorf("person %d: %v", i, err)
		}
		if i < PersonSpace && seen[p.IDNumber] {
			t.Errorf("person %d repeats an ID number", i)
		}
		seen[p.IDNumber] = true
	}
	if PersonAt(PersonSpace).IDNumber != PersonAt(0).IDNumber {
		t.Error("PersonAt does not wrap at PersonSpace")
	}
}
