// Package cli is the tempid command line, what an operator runs: one
// binary with subcommands, every flag also read from the environment as
// TEMPID_<FLAG>. Run returns the exit code: 0 success, 1 failure (or a
// verdict that is not valid), 2 usage error. The developer's tools
// (package devcli, the tempid-dev binary) are built on the same parts:
// Command, Env, NewFlags, Parse, StorageFlags and RunCommands.
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

// ErrUsage marks a usage error (exit code 2); the message was printed.
var ErrUsage = errors.New("usage")

// Command is one subcommand.
type Command struct {
	Name  string
	Usage string
	Run   func(ctx context.Context, e *Env, args []string) error
}

// Env is what a subcommand may use of the process; Prog is the name of
// the binary, for messages.
type Env struct {
	Prog           string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

func commands() []Command {
	return []Command{
		{"serve", "run the service", runServe},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"audit", "audit verify: check the audit chain", runAudit},
		{"staff", "staff add: create a staff member or admin (password on stdin)", runStaff},
		{"terminal", "terminal add: register a gate or scanner and print its API key", runTerminal},
		{"keys", "keys rotate: schedule the next issuer key", runKeys},
		{"bundle", "bundle fetch: save a terminal's trust bundle", runBundle},
		{"verify", "verify a code offline against a trust bundle", runVerify},
		{"qr", "draw a code as a QR symbol", runQR},
		{"version", "print the version", RunVersion},
	}
}

// Run runs the tempid command line and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunCommands(ctx, "tempid", commands(), args, stdin, stdout, stderr)
}

// RunCommands runs the command line of the binary prog, whose commands are
// cmds, and returns the exit code.
func RunCommands(ctx context.Context, prog string, cmds []Command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &Env{Prog: prog, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr, prog, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			err := c.Run(ctx, e, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, ErrUsage), errors.Is(err, flag.ErrHelp):
				return 2
			case errors.Is(err, ErrNotValid):
				return 1
			default:
				fmt.Fprintf(stderr, "%s %s: %v\n", prog, c.Name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	printUsage(stderr, prog, cmds)
	return 2
}

// ErrNotValid is returned by commands whose answer is a verdict other
// than valid: exit code 1 with nothing more printed.
var ErrNotValid = errors.New("not valid")

func printUsage(w io.Writer, prog string, cmds []Command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %s\n", c.Name, c.Usage)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set in the environment: --master-key-file is TEMPID_MASTER_KEY_FILE.")
}

// NewFlags returns a flag set for a subcommand that prints to e.Stderr.
func NewFlags(e *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(e.Prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	return fs
}

// Parse parses args, then fills every flag not given on the command line
// from its TEMPID_* environment variable.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return ErrUsage
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

// RunVersion prints the version of the binary.
func RunVersion(_ context.Context, e *Env, args []string) error {
	fs := NewFlags(e, "version")
	if err := Parse(fs, args); err != nil {
		return err
	}
	version := "devel"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	fmt.Fprintf(e.Stdout, "%s %s (credential TID1, API v1)\n", e.Prog, version)
	return nil
}
