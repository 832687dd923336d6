// Package app wires tempid's services together once, for `tempid serve`,
// the command-line tools and the tests alike, so that what the tests run
// is what production runs.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"tempid/internal/accounts"
	"tempid/internal/clock"
	"tempid/internal/face"
	"tempid/internal/facecheck"
	"tempid/internal/httpapi"
	"tempid/internal/issuance"
	"tempid/internal/keys"
	"tempid/internal/metrics"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/regions"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/verification"
	"tempid/internal/verify"
)

// Config is what the services are made of. Registry and Provider may be
// nil for tools that neither sign up passengers nor run face checks.
type Config struct {
	Store    *store.Store
	Keys     *pii.Keyring
	Registry registry.Registry
	Provider face.Provider
	Policy   policy.Settings
	Clock    clock.Clock
	Password accounts.PasswordParams
	// Log, Demo and Metrics configure the HTTP API.
	Log     *slog.Logger
	Demo    bool
	Metrics *metrics.Metrics
}

// App is the wired service.
type App struct {
	Issuance      *issuance.Service
	Accounts      *accounts.Service
	FaceChecks    *facecheck.Service
	Keys          *keys.Service
	Verifications *verification.Service
	API           *httpapi.Server
}

// New wires the services and loads the signing keys (creating the first
// pair on a new database).
func New(ctx context.Context, c Config) (*App, error) {
	cities, err := regions.Default()
	if err != nil {
		return nil, err
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	iss := &issuance.Service{Store: c.Store, Keys: c.Keys, Policy: c.Policy, Clock: c.Clock, Cities: cities}
	ks := &keys.Service{Store: c.Store, Keys: c.Keys, Policy: c.Policy, Clock: c.Clock}
	if err := ks.Load(ctx); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	iss.Passes, iss.Slips = ks, ks
	a := &App{
		Issuance:   iss,
		Keys:       ks,
		Accounts:   &accounts.Service{Store: c.Store, Keys: c.Keys, Registry: c.Registry, Issuance: iss, Policy: c.Policy, Clock: c.Clock, Password: c.Password},
		FaceChecks: &facecheck.Service{Store: c.Store, Registry: c.Registry, Issuance: iss, Provider: c.Provider, Policy: c.Policy, Clock: c.Clock},
		Verifications: &verification.Service{Store: c.Store, Keys: ks, Issuance: iss, Clock: c.Clock, Verifier: verify.Verifier{Skew: c.Policy.VerificationSkew},
			UsedElsewhereWindow: c.Policy.SlipUsedElsewhereWindow, UsesListed: c.Policy.SlipUsesListed},
	}
	a.API = &httpapi.Server{Log: log, Store: c.Store, Issuance: iss, Accounts: a.Accounts, FaceChecks: a.FaceChecks,
		Cities: cities, Policy: c.Policy, Clock: c.Clock, Demo: c.Demo, Metrics: c.Metrics,
		Keys: ks, Verifications: a.Verifications, Ready: ks.Ready, Registry: c.Registry}
	return a, nil
}
