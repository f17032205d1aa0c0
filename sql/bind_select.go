package sql

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// boundQuery is a bound SELECT: its relation, output columns, and the sort
// the client asked for (applied when the result is returned, since a
// collection has no order).
type boundQuery struct {
	rel   planner.Rel
	cols  []scopeCol
	order []dataflow.SortKey
	// visible is the number of leading output columns the client sees; the
	// rest carry ORDER BY keys.
	visible int
	// zoneFolded is set when binding folded a constant with the session's
	// TimeZone (a materialized view checks it, timezone.go).
	zoneFolded bool
}

// subqueryMode says how a decorrelated subquery's select list is built.
type subqueryMode uint8

const (
	modeNone subqueryMode = iota
	modeScalar
	modeExists
	// modeInMatch answers "does some row have y = x?" for x IN (SELECT y ...);
	// the equality is part of the join condition, so it is an equi-join.
	modeInMatch
	// modeIn is x IN (SELECT y ...): modeInMatch and modeInNulls combined.
	modeIn
	// modeInNulls answers "is the subquery empty (0), without NULL y (1),
	// or with a NULL y (2)?", which decides IN's unknown.
	modeInNulls
)

// subqueryCtx is handed to bindSelect for a subquery in an expression: the
// relation D of distinct outer values (its columns come first in the
// subquery's FROM), how many columns it has, and the mode.
type subqueryCtx struct {
	mode  subqueryMode
	d     planner.Rel
	dcols []scopeCol
	// inLeft is the column of D holding the IN operand (modeIn).
	inLeft int
	// inOp is the comparison of x op ANY (subquery) (EQ for IN).
	inOp expr.CmpOp
}

func (b *binder) bindSelectStmt(n *pg.Node, outer *scope) (*boundQuery, error) {
	sel := n.GetSelectStmt()
	if sel == nil {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "%s is not supported as a query", nodeName(n))
	}
	return b.bindSelect(sel, outer, nil, nil)
}

func (b *binder) bindSelect(sel *pg.SelectStmt, outer *scope, corr *correlation, sub *subqueryCtx) (*boundQuery, error) {
	if sel.WithClause != nil {
		if sel.WithClause.Recursive {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "WITH RECURSIVE is not supported")
		}
		saved := b.ctes
		b.ctes = map[string]*boundCTE{}
		for k, v := range saved {
			b.ctes[k] = v
		}
		defer func() { b.ctes = saved }()
		for _, c := range sel.WithClause.Ctes {
			cte := c.GetCommonTableExpr()
			q, err := b.bindSelectStmt(cte.Ctequery, outer)
			if err != nil {
				return nil, err
			}
			cols := renameCols(q.cols[:q.visible], cte.Aliascolnames, strings.ToLower(cte.Ctename))
			b.ctes[strings.ToLower(cte.Ctename)] = &boundCTE{rel: trimCols(q), cols: cols}
		}
	}
	if sel.Op != pg.SetOperation_SETOP_NONE {
		if sub != nil || corr != nil {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "set operations in correlated subqueries are not supported")
		}
		return b.bindSetOp(sel, outer)
	}
	if len(sel.ValuesLists) > 0 {
		return b.bindValues(sel, outer)
	}
	sc := &scope{outer: outer, corr: corr}
	var rel planner.Rel
	if sub != nil {
		rel = sub.d
		sc.cols = append(sc.cols, sub.dcols...)
	}
	for _, f := range sel.FromClause {
		r, cols, err := b.bindFrom(f, sc)
		if err != nil {
			return nil, err
		}
		if rel == nil {
			rel = r
		} else {
			rel = &planner.Join{Kind: planner.InnerJoin, Left: rel, Right: r}
		}
		sc.cols = append(sc.cols, cols...)
	}
	if rel == nil {
		rel = &planner.Values{Rows: []types.Row{{}}}
	}
	hasAggs := len(sel.GroupClause) > 0 || sel.HavingClause != nil || containsAggregate(sel.TargetList)
	nd := 0
	if sub != nil {
		nd = len(sub.dcols)
	}
	// A scalar aggregate over a correlated subquery must yield a row for
	// outer values with no matching rows (count = 0): join D LEFT to the
	// subquery's rows, with the WHERE clause as the join condition, and
	// count a marker column instead of rows.
	var marker expr.Expr
	leftJoinAgg := sub != nil && len(sel.GroupClause) == 0 && (hasAggs || sub.mode != modeScalar)
	if leftJoinAgg {
		// inner = σ_where(D ⋈ rows) (its WHERE may hold further subqueries);
		// then D ⟕ (inner, marker) on D's columns. IN's equality goes first
		// so that nested subqueries see only matching rows.
		if sub.mode == modeInMatch {
			eq, err := b.inEquality(sc, items(sel), sub)
			if err != nil {
				return nil, err
			}
			rel = &planner.Filter{Input: rel, Pred: eq}
		}
		var err error
		if rel, err = b.bindWhere(rel, sel.WhereClause, sc); err != nil {
			return nil, err
		}
		proj := make([]expr.Expr, 0, len(sc.cols)+1)
		for i, c := range sc.cols {
			proj = append(proj, &expr.Col{Idx: i, Typ: c.typ})
		}
		proj = append(proj, &expr.Const{Val: types.NewBool(true)})
		inner := &planner.Project{Input: rel, Exprs: proj}
		var on []expr.Expr
		for j := 0; j < nd; j++ {
			t := sc.cols[j].typ
			on = append(on, &expr.Compare{Op: expr.IsNotDistinct, L: &expr.Col{Idx: j, Typ: t}, R: &expr.Col{Idx: nd + j, Typ: t}})
		}
		cols := append([]scopeCol{}, sc.cols[:nd]...)
		for i, c := range sc.cols {
			if i < nd {
				c.hidden, c.table, c.name = true, "?outer-copy?", "?outer-copy?"
			}
			cols = append(cols, c)
		}
		sc.cols = append(cols, scopeCol{name: "?marker?", typ: types.Bool, hidden: true})
		marker = &expr.Col{Idx: len(sc.cols) - 1, Typ: types.Bool}
		rel = &planner.Join{Kind: planner.LeftJoin, Left: sub.d, Right: inner, On: planner.AndOf(on)}
	} else {
		var err error
		if rel, err = b.bindWhere(rel, sel.WhereClause, sc); err != nil {
			return nil, err
		}
	}

	// Select list (and ORDER BY keys) over either the input or the aggregation.
	var items []*pg.ResTarget
	for _, t := range sel.TargetList {
		items = append(items, t.GetResTarget())
	}
	outScope := sc
	if hasAggs || sub != nil && sub.mode != modeScalar {
		as := &aggScope{input: sc, nkeys: nd}
		for i := 0; i < nd; i++ {
			g := &expr.Col{Idx: i, Typ: sc.cols[i].typ}
			as.groups = append(as.groups, g)
			as.groupStr = append(as.groupStr, g.String())
		}
		if leftJoinAgg {
			as.countStarArg = marker
		}
		for _, g := range sel.GroupClause {
			var e expr.Expr
			var err error
			if c := g.GetAConst(); c != nil && c.GetIval() != nil {
				pos := int(c.GetIval().Ival)
				if pos < 1 || pos > len(items) {
					return nil, errAt(pgerror.New(pgerror.InvalidColumnReference, "GROUP BY position %d is not in select list", pos), c.Location)
				}
				e, err = b.bindExpr(items[pos-1].Val, sc)
			} else if e, err = b.bindGroupName(g, sc, items); err != nil {
				return nil, err
			}
			if err != nil {
				return nil, err
			}
			as.groups = append(as.groups, e)
			as.groupStr = append(as.groupStr, e.String())
		}
		outScope = &scope{cols: sc.cols, outer: sc.outer, corr: sc.corr, agg: as}
		// The select list is bound first (it registers aggregates), then the
		// aggregation is built, then HAVING/select exprs are evaluated over it.
		// Subqueries in them join against the aggregation's output, which
		// does not exist yet: the first pass leaves them out, and a second
		// pass binds everything again over the built aggregation.
		secondPass := sub == nil && (hasSubLinkAny(sel.TargetList) || hasSubLink(sel.HavingClause) || hasSubLinkAny(sel.SortClause))
		savedDefer := b.deferSubLinks
		b.deferSubLinks = secondPass
		defer func() { b.deferSubLinks = savedDefer }()
		// Subqueries inside aggregate arguments join against the input rows
		// (bindAgg binds them at once, extending b.rel).
		b.rel = rel
		var exprs []expr.Expr
		var names []string
		switch {
		case sub != nil && (sub.mode == modeExists || sub.mode == modeInMatch):
			cnt, err := as.bindAgg(b, "count", &pg.FuncCall{AggStar: true})
			if err != nil {
				return nil, err
			}
			exprs = []expr.Expr{&expr.Compare{Op: expr.GT, L: cnt, R: &expr.Const{Val: types.NewInt8(0)}}}
			names = []string{"exists"}
		case sub != nil && sub.mode == modeInNulls:
			e, err := b.inNullsItem(as, sc, items, marker)
			if err != nil {
				return nil, err
			}
			exprs, names = []expr.Expr{e}, []string{"in"}
		default:
			var err error
			exprs, names, err = b.bindTargets(items, outScope)
			if err != nil {
				return nil, err
			}
		}
		var having expr.Expr
		if sel.HavingClause != nil {
			h, err := b.bindBool(sel.HavingClause, outScope, "argument of HAVING")
			if err != nil {
				return nil, err
			}
			having = h
		}
		order, orderExprs, distinctOn, err := b.bindOrderDistinct(sel, items, names, exprs, outScope)
		if err != nil {
			return nil, err
		}
		rel = b.rel
		b.rel = nil
		// Pre-project the input to group keys then aggregate arguments.
		pre := append([]expr.Expr{}, as.groups...)
		aggs := make([]dataflow.AggCall, len(as.aggs))
		for i, a := range as.aggs {
			c := a
			c.Args = nil
			for _, arg := range a.Args {
				c.Args = append(c.Args, &expr.Col{Idx: len(pre), Typ: arg.Type()})
				pre = append(pre, arg)
			}
			if a.Filter != nil {
				c.Filter = &expr.Col{Idx: len(pre), Typ: types.Bool}
				pre = append(pre, a.Filter)
			}
			aggs[i] = c
		}
		keys := make([]int, len(as.groups))
		for i := range keys {
			keys[i] = i
		}
		rel = &planner.Aggregate{Input: &planner.Project{Input: rel, Exprs: pre}, Keys: keys, Aggs: aggs, Global: len(as.groups) == 0}
		if secondPass {
			b.deferSubLinks = savedDefer
			return b.bindOverAggregate(sel, rel, sc, as, items, sub, nd)
		}
		if having != nil {
			rel = &planner.Filter{Input: rel, Pred: having}
		}
		return b.finishSelect(sel, rel, exprs, names, order, orderExprs, distinctOn, sub, nd)
	}
	rel, err := b.bindSetFuncs(rel, items, sc)
	if err != nil {
		return nil, err
	}
	if rel, err = b.bindWindows(rel, items, sc); err != nil {
		return nil, err
	}
	return b.bindSelectList(sel, rel, items, outScope, sub, nd)
}

// bindSelectList binds the select list and ORDER BY (and DISTINCT ON) over
// rel — which subqueries in them extend — and finishes the query.
func (b *binder) bindSelectList(sel *pg.SelectStmt, rel planner.Rel, items []*pg.ResTarget, sc *scope, sub *subqueryCtx, nd int) (*boundQuery, error) {
	b.rel = rel
	exprs, names, err := b.bindTargets(items, sc)
	if err != nil {
		return nil, err
	}
	order, orderExprs, distinctOn, err := b.bindOrderDistinct(sel, items, names, exprs, sc)
	if err != nil {
		return nil, err
	}
	rel = b.rel
	b.rel = nil
	return b.finishSelect(sel, rel, exprs, names, order, orderExprs, distinctOn, sub, nd)
}

// bindOverAggregate binds HAVING, the select list and ORDER BY of an
// aggregating query over its built aggregation agg, so that subqueries in
// them can join against it (and refer to its group keys). Every aggregate
// was registered by the first pass, so as only looks them up.
func (b *binder) bindOverAggregate(sel *pg.SelectStmt, agg planner.Rel, in *scope, as *aggScope, items []*pg.ResTarget, sub *subqueryCtx, nd int) (*boundQuery, error) {
	cols := make([]scopeCol, 0, len(as.groups)+len(as.aggs))
	for _, g := range as.groups {
		c := scopeCol{name: "?group?", typ: g.Type(), hidden: true}
		if col, ok := g.(*expr.Col); ok {
			c = in.cols[col.Idx]
		}
		cols = append(cols, c)
	}
	for _, a := range as.aggs {
		cols = append(cols, scopeCol{name: "?aggregate?", typ: a.Ret, hidden: true})
	}
	nAggs := len(as.aggs)
	ps := &scope{cols: cols, outer: in.outer, corr: in.corr, agg: as}
	rel := agg
	if sel.HavingClause != nil {
		b.rel = rel
		h, err := b.bindBool(sel.HavingClause, ps, "argument of HAVING")
		if err != nil {
			return nil, err
		}
		rel = &planner.Filter{Input: b.rel, Pred: h}
	}
	q, err := b.bindSelectList(sel, rel, items, ps, sub, nd)
	if err != nil {
		return nil, err
	}
	if len(as.aggs) != nAggs {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "aggregates inside subqueries of an aggregating query's select list are not supported")
	}
	return q, nil
}

// singleRow reports whether a subquery returns at most one row per outer
// value whatever the data: an aggregate without GROUP BY, or LIMIT 1.
func singleRow(sel *pg.SelectStmt) bool {
	if sel.Op != pg.SetOperation_SETOP_NONE {
		return false
	}
	if len(sel.GroupClause) == 0 && (containsAggregate(sel.TargetList) || sel.HavingClause != nil) {
		return true
	}
	if c := sel.LimitCount.GetAConst(); c != nil && c.GetIval() != nil && c.GetIval().Ival <= 1 {
		return true
	}
	return false
}

func hasSubLinkAny(ns []*pg.Node) bool {
	for _, n := range ns {
		if hasSubLink(n) {
			return true
		}
	}
	return false
}

// bindOrderDistinct binds ORDER BY and, for SELECT DISTINCT ON (...), the
// DISTINCT ON expressions (as output columns, appending hidden ones where
// needed). PostgreSQL requires ORDER BY to start with them.
func (b *binder) bindOrderDistinct(sel *pg.SelectStmt, items []*pg.ResTarget, names []string, exprs []expr.Expr, sc *scope) ([]dataflow.SortKey, []expr.Expr, []int, error) {
	order, extra, err := b.bindOrder(sel.SortClause, items, names, exprs, sc)
	if err != nil || len(sel.DistinctClause) == 0 || sel.DistinctClause[0].GetNode() == nil {
		return order, extra, nil, err
	}
	var sorts []*pg.Node
	for _, d := range sel.DistinctClause {
		sorts = append(sorts, &pg.Node{Node: &pg.Node_SortBy{SortBy: &pg.SortBy{Node: d}}})
	}
	all := append(append([]expr.Expr{}, exprs...), extra...)
	keys, more, err := b.bindOrder(sorts, items, names, all, sc)
	if err != nil {
		return nil, nil, nil, err
	}
	var cols []int
	for i, k := range keys {
		if i < len(order) && order[i].Col != k.Col {
			return nil, nil, nil, pgerror.New(pgerror.InvalidColumnReference, "SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
		}
		cols = append(cols, k.Col)
	}
	return order, append(extra, more...), cols, nil
}

// bindWindows computes the window functions of a select list. Only
// row_number() is supported: it is a TopK over the partition, ordered by the
// window's ORDER BY, that appends each row's rank; a filter on the rank
// (WHERE rn <= N in an enclosing query) becomes the TopK's limit, so the
// classic top-N-per-group query is maintained incrementally.
func (b *binder) bindWindows(rel planner.Rel, items []*pg.ResTarget, sc *scope) (planner.Rel, error) {
	for _, it := range items {
		fc := it.Val.GetFuncCall()
		if fc == nil || fc.Over == nil {
			continue
		}
		name := funcName(fc.Funcname)
		if name != "row_number" || len(fc.Args) > 0 {
			return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "window function %s is not supported (only row_number())", name), fc.Location)
		}
		w := fc.Over
		if w.Name != "" || w.Refname != "" {
			return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "named windows are not supported"), fc.Location)
		}
		n := len(sc.cols)
		exprs := make([]expr.Expr, 0, n+len(w.PartitionClause)+len(w.OrderClause))
		for i, c := range sc.cols {
			exprs = append(exprs, &expr.Col{Idx: i, Typ: c.typ})
		}
		b.rel = rel
		var group []int
		for _, p := range w.PartitionClause {
			e, err := b.bindExpr(p, sc)
			if err != nil {
				return nil, err
			}
			group = append(group, len(exprs))
			exprs = append(exprs, e)
		}
		var order []dataflow.SortKey
		for _, o := range w.OrderClause {
			sb := o.GetSortBy()
			e, err := b.bindExpr(sb.Node, sc)
			if err != nil {
				return nil, err
			}
			key := dataflow.SortKey{Col: len(exprs), Desc: sb.SortbyDir == pg.SortByDir_SORTBY_DESC}
			key.NullsFirst = key.Desc
			switch sb.SortbyNulls {
			case pg.SortByNulls_SORTBY_NULLS_FIRST:
				key.NullsFirst = true
			case pg.SortByNulls_SORTBY_NULLS_LAST:
				key.NullsFirst = false
			}
			order = append(order, key)
			exprs = append(exprs, e)
		}
		rel = b.rel
		b.rel = nil
		// Columns the partition/order expressions added (subqueries) are
		// already in sc; the computed keys follow as hidden columns.
		for i := len(sc.cols); i < len(exprs); i++ {
			sc.cols = append(sc.cols, scopeCol{name: "?window-key?", typ: exprs[i].Type(), hidden: true})
		}
		rel = &planner.TopK{Input: &planner.Project{Input: rel, Exprs: exprs}, Group: group, Order: order, Limit: -1, RowNumber: true}
		sc.cols = append(sc.cols, scopeCol{name: "?row_number?", typ: types.Int8, hidden: true})
		if b.windows == nil {
			b.windows = map[*pg.FuncCall]expr.Expr{}
		}
		b.windows[fc] = &expr.Col{Idx: len(sc.cols) - 1, Typ: types.Int8}
	}
	return rel, nil
}

// bindWhere filters rel by a WHERE clause. Conjuncts without subqueries
// are applied first, so that the subqueries in the others (which join
// against the rows they filter) see as few rows as possible.
func (b *binder) bindWhere(rel planner.Rel, where *pg.Node, sc *scope) (planner.Rel, error) {
	if where == nil {
		return rel, nil
	}
	var plain, withSub []*pg.Node
	for _, c := range andTerms(where) {
		if hasSubLink(c) {
			withSub = append(withSub, c)
		} else {
			plain = append(plain, c)
		}
	}
	for _, group := range [][]*pg.Node{plain, withSub} {
		if len(group) == 0 {
			continue
		}
		b.rel = rel
		var terms []expr.Expr
		for _, c := range group {
			w, err := b.bindBool(c, sc, "argument of WHERE")
			if err != nil {
				b.rel = nil
				return nil, err
			}
			terms = append(terms, w)
		}
		rel = &planner.Filter{Input: b.rel, Pred: planner.AndOf(terms)}
		b.rel = nil
	}
	return rel, nil
}

func andTerms(n *pg.Node) []*pg.Node {
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg.BoolExprType_AND_EXPR {
		var out []*pg.Node
		for _, a := range be.Args {
			out = append(out, andTerms(a)...)
		}
		return out
	}
	return []*pg.Node{n}
}

// hasSubLink reports whether an expression contains a subquery.
func hasSubLink(n *pg.Node) bool {
	found := false
	walkNodes(n, func(m *pg.Node) bool {
		found = found || m.GetSubLink() != nil
		return !found
	})
	return found
}

// walkNodes calls visit for n and every node below it (through every field
// of the parse tree, by reflection, so no node kind is missed), descending
// into a node's children only while visit returns true.
func walkNodes(n *pg.Node, visit func(*pg.Node) bool) {
	if n == nil || !visit(n) {
		return
	}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Message() == nil {
				return true
			}
			one := func(x protoreflect.Message) {
				if node, ok := x.Interface().(*pg.Node); ok {
					walkNodes(node, visit)
				} else {
					walk(x)
				}
			}
			if fd.IsList() {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					one(l.Get(i).Message())
				}
			} else {
				one(v.Message())
			}
			return true
		})
	}
	walk(n.ProtoReflect())
}

// bindGroupName binds a GROUP BY item: an input column or expression, or
// else an output column name (PostgreSQL's fallback).
func (b *binder) bindGroupName(g *pg.Node, sc *scope, items []*pg.ResTarget) (expr.Expr, error) {
	e, err := b.bindExpr(g, sc)
	if err == nil {
		return e, nil
	}
	if cr := g.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && pgerror.CodeOf(err) == pgerror.UndefinedColumn {
		name := strings.ToLower(columnRefName(cr))
		for _, it := range items {
			if strings.ToLower(it.Name) == name {
				return b.bindExpr(it.Val, sc)
			}
		}
	}
	return nil, err
}

func items(sel *pg.SelectStmt) []*pg.ResTarget {
	var out []*pg.ResTarget
	for _, t := range sel.TargetList {
		out = append(out, t.GetResTarget())
	}
	return out
}

// inEquality binds x = y for x IN (SELECT y ...), x being D's column.
func (b *binder) inEquality(sc *scope, items []*pg.ResTarget, sub *subqueryCtx) (expr.Expr, error) {
	y, err := b.inOperand(sc, items)
	if err != nil {
		return nil, err
	}
	x := expr.Expr(&expr.Col{Idx: sub.inLeft, Typ: sc.cols[sub.inLeft].typ})
	pair, _, err := b.unify([]expr.Expr{x, y}, "IN")
	if err != nil {
		return nil, err
	}
	return &expr.Compare{Op: sub.inOp, L: pair[0], R: pair[1]}, nil
}

// inOperand binds the one select item of an IN subquery (which may be *
// over a one-column table).
func (b *binder) inOperand(sc *scope, items []*pg.ResTarget) (expr.Expr, error) {
	exprs, _, err := b.bindTargets(items, sc)
	if err != nil {
		return nil, err
	}
	if len(exprs) != 1 {
		return nil, pgerror.New(pgerror.SyntaxError, "subquery has too many columns")
	}
	return exprs[0], nil
}

// inNullsItem is CASE WHEN bool_or(y IS NULL) THEN 2 WHEN count(marker) > 0
// THEN 1 ELSE 0 END over the subquery's rows.
func (b *binder) inNullsItem(as *aggScope, sc *scope, items []*pg.ResTarget, marker expr.Expr) (expr.Expr, error) {
	saved := sc.agg
	sc.agg = nil
	y, err := b.inOperand(sc, items)
	sc.agg = saved
	if err != nil {
		return nil, err
	}
	boolOr, _, err := expr.ResolveAggregate("bool_or", []types.Type{types.Bool})
	if err != nil {
		return nil, err
	}
	count, _, err := expr.ResolveAggregate("count", []types.Type{types.Bool})
	if err != nil {
		return nil, err
	}
	add := func(agg *expr.Aggregate, arg expr.Expr, ret types.Type) expr.Expr {
		as.aggs = append(as.aggs, dataflow.AggCall{Agg: agg, Args: []expr.Expr{arg}, Ret: ret})
		as.aggStr = append(as.aggStr, "")
		return &expr.Col{Idx: len(as.groups) + len(as.aggs) - 1, Typ: ret}
	}
	hasNull := add(boolOr, &expr.Case{Typ: types.Bool, Whens: []expr.When{{Cond: marker, Val: &expr.IsNull{Arg: y}}}, Else: &expr.Const{Val: types.Null(types.Bool)}}, types.Bool)
	n := add(count, marker, types.Int8)
	return &expr.Case{Typ: types.Int4, Whens: []expr.When{
		{Cond: hasNull, Val: &expr.Const{Val: types.NewInt4(2)}},
		{Cond: &expr.Compare{Op: expr.GT, L: n, R: &expr.Const{Val: types.NewInt8(0)}}, Val: &expr.Const{Val: types.NewInt4(1)}},
	}, Else: &expr.Const{Val: types.NewInt4(0)}}, nil
}

// finishSelect applies DISTINCT, ORDER BY with LIMIT/OFFSET (a TopK) and
// the final projection.
func (b *binder) finishSelect(sel *pg.SelectStmt, rel planner.Rel, exprs []expr.Expr, names []string, order []dataflow.SortKey, orderExprs []expr.Expr, distinctOn []int, sub *subqueryCtx, nd int) (*boundQuery, error) {
	if nd > 0 {
		// Carry the D columns (the first nd columns of the input, whether it
		// is the FROM relation or the aggregation) in front of the select list.
		types := rel.Types()
		dexprs := make([]expr.Expr, nd)
		for i := range dexprs {
			dexprs[i] = &expr.Col{Idx: i, Typ: types[i]}
		}
		exprs = append(dexprs, exprs...)
		names = append(make([]string, nd), names...)
		for i := range order {
			order[i].Col += nd
		}
	}
	visible := len(exprs)
	all := append(append([]expr.Expr{}, exprs...), orderExprs...)
	for i, e := range all {
		if e.Type() == types.Unknown {
			c, err := b.resolveUnknown(e)
			if err != nil {
				return nil, err
			}
			all[i] = c
		}
	}
	rel = &planner.Project{Input: rel, Exprs: all}
	if len(distinctOn) > 0 {
		// DISTINCT ON keeps the first row of each group in ORDER BY order:
		// a TopK of one per group.
		for i := range distinctOn {
			distinctOn[i] += nd
		}
		for i := 0; i < nd; i++ {
			distinctOn = append(distinctOn, i)
		}
		rel = &planner.TopK{Input: rel, Group: distinctOn, Order: order, Limit: 1}
	} else if len(sel.DistinctClause) > 0 {
		if len(orderExprs) > 0 {
			return nil, pgerror.New(pgerror.InvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
		}
		rel = &planner.Distinct{Input: rel}
	}
	limit, offset := int64(-1), int64(0)
	var err error
	if sel.LimitCount != nil {
		if limit, err = b.bindLimit(sel.LimitCount, "LIMIT"); err != nil {
			return nil, err
		}
	}
	if sel.LimitOffset != nil {
		if offset, err = b.bindLimit(sel.LimitOffset, "OFFSET"); err != nil {
			return nil, err
		}
	}
	if limit >= 0 || offset > 0 {
		var group []int
		for i := 0; i < nd; i++ {
			group = append(group, i)
		}
		rel = &planner.TopK{Input: rel, Group: group, Order: order, Limit: limit, Offset: offset}
	}
	cols := make([]scopeCol, len(all))
	for i, e := range all {
		name := "?column?"
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		cols[i] = scopeCol{name: strings.ToLower(name), typ: e.Type(), hidden: i >= visible, record: b.records[e], origin: b.origins[e]}
		if i < len(names) {
			cols[i].name = names[i]
		}
	}
	return &boundQuery{rel: rel, cols: cols, order: order, visible: visible}, nil
}

func (b *binder) bindLimit(n *pg.Node, what string) (int64, error) {
	if c := n.GetAConst(); c != nil && c.Isnull {
		return -1, nil
	}
	e, err := b.bindExpr(n, &scope{})
	if err != nil {
		return 0, err
	}
	if e, err = b.coerce(e, types.Int8); err != nil {
		return 0, err
	}
	if e.Type() != types.Int8 {
		c, err := expr.NewCast(e, types.Int8)
		if err != nil {
			return 0, err
		}
		e = c
	}
	d, err := e.Eval(&expr.Ctx{}, nil)
	if err != nil {
		return 0, err
	}
	if d.IsNull() {
		return -1, nil
	}
	if d.Int() < 0 {
		code := pgerror.InvalidRowCountInLimitClause
		if what == "OFFSET" {
			code = pgerror.InvalidRowCountInResultOffsetClause
		}
		return 0, pgerror.New(code, "%s must not be negative", what)
	}
	return d.Int(), nil
}

// bindTargets binds the select list, expanding *.
func (b *binder) bindTargets(items []*pg.ResTarget, sc *scope) ([]expr.Expr, []string, error) {
	var exprs []expr.Expr
	var names []string
	for _, it := range items {
		if cr := it.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			table := ""
			if len(cr.Fields) > 1 {
				table = strings.ToLower(cr.Fields[len(cr.Fields)-2].GetString_().Sval)
			}
			n := 0
			for i, c := range sc.cols {
				if c.hidden || (table != "" && c.table != table) {
					continue
				}
				var e expr.Expr = &expr.Col{Idx: i, Typ: c.typ, Name: c.name}
				if sc.agg != nil {
					var ok bool
					var err error
					e, ok, err = sc.agg.matchCol(i)
					if !ok || err != nil {
						return nil, nil, pgerror.New(pgerror.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", c.name)
					}
				} else if c.origin.table != 0 {
					if b.origins == nil {
						b.origins = map[expr.Expr]colOrigin{}
					}
					b.origins[e] = c.origin
				}
				exprs = append(exprs, e)
				names = append(names, c.name)
				n++
			}
			if n == 0 && table != "" {
				return nil, nil, errAt(pgerror.New(pgerror.UndefinedTable, "missing FROM-clause entry for table %q", table), cr.Location)
			}
			if n == 0 && table == "" && len(sc.cols) == 0 {
				return nil, nil, errAt(pgerror.New(pgerror.SyntaxError, "SELECT * with no tables specified is not valid"), cr.Location)
			}
			continue
		}
		e, err := b.bindExpr(it.Val, sc)
		if err != nil {
			return nil, nil, err
		}
		exprs = append(exprs, e)
		names = append(names, targetName(it))
	}
	return exprs, names, nil
}

func (a *aggScope) matchCol(i int) (expr.Expr, bool, error) {
	for g, e := range a.groups {
		if c, ok := e.(*expr.Col); ok && c.Idx == i {
			return &expr.Col{Idx: g, Typ: c.Typ}, true, nil
		}
	}
	return nil, false, nil
}

// targetName is the output column name PostgreSQL gives a select item.
func targetName(it *pg.ResTarget) string {
	if it.Name != "" {
		return it.Name
	}
	n := it.Val
	for n.GetTypeCast() != nil {
		tc := n.GetTypeCast()
		if tc.Arg.GetColumnRef() == nil && tc.Arg.GetFuncCall() == nil {
			name := tc.TypeName.Names[len(tc.TypeName.Names)-1].GetString_().Sval
			return map[string]string{"int4": "int4", "int8": "int8", "float8": "float8", "bool": "bool"}[name] + func() string {
				if _, ok := map[string]string{"int4": "", "int8": "", "float8": "", "bool": ""}[name]; ok {
					return ""
				}
				return name
			}()
		}
		n = tc.Arg
	}
	switch {
	case n.GetColumnRef() != nil:
		f := n.GetColumnRef().Fields
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.Sval
		}
	case n.GetFuncCall() != nil:
		return funcName(n.GetFuncCall().Funcname[len(n.GetFuncCall().Funcname)-1:])
	case n.GetAIndirection() != nil:
		ind := n.GetAIndirection()
		if s := ind.Indirection[len(ind.Indirection)-1].GetString_(); s != nil {
			return s.Sval
		}
		return targetName(&pg.ResTarget{Val: ind.Arg})
	case n.GetCaseExpr() != nil:
		return "case"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	case n.GetSubLink() != nil && n.GetSubLink().SubLinkType == pg.SubLinkType_EXISTS_SUBLINK:
		return "exists"
	case n.GetSubLink() != nil && n.GetSubLink().SubLinkType == pg.SubLinkType_EXPR_SUBLINK:
		// A scalar subquery is named after its one column.
		if sel := n.GetSubLink().Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
			return targetName(sel.TargetList[0].GetResTarget())
		}
	case n.GetAExpr() != nil && n.GetAExpr().Kind == pg.A_Expr_Kind_AEXPR_NULLIF:
		return "nullif"
	case n.GetMinMaxExpr() != nil:
		if n.GetMinMaxExpr().Op == pg.MinMaxOp_IS_GREATEST {
			return "greatest"
		}
		return "least"
	case n.GetSqlvalueFunction() != nil:
		return map[pg.SQLValueFunctionOp]string{pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP: "current_timestamp", pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE: "current_date", pg.SQLValueFunctionOp_SVFOP_CURRENT_USER: "current_user"}[n.GetSqlvalueFunction().Op]
	}
	return "?column?"
}

// bindOrder binds ORDER BY: output column positions and names first, then
// expressions over the input (which become extra, hidden output columns).
func (b *binder) bindOrder(sorts []*pg.Node, items []*pg.ResTarget, names []string, exprs []expr.Expr, sc *scope) ([]dataflow.SortKey, []expr.Expr, error) {
	var keys []dataflow.SortKey
	var extra []expr.Expr
	for _, s := range sorts {
		sb := s.GetSortBy()
		key := dataflow.SortKey{Desc: sb.SortbyDir == pg.SortByDir_SORTBY_DESC}
		key.NullsFirst = key.Desc
		switch sb.SortbyNulls {
		case pg.SortByNulls_SORTBY_NULLS_FIRST:
			key.NullsFirst = true
		case pg.SortByNulls_SORTBY_NULLS_LAST:
			key.NullsFirst = false
		}
		col := -1
		if c := sb.Node.GetAConst(); c != nil && c.GetIval() != nil {
			pos := int(c.GetIval().Ival)
			if pos < 1 || pos > len(exprs) {
				return nil, nil, errAt(pgerror.New(pgerror.InvalidColumnReference, "ORDER BY position %d is not in select list", pos), c.Location)
			}
			col = pos - 1
		} else if cr := sb.Node.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
			name := strings.ToLower(cr.Fields[0].GetString_().Sval)
			for i, n := range names {
				if strings.ToLower(n) == name && i < len(items) && (items[i].Name != "" || sc.agg != nil || true) {
					if col >= 0 && !sameExpr(exprs[col], exprs[i]) {
						return nil, nil, errAt(pgerror.New(pgerror.AmbiguousColumn, "ORDER BY %q is ambiguous", name), cr.Location)
					}
					if col < 0 {
						col = i
					}
				}
			}
		}
		if col < 0 {
			e, err := b.bindExpr(sb.Node, sc)
			if err != nil {
				return nil, nil, err
			}
			for i, x := range exprs {
				if sameExpr(x, e) {
					col = i
					break
				}
			}
			if col < 0 {
				col = len(exprs) + len(extra)
				extra = append(extra, e)
			}
		}
		key.Col = col
		keys = append(keys, key)
	}
	return keys, extra, nil
}

func sameExpr(a, b expr.Expr) bool { return a.String() == b.String() && a.Type() == b.Type() }

func containsAggregate(targets []*pg.Node) bool {
	found := false
	for _, t := range targets {
		walkNodes(t, func(n *pg.Node) bool {
			if fc := n.GetFuncCall(); fc != nil && fc.Over == nil && (expr.IsAggregate(funcName(fc.Funcname)) || fc.AggStar) {
				found = true
			}
			// Aggregates inside a subquery belong to it.
			return !found && n.GetSubLink() == nil
		})
	}
	return found
}

func renameCols(cols []scopeCol, aliases []*pg.Node, table string) []scopeCol {
	out := make([]scopeCol, len(cols))
	for i, c := range cols {
		c.table = table
		if i < len(aliases) {
			c.name = strings.ToLower(aliases[i].GetString_().Sval)
		}
		out[i] = c
	}
	return out
}

// trimCols projects a bound query to its visible columns.
func trimCols(q *boundQuery) planner.Rel {
	if q.visible == len(q.cols) {
		return q.rel
	}
	exprs := make([]expr.Expr, q.visible)
	for i := range exprs {
		exprs[i] = &expr.Col{Idx: i, Typ: q.cols[i].typ}
	}
	return &planner.Project{Input: q.rel, Exprs: exprs}
}

func (b *binder) bindFrom(n *pg.Node, sc *scope) (planner.Rel, []scopeCol, error) {
	switch {
	case n.GetRangeVar() != nil:
		return b.bindRangeVar(n.GetRangeVar())
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		if rs.Lateral {
			return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "LATERAL is not supported")
		}
		q, err := b.bindSelectStmt(rs.Subquery, sc.outer)
		if err != nil {
			return nil, nil, err
		}
		alias := ""
		var colAliases []*pg.Node
		if rs.Alias != nil {
			alias = strings.ToLower(rs.Alias.Aliasname)
			colAliases = rs.Alias.Colnames
		}
		return trimCols(q), renameCols(q.cols[:q.visible], colAliases, alias), nil
	case n.GetJoinExpr() != nil:
		return b.bindJoin(n.GetJoinExpr(), sc)
	case n.GetRangeFunction() != nil:
		return b.bindRangeFunction(n.GetRangeFunction(), sc)
	}
	return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "FROM item %s is not supported", nodeName(n))
}

func (b *binder) bindRangeVar(rv *pg.RangeVar) (planner.Rel, []scopeCol, error) {
	name := strings.ToLower(rv.Relname)
	alias := name
	var colAliases []*pg.Node
	if rv.Alias != nil {
		alias = strings.ToLower(rv.Alias.Aliasname)
		colAliases = rv.Alias.Colnames
	}
	if rv.Schemaname == "" {
		if cte, ok := b.ctes[name]; ok {
			return cte.rel, renameCols(cte.cols, colAliases, alias), nil
		}
	}
	if rel, cols, ok, err := b.systemRelation(rv, alias, colAliases); ok || err != nil {
		return rel, cols, err
	}
	o, ok := b.resolve(rv.Schemaname, name)
	if !ok || o.Kind == KindIndex {
		return nil, nil, errAt(pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", relationName(rv.Schemaname, rv.Relname)), rv.Location)
	}
	if b.deps != nil {
		b.deps[o.key()] = true
	}
	if o.Kind == KindSequence {
		return sequenceRelation(o, alias, colAliases)
	}
	cols := make([]scopeCol, len(o.Columns))
	for i, c := range o.Columns {
		cols[i] = scopeCol{table: alias, name: strings.ToLower(c.Name), typ: c.Type}
		if o.Kind == KindTable || o.Kind == KindMatView {
			cols[i].origin = colOrigin{table: userOID(o), attr: int16(i + 1)}
		}
	}
	cols = renameCols(cols, colAliases, alias)
	switch {
	case o.Kind == KindView || (o.Kind == KindMatView && b.inlineMatViews):
		saved := b.nowIsMzNow
		b.nowIsMzNow = saved || o.Kind == KindMatView
		q, err := b.bindDefinition(o)
		b.nowIsMzNow = saved
		if err != nil {
			return nil, nil, err
		}
		return trimCols(q), cols, nil
	}
	return &planner.Scan{ID: o.ID, Name: o.Name, Typs: o.Types()}, cols, nil
}

// bindDefinition binds a view's stored query in a fresh scope.
func (b *binder) bindDefinition(o *Object) (*boundQuery, error) {
	res, err := pg.Parse(o.SQL)
	if err != nil {
		return nil, pgerror.New(pgerror.InternalError, "view %s: %v", o.Name, err)
	}
	// The definition's names resolve as they did when the view was made.
	saved, savedPath := b.ctes, b.searchPath
	b.ctes, b.searchPath = nil, o.SearchPath
	defer func() { b.ctes, b.searchPath = saved, savedPath }()
	return b.bindSelectStmt(res.Stmts[0].Stmt, nil)
}

func (b *binder) bindJoin(j *pg.JoinExpr, sc *scope) (planner.Rel, []scopeCol, error) {
	lrel, lcols, err := b.bindFrom(j.Larg, sc)
	if err != nil {
		return nil, nil, err
	}
	rrel, rcols, err := b.bindFrom(j.Rarg, sc)
	if err != nil {
		return nil, nil, err
	}
	kind := map[pg.JoinType]planner.JoinKind{pg.JoinType_JOIN_INNER: planner.InnerJoin, pg.JoinType_JOIN_LEFT: planner.LeftJoin, pg.JoinType_JOIN_RIGHT: planner.RightJoin, pg.JoinType_JOIN_FULL: planner.FullJoin}[j.Jointype]
	cols := append(append([]scopeCol{}, lcols...), rcols...)
	js := &scope{cols: cols, outer: sc.outer, corr: sc.corr}
	var on expr.Expr
	var using []string
	if j.IsNatural {
		for _, l := range lcols {
			for _, r := range rcols {
				if l.name == r.name && !l.hidden && !r.hidden {
					using = append(using, l.name)
				}
			}
		}
	}
	for _, u := range j.UsingClause {
		using = append(using, strings.ToLower(u.GetString_().Sval))
	}
	if len(using) > 0 {
		var terms []expr.Expr
		for _, name := range using {
			li, ri := -1, -1
			for i, c := range lcols {
				if c.name == name {
					li = i
				}
			}
			for i, c := range rcols {
				if c.name == name {
					ri = i
				}
			}
			if li < 0 || ri < 0 {
				return nil, nil, pgerror.New(pgerror.UndefinedColumn, "column %q specified in USING clause does not exist in both tables", name)
			}
			l := expr.Expr(&expr.Col{Idx: li, Typ: lcols[li].typ})
			r := expr.Expr(&expr.Col{Idx: len(lcols) + ri, Typ: rcols[ri].typ})
			pair, _, err := b.unify([]expr.Expr{l, r}, "JOIN/USING")
			if err != nil {
				return nil, nil, err
			}
			terms = append(terms, &expr.Compare{Op: expr.EQ, L: pair[0], R: pair[1]})
			// The right column is hidden from * and unqualified lookups.
			cols[len(lcols)+ri].hidden = true
			cols[len(lcols)+ri].table = "?using?"
		}
		on = planner.AndOf(terms)
	} else if j.Quals != nil {
		b.rel = nil
		w, err := b.bindBool(j.Quals, js, "argument of JOIN/ON")
		if err != nil {
			return nil, nil, err
		}
		on = w
	}
	rel := &planner.Join{Kind: kind, Left: lrel, Right: rrel, On: on}
	if j.Alias != nil {
		cols = renameCols(cols, j.Alias.Colnames, strings.ToLower(j.Alias.Aliasname))
	}
	return rel, cols, nil
}

func (b *binder) bindValues(sel *pg.SelectStmt, outer *scope) (*boundQuery, error) {
	var rows [][]expr.Expr
	for _, l := range sel.ValuesLists {
		var row []expr.Expr
		for _, item := range l.GetList().Items {
			e, err := b.bindExpr(item, &scope{outer: outer})
			if err != nil {
				return nil, err
			}
			row = append(row, e)
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, pgerror.New(pgerror.SyntaxError, "VALUES lists must all be the same length")
		}
		rows = append(rows, row)
	}
	ncol := len(rows[0])
	colTypes := make([]types.Type, ncol)
	for c := 0; c < ncol; c++ {
		col := make([]expr.Expr, len(rows))
		for r := range rows {
			col[r] = rows[r][c]
		}
		col, t, err := b.unify(col, "VALUES")
		if err != nil {
			return nil, err
		}
		colTypes[c] = t
		for r := range rows {
			rows[r][c] = col[r]
		}
	}
	// Constant rows become a Values; rows with non-constant expressions
	// (parameters while preparing, volatile calls) a Project per row.
	var rel planner.Rel
	var consts []types.Row
	var others []planner.Rel
	for _, row := range rows {
		vals := make(types.Row, ncol)
		constant := true
		for c, e := range row {
			if !expr.IsConst(e) {
				constant = false
				break
			}
			d, err := e.Eval(&expr.Ctx{}, nil)
			if err != nil {
				return nil, err
			}
			vals[c] = d
		}
		if constant {
			consts = append(consts, vals)
		} else {
			others = append(others, &planner.Project{Input: &planner.Values{Rows: []types.Row{{}}}, Exprs: row})
		}
	}
	rel = &planner.Values{Rows: consts, Typs: colTypes}
	for _, o := range others {
		rel = &planner.SetOp{Kind: planner.Union, All: true, Left: rel, Right: o}
	}
	cols := make([]scopeCol, ncol)
	names := make([]string, ncol)
	for i := range cols {
		names[i] = "column" + itoa(i+1)
		cols[i] = scopeCol{name: names[i], typ: colTypes[i]}
	}
	exprs := make([]expr.Expr, ncol)
	for i := range exprs {
		exprs[i] = &expr.Col{Idx: i, Typ: colTypes[i]}
	}
	sc := &scope{cols: cols, outer: outer}
	var items []*pg.ResTarget
	order, extra, err := b.bindOrder(sel.SortClause, items, names, exprs, sc)
	if err != nil {
		return nil, err
	}
	return b.finishSelect(sel, rel, exprs, names, order, extra, nil, nil, 0)
}

func itoa(i int) string { return strconv.Itoa(i) }

func (b *binder) bindSetOp(sel *pg.SelectStmt, outer *scope) (*boundQuery, error) {
	l, err := b.bindSelect(sel.Larg, outer, nil, nil)
	if err != nil {
		return nil, err
	}
	r, err := b.bindSelect(sel.Rarg, outer, nil, nil)
	if err != nil {
		return nil, err
	}
	if l.visible != r.visible {
		return nil, pgerror.New(pgerror.SyntaxError, "each %s query must have the same number of columns", strings.TrimPrefix(sel.Op.String(), "SETOP_"))
	}
	lrel, rrel := trimCols(l), trimCols(r)
	// Unify column types.
	var lx, rx []expr.Expr
	cols := make([]scopeCol, l.visible)
	for i := 0; i < l.visible; i++ {
		pair, t, err := b.unify([]expr.Expr{&expr.Col{Idx: i, Typ: l.cols[i].typ}, &expr.Col{Idx: i, Typ: r.cols[i].typ}}, strings.TrimPrefix(sel.Op.String(), "SETOP_"))
		if err != nil {
			return nil, err
		}
		lx, rx = append(lx, pair[0]), append(rx, pair[1])
		cols[i] = scopeCol{name: l.cols[i].name, typ: t}
	}
	lrel = &planner.Project{Input: lrel, Exprs: lx}
	rrel = &planner.Project{Input: rrel, Exprs: rx}
	kind := map[pg.SetOperation]planner.SetOpKind{pg.SetOperation_SETOP_UNION: planner.Union, pg.SetOperation_SETOP_INTERSECT: planner.Intersect, pg.SetOperation_SETOP_EXCEPT: planner.Except}[sel.Op]
	var rel planner.Rel = &planner.SetOp{Kind: kind, All: sel.All, Left: lrel, Right: rrel}
	exprs := make([]expr.Expr, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = &expr.Col{Idx: i, Typ: c.typ}
		names[i] = c.name
	}
	order, extra, err := b.bindOrder(sel.SortClause, nil, names, exprs, &scope{cols: cols, outer: outer})
	if err != nil {
		return nil, err
	}
	if len(extra) > 0 {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "ORDER BY on a UNION/INTERSECT/EXCEPT result must name output columns")
	}
	return b.finishSelect(sel, rel, exprs, names, order, nil, nil, nil, 0)
}

// bindSubLink binds a subquery in an expression. It extends b.rel (the
// relation the enclosing expression is bound over) with a left join to the
// decorrelated subquery and returns a reference to the new column.
func (b *binder) bindSubLink(sl *pg.SubLink, sc *scope) (expr.Expr, error) {
	if b.deferSubLinks {
		// First pass over an aggregating select list: see bindOverAggregate.
		return &expr.Const{Val: types.NullUnknown}, nil
	}
	if b.rel == nil {
		return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "subqueries are not supported here"), sl.Location)
	}
	sel := sl.Subselect.GetSelectStmt()
	mode := modeScalar
	inLeft := -1
	inOp, all := expr.EQ, false
	outerRel := b.rel
	switch sl.SubLinkType {
	case pg.SubLinkType_EXPR_SUBLINK:
	case pg.SubLinkType_EXISTS_SUBLINK:
		mode = modeExists
	case pg.SubLinkType_ANY_SUBLINK, pg.SubLinkType_ALL_SUBLINK:
		// x op ANY (q) is IN with op for =; x op ALL (q) is
		// NOT (x negated-op ANY (q)) under three-valued logic.
		op := expr.EQ
		if len(sl.OperName) > 0 {
			o, ok := compareOps[opName(sl.OperName)]
			if !ok {
				return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "%s ANY/ALL (subquery) is not supported", opName(sl.OperName)), sl.Location)
			}
			op = o
		}
		if sl.SubLinkType == pg.SubLinkType_ALL_SUBLINK {
			op = op.Negate()
			all = true
		}
		inOp = op
		mode = modeIn
		// The IN operand becomes a column of the outer relation.
		x, err := b.bindExpr(sl.Testexpr, sc)
		if err != nil {
			return nil, err
		}
		// An untyped operand takes the subquery column's type, as in
		// PostgreSQL; it must be typed before it becomes a column of D.
		if x.Type() == types.Unknown {
			saved := b.rel
			b.rel = nil
			q, err := b.bindSelect(sel, sc, &correlation{collecting: true}, nil)
			b.rel = saved
			if err != nil {
				return nil, err
			}
			to := types.Text
			if q.visible == 1 && q.cols[0].typ != types.Unknown {
				to = q.cols[0].typ
			}
			if x, err = b.coerce(x, to); err != nil {
				return nil, errAt(err, sl.Location)
			}
		}
		outerRel = b.rel
		n := len(sc.cols)
		exprs := make([]expr.Expr, 0, n+1)
		for i, c := range sc.cols {
			exprs = append(exprs, &expr.Col{Idx: i, Typ: c.typ})
		}
		exprs = append(exprs, x)
		outerRel = &planner.Project{Input: outerRel, Exprs: exprs}
		sc.cols = append(sc.cols, scopeCol{name: "?in?", typ: x.Type(), hidden: true})
		inLeft = n
	default:
		return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "subquery kind %s is not supported", sl.SubLinkType), sl.Location)
	}
	if mode != modeScalar && (len(sel.GroupClause) > 0 || sel.HavingClause != nil || sel.LimitCount != nil || sel.Op != pg.SetOperation_SETOP_NONE || len(sel.DistinctClause) > 0 || containsAggregate(sel.TargetList) || sel.WithClause != nil) {
		if mode == modeExists || sel.Op != pg.SetOperation_SETOP_NONE || sel.WithClause != nil {
			// Wrap: EXISTS (q) ≡ EXISTS (SELECT 1 FROM (q) s), for uncorrelated q.
			sel = &pg.SelectStmt{TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{{Node: &pg.Node_AStar{AStar: &pg.A_Star{}}}}}}}}}}},
				FromClause: []*pg.Node{{Node: &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{Subquery: sl.Subselect, Alias: &pg.Alias{Aliasname: "?sub?"}}}}}}
		} else {
			sel = &pg.SelectStmt{TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{{Node: &pg.Node_AStar{AStar: &pg.A_Star{}}}}}}}}}}},
				FromClause: []*pg.Node{{Node: &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{Subquery: sl.Subselect, Alias: &pg.Alias{Aliasname: "?sub?"}}}}}}
		}
	}
	if mode != modeIn {
		return b.applySubquery(sel, sc, outerRel, mode, -1, expr.EQ, sl.Location)
	}
	match, err := b.applySubquery(sel, sc, outerRel, modeInMatch, inLeft, inOp, sl.Location)
	if err != nil {
		return nil, err
	}
	code, err := b.applySubquery(sel, sc, b.rel, modeInNulls, -1, inOp, sl.Location)
	if err != nil {
		return nil, err
	}
	x := &expr.Col{Idx: inLeft, Typ: sc.cols[inLeft].typ}
	null := &expr.Const{Val: types.Null(types.Bool)}
	var any expr.Expr = &expr.Case{Typ: types.Bool, Whens: []expr.When{
		{Cond: match, Val: &expr.Const{Val: types.NewBool(true)}},
		{Cond: &expr.Compare{Op: expr.EQ, L: code, R: &expr.Const{Val: types.NewInt4(2)}}, Val: null},
		{Cond: &expr.And{Args: []expr.Expr{&expr.Compare{Op: expr.EQ, L: code, R: &expr.Const{Val: types.NewInt4(1)}}, &expr.IsNull{Arg: x}}}, Val: null},
	}, Else: &expr.Const{Val: types.NewBool(false)}}
	if all {
		any = &expr.Not{Arg: any}
	}
	return any, nil
}

// applySubquery decorrelates one subquery: it extends b.rel (whose rows
// are outerRel's) with a left join to the subquery's result per distinct
// value of the outer columns it reads, and returns the new value column.
func (b *binder) applySubquery(sel *pg.SelectStmt, sc *scope, outerRel planner.Rel, mode subqueryMode, inLeft int, inOp expr.CmpOp, loc int32) (expr.Expr, error) {
	sl := struct{ Location int32 }{loc}
	// Pass 1: which outer columns does the subquery read?
	collect := &correlation{collecting: true}
	if mode == modeInMatch {
		collect.ref(inLeft)
	}
	saved := b.rel
	b.rel = nil
	if _, err := b.bindSelect(sel, sc, collect, nil); err != nil {
		b.rel = saved
		return nil, err
	}
	// D: the distinct values of those outer columns.
	var d planner.Rel
	dcols := make([]scopeCol, len(collect.refs))
	at := map[int]int{}
	if len(collect.refs) == 0 {
		d = &planner.Values{Rows: []types.Row{{}}}
	} else {
		proj := make([]expr.Expr, len(collect.refs))
		for j, idx := range collect.refs {
			proj[j] = &expr.Col{Idx: idx, Typ: sc.cols[idx].typ}
			dcols[j] = scopeCol{name: "?outer?", typ: sc.cols[idx].typ, hidden: true, table: "?outer?"}
			at[idx] = j
		}
		d = &planner.Distinct{Input: &planner.Project{Input: outerRel, Exprs: proj}}
	}
	sub := &subqueryCtx{mode: mode, d: d, dcols: dcols, inLeft: at[inLeft], inOp: inOp}
	q, err := b.bindSelect(sel, sc, &correlation{refs: collect.refs, at: at}, sub)
	b.rel = saved
	if err != nil {
		return nil, err
	}
	k := len(collect.refs)
	if mode == modeScalar && q.visible-k != 1 {
		return nil, errAt(pgerror.New(pgerror.SyntaxError, "subquery must return only one column"), sl.Location)
	}
	// Outer LEFT JOIN subquery ON outer refs IS NOT DISTINCT FROM D columns.
	n := len(sc.cols)
	var terms []expr.Expr
	for j, idx := range collect.refs {
		terms = append(terms, &expr.Compare{Op: expr.IsNotDistinct, L: &expr.Col{Idx: idx, Typ: sc.cols[idx].typ}, R: &expr.Col{Idx: n + j, Typ: sc.cols[idx].typ}})
	}
	right := trimCols(q)
	var check expr.Expr
	if mode == modeScalar && !singleRow(sel) {
		// PostgreSQL fails a scalar subquery that returns more than one row
		// (21000): count the rows per outer value, keep one, and raise when
		// the count says there were more.
		countAgg, _, err := expr.ResolveAggregate("count", nil)
		if err != nil {
			return nil, err
		}
		vt := q.cols[k].typ
		minAgg, _, err := expr.ResolveAggregate("min", []types.Type{vt})
		if err != nil {
			return nil, err
		}
		keys := make([]int, k)
		for j := range keys {
			keys[j] = j
		}
		right = &planner.Aggregate{Input: right, Keys: keys, Aggs: []dataflow.AggCall{
			{Agg: minAgg, Args: []expr.Expr{&expr.Col{Idx: k, Typ: vt}}, Ret: vt},
			{Agg: countAgg, Ret: types.Int8},
		}}
		check = &expr.Col{Idx: len(sc.cols) + k + 1, Typ: types.Int8}
	}
	b.rel = &planner.Join{Kind: planner.LeftJoin, Left: outerRel, Right: right, On: planner.AndOf(terms)}
	for _, t := range right.Types() {
		sc.cols = append(sc.cols, scopeCol{name: "?subquery?", typ: t, hidden: true})
	}
	var val expr.Expr = &expr.Col{Idx: n + k, Typ: q.cols[k].typ}
	if check != nil {
		val = &expr.Case{Typ: q.cols[k].typ, Whens: []expr.When{{
			Cond: &expr.Compare{Op: expr.GT, L: check, R: &expr.Const{Val: types.NewInt8(1)}},
			Val:  &expr.Raise{Err: pgerror.New(pgerror.CardinalityViolation, "more than one row returned by a subquery used as an expression"), Typ: q.cols[k].typ},
		}}, Else: val}
	}
	// Every outer row finds its D row, and EXISTS and IN subqueries produce
	// one row per D value, so val is never NULL for want of a match: IN's
	// NULL is SQL's unknown and must survive.
	return val, nil
}

// maxSeriesRows bounds generate_series, so a typo cannot exhaust memory.
const maxSeriesRows = 10_000_000

// bindRangeFunction binds a table function in FROM. generate_series with
// constant arguments becomes a constant relation.
func (b *binder) bindRangeFunction(rf *pg.RangeFunction, sc *scope) (planner.Rel, []scopeCol, error) {
	if rf.Lateral || rf.IsRowsfrom || len(rf.Functions) != 1 {
		return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "LATERAL and ROWS FROM are not supported")
	}
	fc := rf.Functions[0].GetList().GetItems()[0].GetFuncCall()
	if fc == nil {
		return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "this FROM item is not supported")
	}
	name := funcName(fc.Funcname)
	if name == "tumble" || name == "hop" || name == "session" {
		return b.bindWindowTable(name, fc, rf, sc)
	}
	if name != "generate_series" && isSetFunc(name) {
		return b.bindSetFuncFrom(name, fc, rf, sc)
	}
	if name != "generate_series" {
		return nil, nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "table function %s is not supported", name), fc.Location)
	}
	var args []types.Datum
	var argExprs []expr.Expr
	for _, a := range fc.Args {
		e, err := b.bindExpr(a, &scope{outer: sc.outer})
		if err != nil {
			return nil, nil, err
		}
		argExprs = append(argExprs, e)
	}
	if len(argExprs) < 2 || len(argExprs) > 3 {
		return nil, nil, errAt(undefinedFunc(name, argExprs), fc.Location)
	}
	bounds, t, err := b.unify(argExprs[:2], "generate_series")
	if err != nil {
		return nil, nil, err
	}
	if t == types.Int2 {
		t = types.Int4
	}
	if t.Family() == types.FamString {
		t = types.TimestampTZ
	}
	var step expr.Expr = &expr.Const{Val: types.NewInt4(1)}
	if len(argExprs) == 3 {
		step = argExprs[2]
	}
	stepType := t
	if t.Family() == types.FamDateTime {
		stepType = types.Interval
	}
	if step, err = b.coerce(step, stepType); err != nil {
		return nil, nil, err
	}
	for _, e := range append(bounds, step) {
		if e, err = b.coerce(e, e.Type()); err != nil {
			return nil, nil, err
		}
		if !expr.IsConst(e) {
			if rf.Ordinality {
				return nil, nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "generate_series WITH ORDINALITY needs constant arguments"), fc.Location)
			}
			// Arguments that change per statement (current_schemas()):
			// evaluated when the query runs.
			return b.bindSetFuncFrom(name, fc, rf, sc)
		}
		d, err := e.Eval(b.foldCtx(), nil)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, d)
	}
	for i := 0; i < 2; i++ {
		if args[i], err = expr.CastDatum(b.foldCtx(), args[i], t); err != nil {
			return nil, nil, err
		}
	}
	rows, err := generateSeries(b.foldCtx(), args[0], args[1], args[2], t)
	if err != nil {
		return nil, nil, errAt(err, fc.Location)
	}
	typs := []types.Type{t}
	if rf.Ordinality {
		for i := range rows {
			rows[i] = append(rows[i], types.NewInt8(int64(i+1)))
		}
		typs = append(typs, types.Int8)
	}
	alias, colName := name, name
	var colAliases []*pg.Node
	if rf.Alias != nil {
		alias = strings.ToLower(rf.Alias.Aliasname)
		colAliases = rf.Alias.Colnames
		if len(colAliases) == 0 {
			colName = alias
		}
	}
	cols := []scopeCol{{table: alias, name: colName, typ: t}}
	if rf.Ordinality {
		cols = append(cols, scopeCol{table: alias, name: "ordinality", typ: types.Int8})
	}
	return &planner.Values{Rows: rows, Typs: typs}, renameCols(cols, colAliases, alias), nil
}

func generateSeries(ctx *expr.Ctx, start, stop, step types.Datum, t types.Type) ([]types.Row, error) {
	if start.IsNull() || stop.IsNull() || step.IsNull() {
		return nil, nil
	}
	var add func(types.Datum) (types.Datum, error)
	dir := 0
	if t.Family() == types.FamDateTime {
		plus, targets, err := expr.Resolve("+", []types.Type{t, types.Interval})
		if err != nil {
			return nil, err
		}
		_ = targets
		iv := step.Interval()
		if iv == (types.IntervalValue{}) {
			return nil, pgerror.New(pgerror.InvalidParameterValue, "step size cannot equal zero")
		}
		dir = 1
		if iv.Months < 0 || iv.Days < 0 || iv.Micros < 0 {
			dir = -1
		}
		// Day and month steps keep the wall clock in the session's zone.
		add = func(d types.Datum) (types.Datum, error) { return plus.Fn(ctx, []types.Datum{d, step}) }
	} else {
		plus, _, err := expr.Resolve("+", []types.Type{t, t})
		if err != nil {
			return nil, err
		}
		zero, _ := expr.CastDatum(&expr.Ctx{}, types.NewInt4(0), t)
		dir = types.Compare(step, zero)
		if dir == 0 {
			return nil, pgerror.New(pgerror.InvalidParameterValue, "step size cannot equal zero")
		}
		add = func(d types.Datum) (types.Datum, error) { return plus.Fn(&expr.Ctx{}, []types.Datum{d, step}) }
	}
	var rows []types.Row
	for v := start; (dir > 0 && types.Compare(v, stop) <= 0) || (dir < 0 && types.Compare(v, stop) >= 0); {
		if len(rows) >= maxSeriesRows {
			return nil, pgerror.New(pgerror.ProgramLimitExceeded, "generate_series would produce more than %d rows", maxSeriesRows)
		}
		rows = append(rows, types.Row{v})
		next, err := add(v)
		if err != nil {
			if pgerror.CodeOf(err) == pgerror.NumericValueOutOfRange {
				break
			}
			return nil, err
		}
		v = next
	}
	return rows, nil
}

// bindWindowTable binds TUMBLE(rel, time_col, size [, offset]),
// HOP(rel, time_col, slide, size [, offset]) and
// SESSION(rel, time_col, gap [, key_col ...]): rel's rows (rel names a
// table or view, or is a parenthesized subquery) with window_start and
// window_end columns added. TUMBLE and HOP windows are aligned to the Unix
// epoch plus the offset and are linear (a map, and for HOP a union of
// size/slide maps); SESSION is its own operator (planner.Session). Views
// over all three are incremental like any other; rows whose time is NULL
// belong to no window.
func (b *binder) bindWindowTable(name string, fc *pg.FuncCall, rf *pg.RangeFunction, sc *scope) (planner.Rel, []scopeCol, error) {
	bad := func(format string, args ...any) error {
		return errAt(pgerror.New(pgerror.InvalidParameterValue, format, args...), fc.Location)
	}
	want := 3
	if name == "hop" {
		want = 4
	}
	switch {
	case name == "session" && len(fc.Args) < 3:
		return nil, nil, bad("SESSION takes a relation, a time column, a gap and optional key columns")
	case name != "session" && len(fc.Args) != want && len(fc.Args) != want+1:
		return nil, nil, bad("%s takes a relation, a time column, %s and an optional offset", strings.ToUpper(name), map[string]string{"tumble": "a size", "hop": "a slide and a size"}[name])
	}
	relRef := fc.Args[0].GetColumnRef()
	colRef := fc.Args[1].GetColumnRef()
	sub := fc.Args[0].GetSubLink()
	if sub != nil && (sub.SubLinkType != pg.SubLinkType_EXPR_SUBLINK || sub.Testexpr != nil) {
		sub = nil
	}
	if (relRef == nil && sub == nil) || colRef == nil || (relRef != nil && len(relRef.Fields) != 1) || len(colRef.Fields) != 1 {
		return nil, nil, bad("%s's first argument names a relation (or is a subquery) and its second a column of it", strings.ToUpper(name))
	}
	var rel planner.Rel
	var cols []scopeCol
	var err error
	relName := "the subquery"
	if sub != nil {
		q, err := b.bindSelectStmt(sub.Subselect, sc.outer)
		if err != nil {
			return nil, nil, err
		}
		rel, cols = trimCols(q), renameCols(q.cols[:q.visible], nil, "")
	} else {
		relName = relRef.Fields[0].GetString_().Sval
		if rel, cols, err = b.bindRangeVar(&pg.RangeVar{Relname: relName, Location: relRef.Location}); err != nil {
			return nil, nil, err
		}
	}
	colName := strings.ToLower(colRef.Fields[0].GetString_().Sval)
	tcol := -1
	for i, c := range cols {
		if c.name == colName && !c.hidden {
			tcol = i
		}
	}
	if tcol < 0 {
		return nil, nil, errAt(pgerror.New(pgerror.UndefinedColumn, "column %q does not exist in %s", colName, relName), colRef.Location)
	}
	tt := cols[tcol].typ
	if tt != types.Timestamp && tt != types.TimestampTZ {
		return nil, nil, errAt(pgerror.New(pgerror.DatatypeMismatch, "the time column of %s must be a timestamp or timestamptz, not %s", strings.ToUpper(name), tt), colRef.Location)
	}
	// The interval arguments are constants: the number of windows per row
	// is fixed by the plan.
	interval := func(n *pg.Node) (int64, error) {
		e, err := b.bindExpr(n, &scope{})
		if err == nil {
			e, err = b.coerce(e, types.Interval)
		}
		if err != nil {
			return 0, err
		}
		if !expr.IsConst(e) {
			return 0, bad("%s's interval arguments must be constants", strings.ToUpper(name))
		}
		d, err := e.Eval(&expr.Ctx{}, nil)
		if err != nil {
			return 0, err
		}
		iv := d.Interval()
		if d.IsNull() || iv.Months != 0 {
			return 0, bad("%s's interval arguments must be fixed intervals (no months or years)", strings.ToUpper(name))
		}
		return int64(iv.Days)*86400e6 + iv.Micros, nil
	}
	if name == "session" {
		return b.bindSession(fc, rf, rel, cols, tcol, interval)
	}
	var slide, size, offset int64
	if slide, err = interval(fc.Args[2]); err != nil {
		return nil, nil, err
	}
	size = slide
	next := 3
	if name == "hop" {
		if size, err = interval(fc.Args[3]); err != nil {
			return nil, nil, err
		}
		next = 4
	}
	if len(fc.Args) > next {
		if offset, err = interval(fc.Args[next]); err != nil {
			return nil, nil, err
		}
	}
	if slide <= 0 || size <= 0 {
		return nil, nil, bad("window sizes must be positive")
	}
	if size%slide != 0 {
		return nil, nil, bad("HOP's size must be a multiple of its slide")
	}
	ts := &expr.Col{Idx: tcol, Typ: tt}
	micros := func(us int64) expr.Expr { return &expr.Const{Val: types.NewInterval(types.IntervalValue{Micros: us})} }
	origin := &expr.Const{Val: types.NewTimestamp(tt, types.TimeToMicros(time.Unix(0, 0))+offset)}
	start0, err := b.call("date_bin", []expr.Expr{micros(slide), ts, origin}, fc.Location)
	if err != nil {
		return nil, nil, err
	}
	input := planner.Rel(&planner.Filter{Input: rel, Pred: &expr.IsNull{Arg: ts, Negate: true}})
	var out planner.Rel
	for i := int64(0); i < size/slide; i++ {
		start := start0
		if i > 0 {
			if start, err = b.call("-", []expr.Expr{start0, micros(i * slide)}, fc.Location); err != nil {
				return nil, nil, err
			}
		}
		end, err := b.call("+", []expr.Expr{start, micros(size)}, fc.Location)
		if err != nil {
			return nil, nil, err
		}
		exprs := make([]expr.Expr, 0, len(cols)+2)
		for j, c := range cols {
			exprs = append(exprs, &expr.Col{Idx: j, Typ: c.typ})
		}
		one := &planner.Project{Input: input, Exprs: append(exprs, start, end)}
		if out == nil {
			out = one
		} else {
			out = &planner.SetOp{Kind: planner.Union, All: true, Left: out, Right: one}
		}
	}
	return out, windowColumns(rf, name, cols, tt), nil
}

// windowColumns are the columns of a window table function in FROM: rel's
// columns, then window_start and window_end of the time column's type tt,
// all under the function's alias (or its name).
func windowColumns(rf *pg.RangeFunction, name string, cols []scopeCol, tt types.Type) []scopeCol {
	alias := name
	if rf.Alias != nil {
		alias = strings.ToLower(rf.Alias.Aliasname)
	}
	out := make([]scopeCol, 0, len(cols)+2)
	for _, c := range cols {
		c.table = alias
		out = append(out, c)
	}
	return append(out, scopeCol{table: alias, name: "window_start", typ: tt}, scopeCol{table: alias, name: "window_end", typ: tt})
}

// bindSession finishes SESSION(rel, time_col, gap [, key_col ...]) once
// bindWindowTable has bound rel and found the time column: the gap is a
// positive constant interval without months, the keys are columns of rel.
func (b *binder) bindSession(fc *pg.FuncCall, rf *pg.RangeFunction, rel planner.Rel, cols []scopeCol, tcol int, interval func(*pg.Node) (int64, error)) (planner.Rel, []scopeCol, error) {
	gap, err := interval(fc.Args[2])
	if err != nil {
		return nil, nil, err
	}
	if gap <= 0 {
		return nil, nil, errAt(pgerror.New(pgerror.InvalidParameterValue, "SESSION's gap must be a positive interval"), fc.Location)
	}
	var keys []int
	for _, a := range fc.Args[3:] {
		ref := a.GetColumnRef()
		if ref == nil || len(ref.Fields) != 1 || ref.Fields[0].GetString_() == nil {
			return nil, nil, errAt(pgerror.New(pgerror.InvalidParameterValue, "SESSION's key arguments must be columns of its relation"), fc.Location)
		}
		kn := strings.ToLower(ref.Fields[0].GetString_().Sval)
		k := -1
		for i, c := range cols {
			if c.name == kn && !c.hidden {
				k = i
			}
		}
		if k < 0 {
			return nil, nil, errAt(pgerror.New(pgerror.UndefinedColumn, "column %q does not exist", kn), ref.Location)
		}
		keys = append(keys, k)
	}
	tt := cols[tcol].typ
	ts := &expr.Col{Idx: tcol, Typ: tt}
	input := planner.Rel(&planner.Filter{Input: rel, Pred: &expr.IsNull{Arg: ts, Negate: true}})
	out := &planner.Session{Input: input, Time: tcol, Keys: keys, Gap: gap}
	return out, windowColumns(rf, "session", cols, tt), nil
}
