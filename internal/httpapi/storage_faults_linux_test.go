//go:build linux

package httpapi_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tempid/internal/store"
)

// tmpfsMagic is the file system type statfs reports for tmpfs.
const tmpfsMagic = 0x01021994

// smallDisk mounts a tmpfs of size bytes on a new directory and returns
// it; it is unmounted at cleanup. It needs root (CI runs as root).
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	// CI runs as root and must run this test; elsewhere it is skipped.
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root to mount a size-limited tmpfs (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size)+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		skip("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full, at most limit
// bytes, after checking that dir is a tmpfs: a test must never fill a real
// disk. It returns the filler's path.
func fill(t *testing.T, dir string, limit int) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != tmpfsMagic {
		t.Fatalf("%s is not a tmpfs (type %#x); refusing to fill it", dir, st.Type)
	}
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for written := 0; written < limit; written += len(buf) {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
	t.Fatalf("wrote %d bytes into the tmpfs and it is not full", limit)
	return ""
}

// TestAFullDiskAnswers503AndRecovers: SQLite on a disk that fills up.
// Before this issue an application answered 500 internal and /readyz
// stayed 200. Now: 503 unavailable with Retry-After, /readyz 503 with the
// cause disk_full, one log line for the burst, a metric by cause, nothing
// half-written; and once space is back, the same application succeeds
// without a restart.
func TestAFullDiskAnswers503AndRecovers(t *testing.T) {
	const size = 32 << 20
	dir := smallDisk(t, size)
	s, err := store.Open(context.Background(), store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n := newNode(t, s, nodeConfig{})
	c := n.client()
	me := newPerson("满盘")
	c.signUp(me)
	check := c.passedCheck(me)
	c.want(c.json("GET", "/readyz", nil), 200, "")
	before := certificates(t, s)

	filler := fill(t, dir, size)
	for i := range 3 {
		r := must(c.applyWithKey(me, check, "full-"+strconv.Itoa(i)))
		c.want(r, 503, "unavailable")
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	time.Sleep(1100 * time.Millisecond) // past the probe's rate limit
	ready := c.json("GET", "/readyz", nil)
	c.want(ready, 503, "unavailable")
	if ready.problem["cause"] != store.CauseDiskFull {
		t.Errorf("/readyz cause %v, want %s (%s)", ready.problem["cause"], store.CauseDiskFull, ready.raw)
	}
	c.want(c.json("GET", "/healthz", nil), 200, "")
	if m := n.metric(`tempid_storage_errors_total{cause="disk_full"}`); !strings.HasSuffix(m, " 3") {
		t.Errorf("storage error metric %q, want 3 disk_full", m)
	}
	if got := strings.Count(n.logs.String(), "storage failing"); got != 1 {
		t.Errorf("%d log lines for a burst of 3 failures, want 1", got)
	}
	if strings.Contains(n.logs.String(), `"status":500`) {
		t.Error("a request was answered 500")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if got := certificates(t, s); got != before {
		t.Fatalf("%d certificates after the failures, want %d: something was half-written", got, before)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r := c.json("GET", "/readyz", nil); r.status != 200; r = c.json("GET", "/readyz", nil) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz %d %s 5 s after space came back", r.status, r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The face check was not consumed by the failed attempts.
	c.want(must(c.applyWithKey(me, check, "full-0")), 201, "")
	if got := certificates(t, s); got != before+1 {
		t.Errorf("%d certificates, want %d", got, before+1)
	}
}
