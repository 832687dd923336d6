package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"tempid/internal/face/facetest"
)

// Every wait is bounded, so a broken page fails its test instead of hanging
// the run. The bounds are generous because CI runs this package beside every
// other package's tests on two cores.
const (
	startTimeout  = 60 * time.Second // the server or a browser to come up
	actionTimeout = 30 * time.Second // one browser action, or one wait for the page
)

var (
	tempidBin string // the binary TestMain built
	chromium  string // the browser binary
	missing   string // why the suite cannot run here; "" when it can
	workDir   string // TestMain's scratch directory: binary, server data, profiles, videos
	axeSource string // axe-core's script, read from the web apps' node_modules
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain builds the binary once for the whole run (skipping the build when
// the suite cannot run anyway), runs the tests and stops what they shared.
func runMain(m *testing.M) int {
	missing = prerequisites()
	if missing == "" {
		dir, err := os.MkdirTemp("", "tempid-browsertest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "browsertest:", err)
			return 1
		}
		workDir = dir
		defer os.RemoveAll(dir)
		if tempidBin, err = buildTempid(dir); err != nil {
			fmt.Fprintln(os.Stderr, "browsertest: building tempid:", err)
			return 1
		}
	}
	code := m.Run()
	shared.close()
	return code
}

// prerequisites says what is missing for the suite to run, or "".
func prerequisites() string {
	var why []string
	// The binary embeds whatever the web build left in dist; without it every
	// page is the "not built" notice.
	if _, err := os.Stat(filepath.Join("..", "webui", "dist", "index.html")); err != nil {
		why = append(why, "the web apps are not built (run `make web`, or `cd web && npm ci && npm run build`)")
	}
	// Every state the tests visit is checked with axe-core, a development
	// dependency of the web apps.
	if src, err := os.ReadFile(axePath); err != nil {
		why = append(why, "axe-core is not installed in web/node_modules (run `cd web && npm ci`)")
	} else {
		axeSource = string(src)
	}
	path, err := findChromium()
	if err != nil {
		why = append(why, err.Error())
	}
	chromium = path
	return strings.Join(why, "; ")
}

func findChromium() (string, error) {
	if p := os.Getenv("TEMPID_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("TEMPID_CHROMIUM: %w", err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found (install Debian's package with `apt-get install chromium`, or set TEMPID_CHROMIUM to a Chromium binary)")
}

// needSuite skips t when the suite cannot run here, or fails it in CI,
// where nothing may be skipped.
func needSuite(t *testing.T) {
	t.Helper()
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("the browser tests cannot run, and CI must run them: %s", missing)
	}
	t.Skipf("browser tests skipped: %s", missing)
}

// moduleRoot is the repository root: the nearest directory above the
// package holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

func buildTempid(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tempid")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tempid")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
}

// shared holds what the tests share: one demo server and one browser whose
// fake camera shows a face. Each is started by the first test that needs
// it and stopped after the last test.
var shared sharedResources

// sharedResources is the type of shared.
type sharedResources struct {
	mu         sync.Mutex
	srv        *server
	srvErr     error
	browser    *chromeProc
	browserErr error
}

// sharedServer returns the run's demo server, starting it on first use.
func sharedServer(t *testing.T) *server {
	t.Helper()
	needSuite(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.srvErr == nil {
		shared.srv, shared.srvErr = startServer(filepath.Join(workDir, "data"))
	}
	if shared.srvErr != nil {
		t.Fatalf("starting the demo server: %v", shared.srvErr)
	}
	select {
	case <-shared.srv.exited:
		t.Fatalf("the demo server has exited; its log:\n%s", shared.srv.log.tail(4000))
	default:
	}
	return shared.srv
}

// sharedBrowser returns the run's browser, whose fake camera shows the face
// of facetest.SampleImage, starting it on first use.
func sharedBrowser(t *testing.T) *chromeProc {
	t.Helper()
	needSuite(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.browser == nil && shared.browserErr == nil {
		video := filepath.Join(workDir, "face.y4m")
		// A few identical frames are enough: Chromium loops the file.
		if err := os.WriteFile(video, facetest.Y4M(facetest.SampleImage(), 5), 0o600); err != nil {
			shared.browserErr = err
		} else {
			shared.browser, shared.browserErr = startChrome(filepath.Join(workDir, "profile-shared"), video)
		}
	}
	if shared.browserErr != nil {
		t.Fatalf("starting Chromium: %v", shared.browserErr)
	}
	return shared.browser
}

// close stops the shared browser and server, if they were started.
func (r *sharedResources) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.browser != nil {
		r.browser.close()
		r.browser = nil
	}
	if r.srv != nil {
		r.srv.stop()
		r.srv = nil
	}
}

// server is a `tempid serve --demo` process on a loopback port.
type server struct {
	URL       string            // http://127.0.0.1:port
	APIKey    string            // the demo terminal's key (offline grant, station BJP)
	passwords map[string]string // demo username → password, as printed
	KioskKey  string            // the demo kiosk's key (station BJP)
	cmd       *exec.Cmd
	exited    chan struct{}
	log       *lockedBuffer // the server's standard error (JSON log lines)
}

// startServer starts a demo server on a free loopback port with its data in
// dir, and waits until it answers /readyz. The demo logins and the
// terminal key are read from what the server prints.
func startServer(dir string) (*server, error) { return startServerWith(dir, nil, nil) }

// startServerWith is startServer with more flags (made from the server's
// address) and more environment.
func startServerWith(dir string, flags func(addr string) []string, env []string) (*server, error) {
	var err error
	// The free port is found by closing a listener, so another process can
	// take it first; a second and third port cover that race.
	for range 3 {
		var s *server
		if s, err = tryStartServer(dir, flags, env); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func tryStartServer(dir string, flags func(addr string) []string, env []string) (*server, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	s := &server{URL: "http://" + addr, passwords: map[string]string{}, exited: make(chan struct{}), log: &lockedBuffer{}}
	args := []string{"serve", "--demo", "--data", dir, "--listen", addr}
	if flags != nil {
		args = append(args, flags(addr)...)
	}
	s.cmd = exec.Command(tempidBin, args...)
	if env != nil {
		s.cmd.Env = append(os.Environ(), env...)
	}
	s.cmd.Stderr = s.log
	killWithTest(s.cmd)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			if seen {
				continue // keep draining, so the server never blocks on a full pipe
			}
			line := sc.Text()
			s.parseStdout(line)
			if strings.HasPrefix(line, "tempid is running") {
				seen = true
				close(running)
			}
		}
		// Wait only after every read from the pipe, as os/exec requires.
		s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-running:
	case <-s.exited:
		return nil, fmt.Errorf("the server exited before it was running; its log:\n%s", s.log.tail(4000))
	case <-time.After(startTimeout):
		s.stop()
		return nil, fmt.Errorf("the server printed no \"tempid is running\" within %v; its log:\n%s", startTimeout, s.log.tail(4000))
	}
	if s.APIKey == "" || s.passwords["passenger"] == "" || s.passwords["staff"] == "" || s.passwords["admin"] == "" {
		s.stop()
		return nil, fmt.Errorf("the server did not print the demo logins and terminal key (got users %v, key %t)", keys(s.passwords), s.APIKey != "")
	}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("/readyz did not answer 200 within %v (last error %v)", startTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parseStdout reads one line of the demo banner:
//
//	passenger passenger  password tempid-demo-1
//	terminal  API key tidk_… (offline grant, station BJP)
func (s *server) parseStdout(line string) {
	f := strings.Fields(line)
	switch {
	case len(f) >= 4 && f[2] == "password":
		s.passwords[f[1]] = f[3]
	case len(f) >= 4 && f[0] == "terminal" && f[1] == "API" && f[2] == "key":
		s.APIKey = f[3]
	case len(f) >= 4 && f[0] == "kiosk" && f[1] == "API" && f[2] == "key":
		s.KioskKey = f[3]
	}
}

// stop interrupts the server, as Ctrl-C would, and kills it if it has not
// shut down in time.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// lockedBuffer collects a process's output, written from one goroutine and
// read from another.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n bytes written.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// chromeProc is one headless Chromium process.
type chromeProc struct {
	ctx    context.Context // the chromedp context that started the browser
	cancel func()
}

// startChrome starts headless Chromium with a fresh profile in profile and
// a fake camera that plays video (YUV4MPEG2) and is granted without a
// prompt.
func startChrome(profile, video string) (*chromeProc, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		// Each test's tab lives in its own window; none may be throttled
		// as a background tab while another test's tab runs.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	c := &chromeProc{ctx: ctx, cancel: func() {
		cancelCtx()
		cancelAlloc()
	}}
	// The first Run starts the browser and binds its life to the context it
	// is given, so it gets no deadline; the wait for it is bounded here.
	if err := bounded(func() error { return chromedp.Do(ctx) }, c.cancel, startTimeout); err != nil {
		return nil, fmt.Errorf("%s: %w", chromium, err)
	}
	return c, nil
}

// close stops the browser and waits for its process to end.
func (c *chromeProc) close() {
	done := make(chan struct{})
	go func() {
		chromedp.Cancel(c.ctx)
		c.cancel()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
}

// bounded runs f and waits at most d for it; on timeout it calls abort,
// which must make f return.
func bounded(f func() error, abort func(), d time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	select {
	case err := <-errc:
		if err != nil {
			abort()
		}
		return err
	case <-time.After(d):
		abort()
		<-errc
		return fmt.Errorf("no answer within %v", d)
	}
}

// viewport is the size a tab emulates.
type viewport struct {
	width, height int64
	scale         float64
	mobile        bool
}

var (
	// phone is the passenger app's viewport: a 390×844 phone at twice the
	// pixel density, so the QR code is sharp enough to decode from a
	// screenshot.
	phone = viewport{width: 390, height: 844, scale: 2, mobile: true}
	// desk is the staff and admin consoles' viewport.
	desk = viewport{width: 1280, height: 800, scale: 1}
)

// Guangzhou South railway station (WGS-84), in the prefecture-level city
// of Guangzhou, 440100.
const (
	guangzhouSouthLat = 22.98861
	guangzhouSouthLon = 113.26944
	guangzhouCode     = "440100"
)

// clockScript replaces Date.now, the web apps' one time source
// (web/src/lib/clock.js), by the real time plus window.__tempidOffset
// milliseconds, so a test moves the page's clock without touching the
// server's. It runs before the page's own scripts; a reload resets the
// offset to zero.
const clockScript = `(() => {
  const realNow = Date.now.bind(Date);
  window.__tempidOffset = 0;
  Date.now = () => realNow() + (Number(window.__tempidOffset) || 0);
})();`

// tab is one page in its own browser context (own cookies and storage) of
// a shared browser.
type tab struct {
	t       *testing.T
	ctx     context.Context
	srv     *server
	vp      viewport
	console *lockedBuffer // the page's console errors and exceptions
}

// newTab opens a tab in a new browser context of c, with the viewport vp,
// the adjustable page clock, and the geolocation permission granted for
// srv with the position at Guangzhou South station. It is closed when the
// test ends; when the test has failed, the tab's last screen and console
// errors are saved first.
func newTab(t *testing.T, c *chromeProc, srv *server, vp viewport) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	if err := bounded(func() error { return chromedp.Do(ctx) }, cancel, startTimeout); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx, srv: srv, vp: vp, console: &lockedBuffer{}}
	t.Cleanup(cancel)
	t.Cleanup(tb.dumpOnFailure)

	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				fmt.Fprintf(tb.console, "%s:%d %s\n", m.URL, m.Line+1, m)
			}
		}
	}()

	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(vp.scale), chromedp.EmulatePortrait}
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	tb.do("set up the tab",
		chromedp.EmulateViewport(vp.width, vp.height, opts...),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: clockScript}); err != nil {
				return err
			}
			if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
				Permission:       &browser.PermissionDescriptor{Name: "geolocation"},
				Setting:          browser.PermissionSettingGranted,
				Origin:           srv.URL,
				BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
			}); err != nil {
				return err
			}
			if _, err := chromedp.Call(ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{
				Latitude: new(guangzhouSouthLat), Longitude: new(guangzhouSouthLon), Accuracy: new(30.0),
			}); err != nil {
				return err
			}
			// A phone or a station PC in China: a Chinese locale for Intl,
			// and times in China Standard Time whatever this machine's zone
			// is. (Headless Chromium still draws date fields as
			// mm/dd/yyyy.)
			if _, err := chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "zh_CN"}); err != nil {
				return err
			}
			_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Shanghai"})
			return err
		}),
	)
	return tb
}

// dumpOnFailure saves the screen and logs the console errors and the
// server's log tail of a failed test, which is most of what one needs to
// see why.
func (tb *tab) dumpOnFailure() {
	if !tb.t.Failed() {
		return
	}
	if errs := tb.console.tail(4000); errs != "" {
		tb.t.Logf("console errors of the page:\n%s", errs)
	}
	tb.t.Logf("server log (tail):\n%s", tb.srv.log.tail(3000))
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		name := "failed-" + strings.NewReplacer("/", "-", " ", "_").Replace(tb.t.Name())
		if path, err := saveScreenshot(name, png); err == nil {
			tb.t.Logf("the page at failure: %s", path)
		}
	}
}

// do runs actions with a deadline, failing the test with what on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v%s", what, err, tb.where())
	}
}

// where describes the page's current screen for a failure message.
func (tb *tab) where() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
	  const m = document.querySelector('main, .console, .admin, .console-login');
	  const alerts = [...document.querySelectorAll('[role=alert], .alert, .field-error')].map((e) => e.textContent.trim()).filter(Boolean);
	  return location.pathname + ' ' + (m?.dataset?.testid || m?.className || '?') + (alerts.length ? ' alerts: ' + alerts.join(' | ') : '');
	})()`))
	if err != nil {
		return ""
	}
	return " (page: " + s + ")"
}

// open navigates to path on the server.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.srv.URL+path))
}

// click clicks the element with this id once it is visible.
func (tb *tab) click(id string) {
	tb.t.Helper()
	tb.do("click #"+id, chromedp.Click(chromedp.ID(id)))
}

// clickCSS clicks the first element matching the CSS selector once it is
// visible.
func (tb *tab) clickCSS(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// fill types text into the input with this id, as a person would.
func (tb *tab) fill(id, text string) {
	tb.t.Helper()
	tb.do("type into #"+id, chromedp.SendKeys(chromedp.ID(id), text))
}

// waitFor waits until the JavaScript expression cond is truthy.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(actionTimeout)))
	if err != nil {
		tb.t.Fatalf("waiting for %s: %v%s", what, err, tb.where())
	}
}

// waitScreen waits for the passenger app's screen name (main#screen's
// data-testid is "screen-"+name) and checks the screen with axe-core.
func (tb *tab) waitScreen(name string) {
	tb.t.Helper()
	tb.waitFor("the "+name+" screen", fmt.Sprintf(`document.querySelector('main#screen')?.dataset.testid === 'screen-%s'`, name))
	tb.axe("screen " + name)
}

// attr returns the attribute of the element with this id ("" when either
// is missing).
func (tb *tab) attr(id, name string) string {
	tb.t.Helper()
	return evalJS[string](tb, fmt.Sprintf(`document.getElementById(%q)?.getAttribute(%q) ?? ''`, id, name))
}

// evalJS evaluates expr in the page and decodes its value.
func evalJS[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v%s", expr, err, tb.where())
	}
	return v
}

// setClock sets the page clock to the real time plus offset.
func (tb *tab) setClock(offset time.Duration) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, fmt.Sprintf(`window.__tempidOffset = %d`, offset.Milliseconds()))
}

// screenshot saves the viewport as test-output/screenshots/name.png, after
// checking the page with axe-core: a screen worth a picture is a state worth
// checking.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	// Move the mouse off the button it last clicked, which would show its
	// hover colour, and let transitions and the last render settle, so the
	// picture is the screen a person sees and not a frame in between.
	tb.do("settle before screenshot "+name,
		chromedp.MouseEvent(chromedp.MouseMoved, 1, float64(tb.vp.height-1)),
		chromedp.Sleep(300*time.Millisecond))
	tb.axe(name)
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if _, err := saveScreenshot(name, shot); err != nil {
		tb.t.Fatalf("saving screenshot %s: %v", name, err)
	}
}

// saveScreenshot writes png to test-output/screenshots/name.png at the
// repository root (a gitignored directory) and returns the path.
func saveScreenshot(name string, png []byte) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "test-output", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".png")
	return path, os.WriteFile(path, png, 0o644)
}
