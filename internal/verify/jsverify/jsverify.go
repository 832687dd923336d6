// Package jsverify runs the browser's verifier (web/src/lib/verify.js) on
// Node's WebCrypto, for the conformance tests that hold it to the Go
// verifier and the server reason for reason. Tests call Run; without Node
// they skip, with a message, except in CI, where Node must be there.
package jsverify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"tempid/internal/verify"
)

// Trust is a verifier's trust in the trust bundle's text forms, and
// whether the bundle is stale.
type Trust struct {
	IssuerKeys          []IssuerKey `json:"issuer_keys"`
	RevokedCertificates []string    `json:"revoked_certificates"`
	RevokedDevices      []string    `json:"revoked_devices"`
	SealKeys            []SealKey   `json:"seal_keys"`
	Stale               bool        `json:"stale"`
}

// IssuerKey is one issuer key as a bundle carries it.
type IssuerKey struct {
	KID       string    `json:"kid"`
	PublicKey string    `json:"public_key"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// SealKey is one seal key as a bundle carries it.
type SealKey struct {
	KID string `json:"kid"`
	Key string `json:"key"`
}

// Case is one code to verify at one instant with one of the trusts.
type Case struct {
	Name  string `json:"name"`
	Code  string `json:"code"`
	NowMS int64  `json:"now_ms"`
	Trust string `json:"trust"`
	// Gate verifies as a fixed gate does (a valid slip is staffed_lane).
	Gate bool `json:"gate,omitempty"`
}

// Result is the browser verifier's answer.
type Result struct {
	Reason   verify.Reason `json:"reason"`
	IDNumber string        `json:"id_number"`
}

// Run verifies cases with the browser verifier and returns the answers
// by case name.
func Run(t *testing.T, trusts map[string]Trust, cases []Case) map[string]Result {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed: in CI the browser verifier must be tested")
		}
		t.Skip("node is not installed: install Node.js 20 or later to hold the browser verifier to the Go one")
	}
	_, file, _, _ := runtime.Caller(0)
	web := filepath.Join(filepath.Dir(file), "..", "..", "..", "web")
	corpus, err := json.Marshal(map[string]any{"trusts": trusts, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "corpus.json")
	if err := os.WriteFile(path, corpus, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(web, "tools", "verify-corpus.mjs"), path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify-corpus.mjs: %v\n%s", err, stderr.String())
	}
	results := map[string]Result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Name string `json:"name"`
			Result
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("node's answer %q: %v", sc.Text(), err)
		}
		results[r.Name] = r.Result
	}
	return results
}
