// Package devcli is tempid-dev, the developer's tools that the product
// binary does not ship: a simulated phone (device, code), the load
// generator and scale seeding. They read test data from the source tree
// (the load generator's face photograph). The command line is built on
// package cli's parts, so flags and exit codes work as in tempid.
package devcli

import (
	"context"
	"io"

	"tempid/internal/cli"
)

// commands are tempid-dev's: tools for developers and measurements that
// an operator never needs.
func commands() []cli.Command {
	return []cli.Command{
		{Name: "device", Usage: "device new: make a simulated phone's device key", Run: runDevice},
		{Name: "code", Usage: "make the current code from a pass and a device key", Run: runCode},
		{Name: "load", Usage: "drive a running server with simulated passengers and terminals (loopback only)", Run: runLoad},
		{Name: "floor", Usage: "serve the floor: the least durable work verification and issuance need, the load benchmarks' baseline (loopback only)", Run: runFloor},
		{Name: "compare", Usage: "run tempid and the floor alternately and print tempid's CPU per operation as a ratio to the floor's", Run: runCompare},
		{Name: "seed", Usage: "insert synthetic certificates for scale measurements (test databases only)", Run: runSeed},
		{Name: "version", Usage: "print the version", Run: cli.RunVersion},
	}
}

// Run runs the tempid-dev command line and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.RunCommands(ctx, "tempid-dev", commands(), args, stdin, stdout, stderr)
}
