package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CompareConfig is a comparison of tempid with the floor: both servers
// run in turn on fresh databases, pairs alternated, each timed for
// issuance and for online verification while the CPU time of the server
// process (and, on PostgreSQL, of the backends of the run's own database)
// is read from /proc over the timed phase.
type CompareConfig struct {
	// Tempid and Floor are the commands that start each server, without
	// --listen, --data and --database, which the comparison adds.
	Tempid, Floor []string
	// Listen is the loopback address both servers use in turn.
	Listen string
	Pairs  int
	// SQLite runs pairs on SQLite; Postgres, an administrator's URL,
	// runs pairs on PostgreSQL too, each server on a database of its own
	// created for the run and dropped after it.
	SQLite   bool
	Postgres string
	// IssueCount and VerifyCount are the timed operations of each run.
	IssueCount, VerifyCount, Concurrency int
	Capture                              []byte
	AdminUser, AdminPassword             string
	// Settle is how long the comparison waits before each CPU reading,
	// so that work a phase leaves behind (the audit sealer) is counted in
	// that phase and not the next.
	Settle time.Duration
	// Log receives a line per run.
	Log io.Writer
	// Perf, when set, is a directory where each timed phase's server
	// process is recorded with Linux perf (perf record, the cpu-clock
	// event, call graphs), one file per run: the same profiler for both
	// servers, C code (SQLite) included.
	Perf string
}

// Measured is one server's timed phase of one scenario.
type Measured struct {
	Server, Database, Scenario string
	Pair                       int
	Ops, Errors                int
	PerSecond                  float64
	CPU                        CPUUsed
	// Load is the machine's one-minute load average at the end of the
	// timed phase (0 where unknown): how busy the neighbours were.
	Load float64
}

// ServerPerOp and BackendsPerOp are CPU microseconds per operation.
func (m Measured) ServerPerOp() float64   { return PerOp(m.CPU.Server, m.Ops) }
func (m Measured) BackendsPerOp() float64 { return PerOp(m.CPU.Backends, m.Ops) }
func (m Measured) TotalPerOp() float64    { return PerOp(m.CPU.Server+m.CPU.Backends, m.Ops) }

// The servers compared.
const (
	ServerTempid = "tempid"
	ServerFloor  = "floor"
)

// Comparison is the result of RunComparison.
type Comparison struct {
	Runs  []Measured
	Notes []string
}

// RunComparison runs the pairs. Within a pair the order alternates
// (tempid first in odd pairs, the floor first in even ones), so drift of
// the machine's load affects both alike.
func RunComparison(ctx context.Context, cfg CompareConfig) (*Comparison, error) {
	if len(cfg.Tempid) == 0 || len(cfg.Floor) == 0 || cfg.Pairs < 1 {
		return nil, errors.New("compare: want both commands and at least one pair")
	}
	if _, err := CheckLoopback("http://" + cfg.Listen); err != nil {
		return nil, err
	}
	var dbs []string
	if cfg.SQLite {
		dbs = append(dbs, "sqlite")
	}
	if cfg.Postgres != "" {
		dbs = append(dbs, "postgres")
	}
	c := &Comparison{}
	for _, db := range dbs {
		for pair := 1; pair <= cfg.Pairs; pair++ {
			order := []string{ServerTempid, ServerFloor}
			if pair%2 == 0 {
				order[0], order[1] = order[1], order[0]
			}
			for _, server := range order {
				runs, err := c.runServer(ctx, cfg, db, server, pair)
				c.Runs = append(c.Runs, runs...)
				if err != nil {
					return c, fmt.Errorf("%s on %s, pair %d: %w", server, db, pair, err)
				}
			}
		}
	}
	return c, nil
}

// runServer starts one server on a fresh database, times issuance and
// verification against it, and stops it.
func (c *Comparison) runServer(ctx context.Context, cfg CompareConfig, db, server string, pair int) ([]Measured, error) {
	dir, err := os.MkdirTemp("", "tempid-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := append([]string(nil), cfg.Tempid...)
	if server == ServerFloor {
		args = append([]string(nil), cfg.Floor...)
	}
	args = append(args, "--listen", cfg.Listen, "--data", dir)
	var admin *pgx.Conn
	var dbName string
	if db == "postgres" {
		admin, err = pgx.Connect(ctx, cfg.Postgres)
		if err != nil {
			return nil, err
		}
		defer admin.Close(context.Background())
		var b [6]byte
		rand.Read(b[:])
		dbName = "tempid_compare_" + hex.EncodeToString(b[:])
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
			return nil, err
		}
		defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
		dsn, err := withDatabase(cfg.Postgres, dbName)
		if err != nil {
			return nil, err
		}
		args = append(args, "--database", dsn)
	}
	proc, err := startServer(ctx, args, dir, cfg.Listen)
	if err != nil {
		return nil, err
	}
	defer stopServer(proc)

	backends := func() ([]int, error) {
		if admin == nil {
			return nil, nil
		}
		rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, dbName)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[int])
	}
	var out []Measured
	for _, scenario := range []string{ScenarioIssue, ScenarioVerify} {
		var before CPUSample
		var used CPUUsed
		var sampleErr error
		var load float64
		var rec *perfRecord
		sample := func(begin bool) {
			if !begin && rec != nil {
				if err := rec.stop(); err != nil {
					sampleErr = err
				}
				rec = nil
			}
			time.Sleep(cfg.Settle)
			pids, err := backends()
			if err != nil {
				sampleErr = fmt.Errorf("the database's backends: %w", err)
			}
			s, err := SampleCPU(proc.pid, pids)
			if err != nil {
				sampleErr = err
			}
			if begin {
				before = s
				if cfg.Perf != "" {
					name := fmt.Sprintf("%s-%s-%s-%d.data", server, db, scenario, pair)
					if rec, err = startPerf(proc.pid, filepath.Join(cfg.Perf, name)); err != nil {
						sampleErr = err
					}
				}
			} else {
				used = s.Since(before)
				load = LoadAverage()
			}
		}
		lc := Config{
			Servers: []string{"http://" + cfg.Listen}, Scenario: scenario, Duration: 5 * time.Minute,
			Concurrency: cfg.Concurrency, Capture: cfg.Capture, AdminUser: cfg.AdminUser, AdminPassword: cfg.AdminPassword,
			AroundMeasure: sample,
		}
		op := opApply
		if scenario == ScenarioIssue {
			lc.Count = cfg.IssueCount
		} else {
			op = opVerify
			lc.Count = cfg.VerifyCount
			// Seven operations a person in one step: every code of the
			// run is fresh even if the run starts late in a minute.
			lc.Passengers = cfg.VerifyCount/len(operations) + 1
		}
		rep, err := Run(ctx, lc)
		if rec != nil {
			// The run failed within its timed phase: the recording
			// ends with it.
			rec.stop()
		}
		if err == nil && sampleErr != nil {
			err = sampleErr
		}
		if err != nil {
			return out, err
		}
		st, _ := rep.Measure.Op(op)
		m := Measured{Server: server, Database: db, Scenario: scenario, Pair: pair, Ops: st.Count,
			Errors: rep.Measure.Errors() + rep.Prepare.Errors(), PerSecond: st.PerSecond, CPU: used, Load: load}
		out = append(out, m)
		if m.Errors > 0 {
			rep.Write(cfg.Log)
		}
		for _, n := range rep.Notes {
			c.Notes = append(c.Notes, fmt.Sprintf("%s %s %s pair %d: %s", server, db, scenario, pair, n))
		}
		if used.Ended > 0 {
			c.Notes = append(c.Notes, fmt.Sprintf("%s %s %s pair %d: %d backends ended during the timed phase (their last CPU time is not counted)", server, db, scenario, pair, used.Ended))
		}
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "pair %d %-8s %-6s %-6s %6d ops %8.0f/s  server %6.0f µs/op  backends %6.0f µs/op  errors %d  load %.1f\n",
				pair, db, server, scenario, m.Ops, m.PerSecond, m.ServerPerOp(), m.BackendsPerOp(), m.Errors, m.Load)
		}
	}
	return out, nil
}

// perfRecord is a running recording of one timed phase (perf record).
type perfRecord struct {
	cmd *exec.Cmd
}

// startPerf records the process pid into the file out, making out's
// directory if need be.
func startPerf(pid int, out string) (*perfRecord, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("--perf: %w", err)
	}
	return startRecord(exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g", "-p", strconv.Itoa(pid), "-o", out))
}

func startRecord(cmd *exec.Cmd) (*perfRecord, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("--perf: %w", err)
	}
	return &perfRecord{cmd: cmd}, nil
}

// stop ends the recording as Ctrl-C does, which makes perf write its
// file; perf then ends by that signal, which is no failure.
func (p *perfRecord) stop() error {
	p.cmd.Process.Signal(os.Interrupt)
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) && !exit.Exited() {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("--perf: %w", err)
	}
	return nil
}

// LoadAverage is the machine's one-minute load average from
// /proc/loadavg, or 0.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// withDatabase returns the URL dsn with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("compare: %q is not a postgres:// URL", dsn)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// startServer starts args with its output in dir and waits until it
// answers /readyz on listen.
func startServer(ctx context.Context, args []string, dir, listen string) (*process, error) {
	out, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		close(exited)
	}()
	p := &process{pid: cmd.Process.Pid, proc: cmd.Process, exited: exited}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			return nil, fmt.Errorf("%s exited at start: %s", args[0], lastLines(string(log), 5))
		case <-ctx.Done():
			stopServer(p)
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := client.Get("http://" + listen + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	stopServer(p)
	return nil, fmt.Errorf("%s did not become ready on %s", args[0], listen)
}

// stopServer interrupts the server, as an operator's Ctrl-C does, and
// kills it if it has not ended within 30 s.
func stopServer(p *process) {
	p.proc.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.proc.Kill()
		<-p.exited
	}
}

// process is a started server.
type process struct {
	pid    int
	proc   *os.Process
	exited chan struct{}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
