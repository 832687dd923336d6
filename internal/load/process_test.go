package load

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tempid/internal/face/facetest"
)

// The tempid binary is built once for every test of the package that runs
// it as a process, and removed after them.
var tempidBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tempidBuild.dir != "" {
		os.RemoveAll(tempidBuild.dir)
	}
	os.Exit(code)
}

func tempidBinary(t *testing.T) string {
	t.Helper()
	tempidBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			tempidBuild.err = err
			return
		}
		if tempidBuild.dir, tempidBuild.err = os.MkdirTemp("", "tempid-bin-"); tempidBuild.err != nil {
			return
		}
		tempidBuild.path = filepath.Join(tempidBuild.dir, "tempid")
		out, err := exec.Command(goTool, "build", "-o", tempidBuild.path, "tempid/cmd/tempid").CombinedOutput()
		if err != nil {
			tempidBuild.err = errors.New(string(out))
		}
	})
	if tempidBuild.err != nil {
		t.Fatalf("go build: %v", tempidBuild.err)
	}
	return tempidBuild.path
}

// nodeEnv is the environment of a tempid process: this one's without any
// TEMPID_* setting (which would fill flags), plus the shared master key.
func nodeEnv(masterKey []byte) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPID_") {
			env = append(env, kv)
		}
	}
	return append(env, "TEMPID_MASTER_KEY="+string(masterKey))
}

// node is a tempid serve process.
type node struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	apiKey string // the demo terminal's key, printed at start-up
	logs   string
	exited chan struct{}
}

var (
	urlLine = regexp.MustCompile(`open (http://127\.0\.0\.1:\d+)/`)
	keyLine = regexp.MustCompile(`terminal\s+API key (\S+)`)
)

// startNode starts `tempid serve` with args, waits until it answers
// /readyz, and stops it when the test ends.
func startNode(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	logs, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tempidBinary(t), args...)
	cmd.Env, cmd.Stderr = env, logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, cmd: cmd, logs: logs.Name(), exited: make(chan struct{})}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := keyLine.FindStringSubmatch(sc.Text()); m != nil {
				n.apiKey = m[1]
			}
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				n.url = m[1]
				close(found)
			}
		}
	}()
	go func() {
		cmd.Wait()
		logs.Close()
		close(n.exited)
	}()
	t.Cleanup(n.stop)
	select {
	case <-found:
	case <-n.exited:
		t.Fatalf("tempid %s exited at start-up:\n%s", strings.Join(args, " "), n.tail())
	case <-time.After(60 * time.Second):
		t.Fatalf("tempid %s did not start in 60s:\n%s", strings.Join(args, " "), n.tail())
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(n.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tempid at %s is not ready: %v\n%s", n.url, err, n.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the end of the process's log, for failure messages.
func (n *node) tail() string {
	b, _ := os.ReadFile(n.logs)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill ends the process at once, as a power cut or the OOM killer would.
func (n *node) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

// stop asks the process to shut down, and kills it if it does not.
func (n *node) stop() {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.kill()
	}
}

// tempid runs a short tempid command and returns its output and error.
func tempid(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tempidBinary(t), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// captureImage is the portrait the development simulator passes.
func captureImage() []byte { return facetest.SampleJPEG() }
