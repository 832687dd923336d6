// Package gate is `tempid gate`: the verifier of a fixed gate whose
// scanner types codes on standard input, one a line. It verifies each code
// offline against its trust bundle (package bundle, the same steps as the
// server), prints one verdict line for the gate controller, and keeps
// every verdict in a local SQLite scan log that it uploads to the server
// (POST /api/v1/terminal/scans) whenever it can. In the background it
// keeps the bundle fresh with a conditional GET, refusing any bundle whose
// signature fails. Without the network it goes on verifying from the last
// good bundle until that is older than the freshness limit, and then
// answers stale_bundle.
package gate

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/offline"
	"tempid/internal/verify"
)

// Defaults of Config.
const (
	DefaultRefresh = time.Minute
	DefaultUpload  = 5 * time.Second
	DefaultBatch   = 100
	// maxLine bounds one line of input: a code is at most
	// credential.MaxCodeLen characters, and a scanner that never sends a
	// newline must not make the gate buffer without end.
	maxLine = 4096
	// replayMemory is how long the gate remembers a code it let through,
	// to refuse the same code for the same operation: longer than a code
	// lives (60 s + 2 × skew).
	replayMemory = 3 * time.Minute
)

// Config configures a gate.
type Config struct {
	// Server is the tempid server's base URL.
	Server *url.URL
	// APIKey is the terminal's key; the terminal needs the offline grant.
	APIKey string
	// BundleFile holds the last good bundle; it is read at start and
	// replaced (atomically) by every newer good bundle.
	BundleFile string
	// ScanLog is the SQLite file of verdicts not yet uploaded.
	ScanLog string
	// Operation is what codes are presented for (default entry).
	Operation string
	// JSON prints one JSON object a line instead of the text line.
	JSON bool
	// Pinned are the issuer keys trusted to sign bundles (from
	// --trusted-keys). Nil trusts the bundle file found at start, and
	// warns. Either way the issuer keys of each good bundle are trusted to
	// sign the next one, so that key rotation needs no new pins.
	Pinned []verify.IssuerKey
	// Freshness is the bundle's age limit (zero: bundle.DefaultFreshness).
	Freshness time.Duration
	// Refresh is how often the bundle is fetched; Upload how often the
	// log is uploaded; Batch how many scans go in one upload (at most
	// offline.MaxBatch).
	Refresh, Upload time.Duration
	Batch           int
	// MaxLogPages caps the scan log's size in pages, to test a full disk.
	MaxLogPages int
	// Verifier holds the skew. Run sets its Gate: a gate is a fixed,
	// unattended lane, where a slip is staffed_lane whatever the caller set.
	Verifier verify.Verifier
	// Clock is the time source (default the real clock).
	Clock clock.Clock
	// HTTP is the client for the server (default one with timeouts).
	HTTP *http.Client
	// Log receives operational messages, never a code or an ID number.
	Log *slog.Logger
}

func (c *Config) defaults() error {
	if c.Server == nil || (c.Server.Scheme != "http" && c.Server.Scheme != "https") || c.Server.Host == "" {
		return errors.New("server: want an http:// or https:// URL")
	}
	if c.APIKey == "" || c.BundleFile == "" {
		return errors.New("the API key and the bundle file are required")
	}
	if c.ScanLog == "" {
		c.ScanLog = c.BundleFile + ".scans"
	}
	if c.Operation == "" {
		c.Operation = "entry"
	}
	c.Verifier.Gate = true
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	if c.Upload <= 0 {
		c.Upload = DefaultUpload
	}
	if c.Batch <= 0 || c.Batch > offline.MaxBatch {
		c.Batch = DefaultBatch
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Gate is a running gate.
type Gate struct {
	cfg Config
	log *scanLog

	mu      sync.RWMutex
	current *bundle.Payload
	signers []verify.IssuerKey
	etag    string

	// accepted remembers (certificate, step, operation) the gate let
	// through, with when, to refuse the same code twice.
	accepted map[acceptKey]time.Time
	full     bool // the last write to the scan log failed for space

	kick chan struct{} // a new scan to upload
}

type acceptKey struct {
	cert [16]byte
	step uint32
	op   string
}

// Output is one verdict as --json prints it.
type Output struct {
	Verdict       string       `json:"verdict"`
	Reason        string       `json:"reason,omitempty"`
	Kind          string       `json:"kind"`
	CertificateID string       `json:"certificate_id,omitempty"`
	Holder        OutputHolder `json:"holder"`
	At            time.Time    `json:"at"`
}

// OutputHolder is the holder's masked identity.
type OutputHolder struct {
	NameMasked     string `json:"name_masked"`
	IDNumberMasked string `json:"id_number_masked"`
}

// Run runs a gate until in ends or ctx is cancelled (SIGINT, SIGTERM):
// it reads codes from in and writes verdicts to out. Every verdict is in
// the scan log before it is printed; at the end the log gets one last
// upload attempt and is closed.
func Run(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	l, err := openScanLog(ctx, cfg.ScanLog, cfg.MaxLogPages)
	if err != nil {
		return err
	}
	g := &Gate{cfg: cfg, log: l, accepted: map[acceptKey]time.Time{}, kick: make(chan struct{}, 1)}
	defer l.close()
	g.loadFile()

	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); g.refreshLoop(bg) }()
	uploadDone := make(chan struct{})
	go func() { defer wg.Done(); g.uploadLoop(bg, uploadDone) }()

	lines := make(chan string)
	go readLines(in, lines)
	w := bufio.NewWriter(out)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			o := g.scan(ctx, line)
			if o == nil {
				continue
			}
			g.print(w, *o)
			w.Flush()
		}
	}
	w.Flush()
	// Stop the loops, then flush the log: one last upload, bounded so
	// that a gate without a network still exits at once.
	close(uploadDone)
	stop()
	wg.Wait()
	final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.uploadAll(final)
	if n, err := g.log.pending(final); err == nil && n > 0 {
		g.cfg.Log.Info("scans kept in the log for the next run", "pending", n)
	}
	return nil
}

// readLines sends each line of in, without its line ending, and closes
// lines at the end of in. A line longer than maxLine is cut there (the
// rest is dropped): it cannot be a code, and is answered malformed.
func readLines(in io.Reader, lines chan<- string) {
	defer close(lines)
	r := bufio.NewReaderSize(in, maxLine)
	for {
		chunk, isPrefix, err := r.ReadLine()
		if len(chunk) > 0 || (err == nil && !isPrefix) {
			line := string(chunk)
			for isPrefix && err == nil {
				_, isPrefix, err = r.ReadLine()
			}
			lines <- line
		}
		if err != nil {
			return
		}
	}
}

// scan verifies one line, logs the verdict and returns what to print; nil
// for an empty line (a scanner's stray Enter).
func (g *Gate) scan(ctx context.Context, line string) *Output {
	code := strings.TrimSpace(line)
	if code == "" {
		return nil
	}
	now := g.cfg.Clock.Now()
	g.mu.RLock()
	p := g.current
	g.mu.RUnlock()
	v := bundle.Verify(code, now, p, g.cfg.Freshness, g.cfg.Verifier)
	o := &Output{Verdict: "invalid", Reason: string(v.Reason), Kind: "code", At: now.UTC()}
	if credential.IsSlip(code) {
		o.Kind = "slip"
	}
	switch {
	case !trusted(v.Reason):
	case v.Code != nil:
		pass := v.Code.Pass
		o.CertificateID = hex.EncodeToString(pass.CertID[:])
		o.Holder = OutputHolder{NameMasked: pass.NameMasked, IDNumberMasked: pass.IDMasked}
	case v.Slip != nil:
		// A slip's masked identity is shown with its staffed_lane, so the
		// lane's clerk sees whose paper was held to the gate.
		o.CertificateID = hex.EncodeToString(v.Slip.CertID[:])
		o.Holder = OutputHolder{NameMasked: v.Slip.NameMasked, IDNumberMasked: v.Slip.IDMasked}
	}
	if v.Valid {
		o.Verdict, o.Reason = "valid", ""
	}
	// Only a code is remembered against replay: it has a step, and a slip
	// is never a replay (and at a gate never valid: staffed_lane).
	if v.Valid && v.Code != nil {
		key := acceptKey{cert: v.Code.Pass.CertID, step: v.Code.Step, op: g.cfg.Operation}
		for k, at := range g.accepted {
			if now.Sub(at) > replayMemory {
				delete(g.accepted, k)
			}
		}
		if _, seen := g.accepted[key]; seen {
			o.Verdict, o.Reason = "invalid", string(verify.ReasonReplayed)
		} else {
			g.accepted[key] = now
		}
	}
	err := g.log.add(ctx, offline.Scan{ClientID: newClientID(), Code: code, Operation: g.cfg.Operation,
		Verdict: o.Verdict, Reason: o.Reason, ScannedAt: now.UTC().Truncate(time.Millisecond)})
	switch {
	case errors.Is(err, errLogFull):
		if !g.full {
			g.cfg.Log.Error("the scan log is full: verdicts are given but not logged until space is freed", "file", g.cfg.ScanLog)
		}
		g.full = true
	case err != nil:
		g.cfg.Log.Error("scan log", "err", err)
	default:
		if g.full {
			g.cfg.Log.Info("the scan log has space again")
		}
		g.full = false
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
	return o
}

// trusted tells whether a verdict's pass fields come from the issuer and
// may be shown: not for malformed text, a stale bundle, or a pass whose
// issuer signature failed.
func trusted(r verify.Reason) bool {
	switch r {
	case verify.ReasonMalformed, verify.ReasonStaleBundle, verify.ReasonUnknownKey, verify.ReasonBadSignature:
		return false
	}
	return true
}

// print writes one verdict: the text line VERDICT REASON KIND MASKED_NAME
// MASKED_ID ("-" for an empty field, spaces inside a field as "_"), or
// with JSON one object. A full scan log is said on the same line, so the
// gate controller sees it too.
func (g *Gate) print(w io.Writer, o Output) {
	if g.cfg.JSON {
		b, _ := json.Marshal(o)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	field := func(s string) string {
		if s == "" {
			return "-"
		}
		return strings.Join(strings.Fields(s), "_")
	}
	fmt.Fprintf(w, "%s %s %s %s %s\n", o.Verdict, field(o.Reason), o.Kind, field(o.Holder.NameMasked), field(o.Holder.IDNumberMasked))
}

// loadFile reads the bundle file at start, if there is one.
func (g *Gate) loadFile() {
	raw, err := os.ReadFile(g.cfg.BundleFile)
	if errors.Is(err, os.ErrNotExist) {
		g.cfg.Log.Warn("no bundle file yet: every code is stale_bundle until one is fetched", "file", g.cfg.BundleFile)
		g.signers = g.cfg.Pinned
		return
	}
	if err != nil {
		g.cfg.Log.Error("bundle file", "err", err)
		g.signers = g.cfg.Pinned
		return
	}
	p, err := bundle.Open(raw, g.cfg.Pinned)
	if err != nil {
		g.cfg.Log.Error("the bundle file is refused", "file", g.cfg.BundleFile, "err", err)
		g.signers = g.cfg.Pinned
		return
	}
	g.install(p, "")
}

// install makes p the current bundle; its issuer keys may sign the next.
func (g *Gate) install(p *bundle.Payload, etag string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.current, g.etag = p, etag
	g.signers = append(append([]verify.IssuerKey(nil), g.cfg.Pinned...), p.IssuerKeys...)
}
