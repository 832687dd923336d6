package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tempid/internal/pii"
)

// TestServeRefusesAHalfProviderConfiguration: serve names everything that
// is missing or contradictory before it opens anything.
func TestServeRefusesAHalfProviderConfiguration(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	os.WriteFile(keyFile, pii.NewKeyFile(), 0o600)
	base := []string{"serve", "--data", dir, "--master-key-file", keyFile, "--listen", "127.0.0.1:0"}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		wants []string
	}{
		{"tencent without credentials", nil, []string{"--registry", "tencent", "--face-provider", "tencent"},
			[]string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"}},
		{"a secret id without its key", map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx"}, []string{"--registry", "tencent", "--face-provider", "tencent"},
			[]string{"missing TENCENTCLOUD_SECRET_KEY"}},
		{"hosted without a rule or an address", map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k"},
			[]string{"--registry", "tencent", "--face-provider", "tencent", "--face-mode", "hosted"},
			[]string{"--tencent-rule-id", "--public-url"}},
		{"a face mode without the provider", nil, []string{"--registry-file", keyFile, "--face-mode", "hosted"},
			[]string{"--face-mode is for --face-provider tencent"}},
		{"a rule id in capture mode", map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k"},
			[]string{"--registry", "tencent", "--face-provider", "tencent", "--tencent-rule-id", "3"},
			[]string{"--tencent-rule-id is for"}},
		{"a threshold out of range", map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k"},
			[]string{"--registry", "tencent", "--face-provider", "tencent", "--tencent-threshold", "170"},
			[]string{"--tencent-threshold"}},
		{"the registry without a face provider", map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k"},
			[]string{"--registry", "tencent"},
			[]string{"no face-check provider"}},
		{"the simulator outside demo mode", map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k"},
			[]string{"--registry", "tencent", "--face-provider", "simulator"},
			[]string{"--demo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TENCENTCLOUD_SECRET_ID", "")
			t.Setenv("TENCENTCLOUD_SECRET_KEY", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := run(t, "", append(base, tc.args...)...)
			if code != 1 || strings.Contains(out, "running") {
				t.Fatalf("exit %d %q %q, want a refusal", code, out, errOut)
			}
			for _, w := range tc.wants {
				if !strings.Contains(errOut, w) {
					t.Errorf("the refusal %q does not name %s", errOut, w)
				}
			}
			if v := tc.env["TENCENTCLOUD_SECRET_KEY"]; v != "" && strings.Contains(errOut, "AKIDx") {
				t.Error("a credential is in the message")
			}
		})
	}
}
