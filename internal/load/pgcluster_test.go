package load

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"tempid/internal/testnet"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// pgCluster is a Patroni cluster started by scripts/pg-cluster.sh on
// ports of its own, stopped when the test ends.
type pgCluster struct {
	t      *testing.T
	script string
	dir    string
	env    []string
	pgPort int // of the first node; the others follow
	dsn    string
}

// pgClusterTools are what scripts/pg-cluster.sh needs.
var pgClusterTools = []string{"patroni", "etcd", "/usr/lib/postgresql/15/bin/postgres", "curl", "python3", "setpriv"}

// startPGCluster starts a cluster, or skips the test when its tools are
// missing — except in CI, where nothing may be skipped.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	for _, tool := range pgClusterTools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("the failover tests need Patroni, etcd and PostgreSQL 15 (%s not found): "+
				"apt-get install -y patroni etcd-server postgresql-15, as .ci/run does, then go test ./internal/load -run Failover", tool)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	script, err := filepath.Abs("../../scripts/pg-cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	// The directory must be one the user postgres can enter: not under
	// t.TempDir, whose parent is private to this process's user.
	dir, err := os.MkdirTemp("", "tempid-pg-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	// Eight ports in one run, below the ephemeral range: nodes and etcd
	// are started again on theirs. Three for PostgreSQL, three for
	// Patroni's REST API, two for etcd (clients, peers).
	base := testnet.FreePorts(t, 8)
	c := &pgCluster{t: t, script: script, dir: dir, pgPort: base, env: os.Environ()}
	c.env = append(c.env, "PG_CLUSTER_PG_PORT="+strconv.Itoa(base),
		"PG_CLUSTER_REST_PORT="+strconv.Itoa(base+3), "PG_CLUSTER_ETCD_PORT="+strconv.Itoa(base+6))
	t.Cleanup(func() {
		if out, err := c.run(time.Minute, "stop"); err != nil {
			t.Errorf("pg-cluster.sh stop: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	})
	start := time.Now()
	if out, err := c.run(2*time.Minute, "start"); err != nil {
		t.Fatalf("pg-cluster.sh start: %v\n%s", err, out)
	}
	t.Logf("cluster started in %.1f s", time.Since(start).Seconds())
	out, err := c.run(10*time.Second, "dsn")
	if err != nil {
		t.Fatal(err)
	}
	c.dsn = strings.TrimSpace(out)
	return c
}

// run runs the script with a command and returns its output.
func (c *pgCluster) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.script, append(args, c.dir)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// members returns each member's role (leader, sync_standby, replica).
func (c *pgCluster) members() map[string]string {
	out, _ := c.run(10*time.Second, "status")
	roles := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 4 {
			roles[f[0]] = f[1]
		}
	}
	return roles
}

func (c *pgCluster) memberWithRole(role string) string {
	for name, r := range c.members() {
		if r == role {
			return name
		}
	}
	return ""
}

// waitHealthy waits until the cluster has a primary, a synchronous
// standby and a third member again.
func (c *pgCluster) waitHealthy() {
	c.t.Helper()
	if out, err := c.run(90*time.Second, "wait"); err != nil {
		c.t.Fatalf("the cluster did not recover: %v\n%s", err, out)
	}
}

// failover runs the script's failover (SIGKILL to the primary's
// postgres) and returns the moment of the kill and the seconds Patroni
// took to promote another node.
func (c *pgCluster) failover() (killed time.Time, promoted float64) {
	c.t.Helper()
	cmd := exec.Command(c.script, "failover", c.dir)
	cmd.Env = c.env
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "killed ") {
			killed = time.Now()
		}
		if strings.HasPrefix(line, "primary ") {
			promoted = time.Since(killed).Seconds()
		}
		c.t.Logf("pg-cluster.sh failover: %s", line)
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil || killed.IsZero() {
		c.t.Fatalf("pg-cluster.sh failover: %v", err)
	}
	return killed, promoted
}

// primaries returns how many of the cluster's PostgreSQL servers accept
// writes right now; servers that do not answer count as none.
func (c *pgCluster) primaries(ctx context.Context, dbs []*sql.DB) int {
	n := 0
	for _, db := range dbs {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		var primary bool
		err := db.QueryRowContext(qctx, `SELECT NOT pg_is_in_recovery()`).Scan(&primary)
		cancel()
		if err == nil && primary {
			n++
		}
	}
	return n
}

// direct opens a pool to each node on its own port, bypassing the
// multi-host DSN, to ask each server for its role.
func (c *pgCluster) direct(t *testing.T) []*sql.DB {
	var dbs []*sql.DB
	for i := range 3 {
		db, err := sql.Open("pgx", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/tempid?sslmode=disable&connect_timeout=1", c.pgPort+i))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs
}
