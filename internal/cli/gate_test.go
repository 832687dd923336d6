package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tempid/internal/credential"
	"tempid/internal/credential/credentialtest"
)

func TestGateUsage(t *testing.T) {
	bundleFile := filepath.Join(t.TempDir(), "bundle.json")
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"without flags", []string{"gate"}, 2},
		{"without a bundle file", []string{"gate", "--server", "http://127.0.0.1:1", "--api-key", "k"}, 2},
		{"with an argument", []string{"gate", "--server", "http://127.0.0.1:1", "--api-key", "k", "--bundle", bundleFile, "CODE"}, 2},
		{"with a server that is not a URL", []string{"gate", "--server", "ftp://x", "--api-key", "k", "--bundle", bundleFile}, 1},
		{"with an unknown operation", []string{"gate", "--server", "http://127.0.0.1:1", "--api-key", "k", "--bundle", bundleFile, "--operation", "boarding"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, _, _ := run(t, "", c.args...); got != c.want {
				t.Errorf("exit %d, want %d", got, c.want)
			}
		})
	}
}

// TestGateWithoutServerOrBundle: a gate that has never reached its server
// has no bundle, so every well-formed code is stale_bundle and garbage is
// malformed; it reads to the end of its input and exits 0.
func TestGateWithoutServerOrBundle(t *testing.T) {
	issuer := credentialtest.IssuerKey(1)
	device := credentialtest.DeviceKey(t)
	now := time.Now().Truncate(time.Second)
	b := credentialtest.Body(t, issuer, device, now.Add(-time.Minute))
	code := credentialtest.Code(t, credentialtest.Pass(t, b, issuer), credential.StepAt(now), device)
	dir := t.TempDir()
	exit, out, errOut := run(t, code+"\n\ngarbage\r\n"+code[:20]+"\n",
		"gate", "--server", "http://127.0.0.1:1", "--api-key", "k", "--bundle", filepath.Join(dir, "bundle.json"), "--upload", "1h")
	if exit != 0 {
		t.Fatalf("exit %d: %s", exit, errOut)
	}
	want := "invalid stale_bundle code - -\ninvalid malformed code - -\ninvalid malformed code - -\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(errOut, code) {
		t.Error("the code appears in the gate's log")
	}
}
