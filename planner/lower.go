package planner

import (
	"fmt"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// Optimize rewrites a logical plan into an equivalent, cheaper one. Today it
// pushes filter conjuncts down to the lowest operator that can evaluate them
// and merges them into join conditions, so that a comma join with WHERE
// equalities becomes a chain of equi-joins instead of cross products.
//
// Both passes keep the plan a DAG: a subtree shared by two consumers (the
// outer relation of a decorrelated subquery, say) is rewritten once.
func Optimize(r Rel) Rel {
	o := &optimizer{reordered: map[Rel]Rel{}, pushed: map[Rel]Rel{}}
	return o.push(o.reorderJoins(r), nil)
}

type optimizer struct {
	reordered map[Rel]Rel
	pushed    map[Rel]Rel // results of o.push(r, nil)
}

// push returns r with the conjuncts preds (over r's columns) applied, placed
// as deep as they can go.
func (o *optimizer) push(r Rel, preds []expr.Expr) Rel {
	if len(preds) == 0 {
		if done, ok := o.pushed[r]; ok {
			return done
		}
		out := o.pushNode(r, nil)
		o.pushed[r] = out
		return out
	}
	return o.pushNode(r, preds)
}

func (o *optimizer) pushNode(r Rel, preds []expr.Expr) Rel {
	switch r := r.(type) {
	case *Filter:
		return o.push(r.Input, append(preds, Conjuncts(r.Pred)...))
	case *Join:
		nl := len(r.Left.Types())
		var left, right, above, on []expr.Expr
		onTerms := Conjuncts(r.On)
		switch r.Kind {
		case InnerJoin:
			onTerms = append(onTerms, preds...)
		default:
			// Predicates above an outer join stay above it, except those over
			// the preserved side only.
			for _, p := range preds {
				side := sideOf(p, nl)
				switch {
				case side == sideLeft && r.Kind == LeftJoin:
					left = append(left, p)
				case side == sideRight && r.Kind == RightJoin:
					right = append(right, shift(p, -nl))
				default:
					above = append(above, p)
				}
			}
		}
		for _, p := range onTerms {
			side := sideOf(p, nl)
			switch {
			case side == sideLeft && (r.Kind == InnerJoin || r.Kind == RightJoin):
				left = append(left, p)
			case side == sideRight && (r.Kind == InnerJoin || r.Kind == LeftJoin):
				right = append(right, shift(p, -nl))
			default:
				on = append(on, p)
			}
		}
		j := &Join{Kind: r.Kind, Left: o.push(r.Left, left), Right: o.push(r.Right, right), On: AndOf(on)}
		return wrapFilter(j, above)
	case *Project:
		// Push through a projection by substituting the projected expressions
		// for the columns the predicates read.
		var down, above []expr.Expr
		for _, p := range preds {
			// Substituting a volatile projection (random()) would evaluate
			// it a second time, with another result.
			volatile := containsVolatile(p)
			for c := range expr.Columns(p) {
				volatile = volatile || containsVolatile(r.Exprs[c])
			}
			if volatile {
				above = append(above, p)
				continue
			}
			down = append(down, expr.Map(p, func(x expr.Expr) expr.Expr {
				if c, ok := x.(*expr.Col); ok {
					return r.Exprs[c.Idx]
				}
				return x
			}))
		}
		return wrapFilter(&Project{Input: o.push(r.Input, down), Exprs: r.Exprs}, above)
	case *Aggregate:
		// A predicate on group keys only selects whole groups: it can be
		// applied to the input rows instead (not for a scalar aggregate,
		// whose one row exists even with no input).
		var down, above []expr.Expr
		for _, p := range preds {
			if cols := expr.Columns(p); len(r.Keys) > 0 && len(cols) > 0 && maxCol(cols) < len(r.Keys) && !containsVolatile(p) {
				down = append(down, expr.Shift(p, func(i int) int { return r.Keys[i] }))
			} else {
				above = append(above, p)
			}
		}
		return wrapFilter(&Aggregate{Input: o.push(r.Input, down), Keys: r.Keys, Aggs: r.Aggs, Global: r.Global}, above)
	case *FlatMap:
		// Predicates over the input columns alone hold for every row an
		// input row yields, so they filter the input instead.
		var down, above []expr.Expr
		n := len(r.Input.Types())
		for _, p := range preds {
			if cols := expr.Columns(p); len(cols) > 0 && maxCol(cols) < n && !containsVolatile(p) {
				down = append(down, p)
			} else {
				above = append(above, p)
			}
		}
		return wrapFilter(&FlatMap{Input: o.push(r.Input, down), Calls: r.Calls}, above)
	case *Distinct:
		return &Distinct{Input: o.push(r.Input, preds)}
	case *Session:
		// A predicate on the key columns only selects whole key groups,
		// whose sessions do not depend on other groups.
		var down, above []expr.Expr
		for _, p := range preds {
			if cols := expr.Columns(p); len(cols) > 0 && subset(cols, r.Keys) && !containsVolatile(p) {
				down = append(down, p)
			} else {
				above = append(above, p)
			}
		}
		return wrapFilter(&Session{Input: o.push(r.Input, down), Time: r.Time, Keys: r.Keys, Gap: r.Gap}, above)
	case *SetOp:
		return wrapFilter(&SetOp{Kind: r.Kind, All: r.All, Left: o.push(r.Left, nil), Right: o.push(r.Right, nil)}, preds)
	case *TopK:
		limit := r.Limit
		if r.RowNumber {
			limit = rankLimit(limit, len(r.Types())-1, preds)
		}
		// A predicate on the partition columns only selects whole groups,
		// so it commutes with the per-group ranking.
		var down, above []expr.Expr
		for _, p := range preds {
			if cols := expr.Columns(p); len(cols) > 0 && subset(cols, r.Group) && !containsVolatile(p) {
				down = append(down, p)
			} else {
				above = append(above, p)
			}
		}
		return wrapFilter(&TopK{Input: o.push(r.Input, down), Group: r.Group, Order: r.Order, Limit: limit, Offset: r.Offset, RowNumber: r.RowNumber}, above)
	}
	return wrapFilter(r, preds)
}

func containsVolatile(e expr.Expr) bool {
	v := false
	expr.Walk(e, func(x expr.Expr) bool {
		if c, ok := x.(*expr.Call); ok && c.Fn.Volatile {
			v = true
		}
		return !v
	})
	return v
}

func wrapFilter(r Rel, preds []expr.Expr) Rel {
	if len(preds) == 0 {
		return r
	}
	return &Filter{Input: r, Pred: AndOf(preds)}
}

type side uint8

const (
	sideNone side = iota // reads no column
	sideLeft
	sideRight
	sideBoth
)

func sideOf(e expr.Expr, nl int) side {
	s := sideNone
	for c := range expr.Columns(e) {
		cs := sideLeft
		if c >= nl {
			cs = sideRight
		}
		if s == sideNone {
			s = cs
		} else if s != cs {
			return sideBoth
		}
	}
	if s == sideNone {
		return sideLeft // constants can go anywhere; evaluate them early
	}
	return s
}

func shift(e expr.Expr, by int) expr.Expr {
	return expr.Shift(e, func(i int) int { return i + by })
}

// Lower turns an optimized logical plan into a dataflow plan. Shared
// logical subtrees lower to shared dataflow nodes, which the dataflow runs
// once.
func Lower(r Rel) (dataflow.Plan, error) {
	l := &lowerer{memo: map[Rel]dataflow.Plan{}}
	return l.lower(r)
}

type lowerer struct{ memo map[Rel]dataflow.Plan }

func (l *lowerer) lower(r Rel) (dataflow.Plan, error) {
	if p, ok := l.memo[r]; ok {
		return p, nil
	}
	p, err := l.lowerNode(r)
	if err != nil {
		return nil, err
	}
	l.memo[r] = p
	return p, nil
}

func (l *lowerer) lowerNode(r Rel) (dataflow.Plan, error) {
	switch r := r.(type) {
	case *Scan:
		return &dataflow.Get{ID: r.ID, Name: r.Name, Typs: r.Typs, LookupCols: r.LookupCols, Lookup: r.Lookup}, nil
	case *Values:
		return &dataflow.Constant{Rows: r.Rows, Typs: r.Typs}, nil
	case *Filter:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return &dataflow.Filter{Input: in, Pred: r.Pred}, nil
	case *Project:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		if isIdentity(r.Exprs, len(in.Types())) {
			return in, nil
		}
		return &dataflow.Map{Input: in, Exprs: r.Exprs}, nil
	case *Distinct:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return distinct(in), nil
	case *FlatMap:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return &dataflow.FlatMap{Input: in, Calls: r.Calls}, nil
	case *Aggregate:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return &dataflow.Reduce{Input: in, Keys: r.Keys, Aggs: r.Aggs, Global: r.Global}, nil
	case *TopK:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return &dataflow.TopK{Input: in, Group: r.Group, Order: r.Order, Limit: r.Limit, Offset: r.Offset, RowNumber: r.RowNumber}, nil
	case *Session:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return &dataflow.Session{Input: in, Time: r.Time, Keys: r.Keys, Gap: r.Gap}, nil
	case *SetOp:
		return l.lowerSetOp(r)
	case *Join:
		return l.lowerJoin(r)
	}
	return nil, fmt.Errorf("planner: cannot lower %T", r)
}

func distinct(in dataflow.Plan) dataflow.Plan {
	n := len(in.Types())
	keys := make([]int, n)
	for i := range keys {
		keys[i] = i
	}
	return &dataflow.Reduce{Input: in, Keys: keys}
}

func (l *lowerer) lowerSetOp(r *SetOp) (dataflow.Plan, error) {
	a, err := l.lower(r.Left)
	if err != nil {
		return nil, err
	}
	b, err := l.lower(r.Right)
	if err != nil {
		return nil, err
	}
	switch r.Kind {
	case Union:
		u := &dataflow.Union{Ins: []dataflow.Plan{a, b}}
		if r.All {
			return u, nil
		}
		return distinct(u), nil
	case Except:
		if !r.All {
			a, b = distinct(a), distinct(b)
		}
		return &dataflow.Threshold{Input: &dataflow.Union{Ins: []dataflow.Plan{a, &dataflow.Negate{Input: b}}}}, nil
	default: // Intersect: A − max(A − B, 0)
		if !r.All {
			a, b = distinct(a), distinct(b)
		}
		onlyA := &dataflow.Threshold{Input: &dataflow.Union{Ins: []dataflow.Plan{a, &dataflow.Negate{Input: b}}}}
		return &dataflow.Union{Ins: []dataflow.Plan{a, &dataflow.Negate{Input: onlyA}}}, nil
	}
}

// lowerJoin builds the inner equi-join of the condition's equalities with a
// residual filter, and for outer joins adds the unmatched rows of the
// preserved side(s), padded with NULLs:
//
//	unmatched(L) = L − π_L(L ⋈ distinct(π_L(matched)))
func (l *lowerer) lowerJoin(r *Join) (dataflow.Plan, error) {
	left, err := l.lower(r.Left)
	if err != nil {
		return nil, err
	}
	right, err := l.lower(r.Right)
	if err != nil {
		return nil, err
	}
	lt, rt := left.Types(), right.Types()
	nl := len(lt)
	j := &dataflow.Join{Left: left, Right: right}
	var residual []expr.Expr
	for _, t := range Conjuncts(r.On) {
		if c, ok := t.(*expr.Compare); ok && (c.Op == expr.EQ || c.Op == expr.IsNotDistinct) {
			ls, rs := sideOf(c.L, nl), sideOf(c.R, nl)
			nullEq := c.Op == expr.IsNotDistinct
			if len(j.LeftKey) == 0 || j.NullEq == nullEq {
				switch {
				case ls == sideLeft && rs == sideRight && len(expr.Columns(c.L)) > 0 && len(expr.Columns(c.R)) > 0:
					j.LeftKey = append(j.LeftKey, c.L)
					j.RightKey = append(j.RightKey, shift(c.R, -nl))
					j.NullEq = nullEq
					continue
				case ls == sideRight && rs == sideLeft && len(expr.Columns(c.L)) > 0 && len(expr.Columns(c.R)) > 0:
					j.LeftKey = append(j.LeftKey, c.R)
					j.RightKey = append(j.RightKey, shift(c.L, -nl))
					j.NullEq = nullEq
					continue
				}
			}
		}
		residual = append(residual, t)
	}
	// Keys must have equal types on both sides to compare equal.
	for i := range j.LeftKey {
		if j.LeftKey[i].Type() != j.RightKey[i].Type() {
			ct, ok := types.Common(j.LeftKey[i].Type(), j.RightKey[i].Type())
			if !ok {
				return nil, fmt.Errorf("planner: join key types %s and %s", j.LeftKey[i].Type(), j.RightKey[i].Type())
			}
			if j.LeftKey[i], err = expr.NewCast(j.LeftKey[i], ct); err != nil {
				return nil, err
			}
			if j.RightKey[i], err = expr.NewCast(j.RightKey[i], ct); err != nil {
				return nil, err
			}
		}
	}
	var matched dataflow.Plan = j
	if len(residual) > 0 {
		matched = &dataflow.Filter{Input: j, Pred: AndOf(residual)}
	}
	if r.Kind == InnerJoin {
		return matched, nil
	}
	ins := []dataflow.Plan{matched}
	if r.Kind == LeftJoin || r.Kind == FullJoin {
		ins = append(ins, padded(unmatched(left, matched, 0), 0, rt))
	}
	if r.Kind == RightJoin || r.Kind == FullJoin {
		ins = append(ins, padded(unmatched(right, matched, nl), len(lt), nil, lt...))
	}
	return &dataflow.Union{Ins: ins}, nil
}

// unmatched returns the rows of side (whose columns start at offset in the
// matched rows) that have no match.
func unmatched(side, matched dataflow.Plan, offset int) dataflow.Plan {
	st := side.Types()
	proj := make([]expr.Expr, len(st))
	keys := make([]expr.Expr, len(st))
	for i, t := range st {
		proj[i] = &expr.Col{Idx: offset + i, Typ: t}
		keys[i] = &expr.Col{Idx: i, Typ: t}
	}
	matchedRows := distinct(&dataflow.Map{Input: matched, Exprs: proj})
	semi := &dataflow.Join{Left: side, Right: matchedRows, LeftKey: keys, RightKey: keys, NullEq: true}
	back := &dataflow.Map{Input: semi, Exprs: keys}
	return &dataflow.Union{Ins: []dataflow.Plan{side, &dataflow.Negate{Input: back}}}
}

// padded places rows at column offset `at` of a wider row: NULLs of types
// before (when at > 0) come first, then the row, then NULLs of after.
func padded(in dataflow.Plan, at int, after []types.Type, before ...types.Type) dataflow.Plan {
	var exprs []expr.Expr
	for _, t := range before {
		exprs = append(exprs, &expr.Const{Val: types.Null(t)})
	}
	for i, t := range in.Types() {
		exprs = append(exprs, &expr.Col{Idx: i, Typ: t})
	}
	for _, t := range after {
		exprs = append(exprs, &expr.Const{Val: types.Null(t)})
	}
	_ = at
	return &dataflow.Map{Input: in, Exprs: exprs}
}

// rankLimit tightens a row-numbering TopK's limit with the predicates on
// its rank column (rn <= N, rn < N, rn = 1): rows ranked beyond them can
// never pass, so the TopK need not emit (or retract) them. The predicates
// stay above the TopK.
func rankLimit(limit int64, rankCol int, preds []expr.Expr) int64 {
	for _, p := range preds {
		c, ok := p.(*expr.Compare)
		if !ok {
			continue
		}
		col, cok := c.L.(*expr.Col)
		k, kok := c.R.(*expr.Const)
		op := c.Op
		if !cok || !kok {
			col, cok = c.R.(*expr.Col)
			k, kok = c.L.(*expr.Const)
			op = op.Commute()
		}
		if !cok || !kok || col.Idx != rankCol || k.Val.IsNull() || k.Val.Type().Family() != types.FamNumeric {
			continue
		}
		n := int64(k.Val.AsFloat())
		bound := int64(-1)
		switch op {
		case expr.LE, expr.EQ:
			bound = n
		case expr.LT:
			bound = n - 1
		}
		if bound >= 0 && (limit < 0 || bound < limit) {
			limit = bound
		}
	}
	return limit
}

func maxCol(cols map[int]bool) int {
	m := -1
	for c := range cols {
		m = max(m, c)
	}
	return m
}

func subset(cols map[int]bool, of []int) bool {
	for c := range cols {
		found := false
		for _, g := range of {
			if g == c {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// isIdentity reports whether exprs just pass an input of width n through.
func isIdentity(exprs []expr.Expr, n int) bool {
	if len(exprs) != n {
		return false
	}
	for i, e := range exprs {
		if c, ok := e.(*expr.Col); !ok || c.Idx != i {
			return false
		}
	}
	return true
}
