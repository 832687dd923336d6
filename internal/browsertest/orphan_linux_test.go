package browsertest

import (
	"os/exec"
	"syscall"
)

// killWithTest makes the kernel kill cmd if the test binary dies first (a
// panic, or go test's -timeout), so no demo server outlives its run.
// chromedp does the same for Chromium.
func killWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
