package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/face"
	"tempid/internal/httpapi"
	"tempid/internal/metrics"
	"tempid/internal/policy"
	"tempid/internal/registry"
	"tempid/internal/webui"
)

func runServe(ctx context.Context, e *Env, args []string) error {
	fs := NewFlags(e, "serve")
	var sf StorageFlags
	sf.Register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	demo := fs.Bool("demo", false, "development mode: development identity registry and face simulator, demo accounts, a generated master key")
	registryFile := fs.String("registry-file", "", "CSV file of persons (name,id_number) to confirm identities against")
	debugListen := fs.String("debug-listen", "", "serve Go profiles (net/http/pprof) on this separate address, e.g. 127.0.0.1:6060; off when empty")
	webDir := fs.String("web-dir", "", "serve the web apps from this directory instead of the embedded copy (development: npm run watch)")
	if err := Parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	warn := func(msg string) { log.Warn(msg) }
	if *demo {
		log.Warn("DEMO MODE: development identity registry (confirms every well-formed name and ID number) and face simulator (detects a face, compares nothing). Never use demo mode with real passengers.")
	}
	keys, err := sf.keyring(*demo, warn)
	if err != nil {
		return err
	}
	reg, err := chooseRegistry(*registryFile, *demo)
	if err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	provider, err := chooseFaceProvider(*demo)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, app.Config{Store: st, PII: keys, Registry: reg, Provider: provider, Policy: policy.Default(), Clock: clock.Real{},
		Password: accounts.DefaultPassword, Log: log, Demo: *demo, Metrics: metrics.New()})
	if err != nil {
		return err
	}
	api := a.API
	// Listen before seeding, so a busy port fails before demo logins are printed.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	web := webui.Handler(*webDir)
	api.Extra = append(api.Extra, func(mux *http.ServeMux) { mux.Handle("/", web) })
	if *demo {
		if err := seedDemo(ctx, e, a.Accounts, demoIDNumber); err != nil {
			ln.Close()
			return err
		}
	}

	srv := httpapi.NewHTTPServer(*listen, api.Handler(), log)
	if *debugListen != "" {
		if err := serveProfiles(*debugListen, log); err != nil {
			ln.Close()
			return err
		}
	}
	stopBackground := a.Background(log)
	log.Info("tempid serving", "url", "http://"+ln.Addr().String()+"/", "database", st.Dialect(), "demo", *demo)
	fmt.Fprintf(e.Stdout, "tempid is running: open http://%s/\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopBackground()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopBackground()
	if err := st.SealAllAudit(shutdownCtx, time.Now()); err != nil {
		log.Error("final audit sealing", "err", err)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// demoIDNumber is the demo passenger's (valid, invented) ID number.
const demoIDNumber = "110101199003074573"

// chooseFaceProvider picks the face-check provider. Only the development
// simulator ships; it runs in demo mode only.
func chooseFaceProvider(demo bool) (face.Provider, error) {
	if !demo {
		return nil, errors.New("no face-check provider: only the development simulator ships, and it runs only with --demo")
	}
	return face.NewSimulator(), nil
}

// chooseRegistry picks the identity registry: a file, or the development
// one in demo mode only.
func chooseRegistry(file string, demo bool) (registry.Registry, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return registry.ParseFile(f, time.Now())
	}
	if !demo {
		return nil, errors.New("no identity registry: give --registry-file (the development registry runs only with --demo)")
	}
	return registry.Development{}, nil
}
