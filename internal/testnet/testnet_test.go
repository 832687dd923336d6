package testnet_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"tempid/internal/testnet"
)

func TestFreePortsLieBelowTheEphemeralRange(t *testing.T) {
	base := testnet.FreePorts(t, 8)
	if low := testnet.EphemeralLow(); base < 10000 || base+8 > low {
		t.Errorf("ports %d–%d: want them in 10000–%d", base, base+7, low-1)
	}
	for p := base; p < base+8; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}

// echo serves lines back, upper-cased, until the test ends.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(strings.ToUpper(line)))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// ask sends one line through addr and returns the answer, or the error.
func ask(addr, line string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestAProxyCutIsGoneAndARestoredOneForwardsAgain(t *testing.T) {
	p := testnet.Start(t, echo(t))
	if got, err := ask(p.Addr, "one"); err != nil || got != "ONE\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	p.Cut()
	if _, err := ask(p.Addr, "two"); err == nil {
		t.Fatal("a cut proxy still answered")
	}
	p.Restore()
	if got, err := ask(p.Addr, "three"); err != nil || got != "THREE\n" {
		t.Fatalf("after Restore: %q, %v", got, err)
	}
}

func TestAProxyLosingAnswersCountsThem(t *testing.T) {
	p := testnet.Start(t, echo(t))
	p.LoseAnswers(true)
	for i := range 2 {
		if got, err := ask(p.Addr, "lost"); err == nil {
			t.Fatalf("answer %d arrived: %q", i, got)
		}
	}
	if n := p.Lost(); n != 2 {
		t.Errorf("Lost() = %d, want 2", n)
	}
	p.LoseAnswers(false)
	if got, err := ask(p.Addr, "kept"); err != nil || got != "KEPT\n" {
		t.Fatalf("after LoseAnswers(false): %q, %v", got, err)
	}
}
