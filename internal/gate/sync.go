package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/offline"
)

// maxBackoff bounds the wait after server and network errors; pause is the
// wait after the server refused the terminal itself (401, 403), which no
// quick retry can mend.
const (
	maxBackoff = time.Minute
	pause      = 10 * time.Minute
)

// refreshLoop fetches the bundle at once and then every Refresh, until
// ctx ends. Failures only log: the gate goes on with the bundle it has.
func (g *Gate) refreshLoop(ctx context.Context) {
	for {
		if err := g.refresh(ctx); err != nil && ctx.Err() == nil {
			g.cfg.Log.Warn("bundle not refreshed; verifying with the last good bundle", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(g.cfg.Refresh):
		}
	}
}

// refresh fetches the bundle with If-None-Match. A bundle whose signature
// or content fails is refused and the current one kept; a good one
// replaces the bundle file and the bundle in use.
func (g *Gate) refresh(ctx context.Context) error {
	g.mu.RLock()
	etag, signers := g.etag, g.signers
	g.mu.RUnlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.Server.JoinPath("api/v1/trust-bundle").String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+g.cfg.APIKey)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := g.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, bundle.MaxSize+1))
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil
	case http.StatusOK:
	default:
		return fmt.Errorf("server answered %s", resp.Status)
	}
	p, err := bundle.Open(raw, signers)
	if err != nil {
		g.cfg.Log.Error("a bundle from the server is refused; the last good one is kept", "err", err)
		return nil
	}
	g.mu.RLock()
	cur := g.current
	g.mu.RUnlock()
	if cur != nil && p.IssuedAt.Before(cur.IssuedAt) {
		// An older bundle (a lagging node or a replayed answer) would
		// bring back revoked certificates.
		return fmt.Errorf("the server sent a bundle issued %v, older than the one in use (%v)", p.IssuedAt, cur.IssuedAt)
	}
	// Installed first, then kept on disk: a bundle in the file is one the
	// gate already verifies with (what a test waiting for the file, or
	// an operator reading it, takes it to mean).
	g.install(p, resp.Header.Get("ETag"))
	if err := writeAtomically(g.cfg.BundleFile, raw); err != nil {
		g.cfg.Log.Error("bundle file not replaced; the new bundle is used from memory", "err", err)
	}
	return nil
}

// uploadLoop uploads the scan log after each new scan and every Upload,
// until done is closed or ctx ends.
func (g *Gate) uploadLoop(ctx context.Context, done <-chan struct{}) {
	backoff := time.Duration(0)
	for {
		wait := g.cfg.Upload
		switch err := g.uploadAll(ctx); {
		case err == nil:
			backoff = 0
		case errors.Is(err, errTerminalRefused):
			g.cfg.Log.Error("the server refuses this terminal; scans stay in the log", "err", err, "retry_in", pause)
			wait = pause
		default:
			backoff = min(max(2*backoff, time.Second), maxBackoff)
			wait = backoff/2 + rand.N(backoff/2+1)
			if ctx.Err() == nil {
				g.cfg.Log.Warn("scan upload failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-done:
			timer.Stop()
			return
		case <-g.kick:
			if backoff > 0 || wait == pause {
				// A new scan does not cut a backoff short.
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				case <-done:
					return
				}
			}
			timer.Stop()
		case <-timer.C:
		}
	}
}

// errTerminalRefused is a 401 or 403: the key is revoked or lacks the
// offline grant.
var errTerminalRefused = errors.New("terminal refused")

// uploadAll sends the log, oldest first, a batch at a time, until it is
// empty or a batch fails.
func (g *Gate) uploadAll(ctx context.Context) error {
	for {
		scans, err := g.log.oldest(ctx, g.cfg.Batch)
		if err != nil || len(scans) == 0 {
			return err
		}
		if err := g.upload(ctx, scans); err != nil {
			return err
		}
	}
}

// upload sends one batch. Scans the server stored, found duplicate or
// refused leave the log; a refused one is kept on record in the log's
// rejected table. A batch refused whole with 400 or 413 is sent again one
// scan at a time, so that the one the server cannot take is set aside and
// the rest go through; it is never retried as it was.
func (g *Gate) upload(ctx context.Context, scans []offline.Scan) error {
	status, ans, err := g.post(ctx, scans)
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusOK:
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%w: %d", errTerminalRefused, status)
	case status >= 500:
		return fmt.Errorf("server answered %d", status)
	case len(scans) > 1:
		for _, s := range scans {
			if err := g.upload(ctx, []offline.Scan{s}); err != nil {
				return err
			}
		}
		return nil
	default:
		g.cfg.Log.Error("the server refuses a scan; set aside", "client_id", scans[0].ClientID, "status", status)
		return g.log.reject(ctx, scans[0], fmt.Sprintf("HTTP %d", status))
	}
	var acked []string
	for _, r := range ans.Results {
		switch r.Status {
		case offline.StatusStored, offline.StatusDuplicate:
			acked = append(acked, r.ClientID)
			if r.AfterTheFact != "" {
				g.cfg.Log.Warn("after-the-fact replay found by the server", "client_id", r.ClientID, "after_the_fact", r.AfterTheFact)
			}
		case offline.StatusRefused:
			for _, s := range scans {
				if s.ClientID == r.ClientID {
					g.cfg.Log.Error("the server refuses a scan; set aside", "client_id", r.ClientID, "reason", r.Reason)
					if err := g.log.reject(ctx, s, r.Reason); err != nil {
						return err
					}
				}
			}
		}
	}
	return g.log.done(ctx, acked)
}

// post sends a batch and returns the status, and the answer when it is
// 200.
func (g *Gate) post(ctx context.Context, scans []offline.Scan) (int, offline.Answer, error) {
	var ans offline.Answer
	body, err := json.Marshal(offline.Batch{Scans: scans})
	if err != nil {
		return 0, ans, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.Server.JoinPath("api/v1/terminal/scans").String(), bytes.NewReader(body))
	if err != nil {
		return 0, ans, err
	}
	req.Header.Set("Authorization", "Bearer "+g.cfg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.cfg.HTTP.Do(req)
	if err != nil {
		return 0, ans, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, ans, err
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &ans); err != nil {
			return 0, ans, fmt.Errorf("the server's answer: %w", err)
		}
	}
	return resp.StatusCode, ans, nil
}

// writeAtomically replaces path with data through a temporary file and a
// rename, so that a gate starting meanwhile reads the old bundle or the
// new one, never half of one.
func writeAtomically(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
