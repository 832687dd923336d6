package accounts_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"tempid/internal/accounts"
	"tempid/internal/clock"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/problem"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

const password = "correct horse battery"

// nodes returns n services on one database, as n servers behind a load
// balancer would be.
func nodes(t *testing.T, s *store.Store, pol policy.Settings, n int) []*accounts.Service {
	t.Helper()
	kr, err := pii.ParseKeyring(pii.NewKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	var out []*accounts.Service
	for range n {
		out = append(out, &accounts.Service{Store: s, PII: kr, Policy: pol, Clock: clock.Real{}, Password: accounts.TestPassword})
	}
	if _, err := out[0].CreateStaff(context.Background(), store.CLI, "victim", password, store.RoleStaff, "BJP"); err != nil {
		t.Fatal(err)
	}
	return out
}

// outcome sorts a login's answer: "ok", a problem code, or the error.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	return err.Error()
}

// Thirty wrong passwords sent at once from one address, to two nodes:
// at most the limit of them reach the password check (401), the others
// are refused before it (429).
func TestParallelWrongPasswordsStopAtTheLimitOnEveryNode(t *testing.T) {
	const limit = 10 // policy.Default().LoginFailuresPerAccountIP
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ns := nodes(t, s, policy.Default(), 2)
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 30 {
			wg.Go(func() {
				<-start
				_, err := ns[i%2].Login(ctx, "victim", "wrong password!", "198.51.100.7")
				mu.Lock()
				got[outcome(err)]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if got[problem.Unauthenticated] > limit || got[problem.Unauthenticated] == 0 ||
			got[problem.Unauthenticated]+got[problem.RateLimited] != 30 {
			t.Fatalf("30 parallel wrong logins: %v; want at most %d unauthenticated, the rest rate_limited", got, limit)
		}
		// The right password from that address waits too...
		if _, err := ns[0].Login(ctx, "victim", password, "198.51.100.7"); !problem.Is(err, problem.RateLimited) {
			t.Errorf("the right password from the guessing address: %v, want rate_limited", err)
		}
		// ...but the guesses do not lock the account's owner out elsewhere.
		if _, err := ns[1].Login(ctx, "victim", password, "203.0.113.9"); err != nil {
			t.Errorf("the right password from another address: %v", err)
		}
	})
}

// Guesses from many addresses stop at the account's own, higher limit:
// past it the account waits out the window from every address (NIST SP
// 800-63B §5.2.2 allows at most 100 consecutive failures).
func TestGuessesFromManyAddressesStopAtTheAccountLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pol := policy.Default()
		pol.LoginFailuresPerAccountIP, pol.LoginFailuresPerAccount = 2, 5
		n := nodes(t, s, pol, 1)[0]
		var got []string
		for _, ip := range []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.2", "192.0.2.3", "192.0.2.3", "192.0.2.4"} {
			_, err := n.Login(ctx, "victim", "wrong password!", ip)
			got = append(got, outcome(err))
		}
		want := []string{"unauthenticated", "unauthenticated", "rate_limited", "unauthenticated", "unauthenticated",
			"unauthenticated", "rate_limited", "rate_limited"}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		if _, err := n.Login(ctx, "victim", password, "192.0.2.9"); !problem.Is(err, problem.RateLimited) {
			t.Errorf("the right password past the account's limit: %v, want rate_limited", err)
		}
	})
}

// A successful login gives its place back, so logins that succeed never
// fill a limit, and it forgives the account's failures.
func TestSuccessfulLoginsDoNotCountAgainstTheLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pol := policy.Default()
		pol.LoginFailuresPerAccountIP, pol.LoginFailuresPerAccount, pol.LoginFailuresPerIP = 2, 2, 2
		n := nodes(t, s, pol, 1)[0]
		for i := range 5 {
			if _, err := n.Login(ctx, "victim", password, "192.0.2.1"); err != nil {
				t.Fatalf("login %d: %v", i+1, err)
			}
		}
		pol.LoginFailuresPerIP = 100
		n.Policy = pol
		for i := range 5 {
			if _, err := n.Login(ctx, "victim", "wrong password!", "192.0.2.1"); !problem.Is(err, problem.Unauthenticated) {
				t.Fatalf("wrong password %d: %v", i+1, err)
			}
			if _, err := n.Login(ctx, "victim", password, "192.0.2.1"); err != nil {
				t.Fatalf("the right password after %d forgiven failures: %v", i+1, err)
			}
		}
	})
}

// An IPv6 guesser holds a whole /64: walking through it gives no fresh
// places under the per-address limits.
func TestAnIPv6SlashSixtyFourIsOneAddress(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	ctx := context.Background()
	pol := policy.Default()
	pol.LoginFailuresPerAccountIP = 2
	n := nodes(t, s, pol, 1)[0]
	var got []string
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2::3", "2001:db8:1:3::1", "::ffff:192.0.2.1", "192.0.2.1", "192.0.2.1"} {
		_, err := n.Login(ctx, "victim", "wrong password!", ip)
		got = append(got, outcome(err))
	}
	want := []string{"unauthenticated", "unauthenticated", "rate_limited", "unauthenticated", "unauthenticated", "unauthenticated", "rate_limited"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
