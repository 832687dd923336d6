// Command tempid issues and verifies electronic temporary boarding identity
// certificates. See README.md; `tempid help` lists the subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"tempid/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
