package load

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// recorder collects the latencies and outcomes of one phase. Workers call
// observe concurrently; the progress line reads the atomic counters.
type recorder struct {
	mu    sync.Mutex
	ops   map[string]*opLog
	order []string
	done  atomic.Int64 // operations finished, all kinds
	fails atomic.Int64 // unexpected failures
	start time.Time
}

type opLog struct {
	lat      []time.Duration // successful and expected-refusal calls
	ok       int
	expected map[string]int // refusals the scenario expects, by code
	errors   map[string]int // everything else, by "status code"
}

func newRecorder() *recorder {
	return &recorder{ops: map[string]*opLog{}, start: time.Now()}
}

// outcome is how a call ended: ok, an expected refusal (its problem code),
// or an error (status and code, or the transport failure).
type outcome struct {
	expected string
	err      string
}

func (r *recorder) observe(op string, d time.Duration, o outcome) {
	r.done.Add(1)
	if o.err != "" {
		r.fails.Add(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.ops[op]
	if l == nil {
		l = &opLog{expected: map[string]int{}, errors: map[string]int{}}
		r.ops[op] = l
		r.order = append(r.order, op)
	}
	switch {
	case o.err != "":
		l.errors[o.err]++
	case o.expected != "":
		l.expected[o.expected]++
		l.lat = append(l.lat, d)
	default:
		l.ok++
		l.lat = append(l.lat, d)
	}
}

// OpStats summarises one operation of a phase.
type OpStats struct {
	Name string
	// Count is every call made; OK the calls that succeeded.
	Count, OK int
	// PerSecond is Count over the phase's elapsed time.
	PerSecond          float64
	P50, P90, P99, Max time.Duration
	// Expected counts the refusals the scenario provokes on purpose (R5,
	// R2), by problem code; Errors everything else, by "status code".
	Expected, Errors map[string]int
}

// Phase is the summary of one phase of a run.
type Phase struct {
	Name    string
	Elapsed time.Duration
	Ops     []OpStats
}

// Errors is the number of unexpected failures in the phase.
func (p Phase) Errors() int {
	n := 0
	for _, o := range p.Ops {
		for _, c := range o.Errors {
			n += c
		}
	}
	return n
}

// Op returns the statistics of the operation named name.
func (p Phase) Op(name string) (OpStats, bool) {
	for _, o := range p.Ops {
		if o.Name == name {
			return o, true
		}
	}
	return OpStats{}, false
}

func (r *recorder) phase(name string, elapsed time.Duration) Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Phase{Name: name, Elapsed: elapsed}
	for _, name := range r.order {
		l := r.ops[name]
		s := OpStats{Name: name, OK: l.ok, Expected: l.expected, Errors: l.errors}
		s.Count = l.ok
		for _, n := range l.expected {
			s.Count += n
		}
		for _, n := range l.errors {
			s.Count += n
		}
		if elapsed > 0 {
			s.PerSecond = float64(s.Count) / elapsed.Seconds()
		}
		lat := slices.Clone(l.lat)
		slices.Sort(lat)
		s.P50, s.P90, s.P99 = quantile(lat, 0.50), quantile(lat, 0.90), quantile(lat, 0.99)
		if len(lat) > 0 {
			s.Max = lat[len(lat)-1]
		}
		p.Ops = append(p.Ops, s)
	}
	return p
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// writePhase prints a phase as a table, then its refusals and errors.
func writePhase(w io.Writer, p Phase) {
	fmt.Fprintf(w, "%s: %.1fs\n", p.Name, p.Elapsed.Seconds())
	fmt.Fprintf(w, "  %-20s %8s %8s %9s %9s %9s %9s %9s\n", "operation", "count", "ok", "per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")
	for _, o := range p.Ops {
		fmt.Fprintf(w, "  %-20s %8d %8d %9.1f %9s %9s %9s %9s\n", o.Name, o.Count, o.OK, o.PerSecond,
			millis(o.P50), millis(o.P90), millis(o.P99), millis(o.Max))
	}
	for _, o := range p.Ops {
		for _, k := range sortedKeys(o.Expected) {
			fmt.Fprintf(w, "  expected refusal  %-20s %-30s %d\n", o.Name, k, o.Expected[k])
		}
	}
	for _, o := range p.Ops {
		for _, k := range sortedKeys(o.Errors) {
			fmt.Fprintf(w, "  ERROR             %-20s %-30s %d\n", o.Name, k, o.Errors[k])
		}
	}
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
