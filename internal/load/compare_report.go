package load

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// PairRatio is one pair of a comparison: tempid's and the floor's run of
// one scenario on one database, and tempid ÷ floor of their CPU time per
// operation — the server's, the backends' (PostgreSQL) and both together.
type PairRatio struct {
	Database, Scenario string
	Pair               int
	Tempid, Floor      Measured
	Server, Backends   float64
	Total              float64
}

// Ratios pairs the runs of a comparison, sorted by database (in order of
// first appearance), scenario and pair; a pair missing either server is
// left out.
func Ratios(runs []Measured) []PairRatio {
	type key struct {
		db, scenario string
		pair         int
	}
	var order []key
	byKey := map[key]*PairRatio{}
	have := map[key]int{}
	for _, m := range runs {
		k := key{m.Database, m.Scenario, m.Pair}
		p := byKey[k]
		if p == nil {
			p = &PairRatio{Database: m.Database, Scenario: m.Scenario, Pair: m.Pair}
			byKey[k] = p
			order = append(order, k)
		}
		switch m.Server {
		case ServerTempid:
			p.Tempid = m
			have[k] |= 1
		case ServerFloor:
			p.Floor = m
			have[k] |= 2
		}
	}
	var out []PairRatio
	for _, k := range order {
		if have[k] != 3 {
			continue
		}
		p := byKey[k]
		p.Server = Ratio(p.Tempid.ServerPerOp(), p.Floor.ServerPerOp())
		p.Backends = Ratio(p.Tempid.BackendsPerOp(), p.Floor.BackendsPerOp())
		p.Total = Ratio(p.Tempid.TotalPerOp(), p.Floor.TotalPerOp())
		out = append(out, *p)
	}
	dbOrder := map[string]int{}
	for _, k := range order {
		if _, ok := dbOrder[k.db]; !ok {
			dbOrder[k.db] = len(dbOrder)
		}
	}
	slices.SortStableFunc(out, func(a, b PairRatio) int {
		return cmp.Or(cmp.Compare(dbOrder[a.Database], dbOrder[b.Database]), cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Pair, b.Pair))
	})
	return out
}

// RatioMedians are the medians of a group of pairs.
type RatioMedians struct {
	Database, Scenario      string
	Pairs                   int
	Server, Backends, Total float64
}

// Medians groups pairs by database and scenario, in order of first
// appearance, and returns the median of each ratio.
func Medians(pairs []PairRatio) []RatioMedians {
	type key struct{ db, scenario string }
	var order []key
	groups := map[key][]PairRatio{}
	for _, p := range pairs {
		k := key{p.Database, p.Scenario}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	var out []RatioMedians
	for _, k := range order {
		g := groups[k]
		var server, backends, total []float64
		for _, p := range g {
			server = append(server, p.Server)
			backends = append(backends, p.Backends)
			total = append(total, p.Total)
		}
		out = append(out, RatioMedians{Database: k.db, Scenario: k.scenario, Pairs: len(g),
			Server: Median(server), Backends: Median(backends), Total: Median(total)})
	}
	return out
}

// Write prints the pairs and their medians: per pair each server's
// throughput and CPU µs per operation (server + backends), and the
// ratios tempid ÷ floor.
func (c *Comparison) Write(w io.Writer) {
	pairs := Ratios(c.Runs)
	fmt.Fprintln(w, "tempid ÷ floor: CPU time per operation over the timed phase (server process; on PostgreSQL also the run's database backends)")
	fmt.Fprintf(w, "  %-8s %-6s %-6s %9s %9s %17s %17s %7s %8s %7s %6s\n",
		"database", "op", "pair", "tempid/s", "floor/s", "tempid µs srv+db", "floor µs srv+db", "server", "backends", "total", "errors")
	writeMedian := func(m RatioMedians) {
		fmt.Fprintf(w, "  %-8s %-6s %-6s %9s %9s %17s %17s %7.2f %8s %7s\n", m.Database, m.Scenario, "median", "", "", "", "",
			m.Server, ratioText(m.Backends, m.Database), ratioText(m.Total, m.Database))
	}
	medians := Medians(pairs)
	for i, p := range pairs {
		fmt.Fprintf(w, "  %-8s %-6s %-6d %9.0f %9.0f %17s %17s %7.2f %8s %7s %6d\n", p.Database, p.Scenario, p.Pair,
			p.Tempid.PerSecond, p.Floor.PerSecond, cpuText(p.Tempid), cpuText(p.Floor),
			p.Server, ratioText(p.Backends, p.Database), ratioText(p.Total, p.Database), p.Tempid.Errors+p.Floor.Errors)
		last := i == len(pairs)-1 || pairs[i+1].Database != p.Database || pairs[i+1].Scenario != p.Scenario
		if last {
			for _, m := range medians {
				if m.Database == p.Database && m.Scenario == p.Scenario {
					writeMedian(m)
				}
			}
		}
	}
	if lo, hi := c.loadRange(); hi > 0 {
		fmt.Fprintf(w, "  load average (1 min) at the end of the timed phases: %.1f to %.1f\n", lo, hi)
	}
	for _, n := range c.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func (c *Comparison) loadRange() (lo, hi float64) {
	for i, m := range c.Runs {
		if i == 0 || m.Load < lo {
			lo = m.Load
		}
		hi = max(hi, m.Load)
	}
	return lo, hi
}

func cpuText(m Measured) string {
	if m.Database != "postgres" {
		return fmt.Sprintf("%.0f", m.ServerPerOp())
	}
	return fmt.Sprintf("%.0f+%.0f", m.ServerPerOp(), m.BackendsPerOp())
}

// ratioText shows a backends or total ratio, which only PostgreSQL has.
func ratioText(r float64, db string) string {
	if db != "postgres" {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

// Errors is the number of failed operations over every run.
func (c *Comparison) Errors() int {
	n := 0
	for _, m := range c.Runs {
		n += m.Errors
	}
	return n
}
