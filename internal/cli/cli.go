// Package cli is the tempid command line: binaries with subcommands,
// every flag also read from the environment as TEMPID_<FLAG>. Run is
// tempid, what an operator runs; RunDev is tempid-dev, the developer's
// tools (dev.go). Both return the exit code: 0 success, 1 failure (or a
// verdict that is not valid), 2 usage error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// errUsage marks a usage error (exit code 2); the message was printed.
var errUsage = errors.New("usage")

// command is one subcommand.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, e *env, args []string) error
}

// env is what a subcommand may use of the process; prog is the name of
// the binary, for messages.
type env struct {
	prog           string
	stdin          io.Reader
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run the service", runServe},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"audit", "audit verify: check the audit chain", runAudit},
		{"staff", "staff add: create a staff member or admin (password on stdin)", runStaff},
		{"terminal", "terminal add: register a gate or scanner and print its API key", runTerminal},
		{"keys", "keys rotate: schedule the next issuer key", runKeys},
		{"bundle", "bundle fetch: save a terminal's trust bundle", runBundle},
		{"verify", "verify a code offline against a trust bundle", runVerify},
		{"qr", "draw a code as a QR symbol", runQR},
		{"version", "print the version", runVersion},
	}
}

// Run runs the tempid command line and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runCommands(ctx, "tempid", commands(), args, stdin, stdout, stderr)
}

func runCommands(ctx context.Context, prog string, cmds []command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{prog: prog, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr, prog, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
				return 2
			case errors.Is(err, errNotValid):
				return 1
			default:
				fmt.Fprintf(stderr, "%s %s: %v\n", prog, c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	printUsage(stderr, prog, cmds)
	return 2
}

// errNotValid is returned by commands whose answer is a verdict other
// than valid: exit code 1 with nothing more printed.
var errNotValid = errors.New("not valid")

func printUsage(w io.Writer, prog string, cmds []command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set in the environment: --master-key-file is TEMPID_MASTER_KEY_FILE.")
}

// newFlags returns a flag set for a subcommand that prints to e.stderr.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(e.prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parse parses args, then fills every flag not given on the command line
// from its TEMPID_* environment variable.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := "TEMPID_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "version")
	if err := parse(fs, args); err != nil {
		return err
	}
	version := "devel"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	fmt.Fprintf(e.stdout, "%s %s (credential TID1, API v1)\n", e.prog, version)
	return nil
}
