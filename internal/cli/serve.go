package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/app"
	"tempid/internal/clock"
	"tempid/internal/httpapi"
	"tempid/internal/metrics"
	"tempid/internal/policy"
	"tempid/internal/webui"
)

func runServe(ctx context.Context, e *Env, args []string) error {
	fs := NewFlags(e, "serve")
	var sf StorageFlags
	sf.Register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	demo := fs.Bool("demo", false, "development mode: development identity registry and face simulator, demo accounts, a generated master key")
	var pf providerFlags
	pf.register(fs)
	debugListen := fs.String("debug-listen", "", "serve Go profiles (net/http/pprof) on this separate address, e.g. 127.0.0.1:6060; off when empty")
	webDir := fs.String("web-dir", "", "serve the web apps from this directory instead of the embedded copy (development: npm run watch)")
	if err := Parse(fs, args); err != nil {
		return err
	}
	logs := newLogBuffer(e.Stderr)
	defer logs.Close()
	log := slog.New(flushingHandler{slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}), logs})
	warn := func(msg string) { log.Warn(msg) }
	if *demo {
		log.Warn("DEMO MODE: development identity registry (confirms every well-formed name and ID number) and face simulator (detects a face, compares nothing). Never use demo mode with real passengers.")
	}
	keys, err := sf.keyring(*demo, warn)
	if err != nil {
		return err
	}
	m := metrics.New()
	chosen, err := pf.choose(*demo, m)
	if err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	a, err := app.New(ctx, app.Config{Store: st, PII: keys, Registry: chosen.registry, Provider: chosen.face, Policy: policy.Default(), Clock: clock.Real{},
		Password: accounts.DefaultPassword, Log: log, Demo: *demo, Metrics: m,
		FaceReturnURL: chosen.returnURL, ProviderHealth: chosen.health})
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
	log.Info("tempid serving", "url", "http://"+ln.Addr().String()+"/", "database", st.Dialect(), "demo", *demo,
		"registry", chosen.registry.Name(), "face_provider", chosen.face.Name())
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
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// demoIDNumber is the demo passenger's (valid, invented) ID number.
const demoIDNumber = "110101199003074573"
