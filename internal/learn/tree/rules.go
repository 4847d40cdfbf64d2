package tree

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Names labels printed rules. The zero value prints features as x0, x1, …
// and the classes as 0 and 1.
type Names struct {
	// Features names each feature; nil means x0, x1, …
	Features []string
	// Negative and Positive name the classes y = 0 and y = 1; empty
	// means "0" and "1".
	Negative, Positive string
}

func (n Names) check(dim int) error {
	if n.Features != nil && len(n.Features) != dim {
		return fmt.Errorf("tree: rules: %d feature names for %d features", len(n.Features), dim)
	}
	return nil
}

func (n Names) feature(f int) string {
	if n.Features == nil {
		return "x" + strconv.Itoa(f)
	}
	return n.Features[f]
}

func (n Names) class(c int) string {
	if c == 1 {
		if n.Positive == "" {
			return "1"
		}
		return n.Positive
	}
	if n.Negative == "" {
		return "0"
	}
	return n.Negative
}

// bound is the interval lo < x[f] <= hi that a path to a leaf implies.
type bound struct {
	f      int
	lo, hi float64
}

// writeRules writes one line per leaf of the subtree at root, left to
// right: "if a <= 0.412 and b > 0.003 then UP (p=0.83, n=1204)". The
// conditions on one feature are merged into one interval, in the order the
// features are first tested; p is the leaf's share of its majority class
// and n the weight the leaf has seen (including the share of its parent's
// weight it inherited at the split). Each line starts with indent.
func writeRules(w io.Writer, t *core, root int32, names Names, indent string) error {
	if err := names.check(t.dim); err != nil {
		return err
	}
	rw := rulesWriter{w: w, t: t, names: names, indent: indent}
	rw.walk(root)
	return rw.err
}

type rulesWriter struct {
	w      io.Writer
	t      *core
	names  Names
	indent string
	path   []bound
	line   strings.Builder
	err    error
}

func (rw *rulesWriter) walk(n int32) {
	if rw.err != nil {
		return
	}
	nd := &rw.t.nodes[n]
	if nd.feature == leafNode {
		rw.leaf(rw.t.leaves[nd.leaf].stats)
		return
	}
	f := int(nd.feature)
	i := -1
	for k, b := range rw.path {
		if b.f == f {
			i = k
		}
	}
	if i < 0 {
		rw.path = append(rw.path, bound{f: f, lo: math.Inf(-1), hi: math.Inf(1)})
		i = len(rw.path) - 1
	}
	saved := rw.path[i]
	rw.path[i].hi = min(saved.hi, nd.threshold)
	rw.walk(nd.left)
	rw.path[i] = saved
	rw.path[i].lo = max(saved.lo, nd.threshold)
	rw.walk(nd.right)
	rw.path[i] = saved
	if saved.lo == math.Inf(-1) && saved.hi == math.Inf(1) {
		rw.path = rw.path[:i]
	}
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func (rw *rulesWriter) leaf(s [2]float64) {
	b := &rw.line
	b.Reset()
	b.WriteString(rw.indent)
	b.WriteString("if ")
	first := true
	for _, c := range rw.path {
		if c.lo == math.Inf(-1) && c.hi == math.Inf(1) {
			continue
		}
		if !first {
			b.WriteString(" and ")
		}
		first = false
		name := rw.names.feature(c.f)
		switch {
		case c.lo == math.Inf(-1):
			fmt.Fprintf(b, "%s <= %s", name, formatNum(c.hi))
		case c.hi == math.Inf(1):
			fmt.Fprintf(b, "%s > %s", name, formatNum(c.lo))
		default:
			fmt.Fprintf(b, "%s < %s <= %s", formatNum(c.lo), name, formatNum(c.hi))
		}
	}
	if first {
		b.WriteString("true")
	}
	n := s[0] + s[1]
	cls, p := 1, 0.5
	if n > 0 {
		if s[1] >= s[0] {
			p = s[1] / n
		} else {
			cls, p = 0, s[0]/n
		}
	}
	fmt.Fprintf(b, " then %s (p=%.2f, n=%.0f)\n", rw.names.class(cls), p, n)
	_, rw.err = io.WriteString(rw.w, b.String())
}
