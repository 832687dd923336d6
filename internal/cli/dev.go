package cli

import (
	"context"
	"io"
)

// devCommands are tempid-dev's: tools for developers and measurements
// that an operator never needs, kept out of the product binary. They read
// test data from the source tree (the load generator's face photograph).
func devCommands() []command {
	return []command{
		{"device", "device new: make a simulated phone's device key", runDevice},
		{"code", "make the current code from a pass and a device key", runCode},
		{"load", "drive a running server with simulated passengers and terminals (loopback only)", runLoad},
		{"seed", "insert synthetic certificates for scale measurements (test databases only)", runSeed},
		{"version", "print the version", runVersion},
	}
}

// RunDev runs the tempid-dev command line and returns the exit code.
func RunDev(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runCommands(ctx, "tempid-dev", devCommands(), args, stdin, stdout, stderr)
}
