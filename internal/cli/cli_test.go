package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tempid/internal/pii"
)

// run runs the command line in-process and returns its exit code and output.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"help", []string{"help"}, 0},
		{"version", []string{"version"}, 0},
		{"unknown flag", []string{"version", "--nope"}, 2},
		{"audit without verify", []string{"audit"}, 2},
		{"staff without add", []string{"staff"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, _, _ := run(t, "", c.args...); got != c.want {
				t.Errorf("exit %d, want %d", got, c.want)
			}
		})
	}
}

func TestStorageCommandsOnAFreshDataDirectory(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, pii.NewKeyFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if code, out, errOut := run(t, "", "migrate", "--data", data); code != 0 || !strings.Contains(out, "sqlite") {
		t.Fatalf("migrate: %d %q %q", code, out, errOut)
	}
	// Flags come from the environment too.
	t.Setenv("TEMPID_DATA", data)
	t.Setenv("TEMPID_MASTER_KEY_FILE", keyFile)
	if code, out, errOut := run(t, "a long password\n", "staff", "add", "--username", "wang", "--role", "staff", "--station", "BJP"); code != 0 || !strings.Contains(out, "created staff wang") {
		t.Fatalf("staff add: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, "short\n", "staff", "add", "--username", "lisi", "--role", "admin"); code != 1 || !strings.Contains(errOut, "password") {
		t.Errorf("a short password: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, "a long password\n", "staff", "add", "--username", "zhao", "--role", "staff"); code != 1 || !strings.Contains(errOut, "station") {
		t.Errorf("staff without a station: %d %q", code, errOut)
	}
	code, out, errOut := run(t, "", "terminal", "add", "--name", "Gate 3", "--station", "BJP", "--offline")
	if code != 0 || !strings.HasPrefix(out, "tidk_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("terminal add: %d %q %q", code, out, errOut)
	}
	code, out, errOut = run(t, "", "audit", "verify")
	if code != 0 || !strings.Contains(out, "audit chain ok: 2 entries") {
		t.Errorf("audit verify: %d %q %q", code, out, errOut)
	}
}

func TestServeRefusesDevelopmentProvidersOutsideDemoMode(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	os.WriteFile(keyFile, pii.NewKeyFile(), 0o600)
	code, _, errOut := run(t, "", "serve", "--data", dir, "--master-key-file", keyFile, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "--demo") {
		t.Errorf("serve without demo: %d %q", code, errOut)
	}
	code, _, errOut = run(t, "", "serve", "--data", filepath.Join(dir, "empty"), "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "master key") {
		t.Errorf("serve without a master key: %d %q", code, errOut)
	}
}

// The developer's tools are tempid-dev's commands (package devcli), not
// the product's.
func TestDeveloperToolsAreNotTempidCommands(t *testing.T) {
	for _, name := range []string{"device", "code", "load", "seed"} {
		if got, _, errOut := run(t, "", name); got != 2 || !strings.Contains(errOut, "unknown command") {
			t.Errorf("tempid %s: exit %d (%s), want an unknown command", name, got, errOut)
		}
	}
}
