package devcli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"tempid/internal/cli"
	"tempid/internal/load"
	"tempid/internal/load/floor"
	"tempid/internal/store"
)

// runFloor serves the floor, the baseline of the load benchmarks
// (docs/performance.md), until interrupted.
func runFloor(ctx context.Context, e *cli.Env, args []string) error {
	fs := cli.NewFlags(e, "floor")
	listen := fs.String("listen", "127.0.0.1:18190", "loopback address to listen on")
	data := fs.String("data", "", "directory of the floor's SQLite database (unused with --database)")
	database := fs.String("database", "", "PostgreSQL URL (postgres://…); the tables go to the schema tempid_floor unless it sets search_path")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *data == "" && *database == "" {
		fmt.Fprintln(e.Stderr, "tempid-dev floor: give --data DIR or --database DSN")
		return cli.ErrUsage
	}
	if _, err := load.CheckLoopback("http://" + *listen); err != nil {
		return err
	}
	user, password := cli.DemoLogin(store.RoleAdmin)
	if *database != "" {
		*data = ""
	}
	f, err := floor.Open(ctx, floor.Options{DataDir: *data, DSN: *database, AdminUser: user, AdminPassword: password})
	if err != nil {
		return err
	}
	defer f.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.Stdout, "floor (%s) is running on http://%s/\n", f.Dialect(), ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
