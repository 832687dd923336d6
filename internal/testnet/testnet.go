// Package testnet gives tests loopback ports that stay theirs and a TCP
// proxy they can cut, restore and make lose answers, to play a server or a
// database that goes away and comes back.
//
// Ports are chosen below the kernel's ephemeral range. A test that stops
// a listener and starts it again on the same port (a proxy restored, a
// database node restarted) would otherwise race its own connections: a
// port in the ephemeral range may meanwhile be the source port of one of
// them, and listening again fails with "address already in use".
package testnet

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// FreePorts returns the first of n consecutive loopback ports below the
// ephemeral range that are free now.
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	low := ephemeralLow()
	const floor = 10000
	if low-n <= floor {
		t.Fatalf("the ephemeral port range starts at %d: no room below it for %d ports", low, n)
	}
	for range 100 {
		base := floor + rand.IntN(low-n-floor)
		var held []net.Listener
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if len(held) == n {
			return base
		}
	}
	t.Fatal("no free ports below the ephemeral range")
	return 0
}

// ephemeralLow returns the first port of the kernel's ephemeral range, or
// Linux's default when the range cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil {
				return low
			}
		}
	}
	return 32768
}

// Proxy forwards TCP connections from Addr to a target. It is closed when
// the test ends.
type Proxy struct {
	Addr string // host:port the test connects to instead of the target

	t      testing.TB
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	drop   atomic.Bool
	lost   atomic.Int64
}

// Start starts a proxy to target on a port of its own.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target}
	p.Addr = fmt.Sprintf("127.0.0.1:%d", FreePorts(t, 1))
	p.Restore()
	t.Cleanup(p.Cut)
	return p
}

// Cut stops listening and drops every connection: the target is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore listens again on the same address: the target is back.
func (p *Proxy) Restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.accept(ln)
}

// LoseAnswers makes the proxy, while on, close a connection when the
// target answers on it: the request was processed, and its answer never
// arrives.
func (p *Proxy) LoseAnswers(on bool) { p.drop.Store(on) }

// Lost returns how many answers the proxy has lost.
func (p *Proxy) Lost() int64 { return p.lost.Load() }

func (p *Proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go p.answer(c, up)
	}
}

// answer copies the target's answers back, or loses the first one.
func (p *Proxy) answer(c, up net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 && p.drop.Load() {
			p.lost.Add(1)
			up.Close()
			return
		}
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				up.Close()
				return
			}
		}
		if err != nil {
			return
		}
	}
}
