package sql

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Binder support for the expressions catalog queries use (psql's \d
// family, drivers' introspection): reg* casts, and arrays in their text
// form. Tributary has no array type; an array value is PostgreSQL's text
// form of it ('{a,b}'), which prints exactly as an array does, and the
// constructs below work on that form:
//
//   - ARRAY(subquery) is a scalar subquery that aggregates the rows into
//     the text form; ARRAY(SELECT f(x) FROM unnest(arr) x) maps over arr;
//   - ARRAY[a, b] is the text form of its elements;
//   - x = ANY(arr), x <> ALL(arr) test membership (an ARRAY[...] operand
//     is an IN list);
//   - arr[i] is the i'th element, of unknown type so that it compares with
//     what it is compared to;
//   - 'x'::T[] keeps the text form.
//
// Each entry point reports ok=false for what it does not handle, and the
// binder carries on as before.

// regCastFuncs maps the reg* types to the functions that resolve a name.
var regCastFuncs = map[string]string{
	"regclass": "tb_regclass", "regtype": "tb_regtype", "regnamespace": "tb_regnamespace",
	"regproc": "tb_regproc", "regprocedure": "tb_regproc",
}

func typeNameLast(tn *pg.TypeName) string {
	if len(tn.Names) == 0 {
		return ""
	}
	if s := tn.Names[len(tn.Names)-1].GetString_(); s != nil {
		return strings.ToLower(s.Sval)
	}
	return ""
}

// bindCompatCast binds casts to reg* types and array types.
func (b *binder) bindCompatCast(tc *pg.TypeCast, sc *scope) (expr.Expr, bool, error) {
	name := typeNameLast(tc.TypeName)
	fn, isReg := regCastFuncs[name]
	if name == "regrole" || name == "regoper" || name == "regoperator" || name == "regconfig" || name == "regdictionary" || name == "regcollation" {
		isReg = true
	}
	isArray := len(tc.TypeName.ArrayBounds) > 0
	if !isReg && !isArray {
		return nil, false, nil
	}
	arg, err := b.bindExpr(tc.Arg, sc)
	if err != nil {
		return nil, true, err
	}
	if isArray {
		if arg.Type() != types.Unknown && arg.Type().Family() != types.FamString {
			return nil, true, errAt(pgerror.New(pgerror.FeatureNotSupported, "array types are not supported"), tc.Location)
		}
		e, err := b.coerce(arg, types.Text)
		return e, true, errAt(err, tc.Location)
	}
	if arg.Type() == types.Unknown || arg.Type().Family() == types.FamString {
		if fn == "" {
			return nil, true, errAt(pgerror.New(pgerror.FeatureNotSupported, "type %s is not supported", name), tc.Location)
		}
		if arg, err = b.coerce(arg, types.Text); err != nil {
			return nil, true, err
		}
		e, err := b.call(fn, []expr.Expr{arg}, tc.Location)
		return e, true, err
	}
	e, err := b.coerce(arg, types.Oid)
	if err != nil {
		e, err = expr.NewCast(arg, types.Oid)
	}
	return e, true, errAt(err, tc.Location)
}

// bindArrayOp binds x op ANY (array) and x op ALL (array).
func (b *binder) bindArrayOp(a *pg.A_Expr, sc *scope) (expr.Expr, error) {
	op := opName(a.Name)
	any := a.Kind == pg.A_Expr_Kind_AEXPR_OP_ANY
	negate := false
	switch {
	case op == "=" && any:
	case op == "<>" && !any:
		negate = true
	default:
		return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "%s %s (array) is not supported", op, map[bool]string{true: "ANY", false: "ALL"}[any]), a.Location)
	}
	if arr := a.Rexpr.GetAArrayExpr(); arr != nil {
		nodes := append([]*pg.Node{a.Lexpr}, arr.Elements...)
		args, _, err := b.bindCommon(nodes, sc, "IN")
		if err != nil {
			return nil, errAt(err, a.Location)
		}
		return &expr.InList{Arg: args[0], List: args[1:], Negate: negate}, nil
	}
	l, err := b.bindExpr(a.Lexpr, sc)
	if err != nil {
		return nil, err
	}
	r, err := b.bindExpr(a.Rexpr, sc)
	if err != nil {
		return nil, err
	}
	if r.Type() != types.Unknown && r.Type().Family() != types.FamString {
		return nil, errAt(pgerror.New(pgerror.DatatypeMismatch, "op ANY/ALL (array) requires array on right side"), a.Location)
	}
	if l, err = b.coerce(l, types.Text); err != nil {
		return nil, errAt(err, a.Location)
	}
	e, err := b.call("tb_array_any", []expr.Expr{l, r}, a.Location)
	if err != nil || !negate {
		return e, err
	}
	return &expr.Not{Arg: e}, nil
}

// bindArrayExpr binds ARRAY[a, b, ...] to the text form of its elements.
func (b *binder) bindArrayExpr(arr *pg.A_ArrayExpr, sc *scope) (expr.Expr, error) {
	args := make([]expr.Expr, len(arr.Elements))
	for i, n := range arr.Elements {
		e, err := b.bindExpr(n, sc)
		if err != nil {
			return nil, err
		}
		if e, err = b.coerce(e, types.Text); err != nil {
			if e2, err2 := expr.NewCast(e, types.Text); err2 == nil {
				e, err = e2, nil
			} else {
				return nil, errAt(err, arr.Location)
			}
		}
		args[i] = e
	}
	return b.call("tb_array", args, arr.Location)
}

// bindIndirection binds arr[i] over the text form of an array.
func (b *binder) bindIndirection(ind *pg.A_Indirection, sc *scope) (expr.Expr, error) {
	if len(ind.Indirection) == 1 && ind.Indirection[0].GetString_() != nil {
		return b.bindFieldSelection(ind, strings.ToLower(ind.Indirection[0].GetString_().Sval), sc)
	}
	if len(ind.Indirection) != 1 || ind.Indirection[0].GetAIndices() == nil || ind.Indirection[0].GetAIndices().IsSlice {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "this subscript or field selection is not supported")
	}
	arg, err := b.bindExpr(ind.Arg, sc)
	if err != nil {
		return nil, err
	}
	idx, err := b.bindExpr(ind.Indirection[0].GetAIndices().Uidx, sc)
	if err != nil {
		return nil, err
	}
	if arg.Type().Family() != types.FamString {
		return nil, pgerror.New(pgerror.DatatypeMismatch, "cannot subscript type %s because it does not support subscripting", arg.Type())
	}
	if idx, err = b.coerce(idx, types.Int4); err != nil {
		return nil, err
	}
	return b.call("tb_array_subscript", []expr.Expr{arg, idx}, 0)
}

// bindCompatSubLink handles ARRAY(subquery), and rewrites a subquery that
// calls generate_series in FROM with correlated arguments (see
// boundCorrelatedSeries). ok is false for everything else.
func (b *binder) bindCompatSubLink(sl *pg.SubLink, sc *scope) (expr.Expr, bool, error) {
	sel := sl.Subselect.GetSelectStmt()
	if sel == nil {
		return nil, false, nil
	}
	if sl.SubLinkType == pg.SubLinkType_EXPR_SUBLINK {
		if rewritten := boundCorrelatedSeries(sel); rewritten != nil {
			nsl := proto.Clone(sl).(*pg.SubLink)
			nsl.Subselect = &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: rewritten}}
			e, err := b.bindSubLink(nsl, sc)
			return e, true, err
		}
		return nil, false, nil
	}
	if sl.SubLinkType != pg.SubLinkType_ARRAY_SUBLINK {
		return nil, false, nil
	}
	if len(sel.TargetList) != 1 {
		return nil, true, errAt(pgerror.New(pgerror.SyntaxError, "subquery must return only one column"), sl.Location)
	}
	if e, ok, err := b.bindUnnestMap(sel, sc); ok {
		return e, true, err
	}
	simple := (sel.Op == pg.SetOperation_SETOP_NONE || sel.Op == pg.SetOperation_SET_OPERATION_UNDEFINED) && len(sel.GroupClause) == 0 && sel.HavingClause == nil &&
		len(sel.DistinctClause) == 0 && sel.LimitCount == nil && sel.LimitOffset == nil && len(sel.WindowClause) == 0 && len(sel.ValuesLists) == 0
	if !simple {
		return nil, true, errAt(pgerror.New(pgerror.FeatureNotSupported, "ARRAY(subquery) with GROUP BY, DISTINCT, LIMIT or set operations is not supported"), sl.Location)
	}
	// ARRAY(SELECT v FROM ... WHERE ... ORDER BY k) is the scalar subquery
	// SELECT coalesce('{' || string_agg(tb_array_quote(v), ',' ORDER BY k)
	// || '}', '{}') FROM ... WHERE ...
	q := proto.Clone(sel).(*pg.SelectStmt)
	target := q.TargetList[0].GetResTarget().Val
	var order []*pg.Node
	for _, s := range q.SortClause {
		sb := proto.Clone(s.GetSortBy()).(*pg.SortBy)
		if c := sb.Node.GetAConst(); c != nil && c.GetIval() != nil && c.GetIval().Ival == 1 {
			sb.Node = target // ORDER BY 1: the only column
		}
		order = append(order, &pg.Node{Node: &pg.Node_SortBy{SortBy: sb}})
	}
	q.SortClause = nil
	loc := sl.Location
	fn := func(name string, args ...*pg.Node) *pg.Node {
		return pg.MakeFuncCallNode([]*pg.Node{pg.MakeStrNode(name)}, args, loc)
	}
	concat := func(l, r *pg.Node) *pg.Node {
		return pg.MakeAExprNode(pg.A_Expr_Kind_AEXPR_OP, []*pg.Node{pg.MakeStrNode("||")}, l, r, loc)
	}
	agg := fn("string_agg", fn("tb_array_quote", target), pg.MakeAConstStrNode(",", loc))
	agg.GetFuncCall().AggOrder = order
	val := fn("coalesce", concat(concat(pg.MakeAConstStrNode("{", loc), agg), pg.MakeAConstStrNode("}", loc)), pg.MakeAConstStrNode("{}", loc))
	q.TargetList = []*pg.Node{pg.MakeResTargetNodeWithVal(val, loc)}
	nsl := &pg.SubLink{SubLinkType: pg.SubLinkType_EXPR_SUBLINK, Subselect: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: q}}, Location: sl.Location}
	e, err := b.bindSubLink(nsl, sc)
	return e, true, err
}

// bindUnnestMap binds ARRAY(SELECT f(x) FROM unnest(arr) x) as a map of f
// over the elements of arr: f is bound over the element alone.
func (b *binder) bindUnnestMap(sel *pg.SelectStmt, sc *scope) (expr.Expr, bool, error) {
	if len(sel.FromClause) != 1 || sel.WhereClause != nil || len(sel.SortClause) > 0 || len(sel.GroupClause) > 0 || len(sel.DistinctClause) > 0 {
		return nil, false, nil
	}
	rf := sel.FromClause[0].GetRangeFunction()
	if rf == nil || len(rf.Functions) != 1 || rf.Ordinality {
		return nil, false, nil
	}
	fc := rf.Functions[0].GetList().GetItems()[0].GetFuncCall()
	if fc == nil || funcName(fc.Funcname) != "unnest" || len(fc.Args) != 1 {
		return nil, false, nil
	}
	arr, err := b.bindExpr(fc.Args[0], sc)
	if err != nil {
		return nil, true, err
	}
	if arr, err = b.coerce(arr, types.Text); err != nil {
		return nil, true, err
	}
	alias, col := "unnest", "unnest"
	if rf.Alias != nil {
		alias, col = strings.ToLower(rf.Alias.Aliasname), strings.ToLower(rf.Alias.Aliasname)
		if len(rf.Alias.Colnames) == 1 {
			col = strings.ToLower(rf.Alias.Colnames[0].GetString_().Sval)
		}
	}
	elemScope := &scope{cols: []scopeCol{{table: alias, name: col, typ: types.Text}}}
	body, err := b.bindExpr(sel.TargetList[0].GetResTarget().Val, elemScope)
	if err != nil {
		return nil, true, err
	}
	if body, err = b.coerce(body, types.Text); err != nil {
		return nil, true, err
	}
	// The map is a function made for this expression: its body reads only
	// the element, so column remapping of the enclosing query (which sees
	// just arr) stays correct.
	fn := &expr.Overload{Name: "tb_array_map", Args: []types.Type{types.Text}, Ret: types.Text, Fn: func(ctx *expr.Ctx, a []types.Datum) (types.Datum, error) {
		elems, nulls, err := expr.ParseTextArray(a[0].Str())
		if err != nil {
			return types.Datum{}, err
		}
		out := make([]string, 0, len(elems))
		for i, el := range elems {
			in := types.NewText(el)
			if nulls[i] {
				in = types.Null(types.Text)
			}
			d, err := body.Eval(ctx, types.Row{in})
			if err != nil {
				return types.Datum{}, err
			}
			out = append(out, types.FormatText(d))
		}
		return types.NewText(expr.FormatTextArray(out)), nil
	}}
	return &expr.Call{Fn: fn, Args: []expr.Expr{arr}}, true, nil
}

// maxCorrelatedSeries bounds generate_series with correlated arguments.
const maxCorrelatedSeries = 1600

// boundCorrelatedSeries rewrites a subquery whose FROM calls
// generate_series(lo, hi) with arguments that read outer columns (a
// lateral call, which the planner cannot express) into a join with the
// constant series 0..maxCorrelatedSeries, filtered by lo <= s <= hi; a
// check fails the query when lo or hi fall outside that range, so the
// answer is never silently cut short. psql's \d uses this on attribute
// numbers (at most 1600 in PostgreSQL). It returns nil when there is
// nothing to rewrite.
func boundCorrelatedSeries(sel *pg.SelectStmt) *pg.SelectStmt {
	idx := -1
	for i, f := range sel.FromClause {
		rf := f.GetRangeFunction()
		if rf == nil || len(rf.Functions) != 1 || rf.Ordinality {
			continue
		}
		fc := rf.Functions[0].GetList().GetItems()[0].GetFuncCall()
		if fc != nil && funcName(fc.Funcname) == "generate_series" && len(fc.Args) == 2 && hasColumnRef(fc.Args[0], fc.Args[1]) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil
	}
	q := proto.Clone(sel).(*pg.SelectStmt)
	rf := q.FromClause[idx].GetRangeFunction()
	fc := rf.Functions[0].GetList().GetItems()[0].GetFuncCall()
	lo, hi := fc.Args[0], fc.Args[1]
	fc.Args = []*pg.Node{pg.MakeAConstIntNode(0, fc.Location), pg.MakeAConstIntNode(maxCorrelatedSeries, fc.Location)}
	col := "generate_series"
	if rf.Alias != nil {
		col = rf.Alias.Aliasname
		if len(rf.Alias.Colnames) == 1 {
			col = rf.Alias.Colnames[0].GetString_().Sval
		}
	}
	s := pg.MakeColumnRefNode([]*pg.Node{pg.MakeStrNode(col)}, fc.Location)
	if rf.Alias != nil {
		s = pg.MakeColumnRefNode([]*pg.Node{pg.MakeStrNode(rf.Alias.Aliasname), pg.MakeStrNode(col)}, fc.Location)
	}
	between := pg.MakeAExprNode(pg.A_Expr_Kind_AEXPR_BETWEEN, []*pg.Node{pg.MakeStrNode("BETWEEN")}, s, pg.MakeListNode([]*pg.Node{lo, hi}), fc.Location)
	check := pg.MakeFuncCallNode([]*pg.Node{pg.MakeStrNode("tb_series_in_range")}, []*pg.Node{lo, hi, pg.MakeAConstIntNode(0, fc.Location), pg.MakeAConstIntNode(maxCorrelatedSeries, fc.Location)}, fc.Location)
	conds := []*pg.Node{check, between}
	if q.WhereClause != nil {
		conds = append(conds, q.WhereClause)
	}
	q.WhereClause = pg.MakeBoolExprNode(pg.BoolExprType_AND_EXPR, conds, fc.Location)
	return q
}

// hasColumnRef reports whether any of the expressions reads a column.
func hasColumnRef(nodes ...*pg.Node) bool {
	found := false
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if _, ok := m.Interface().(*pg.ColumnRef); ok {
			found = true
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message())
			}
			return !found
		})
	}
	for _, n := range nodes {
		if n != nil && !found {
			walk(n.ProtoReflect())
		}
	}
	return found
}
