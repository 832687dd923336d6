package cli

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/problem"
	"tempid/internal/store"
)

func runStaff(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(e.Stderr, "usage: tempid staff add --username U --role staff|admin [--station CODE] (password on standard input)")
		return ErrUsage
	}
	fs := NewFlags(e, "staff add")
	var sf StorageFlags
	sf.Register(fs)
	username := fs.String("username", "", "login name")
	role := fs.String("role", "staff", "staff or admin")
	station := fs.String("station", "", "station code (required for staff)")
	if err := Parse(fs, args[1:]); err != nil {
		return err
	}
	line, err := bufio.NewReader(e.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("read the password from standard input: %w", err)
	}
	w, err := sf.OpenApp(ctx, e, false, nil)
	if err != nil {
		return err
	}
	defer w.Store.Close()
	a, err := w.Accounts.CreateStaff(ctx, store.CLI, *username, trimLine(line), *role, *station)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "created %s %s (id %s)\n", a.Role, a.Username, a.ID)
	return nil
}

func runTerminal(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(e.Stderr, "usage: tempid terminal add --name N --station CODE [--offline]")
		return ErrUsage
	}
	fs := NewFlags(e, "terminal add")
	var sf StorageFlags
	sf.Register(fs)
	name := fs.String("name", "", "terminal name, e.g. \"Gate 3\"")
	station := fs.String("station", "", "station code")
	offline := fs.Bool("offline", false, "grant offline verification (the trust bundle with seal keys)")
	if err := Parse(fs, args[1:]); err != nil {
		return err
	}
	w, err := sf.OpenApp(ctx, e, false, nil)
	if err != nil {
		return err
	}
	defer w.Store.Close()
	nt, err := w.Accounts.CreateTerminal(ctx, store.CLI, *name, *station, *offline)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, nt.APIKey)
	return nil
}

// demo accounts: well known, for demo mode only.
var demoUsers = []struct{ username, password, role, station, name string }{
	{"passenger", "tempid-demo-1", store.RolePassenger, "", "张三"},
	{"staff", "tempid-demo-2", store.RoleStaff, "BJP", ""},
	{"admin", "tempid-demo-3", store.RoleAdmin, "", ""},
}

// DemoLogin returns the well-known username and password of the demo
// account with the role, for tools that drive a demo server.
func DemoLogin(role string) (username, password string) {
	for _, u := range demoUsers {
		if u.role == role {
			return u.username, u.password
		}
	}
	return "", ""
}

// seedDemo creates the demo accounts if missing and a fresh demo terminal,
// and prints their credentials.
func seedDemo(ctx context.Context, e *Env, svc *accounts.Service, demoID string) error {
	fmt.Fprintln(e.Stdout, "DEMO logins (demo mode only):")
	for _, u := range demoUsers {
		if _, err := svc.Store.AccountByUsername(ctx, u.username); err != nil {
			var cerr error
			if u.role == store.RolePassenger {
				_, cerr = svc.SignUp(ctx, accounts.SignUp{Username: u.username, Password: u.password, Name: u.name, IDNumber: demoID})
			} else {
				_, cerr = svc.CreateStaff(ctx, store.System, u.username, u.password, u.role, u.station)
			}
			// Another node starting on the same database may have just
			// created it: that is as good.
			if cerr != nil && !problem.Is(cerr, problem.Conflict) {
				return fmt.Errorf("demo %s: %w", u.username, cerr)
			}
		}
		extra := ""
		if u.station != "" {
			extra = " at station " + u.station
		}
		fmt.Fprintf(e.Stdout, "  %-9s %-10s password %s%s\n", u.role, u.username, u.password, extra)
	}
	nt, err := svc.CreateTerminal(ctx, store.System, fmt.Sprintf("Demo gate %s", time.Now().Format("0102-1504")), "BJP", true)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "  terminal  API key %s (offline grant, station BJP)\n", nt.APIKey)
	return nil
}
