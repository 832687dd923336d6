package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"tempid/internal/gate"
	"tempid/internal/online"
	"tempid/internal/policy"
	"tempid/internal/verify"
)

// runGate is `tempid gate`: a fixed gate's offline verifier, codes on
// standard input, one verdict line each on standard output.
func runGate(ctx context.Context, e *Env, args []string) error {
	fs := NewFlags(e, "gate")
	server := fs.String("server", "", "base URL of the tempid server, http:// or https://")
	apiKey := fs.String("api-key", "", "the terminal's API key, with the offline grant (TEMPID_API_KEY keeps it out of the process list)")
	file := fs.String("bundle", "", "trust bundle file: read at start, replaced by every newer good bundle")
	operation := fs.String("operation", online.Entry, "what the codes are presented for")
	asJSON := fs.Bool("json", false, "print one JSON object a line, for the gate controller")
	trusted := fs.String("trusted-keys", "", trustedKeysUsage)
	scanLog := fs.String("scan-log", "", "SQLite file of verdicts not yet uploaded (default: the bundle file's name + .scans)")
	freshness := fs.Duration("freshness", policy.Default().BundleFreshness, "how old the bundle may be before every code is stale_bundle")
	refresh := fs.Duration("refresh", gate.DefaultRefresh, "how often to fetch the trust bundle (a conditional GET)")
	upload := fs.Duration("upload", gate.DefaultUpload, "how often to upload the scan log")
	if err := Parse(fs, args); err != nil {
		return err
	}
	if *server == "" || *apiKey == "" || *file == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.Stderr, "usage: tempid gate --server URL --api-key KEY --bundle FILE [--operation OP] [--json] [--trusted-keys FILE] [--scan-log FILE]")
		return ErrUsage
	}
	u, err := url.Parse(*server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("--server: want an http:// or https:// URL")
	}
	found := false
	for _, op := range online.Operations() {
		found = found || op == *operation
	}
	if !found {
		return fmt.Errorf("--operation: one of %v", online.Operations())
	}
	pinned, err := pinnedKeys(e, *trusted, "gate")
	if err != nil {
		return err
	}
	return gate.Run(ctx, gate.Config{
		Server: u, APIKey: *apiKey, BundleFile: *file, ScanLog: *scanLog, Operation: *operation, JSON: *asJSON,
		Pinned: pinned, Freshness: *freshness, Refresh: *refresh, Upload: *upload, Verifier: verify.Verifier{Gate: true},
		Log: slog.New(slog.NewTextHandler(e.Stderr, nil)),
	}, e.Stdin, e.Stdout)
}
