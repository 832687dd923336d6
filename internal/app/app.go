// Package app wires tempid's services together once, for `tempid serve`,
// the command-line tools and the tests alike, so that what the tests run
// is what production runs. It also runs the loops every node runs beside
// the API (background.go).
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
	"tempid/internal/online"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/regions"
	"tempid/internal/registry"
	"tempid/internal/store"
	"tempid/internal/verify"
)

// Config is what the services are made of. Registry and Provider may be
// nil for tools that neither sign up passengers nor run face checks.
type Config struct {
	Store    *store.Store
	PII      *pii.Keyring
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
	Store      *store.Store
	Policy     policy.Settings
	Issuance   *issuance.Service
	Accounts   *accounts.Service
	FaceChecks *facecheck.Service
	// Signing is the schedule of issuer and seal keys: it signs passes and
	// bundles. Wire leaves it unloaded; New loads it.
	Signing       *keys.Service
	Verifications *online.Service
	// API is the HTTP API; New builds it, Wire does not.
	API *httpapi.Server

	cities *regions.Index
}

// Wire wires the domain services without reading the database: what a
// command-line tool starts with. The signing keys are not loaded (a tool
// that signs or rotates calls Signing.Load), so that a tool never creates
// the first key pair as a side effect.
func Wire(c Config) (*App, error) {
	cities, err := regions.Default()
	if err != nil {
		return nil, err
	}
	iss := &issuance.Service{Store: c.Store, PII: c.PII, Policy: c.Policy, Clock: c.Clock, Cities: cities}
	ks := &keys.Service{Store: c.Store, PII: c.PII, Policy: c.Policy, Clock: c.Clock}
	iss.Passes = ks
	return &App{
		cities:        cities,
		Store:         c.Store,
		Policy:        c.Policy,
		Issuance:      iss,
		Signing:       ks,
		Accounts:      &accounts.Service{Store: c.Store, PII: c.PII, Registry: c.Registry, Issuance: iss, Policy: c.Policy, Clock: c.Clock, Password: c.Password},
		FaceChecks:    &facecheck.Service{Store: c.Store, Registry: c.Registry, Issuance: iss, Provider: c.Provider, Policy: c.Policy, Clock: c.Clock},
		Verifications: &online.Service{Store: c.Store, Signing: ks, Issuance: iss, Clock: c.Clock, Verifier: verify.Verifier{Skew: c.Policy.VerificationSkew}},
	}, nil
}

// New wires the services, loads the signing keys (creating the first pair
// on a new database) and builds the HTTP API: what serve and the tests
// run.
func New(ctx context.Context, c Config) (*App, error) {
	a, err := Wire(c)
	if err != nil {
		return nil, err
	}
	if err := a.Signing.Load(ctx); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a.API = &httpapi.Server{Log: log, Store: c.Store, Issuance: a.Issuance, Accounts: a.Accounts, FaceChecks: a.FaceChecks,
		Cities: a.cities, Policy: c.Policy, Clock: c.Clock, Demo: c.Demo, Metrics: c.Metrics,
		Signing: a.Signing, Verifications: a.Verifications, Ready: a.Signing.Ready}
	return a, nil
}
