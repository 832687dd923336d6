package accounts_test

import (
	"context"
	"testing"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/clock"
	"tempid/internal/store"
	"tempid/internal/store/storetest"
)

// Two nodes on one database: a terminal revoked on one is refused there at
// once and on the other as soon as its cached lookup is a second old.
func TestARevokedTerminalIsRefusedOnEveryNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		node := func() *accounts.Service { return &accounts.Service{Store: s, Clock: clock.Real{}} }
		here, there := node(), node()
		nt, err := here.CreateTerminal(ctx, store.CLI, "gate 1", "BJP", false, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*accounts.Service{here, there} {
			if _, err := n.AuthenticateTerminal(ctx, nt.APIKey); err != nil {
				t.Fatalf("a live key is refused: %v", err)
			}
		}
		revoked := time.Now()
		if err := here.RevokeTerminal(ctx, store.CLI, nt.Terminal.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := here.AuthenticateTerminal(ctx, nt.APIKey); err == nil {
			t.Error("the node that revoked the key still accepts it")
		}
		for {
			_, err := there.AuthenticateTerminal(ctx, nt.APIKey)
			if err != nil {
				break
			}
			if time.Since(revoked) > 2*time.Second {
				t.Fatal("another node accepts a revoked key two seconds later")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := there.AuthenticateTerminal(ctx, "tidk_unknown"); err == nil {
			t.Error("an unknown key is accepted")
		}
	})
}
