package devcli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"tempid/internal/cli"
	"tempid/internal/load"
	"tempid/internal/store"
)

// defaultCapture is the face photograph the load generator sends, read
// from the source tree: the photograph is test data (see its NOTICE) and
// is deliberately not embedded in the binary.
const defaultCapture = "internal/face/facetest/testdata/sample.jpg"

func runLoad(ctx context.Context, e *cli.Env, args []string) error {
	fs := cli.NewFlags(e, "load")
	servers := fs.String("server", "http://127.0.0.1:8080", "server base URL, or several separated by commas (loopback addresses only)")
	scenario := fs.String("scenario", load.ScenarioIssue, "issue, verify, mixed or quota")
	duration := fs.Duration("duration", 30*time.Second, "bound of the timed phase (at most 10m)")
	count := fs.Int("count", 0, "timed operations (journeys for mixed); 0: --passengers for issue, else until --duration")
	concurrency := fs.Int("concurrency", 8, "simultaneous simulated clients")
	passengers := fs.Int("passengers", 0, "persons to prepare (verify: each gives 14 fresh codes a minute; issue: face checks without --count)")
	apiKey := fs.String("api-key", "", "terminal API key for verifications (demo mode prints one at start-up)")
	demoAdmin := fs.Bool("demo-admin", false, "without --api-key, register a terminal by logging in as the demo admin (demo servers only)")
	capture := fs.String("capture", defaultCapture, "JPEG sent to every face check (the development simulator passes the sample portrait)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	img, err := os.ReadFile(*capture)
	if err != nil {
		return fmt.Errorf("--capture: %w (run from the source tree, or give a JPEG with one face)", err)
	}
	cfg := load.Config{
		Servers: strings.Split(*servers, ","), Scenario: *scenario, Duration: *duration, Count: *count,
		Concurrency: *concurrency, Passengers: *passengers, APIKey: *apiKey, Capture: img,
		Progress: e.Stderr, Interactive: isTerminal(e.Stderr),
	}
	if *demoAdmin && *apiKey == "" {
		cfg.AdminUser, cfg.AdminPassword = cli.DemoLogin(store.RoleAdmin)
	}
	rep, err := load.Run(ctx, cfg)
	if errors.Is(err, load.ErrNoVerification) {
		fmt.Fprintf(e.Stdout, "scenario %s: not measured: %v\n", *scenario, err)
		return cli.ErrNotValid
	}
	if errors.Is(err, context.Canceled) && rep != nil {
		// Interrupted: what was measured so far is still worth showing.
		rep.Write(e.Stdout)
	}
	if err != nil {
		return err
	}
	rep.Write(e.Stdout)
	if rep.Measure.Errors() > 0 || rep.Prepare.Errors() > 0 {
		return cli.ErrNotValid
	}
	return nil
}

// isTerminal tells whether w is a character device, where a progress line
// may be redrawn in place.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
