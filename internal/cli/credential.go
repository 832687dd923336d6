package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/policy"
	"tempid/internal/qr"
	"tempid/internal/store"
	"tempid/internal/verify"
)

// runKeys is `tempid keys rotate`: schedule the next issuer key.
func runKeys(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(e.Stderr, "usage: tempid keys rotate [--data D | --database DSN] [--master-key-file F]")
		return ErrUsage
	}
	fs := NewFlags(e, "keys rotate")
	var sf StorageFlags
	sf.Register(fs)
	if err := Parse(fs, args[1:]); err != nil {
		return err
	}
	a, err := sf.OpenApp(ctx, e, false, nil)
	if err != nil {
		return err
	}
	defer a.Store.Close()
	ks := a.Signing
	if err := ks.Load(ctx); err != nil {
		return err
	}
	k, created, err := ks.Rotate(ctx, store.CLI)
	if err != nil {
		return err
	}
	what := "scheduled"
	if !created {
		what = "already scheduled"
	}
	fmt.Fprintf(e.Stdout, "issuer key %s %s: published now, signs from %s until %s\n",
		k.KID, what, k.NotBefore.Format(time.RFC3339), k.NotAfter.Format(time.RFC3339))
	return nil
}

// maxFetch bounds what `bundle fetch` reads, as a terminal would.
const maxFetch = bundle.MaxSize

// runBundle is `tempid bundle fetch`: save a terminal's trust bundle.
func runBundle(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 || args[0] != "fetch" {
		fmt.Fprintln(e.Stderr, "usage: tempid bundle fetch --server URL --api-key KEY --out FILE [--trusted-keys FILE]")
		return ErrUsage
	}
	fs := NewFlags(e, "bundle fetch")
	server := fs.String("server", "", "base URL of the tempid server, http:// or https://")
	apiKey := fs.String("api-key", "", "the terminal's API key (TEMPID_API_KEY keeps it out of the process list)")
	out := fs.String("out", "", "file to write the bundle to")
	trusted := fs.String("trusted-keys", "", trustedKeysUsage)
	if err := Parse(fs, args[1:]); err != nil {
		return err
	}
	if *server == "" || *apiKey == "" || *out == "" {
		fmt.Fprintln(e.Stderr, "tempid bundle fetch: --server, --api-key and --out are required")
		return ErrUsage
	}
	u, err := url.Parse(*server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("--server: want an http:// or https:// URL")
	}
	u = u.JoinPath("api/v1/trust-bundle")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+*apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxFetch+1))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s: %s", resp.Status, bytes.TrimSpace(raw[:min(len(raw), 500)]))
	}
	// Check it before replacing a good bundle with a broken one.
	pinned, err := pinnedKeys(e, *trusted, "bundle fetch")
	if err != nil {
		return err
	}
	p, err := bundle.Open(raw, pinned)
	if err != nil {
		return err
	}
	if err := WriteAtomically(*out, raw, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "trust bundle issued %s saved to %s: %d issuer keys, %d revoked certificates, %d revoked devices, %d seal keys\n",
		p.IssuedAt.Format(time.RFC3339), *out, len(p.IssuerKeys), len(p.RevokedCertificates), len(p.RevokedDevices), len(p.SealKeys))
	return nil
}

// WriteAtomically writes a temporary file next to path and renames it
// over path, so that a reader (a gate) sees the old file or the new one,
// never half of one.
func WriteAtomically(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
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

const trustedKeysUsage = "the issuer keys to trust as bundle signers: a copy of the server's /.well-known/tempid/keys obtained out of band"

// pinnedKeys reads --trusted-keys. Without it a bundle is checked for
// damage only, not for who signed it (bundle.Open with nil), and the
// command says so: a gate must always pin.
func pinnedKeys(e *Env, file, cmd string) ([]verify.IssuerKey, error) {
	if file == "" {
		fmt.Fprintf(e.Stderr, "warning: tempid %s without --trusted-keys checks the bundle for damage, not who signed it\n", cmd)
		return nil, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	keys, err := bundle.ParseKeys(raw)
	if err != nil {
		return nil, fmt.Errorf("--trusted-keys %s: %w", file, err)
	}
	return keys, nil
}

// runVerify is `tempid verify --bundle FILE CODE`: the offline verdict.
func runVerify(_ context.Context, e *Env, args []string) error {
	fs := NewFlags(e, "verify")
	file := fs.String("bundle", "", "trust bundle file (from tempid bundle fetch)")
	showID := fs.Bool("show-id", false, "print the unsealed ID number in full (counter operations only)")
	freshness := fs.Duration("freshness", policy.Default().BundleFreshness, "how old the bundle may be before the verdict is stale_bundle")
	trusted := fs.String("trusted-keys", "", trustedKeysUsage)
	if err := Parse(fs, args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() != 1 {
		fmt.Fprintln(e.Stderr, "usage: tempid verify --bundle FILE [--trusted-keys FILE] [--show-id] CODE")
		return ErrUsage
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	pinned, err := pinnedKeys(e, *trusted, "verify")
	if err != nil {
		return err
	}
	p, err := bundle.Open(raw, pinned)
	if err != nil {
		return err
	}
	v := bundle.Verify(strings.TrimSpace(fs.Arg(0)), time.Now(), p, *freshness, verify.Verifier{})
	if !v.Valid {
		fmt.Fprintf(e.Stdout, "invalid: %s\n", v.Reason)
		return ErrNotValid
	}
	pass := v.Code.Pass
	fmt.Fprintf(e.Stdout, "valid\nholder: %s %s\npass until: %s\n", pass.NameMasked, pass.IDMasked, pass.NotAfter.Format(time.RFC3339))
	if v.IDNumber != "" {
		id := v.IDNumber
		if !*showID {
			id = id[:4] + strings.Repeat("*", len(id)-8) + id[len(id)-4:]
		}
		fmt.Fprintf(e.Stdout, "id number (sealed): %s\n", id)
	}
	return nil
}

// runQR is `tempid qr`: draw a code.
func runQR(_ context.Context, e *Env, args []string) error {
	fs := NewFlags(e, "qr")
	format := fs.String("format", "png", "png or svg")
	out := fs.String("out", "", "file to write (default standard output)")
	module := fs.Int("module", 8, "pixels (PNG) or units (SVG) per module")
	if err := Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.Stderr, "usage: tempid qr [--format png|svg] [--out FILE] CODE")
		return ErrUsage
	}
	var buf bytes.Buffer
	if err := qr.Render(&buf, strings.TrimSpace(fs.Arg(0)), *format, *module); err != nil {
		return err
	}
	if *out == "" {
		_, err := buf.WriteTo(e.Stdout)
		return err
	}
	return WriteAtomically(*out, buf.Bytes(), 0o644)
}
