package devcli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// tempid-dev lists its tools and answers as itself.
func TestTempidDevHasTheDevelopersTools(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"help"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, name := range []string{"device", "code", "load", "seed"} {
		if !strings.Contains(errOut.String(), "  "+name+" ") {
			t.Errorf("tempid-dev help does not list %s: %s", name, errOut.String())
		}
	}
	out.Reset()
	if code := Run(context.Background(), []string{"version"}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "tempid-dev ") {
		t.Errorf("tempid-dev version: exit %d, %q", code, out.String())
	}
	if code := Run(context.Background(), []string{"seed", "--certificates", "0"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("seed with a bad count: exit %d, want 2 (usage)", code)
	}
}
