package load

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tempid/internal/face"
)

func TestParseProcStatCountsFromTheLastParenthesis(t *testing.T) {
	// A command name with a space and parentheses, as a process may
	// choose; utime 1234 and stime 66 ticks.
	stat := "4242 (tempid (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 66 0 0 20 0 9 0 100 2000000 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	got, err := parseProcStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 13 * time.Second; got != want {
		t.Fatalf("cpu = %v, want %v (1300 ticks of 10 ms)", got, want)
	}
	for _, bad := range []string{"", "4242 tempid S 1", "4242 (tempid) S 1 2 3", "4242 (t) S 1 4242 4242 0 -1 4194560 1000 0 0 0 x 66 0"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestProcessCPUGrowsWithWork(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Work until the kernel has counted at least 50 ms more.
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
		if now, _ := ProcessCPU(os.Getpid()); now-before >= 50*time.Millisecond {
			return
		}
	}
	t.Fatalf("no CPU time counted in 10 s of work (%d)", x)
}

func TestCPUSinceCountsNewBackendsWholeAndEndedOnesAsLost(t *testing.T) {
	before := CPUSample{Server: time.Second, Backends: map[int]time.Duration{10: 100 * time.Millisecond, 11: 50 * time.Millisecond}}
	after := CPUSample{Server: 3 * time.Second, Backends: map[int]time.Duration{10: 400 * time.Millisecond, 12: 20 * time.Millisecond}}
	got := after.Since(before)
	want := CPUUsed{Server: 2 * time.Second, Backends: 320 * time.Millisecond, Ended: 1}
	if got != want {
		t.Fatalf("since = %+v, want %+v", got, want)
	}
}

func TestMedianAndRatios(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{1.5, 1.1, 1.3}, 1.3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	if Ratio(1, 0) != 0 || PerOp(time.Second, 0) != 0 {
		t.Error("a division by zero is not 0")
	}
	run := func(server, db, scenario string, pair, ops int, srv, pg time.Duration) Measured {
		return Measured{Server: server, Database: db, Scenario: scenario, Pair: pair, Ops: ops, CPU: CPUUsed{Server: srv, Backends: pg}}
	}
	ms := time.Millisecond
	runs := []Measured{
		// Pair 1 tempid first, pair 2 the floor first, as RunComparison
		// orders them; pair 3 has no floor run and is left out.
		run(ServerTempid, "postgres", "verify", 1, 1000, 600*ms, 400*ms),
		run(ServerFloor, "postgres", "verify", 1, 2000, 800*ms, 200*ms),
		run(ServerFloor, "postgres", "verify", 2, 1000, 500*ms, 250*ms),
		run(ServerTempid, "postgres", "verify", 2, 1000, 700*ms, 300*ms),
		run(ServerTempid, "postgres", "verify", 3, 1000, 700*ms, 300*ms),
		run(ServerTempid, "sqlite", "issue", 1, 500, 250*ms, 0),
		run(ServerFloor, "sqlite", "issue", 1, 500, 100*ms, 0),
	}
	pairs := Ratios(runs)
	if len(pairs) != 3 {
		t.Fatalf("%d pairs, want 3: %+v", len(pairs), pairs)
	}
	// Pair 1: tempid 600+400 µs/op, the floor 400+100.
	p := pairs[0]
	if p.Pair != 1 || p.Server != 1.5 || p.Backends != 4 || p.Total != 2 {
		t.Errorf("pair 1: server %v backends %v total %v, want 1.5, 4, 2", p.Server, p.Backends, p.Total)
	}
	// Pair 2: tempid 700+300, the floor 500+250.
	p = pairs[1]
	if p.Pair != 2 || p.Server != 1.4 || p.Backends != 1.2 || !near(p.Total, 1000.0/750) {
		t.Errorf("pair 2: server %v backends %v total %v", p.Server, p.Backends, p.Total)
	}
	med := Medians(pairs)
	if len(med) != 2 || med[0].Database != "postgres" || med[0].Pairs != 2 {
		t.Fatalf("medians %+v", med)
	}
	if m := med[0]; m.Server != 1.45 || m.Backends != 2.6 || !near(m.Total, (2+1000.0/750)/2) {
		t.Errorf("postgres medians %+v", m)
	}
	if m := med[1]; m.Database != "sqlite" || m.Server != 2.5 {
		t.Errorf("sqlite medians %+v", m)
	}

	var out bytes.Buffer
	(&Comparison{Runs: runs}).Write(&out)
	for _, want := range []string{"postgres verify median", "1.45", "2.60", "sqlite   issue  median", "2.50"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestWithDatabaseNamesTheRunsOwnDatabase(t *testing.T) {
	got, err := withDatabase("postgres://u@127.0.0.1:5432/test?sslmode=disable&search_path=x", "tempid_compare_1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://u@127.0.0.1:5432/tempid_compare_1?sslmode=disable"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := withDatabase("mysql://x/y", "z"); err == nil {
		t.Error("a URL that is not PostgreSQL's was accepted")
	}
}

func TestShrinkJPEGKeepsAFaceTheSimulatorFinds(t *testing.T) {
	b, err := os.ReadFile("../face/facetest/testdata/sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	small, err := ShrinkJPEG(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Bounds().Size(), (image.Point{160, 200}); got != want {
		t.Fatalf("size %v, want %v", got, want)
	}
	res, err := (&face.Simulator{}).Check(context.Background(), face.Subject{}, face.Capture{Data: small})
	if err != nil || !res.Passed {
		t.Fatalf("the development simulator does not pass the shrunk portrait: %+v, %v", res, err)
	}
	if same, _ := ShrinkJPEG(b, 1); !bytes.Equal(same, b) {
		t.Error("a factor of 1 changed the image")
	}
}

// A recording that the comparison ends (as Ctrl-C does) is no failure; a
// recorder that ended by itself with an error (perf refusing the process)
// is one, and says so.
func TestARecordingEndedByTheComparisonIsNoFailure(t *testing.T) {
	running, err := startRecord(exec.Command("sleep", "30"))
	if err != nil {
		t.Fatal(err)
	}
	if err := running.stop(); err != nil {
		t.Errorf("a recording stopped by the comparison: %v, want no error", err)
	}
	failed, err := startRecord(exec.Command("sh", "-c", "exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := failed.stop(); err == nil || !strings.Contains(err.Error(), "--perf") {
		t.Errorf("a recorder that failed by itself: %v, want a --perf error", err)
	}
}
