// Command tempid-dev holds the developer's tools that the product binary
// does not ship: a simulated phone (device, code), the load generator and
// scale seeding. See README.md; `tempid-dev help` lists the subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"tempid/internal/devcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := devcli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
