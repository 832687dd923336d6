package browsertest

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/chromedp/chromedp"
)

// axePath is axe-core's script in the web apps' development dependencies
// (web/package.json); the tests inject it into the page under test, so the
// checks never depend on the network.
var axePath = filepath.Join("..", "..", "web", "node_modules", "axe-core", "axe.min.js")

// axeTags select the axe-core rules every state is checked against: WCAG
// 2.0, 2.1 and 2.2 at levels A and AA (wcag2a, wcag2aa, wcag21a, wcag21aa,
// wcag22aa) and axe's best practices (best-practice).
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"}

// axeViolation is one failed axe-core rule with the elements that fail it.
type axeViolation struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Nodes  []axeNode `json:"nodes"`
}

// axeNode is one element failing a rule: its selector and axe's summary of
// what to fix.
type axeNode struct {
	Target  string `json:"target"`
	Summary string `json:"summary"`
}

// axe checks the page as it is now with axe-core and fails the test on any
// violation of any impact, naming state in the message. Finite CSS
// animations are let finish first, so colours are measured as they end
// up, not mid-fade.
func (tb *tab) axe(state string) {
	tb.t.Helper()
	if !evalJS[bool](tb, `typeof window.axe === 'object'`) {
		evalJS[chromedp.Void](tb, axeSource+"\n;undefined")
	}
	tags := `['` + strings.Join(axeTags, `','`) + `']`
	vs := evalJS[[]axeViolation](tb, `(async () => {
	  await Promise.all(document.getAnimations()
	    .filter((a) => a.effect?.getComputedTiming().endTime !== Infinity)
	    .map((a) => a.finished.catch(() => {})));
	  const r = await axe.run(document, { runOnly: { type: 'tag', values: `+tags+` }, resultTypes: ['violations'] });
	  return r.violations.map((v) => ({
	    id: v.id, impact: v.impact || '', help: v.help,
	    nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(' >> '), summary: n.failureSummary || '' })),
	  }));
	})()`)
	if len(vs) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "axe-core: %d rule(s) violated in state %q%s:", len(vs), state, tb.where())
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for i, n := range v.Nodes {
			if i == 5 {
				fmt.Fprintf(&b, "\n    … and %d more", len(v.Nodes)-i)
				break
			}
			fmt.Fprintf(&b, "\n    %s — %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
		}
	}
	tb.t.Error(b.String())
}
