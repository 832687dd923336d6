package devcli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tempid/internal/cli"
	"tempid/internal/load"
	"tempid/internal/store"
)

// runCompare runs tempid and the floor alternately and prints tempid's
// CPU time per operation as a ratio to the floor's (docs/performance.md).
func runCompare(ctx context.Context, e *cli.Env, args []string) error {
	fs := cli.NewFlags(e, "compare")
	tempid := fs.String("tempid", "bin/tempid", "the tempid binary to measure (run as: serve --demo)")
	against := fs.String("against", "", "another tempid binary, run in the floor's place (serve --demo): the ratios are then of one build to the other, to measure a change")
	listen := fs.String("listen", "127.0.0.1:18190", "loopback address the servers listen on in turn")
	pairs := fs.Int("pairs", 3, "pairs per database (tempid and the floor, alternately first)")
	sqlite := fs.Bool("sqlite", true, "run pairs on SQLite")
	postgres := fs.String("postgres", "", "PostgreSQL URL of a user who may create databases: run pairs on PostgreSQL too, each server on a fresh database dropped after its run")
	issues := fs.Int("issue-count", 600, "timed issuances per run")
	verifies := fs.Int("verify-count", 3000, "timed verifications per run")
	concurrency := fs.Int("concurrency", 8, "simultaneous simulated clients")
	settle := fs.Duration("settle", 2*time.Second, "wait before each CPU reading, so that work a phase leaves behind is counted in it")
	capture := fs.String("capture", defaultCapture, "JPEG sent to every face check")
	shrink := fs.Int("capture-shrink", 2, "divide each side of the --capture image by this before sending it: face checks are only preparation here, and a quarter of the pixels makes the simulator's about four times cheaper")
	perf := fs.String("perf", "", "record each timed phase's server with Linux perf into this directory (one perf.data file per run; perf report -i FILE)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *pairs < 1 || *pairs > 20 || *issues < 1 || *verifies < 1 || *issues > load.MaxCount || *verifies > load.MaxCount {
		fmt.Fprintf(e.Stderr, "tempid-dev compare: --pairs 1..20, counts 1..%d\n", load.MaxCount)
		return cli.ErrUsage
	}
	img, err := os.ReadFile(*capture)
	if err != nil {
		return fmt.Errorf("--capture: %w (run from the source tree)", err)
	}
	if img, err = load.ShrinkJPEG(img, *shrink); err != nil {
		return fmt.Errorf("--capture-shrink: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(*tempid)
	if err != nil {
		return err
	}
	floor := []string{self, "floor"}
	if *against != "" {
		other, err := filepath.Abs(*against)
		if err != nil {
			return err
		}
		floor = []string{other, "serve", "--demo"}
	}
	user, password := cli.DemoLogin(store.RoleAdmin)
	c, err := load.RunComparison(ctx, load.CompareConfig{
		Tempid: []string{bin, "serve", "--demo"}, Floor: floor,
		Listen: *listen, Pairs: *pairs, SQLite: *sqlite, Postgres: *postgres,
		IssueCount: *issues, VerifyCount: *verifies, Concurrency: *concurrency, Capture: img,
		AdminUser: user, AdminPassword: password, Settle: *settle, Log: e.Stderr, Perf: *perf,
	})
	if c != nil {
		if *against != "" {
			// The report's columns keep their names: "floor" is the
			// other build here, and the ratios are of one build to it.
			fmt.Fprintf(e.Stdout, "--against: the columns named floor below measure %s, the build compared against\n", *against)
		}
		c.Write(e.Stdout)
	}
	if err != nil {
		return err
	}
	if c.Errors() > 0 {
		return cli.ErrNotValid
	}
	return nil
}
