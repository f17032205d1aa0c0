package dataflow

import (
	"fmt"
	"strings"

	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// Plan is a dataflow plan: a tree of relational operators over collections
// of (row, time, diff) updates. It is the last stage before running
// operators: every node has a fixed output arity and column types, and every
// operator is either linear (applied to the change alone) or keeps its state
// in arrangements.
type Plan interface {
	// Types returns the output column types.
	Types() []types.Type
	// Inputs returns the node's inputs, in order.
	Inputs() []Plan
	// describe renders the node itself (without inputs) for EXPLAIN.
	describe() string
}

// CollectionID names a durable collection (a table's or a source's event
// log) or the output of a materialized view.
type CollectionID uint64

// Get reads a collection: its full contents at the first step (a snapshot),
// then its changes.
type Get struct {
	ID   CollectionID
	Name string
	Typs []types.Type
	// Lookup, when set, restricts a one-shot read to the rows whose
	// LookupCols equal Lookup: the reader answers it from an index instead
	// of scanning. (Only ad-hoc queries use it; a filter above the Get still
	// checks every row.)
	LookupCols []int
	Lookup     types.Row
}

// Constant is a fixed collection, emitted at the first step.
type Constant struct {
	Rows []types.Row
	Typs []types.Type
}

// Map computes each output column from the input row.
type Map struct {
	Input Plan
	Exprs []expr.Expr
}

// FlatMap evaluates set-returning functions per input row (PostgreSQL's
// ProjectSet): an input row yields as many rows as its longest call
// returns, each the input row followed by every call's columns for that
// position (NULLs where a call has returned fewer rows). A row for which
// every call returns nothing yields nothing. It is linear: each output row
// keeps its input row's diff.
type FlatMap struct {
	Input Plan
	Calls []expr.SetCall
}

// Filter keeps the input rows for which Pred is true.
type Filter struct {
	Input Plan
	Pred  expr.Expr
}

// Join is an inner equi-join; its output is the left row followed by the
// right row. Rows whose key contains NULL never match, unless NullEq is set
// (the key compares with IS NOT DISTINCT FROM). An empty key is a cross join.
type Join struct {
	Left, Right       Plan
	LeftKey, RightKey []expr.Expr
	NullEq            bool
}

// Union adds its inputs' collections (UNION ALL).
type Union struct{ Ins []Plan }

// Negate flips the sign of every diff (for EXCEPT and anti-joins).
type Negate struct{ Input Plan }

// Threshold keeps each row with multiplicity max(count, 0).
type Threshold struct{ Input Plan }

// AggCall is one aggregate of a Reduce.
type AggCall struct {
	Agg      *expr.Aggregate
	Args     []expr.Expr
	Distinct bool
	Filter   expr.Expr // nil when there is no FILTER clause
	Ret      types.Type
	// OrderKeys is the number of trailing Args that are the call's ORDER BY
	// keys, with their directions (for aggregates whose state is
	// expr.Ordered; 0 otherwise).
	OrderKeys  int
	Desc       []bool
	NullsFirst []bool
}

// Reduce groups by the Keys columns and computes Aggs per group; output is
// the key columns followed by one column per aggregate. With no keys and
// Global set it is a scalar aggregate: one row even over no input.
type Reduce struct {
	Input  Plan
	Keys   []int
	Aggs   []AggCall
	Global bool
	// Close, when set, makes the Reduce emit each group once, when a
	// watermark closes it, and forget it (EMIT ON WINDOW CLOSE:
	// windowclose.go).
	Close *WindowClose
}

// SortKey orders rows by one column.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// TopK keeps, per group of the Group columns, the rows ranked Offset+1 to
// Offset+Limit by Order (Limit < 0: no limit). With RowNumber it appends
// each row's rank within its group (row_number()).
type TopK struct {
	Input     Plan
	Group     []int
	Order     []SortKey
	Limit     int64
	Offset    int64
	RowNumber bool
}

func (p *Get) Types() []types.Type      { return p.Typs }
func (p *Constant) Types() []types.Type { return p.Typs }
func (p *Map) Types() []types.Type      { return exprTypes(p.Exprs) }
func (p *Filter) Types() []types.Type   { return p.Input.Types() }
func (p *FlatMap) Types() []types.Type {
	out := append([]types.Type(nil), p.Input.Types()...)
	for _, c := range p.Calls {
		for _, col := range c.Func.Cols {
			out = append(out, col.Typ)
		}
	}
	return out
}
func (p *Union) Types() []types.Type     { return p.Ins[0].Types() }
func (p *Negate) Types() []types.Type    { return p.Input.Types() }
func (p *Threshold) Types() []types.Type { return p.Input.Types() }
func (p *Join) Types() []types.Type {
	return append(append([]types.Type(nil), p.Left.Types()...), p.Right.Types()...)
}
func (p *Reduce) Types() []types.Type {
	in := p.Input.Types()
	var out []types.Type
	for _, k := range p.Keys {
		out = append(out, in[k])
	}
	for _, a := range p.Aggs {
		out = append(out, a.Ret)
	}
	return out
}
func (p *TopK) Types() []types.Type {
	out := append([]types.Type(nil), p.Input.Types()...)
	if p.RowNumber {
		out = append(out, types.Int8)
	}
	return out
}

func exprTypes(es []expr.Expr) []types.Type {
	out := make([]types.Type, len(es))
	for i, e := range es {
		out[i] = e.Type()
	}
	return out
}

func (p *Get) Inputs() []Plan       { return nil }
func (p *Constant) Inputs() []Plan  { return nil }
func (p *Map) Inputs() []Plan       { return []Plan{p.Input} }
func (p *Filter) Inputs() []Plan    { return []Plan{p.Input} }
func (p *FlatMap) Inputs() []Plan   { return []Plan{p.Input} }
func (p *Join) Inputs() []Plan      { return []Plan{p.Left, p.Right} }
func (p *Union) Inputs() []Plan     { return p.Ins }
func (p *Negate) Inputs() []Plan    { return []Plan{p.Input} }
func (p *Threshold) Inputs() []Plan { return []Plan{p.Input} }
func (p *Reduce) Inputs() []Plan    { return []Plan{p.Input} }
func (p *TopK) Inputs() []Plan      { return []Plan{p.Input} }

func (p *Get) describe() string {
	if p.LookupCols != nil {
		vals := make([]string, len(p.Lookup))
		for i, d := range p.Lookup {
			vals[i] = (&expr.Const{Val: d}).String()
		}
		return fmt.Sprintf("Get %s (index lookup %v = [%s])", p.Name, p.LookupCols, strings.Join(vals, ", "))
	}
	return fmt.Sprintf("Get %s", p.Name)
}
func (p *Constant) describe() string {
	return fmt.Sprintf("Constant (%d rows)", len(p.Rows))
}
func (p *Map) describe() string    { return "Map " + exprList(p.Exprs) }
func (p *Filter) describe() string { return "Filter " + p.Pred.String() }
func (p *FlatMap) describe() string {
	parts := make([]string, len(p.Calls))
	for i, c := range p.Calls {
		parts[i] = c.String()
	}
	return "FlatMap " + strings.Join(parts, ", ")
}
func (p *Join) describe() string {
	if len(p.LeftKey) == 0 {
		return "CrossJoin"
	}
	eq := "="
	if p.NullEq {
		eq = "IS NOT DISTINCT FROM"
	}
	var parts []string
	for i := range p.LeftKey {
		parts = append(parts, fmt.Sprintf("left %s %s right %s", p.LeftKey[i], eq, p.RightKey[i]))
	}
	return "Join on " + strings.Join(parts, " AND ")
}
func (p *Union) describe() string     { return "Union" }
func (p *Negate) describe() string    { return "Negate" }
func (p *Threshold) describe() string { return "Threshold" }
func (p *Reduce) describe() string {
	var aggs []string
	for _, a := range p.Aggs {
		s := a.Agg.Name + "("
		if a.Distinct {
			s += "DISTINCT "
		}
		s += strings.TrimSuffix(strings.TrimPrefix(exprList(a.Args), "["), "]") + ")"
		if a.Filter != nil {
			s += " FILTER (WHERE " + a.Filter.String() + ")"
		}
		aggs = append(aggs, s)
	}
	s := fmt.Sprintf("Reduce group=%v aggs=[%s]", p.Keys, strings.Join(aggs, ", "))
	if p.Close != nil {
		s += " " + p.Close.describe()
	}
	return s
}
func (p *TopK) describe() string {
	s := fmt.Sprintf("TopK group=%v order=%v", p.Group, p.Order)
	if p.Limit >= 0 {
		s += fmt.Sprintf(" limit=%d", p.Limit)
	}
	if p.Offset > 0 {
		s += fmt.Sprintf(" offset=%d", p.Offset)
	}
	if p.RowNumber {
		s += " row_number"
	}
	return s
}

func exprList(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Explain renders a plan as an indented tree, one node per line. A node
// that several consumers share is printed once; later uses refer to it by
// number ("-> #3").
func Explain(p Plan) string {
	return ExplainDAG(p, Plan.Inputs, Plan.describe)
}

// ExplainDAG renders a DAG from root as an indented tree, one node per
// line, printing a shared node once and referring back to it after.
func ExplainDAG[N comparable](root N, children func(N) []N, describe func(N) string) string {
	uses := map[N]int{}
	var count func(n N)
	count = func(n N) {
		uses[n]++
		if uses[n] == 1 {
			for _, c := range children(n) {
				count(c)
			}
		}
	}
	count(root)
	var b strings.Builder
	seen := map[N]int{}
	var walk func(n N, depth int)
	walk = func(n N, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		if id, ok := seen[n]; ok {
			fmt.Fprintf(&b, "-> #%d\n", id)
			return
		}
		seen[n] = len(seen) + 1
		if uses[n] > 1 {
			fmt.Fprintf(&b, "#%d ", seen[n])
		}
		b.WriteString(describe(n))
		b.WriteByte('\n')
		for _, c := range children(n) {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return b.String()
}

// Visit calls f once for every node of the DAG p, a node before its
// inputs, inputs in order.
func Visit(p Plan, f func(Plan)) {
	seen := map[Plan]bool{}
	var walk func(p Plan)
	walk = func(p Plan) {
		if seen[p] {
			return
		}
		seen[p] = true
		f(p)
		for _, in := range p.Inputs() {
			walk(in)
		}
	}
	walk(p)
}

// Gets returns the distinct collections a plan reads.
func Gets(p Plan) []CollectionID {
	var out []CollectionID
	ids := map[CollectionID]bool{}
	Visit(p, func(p Plan) {
		if g, ok := p.(*Get); ok && !ids[g.ID] {
			ids[g.ID] = true
			out = append(out, g.ID)
		}
	})
	return out
}

// String renders a sort key as in SQL: "#1 DESC" (NULLS FIRST/LAST only
// where it differs from the direction's default).
func (k SortKey) String() string {
	s := fmt.Sprintf("#%d", k.Col)
	if k.Desc {
		s += " DESC"
	}
	if k.NullsFirst != k.Desc {
		if k.NullsFirst {
			s += " NULLS FIRST"
		} else {
			s += " NULLS LAST"
		}
	}
	return s
}

// Exprs returns every scalar expression of a plan (projections, filters,
// join keys, aggregate arguments and filters), each node visited once.
func Exprs(p Plan) []expr.Expr {
	var out []expr.Expr
	Visit(p, func(p Plan) {
		switch n := p.(type) {
		case *Map:
			out = append(out, n.Exprs...)
		case *Filter:
			out = append(out, n.Pred)
		case *FlatMap:
			for _, c := range n.Calls {
				out = append(out, c.Args...)
			}
		case *TemporalFilter:
			for _, b := range n.Bounds {
				out = append(out, b.Expr)
			}
		case *Join:
			out = append(append(out, n.LeftKey...), n.RightKey...)
		case *Reduce:
			for _, a := range n.Aggs {
				out = append(out, a.Args...)
				if a.Filter != nil {
					out = append(out, a.Filter)
				}
			}
		}
	})
	return out
}
