//go:build !linux

package browsertest

import "os/exec"

// killWithTest does nothing where the kernel cannot tie a child's life to
// its parent's; TestMain still stops the server at the end of a normal run.
func killWithTest(*exec.Cmd) {}
