package sql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// scopeCol is a column visible to name resolution.
type scopeCol struct {
	table  string // alias or table name, lower case; "" for computed columns
	name   string // lower case
	typ    types.Type
	hidden bool // not expanded by *
	// record, when set, says the column holds a record (its text form)
	// with these fields, for field selection (bind_setfunc.go).
	record recordFields
	// origin is the table column the values come from unchanged (zero when
	// computed), reported in RowDescription so that drivers (pgjdbc's
	// ResultSetMetaData) can look the column up.
	origin colOrigin
}

// colOrigin is a base-table column: its table's OID and attribute number.
type colOrigin struct {
	table uint32
	attr  int16
}

// scope is the namespace of one query level: the columns of the relation
// being built, in order, plus the enclosing query's scope for correlated
// references.
type scope struct {
	cols  []scopeCol
	outer *scope
	// corr, when set, records or resolves references to outer columns
	// (see correlation).
	corr *correlation
	// agg, when set, binds expressions against an aggregation's output.
	agg *aggScope
}

// correlation resolves a subquery's references to its enclosing query. In
// the collecting pass refs accumulates the outer column indexes referenced;
// in the binding pass each outer column maps to a column of the subquery's
// relation (the distinct outer values, D, joined in first).
type correlation struct {
	collecting bool
	refs       []int       // outer column indexes, in order of first use
	at         map[int]int // binding pass: outer column index → column of D
}

func (c *correlation) ref(outerIdx int) int {
	for i, r := range c.refs {
		if r == outerIdx {
			return i
		}
	}
	c.refs = append(c.refs, outerIdx)
	return len(c.refs) - 1
}

// binder turns pg_query AST into logical plans and bound expressions.
type binder struct {
	s      *Session
	cat    *catalog
	params []types.Type  // parameter types; Unknown until inferred
	values []types.Datum // parameter values at execution, nil when preparing
	ctes   map[string]*boundCTE
	// inlineMatViews plans materialized views from their definitions
	// instead of reading their outputs (inside a transaction that has
	// uncommitted writes).
	inlineMatViews bool
	// nowIsMzNow binds now() and current_timestamp as mz_now(): set while
	// a materialized view's definition is inlined, where they mean the
	// view's timestamp (temporal.go).
	nowIsMzNow bool
	deps       map[string]bool
	// rel is the relation expressions are being bound over; binding a
	// subquery in an expression extends it with the subquery's columns.
	rel planner.Rel
	// deferSubLinks makes subqueries bind to a placeholder (the first pass
	// over an aggregating select list, see bindOverAggregate).
	deferSubLinks bool
	// windows maps a window function call of the select list to the column
	// that holds its value (see bindWindows).
	windows map[*pg.FuncCall]expr.Expr
	// srfs maps a set-returning call of the select list to the FlatMap
	// columns that hold its values, and records the fields of record-valued
	// expressions (see bind_setfunc.go).
	srfs    map[*pg.FuncCall]srfBinding
	records map[expr.Expr]recordFields
	// origins remembers which bound column references read a table column
	// unchanged (scopeCol.origin).
	origins map[expr.Expr]colOrigin
	// searchPath, when set, replaces the session's search path (while a
	// view's definition is bound, see schema.go).
	searchPath []string
	// zoneUsed is set when a constant folded at bind time read the
	// session's TimeZone (foldCtx).
	zoneUsed bool
}

// foldCtx is the context constants are folded with: the session's TimeZone
// (noting its use in zoneUsed), no catalog, no clock.
func (b *binder) foldCtx() *expr.Ctx {
	return &expr.Ctx{Location: b.s.location(), ZoneUsed: &b.zoneUsed}
}

// resolve finds a user object by optional schema and name, an unqualified
// name through the search path.
func (b *binder) resolve(schema, name string) (*Object, bool) {
	path := b.searchPath
	if path == nil {
		path = b.s.pathSchemas()
	}
	return resolveIn(b.cat, path, strings.ToLower(schema), name)
}

type boundCTE struct {
	rel  planner.Rel
	cols []scopeCol
}

func errAt(err error, loc int32) error { return pgerror.WithPosition(err, int(loc)+1) }

// paramExpr is a $n placeholder while preparing (its value is unknown).
type paramExpr struct {
	idx int
	typ types.Type
}

func (p *paramExpr) Type() types.Type { return p.typ }
func (p *paramExpr) Eval(*expr.Ctx, types.Row) (types.Datum, error) {
	return types.Datum{}, pgerror.New(pgerror.InternalError, "parameter $%d has no value", p.idx+1)
}
func (p *paramExpr) String() string { return fmt.Sprintf("$%d", p.idx+1) }

// coerce converts e to type to for an implicit context (assignment,
// operator argument): untyped literals and parameters take the type.
func (b *binder) coerce(e expr.Expr, to types.Type) (expr.Expr, error) {
	if e.Type() == to || to == types.Unknown {
		return e, nil
	}
	if p, ok := e.(*paramExpr); ok && p.typ == types.Unknown {
		b.params[p.idx] = to
		return &paramExpr{idx: p.idx, typ: to}, nil
	}
	return expr.NewCastIn(b.foldCtx(), e, to)
}

// resolveUnknown gives an untyped expression (literal or parameter) type
// text, as PostgreSQL does when nothing else decides.
func (b *binder) resolveUnknown(e expr.Expr) (expr.Expr, error) {
	if e.Type() == types.Unknown {
		return b.coerce(e, types.Text)
	}
	return e, nil
}

func (b *binder) bindExpr(n *pg.Node, sc *scope) (expr.Expr, error) {
	if sc.agg != nil {
		if e, ok, err := sc.agg.match(b, n); ok || err != nil {
			return e, err
		}
	}
	switch {
	case n.GetAConst() != nil:
		return bindConst(n.GetAConst())
	case n.GetColumnRef() != nil:
		return b.bindColumnRef(n.GetColumnRef(), sc)
	case n.GetParamRef() != nil:
		return b.bindParam(n.GetParamRef())
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		if e, ok, err := b.bindCompatCast(tc, sc); ok { // reg* and array types (pgcatalog_compat.go)
			return e, err
		}
		to, err := bindTypeName(tc.TypeName)
		if err != nil {
			return nil, errAt(err, tc.Location)
		}
		arg, err := b.bindExpr(tc.Arg, sc)
		if err != nil {
			return nil, err
		}
		var e expr.Expr
		if p, ok := arg.(*paramExpr); ok && p.typ == types.Unknown {
			e, err = b.coerce(p, to)
		} else {
			e, err = expr.NewCastIn(b.foldCtx(), arg, to)
		}
		if err != nil {
			return nil, errAt(err, tc.Location)
		}
		e, err = b.applyTypmod(e, to, typeMods(tc.TypeName), true)
		return e, errAt(err, tc.Location)
	case n.GetAExpr() != nil:
		return b.bindAExpr(n.GetAExpr(), sc)
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		var args []expr.Expr
		for _, a := range be.Args {
			e, err := b.bindBool(a, sc, "argument of "+strings.TrimSuffix(be.Boolop.String(), "_EXPR"))
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		switch be.Boolop {
		case pg.BoolExprType_AND_EXPR:
			return &expr.And{Args: args}, nil
		case pg.BoolExprType_OR_EXPR:
			return &expr.Or{Args: args}, nil
		}
		return &expr.Not{Arg: args[0]}, nil
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		arg, err := b.bindExpr(nt.Arg, sc)
		if err != nil {
			return nil, err
		}
		return &expr.IsNull{Arg: arg, Negate: nt.Nulltesttype == pg.NullTestType_IS_NOT_NULL}, nil
	case n.GetBooleanTest() != nil:
		bt := n.GetBooleanTest()
		arg, err := b.bindBool(bt.Arg, sc, "argument of IS TRUE")
		if err != nil {
			return nil, err
		}
		switch bt.Booltesttype {
		case pg.BoolTestType_IS_TRUE:
			return &expr.IsBool{Arg: arg, Want: true}, nil
		case pg.BoolTestType_IS_NOT_TRUE:
			return &expr.IsBool{Arg: arg, Want: true, Negate: true}, nil
		case pg.BoolTestType_IS_FALSE:
			return &expr.IsBool{Arg: arg, Want: false}, nil
		case pg.BoolTestType_IS_NOT_FALSE:
			return &expr.IsBool{Arg: arg, Want: false, Negate: true}, nil
		case pg.BoolTestType_IS_UNKNOWN:
			return &expr.IsNull{Arg: arg}, nil
		}
		return &expr.IsNull{Arg: arg, Negate: true}, nil
	case n.GetCaseExpr() != nil:
		return b.bindCase(n.GetCaseExpr(), sc)
	case n.GetCoalesceExpr() != nil:
		args, t, err := b.bindCommon(n.GetCoalesceExpr().Args, sc, "COALESCE")
		if err != nil {
			return nil, err
		}
		return &expr.Coalesce{Args: args, Typ: t}, nil
	case n.GetMinMaxExpr() != nil:
		mm := n.GetMinMaxExpr()
		args, t, err := b.bindCommon(mm.Args, sc, "GREATEST")
		if err != nil {
			return nil, err
		}
		return greatest(args, t, mm.Op == pg.MinMaxOp_IS_GREATEST), nil
	case n.GetFuncCall() != nil:
		return b.bindFuncCall(n.GetFuncCall(), sc)
	case n.GetSqlvalueFunction() != nil:
		return b.bindSQLValueFunction(n.GetSqlvalueFunction())
	case n.GetSubLink() != nil:
		if e, ok, err := b.bindCompatSubLink(n.GetSubLink(), sc); ok { // ARRAY(...) (pgcatalog_compat.go)
			return e, err
		}
		return b.bindSubLink(n.GetSubLink(), sc)
	case n.GetAArrayExpr() != nil:
		return b.bindArrayExpr(n.GetAArrayExpr(), sc)
	case n.GetAIndirection() != nil:
		return b.bindIndirection(n.GetAIndirection(), sc)
	case n.GetCollateClause() != nil:
		return b.bindExpr(n.GetCollateClause().Arg, sc)
	}
	return nil, pgerror.New(pgerror.FeatureNotSupported, "expression not supported: %s", nodeName(n))
}

func nodeName(n *pg.Node) string {
	s := fmt.Sprintf("%T", n.GetNode())
	s = strings.TrimPrefix(s, "*pg_query.Node_")
	return s
}

// bindBool binds an expression that must be boolean (WHERE, AND, ...).
func (b *binder) bindBool(n *pg.Node, sc *scope, what string) (expr.Expr, error) {
	e, err := b.bindExpr(n, sc)
	if err != nil {
		return nil, err
	}
	if e.Type() == types.Unknown {
		return b.coerce(e, types.Bool)
	}
	if e.Type() != types.Bool {
		return nil, pgerror.New(pgerror.DatatypeMismatch, "%s must be type boolean, not type %s", what, e.Type())
	}
	return e, nil
}

func bindConst(c *pg.A_Const) (expr.Expr, error) {
	d, err := constDatum(c)
	if err != nil {
		return nil, err
	}
	return &expr.Const{Val: d}, nil
}

// constDatum is a literal's value, typed as PostgreSQL types literals: an
// integer that fits is int4, a larger one int8 and any other number
// numeric; a string is unknown until its context gives it a type.
func constDatum(c *pg.A_Const) (types.Datum, error) {
	if c.Isnull {
		return types.NullUnknown, nil
	}
	switch {
	case c.GetIval() != nil:
		return types.NewInt4(c.GetIval().Ival), nil
	case c.GetFval() != nil:
		s := c.GetFval().Fval
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return types.NewInt8(v), nil
		}
		d, _, err := apd.NewFromString(s)
		if err != nil {
			return types.Datum{}, pgerror.New(pgerror.InvalidTextRepresentation, "invalid number %q", s)
		}
		return types.NewNumeric(d), nil
	case c.GetBoolval() != nil:
		return types.NewBool(c.GetBoolval().Boolval), nil
	case c.GetSval() != nil:
		return types.NewString(types.Unknown, c.GetSval().Sval), nil
	case c.GetBsval() != nil:
		return types.NewString(types.Unknown, c.GetBsval().Bsval), nil
	}
	return types.NullUnknown, nil
}

func bindTypeName(tn *pg.TypeName) (types.Type, error) {
	var parts []string
	for _, n := range tn.Names {
		if s := n.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	if len(tn.ArrayBounds) > 0 {
		return types.Unknown, pgerror.New(pgerror.FeatureNotSupported, "array types are not supported")
	}
	name := parts[len(parts)-1]
	if t, ok := types.FromName(name); ok {
		return t, nil
	}
	return types.Unknown, pgerror.New(pgerror.UndefinedObject, "type %q does not exist", strings.Join(parts, "."))
}

// typeMods returns a type name's modifiers: varchar(40) → [40],
// numeric(10, 2) → [10 2].
func typeMods(tn *pg.TypeName) []int32 {
	var out []int32
	for _, m := range tn.Typmods {
		if c := m.GetAConst(); c != nil && c.GetIval() != nil {
			out = append(out, c.GetIval().Ival)
		}
	}
	return out
}

// applyTypmod enforces a type modifier on a value already of type t, with
// PostgreSQL's length-coercion functions (package expr, typmod.go): an
// explicit cast truncates strings, an assignment rejects a value too long.
func (b *binder) applyTypmod(e expr.Expr, t types.Type, mods []int32, explicit bool) (expr.Expr, error) {
	if len(mods) == 0 {
		return e, nil
	}
	i4 := func(v int32) expr.Expr { return &expr.Const{Val: types.NewInt4(v)} }
	switch t {
	case types.Varchar:
		return b.call("varchar", []expr.Expr{e, i4(mods[0]), &expr.Const{Val: types.NewBool(explicit)}}, 0)
	case types.Bpchar:
		return b.call("bpchar", []expr.Expr{e, i4(mods[0]), &expr.Const{Val: types.NewBool(explicit)}}, 0)
	case types.Numeric:
		scale := int32(0)
		if len(mods) > 1 {
			scale = mods[1]
		}
		return b.call("numeric", []expr.Expr{e, i4(mods[0]), i4(scale)}, 0)
	}
	return e, nil
}

func (b *binder) bindParam(p *pg.ParamRef) (expr.Expr, error) {
	idx := int(p.Number) - 1
	if idx < 0 {
		return nil, pgerror.New(pgerror.UndefinedParameter, "there is no parameter $%d", p.Number)
	}
	for len(b.params) <= idx {
		b.params = append(b.params, types.Unknown)
	}
	if b.values != nil {
		if idx >= len(b.values) {
			return nil, pgerror.New(pgerror.ProtocolViolation, "bind message supplies %d parameters, but prepared statement requires %d", len(b.values), idx+1)
		}
		v := b.values[idx]
		if v.Type() == types.Unknown && b.params[idx] != types.Unknown {
			if v.IsNull() {
				v = types.Null(b.params[idx])
			}
		}
		return &expr.Const{Val: v}, nil
	}
	return &paramExpr{idx: idx, typ: b.params[idx]}, nil
}

func (b *binder) bindColumnRef(cr *pg.ColumnRef, sc *scope) (expr.Expr, error) {
	var parts []string
	for _, f := range cr.Fields {
		if s := f.GetString_(); s != nil {
			parts = append(parts, strings.ToLower(s.Sval))
		} else if f.GetAStar() != nil {
			return nil, errAt(pgerror.New(pgerror.SyntaxError, "* is not allowed here"), cr.Location)
		}
	}
	table, name := "", parts[len(parts)-1]
	if len(parts) >= 2 {
		table = parts[len(parts)-2]
	}
	for level, s := 0, sc; s != nil; level, s = level+1, s.outer {
		idx, err := s.lookup(table, name)
		if err != nil {
			return nil, errAt(err, cr.Location)
		}
		if idx < 0 {
			continue
		}
		if level == 0 {
			c := &expr.Col{Idx: idx, Typ: s.cols[idx].typ, Name: name}
			if s.cols[idx].record != nil {
				b.noteRecord(c, s.cols[idx].record)
			}
			if o := s.cols[idx].origin; o.table != 0 {
				if b.origins == nil {
					b.origins = map[expr.Expr]colOrigin{}
				}
				b.origins[c] = o
			}
			return c, nil
		}
		if level > 1 || sc.corr == nil {
			return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "correlated reference to %q from a nested subquery is not supported", name), cr.Location)
		}
		return sc.corr.bindOuter(idx, s.cols[idx].typ, name)
	}
	if table != "" {
		if !sc.hasTable(table) {
			return nil, errAt(pgerror.New(pgerror.UndefinedTable, "missing FROM-clause entry for table %q", table), cr.Location)
		}
		return nil, errAt(pgerror.New(pgerror.UndefinedColumn, "column %s.%s does not exist", table, name), cr.Location)
	}
	return nil, errAt(pgerror.New(pgerror.UndefinedColumn, "column %q does not exist", name), cr.Location)
}

func (c *correlation) bindOuter(outerIdx int, t types.Type, name string) (expr.Expr, error) {
	if c.collecting {
		c.ref(outerIdx)
		return &expr.Const{Val: types.Null(t)}, nil
	}
	at, ok := c.at[outerIdx]
	if !ok {
		return nil, pgerror.New(pgerror.InternalError, "correlated column %q was not collected", name)
	}
	return &expr.Col{Idx: at, Typ: t, Name: name}, nil
}

func (s *scope) hasTable(table string) bool {
	for _, c := range s.cols {
		if c.table == table {
			return true
		}
	}
	return false
}

// lookup finds a column by (optional) table and name: its index, -1 if
// absent, or an error if ambiguous.
func (s *scope) lookup(table, name string) (int, error) {
	found := -1
	for i, c := range s.cols {
		if c.name != name || (table != "" && c.table != table) {
			continue
		}
		if table == "" && c.hidden && c.table == "" {
			continue
		}
		if found >= 0 {
			return -1, pgerror.New(pgerror.AmbiguousColumn, "column reference %q is ambiguous", name)
		}
		found = i
	}
	return found, nil
}

var compareOps = map[string]expr.CmpOp{"=": expr.EQ, "<>": expr.NE, "!=": expr.NE, "<": expr.LT, "<=": expr.LE, ">": expr.GT, ">=": expr.GE}

func opName(names []*pg.Node) string {
	s := names[len(names)-1].GetString_()
	if s == nil {
		return ""
	}
	return s.Sval
}

func (b *binder) bindAExpr(a *pg.A_Expr, sc *scope) (expr.Expr, error) {
	switch a.Kind {
	case pg.A_Expr_Kind_AEXPR_OP, pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE, pg.A_Expr_Kind_AEXPR_SIMILAR:
		// LIKE and ILIKE arrive as their operators (~~, !~~, ~~*, !~~*);
		// SIMILAR TO as ~ against similar_to_escape(pattern).
		op := opName(a.Name)
		if a.Lexpr == nil {
			r, err := b.bindExpr(a.Rexpr, sc)
			if err != nil {
				return nil, err
			}
			return b.bindOperator(op, nil, r, a.Location)
		}
		l, err := b.bindExpr(a.Lexpr, sc)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(a.Rexpr, sc)
		if err != nil {
			return nil, err
		}
		return b.bindOperator(op, l, r, a.Location)
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, r, err := b.bindPair(a.Lexpr, a.Rexpr, sc, a.Location, "IS DISTINCT FROM")
		if err != nil {
			return nil, err
		}
		op := expr.IsDistinct
		if a.Kind == pg.A_Expr_Kind_AEXPR_NOT_DISTINCT {
			op = expr.IsNotDistinct
		}
		return &expr.Compare{Op: op, L: l, R: r}, nil
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		l, r, err := b.bindPair(a.Lexpr, a.Rexpr, sc, a.Location, "NULLIF")
		if err != nil {
			return nil, err
		}
		return &expr.Case{Whens: []expr.When{{Cond: &expr.Compare{Op: expr.EQ, L: l, R: r}, Val: &expr.Const{Val: types.Null(l.Type())}}}, Else: l, Typ: l.Type()}, nil
	case pg.A_Expr_Kind_AEXPR_IN:
		list := a.Rexpr.GetList()
		if list == nil {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "IN requires a list")
		}
		nodes := append([]*pg.Node{a.Lexpr}, list.Items...)
		args, _, err := b.bindCommon(nodes, sc, "IN")
		if err != nil {
			return nil, errAt(err, a.Location)
		}
		return &expr.InList{Arg: args[0], List: args[1:], Negate: opName(a.Name) == "<>"}, nil
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		return b.bindArrayOp(a, sc)
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN, pg.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		bounds := a.Rexpr.GetList().Items
		args, _, err := b.bindCommon([]*pg.Node{a.Lexpr, bounds[0], bounds[1]}, sc, "BETWEEN")
		if err != nil {
			return nil, errAt(err, a.Location)
		}
		x, lo, hi := args[0], args[1], args[2]
		in := &expr.And{Args: []expr.Expr{&expr.Compare{Op: expr.GE, L: x, R: lo}, &expr.Compare{Op: expr.LE, L: x, R: hi}}}
		var e expr.Expr = in
		if a.Kind == pg.A_Expr_Kind_AEXPR_BETWEEN_SYM || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			swapped := &expr.And{Args: []expr.Expr{&expr.Compare{Op: expr.GE, L: x, R: hi}, &expr.Compare{Op: expr.LE, L: x, R: lo}}}
			e = &expr.Or{Args: []expr.Expr{in, swapped}}
		}
		if a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			e = &expr.Not{Arg: e}
		}
		return e, nil
	}
	return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "operator kind %s is not supported", a.Kind), a.Location)
}

// bindPair binds two expressions and converts them to a common type.
func (b *binder) bindPair(ln, rn *pg.Node, sc *scope, loc int32, what string) (expr.Expr, expr.Expr, error) {
	args, _, err := b.bindCommon([]*pg.Node{ln, rn}, sc, what)
	if err != nil {
		return nil, nil, errAt(err, loc)
	}
	return args[0], args[1], nil
}

// bindCommon binds expressions and converts them to their common type
// (PostgreSQL's UNION/CASE/IN resolution).
func (b *binder) bindCommon(nodes []*pg.Node, sc *scope, what string) ([]expr.Expr, types.Type, error) {
	args := make([]expr.Expr, len(nodes))
	for i, n := range nodes {
		e, err := b.bindExpr(n, sc)
		if err != nil {
			return nil, 0, err
		}
		args[i] = e
	}
	return b.unify(args, what)
}

func (b *binder) unify(args []expr.Expr, what string) ([]expr.Expr, types.Type, error) {
	t := types.Unknown
	for _, a := range args {
		c, ok := types.Common(t, a.Type())
		if !ok {
			return nil, 0, pgerror.New(pgerror.DatatypeMismatch, "%s types %s and %s cannot be matched", what, t, a.Type())
		}
		t = c
	}
	if t == types.Unknown {
		t = types.Text
	}
	for i, a := range args {
		c, err := b.coerce(a, t)
		if err != nil {
			return nil, 0, err
		}
		args[i] = c
	}
	return args, t, nil
}

func (b *binder) bindOperator(op string, l, r expr.Expr, loc int32) (expr.Expr, error) {
	if cmp, ok := compareOps[op]; ok && l != nil {
		lt, rt := l.Type(), r.Type()
		t, ok := types.Common(lt, rt)
		if !ok {
			return nil, errAt(&pgerror.Error{Code: pgerror.UndefinedFunction, Message: fmt.Sprintf("operator does not exist: %s %s %s", lt, op, rt),
				Hint: "No operator matches the given name and argument types. You might need to add explicit type casts."}, loc)
		}
		if t == types.Unknown {
			t = types.Text
		}
		var err error
		if l, err = b.coerce(l, t); err != nil {
			return nil, errAt(err, loc)
		}
		if r, err = b.coerce(r, t); err != nil {
			return nil, errAt(err, loc)
		}
		return &expr.Compare{Op: cmp, L: l, R: r}, nil
	}
	var args []expr.Expr
	if l != nil {
		args = append(args, l)
	}
	args = append(args, r)
	// An untyped literal next to a typed operand takes its type when the
	// operator exists for two operands of that type, directly or through
	// promotion (PostgreSQL's first
	// resolution rule); otherwise overload resolution decides (jsonb -> 'key').
	if len(args) == 2 && op != "||" {
		for i := range args {
			other := args[1-i].Type()
			if args[i].Type() != types.Unknown || other == types.Unknown {
				continue
			}
			// (The operator may exist for a wider type both promote to:
			// smallint & smallint is integer & integer.)
			if fn, _, err := expr.Resolve(op, []types.Type{other, other}); err == nil && len(fn.Args) == 2 && fn.Args[0] == fn.Args[1] {
				if c, err := b.coerce(args[i], other); err == nil {
					args[i] = c
				} else {
					return nil, errAt(err, loc)
				}
			}
		}
	}
	if op == "||" {
		// anynonarray || text: cast the non-text side to text.
		for i, a := range args {
			if a.Type().Family() != types.FamString && a.Type() != types.JSONB {
				c, err := b.coerce(a, types.Text)
				if err != nil {
					return nil, errAt(err, loc)
				}
				args[i] = c
			}
		}
	}
	return b.call(op, args, loc)
}

// call resolves a function or operator overload and casts the arguments.
func (b *binder) call(name string, args []expr.Expr, loc int32) (expr.Expr, error) {
	if b.nowIsMzNow && len(args) == 0 && nowFunctions[name] {
		name = "mz_now" // a materialized view's definition (temporal.go)
	}
	argTypes := make([]types.Type, len(args))
	for i, a := range args {
		argTypes[i] = a.Type()
	}
	fn, targets, err := expr.Resolve(name, argTypes)
	if err != nil {
		if len(args) <= 2 && !expr.HasFunction(name) || strings.Trim(name, "+-*/<>=~!@#%^&|`?") == "" {
			var e *pgerror.Error
			if pe, ok := err.(*pgerror.Error); ok {
				e = pe
			}
			if e != nil && strings.Trim(name, "+-*/<>=~!@#%^&|`?") == "" {
				parts := make([]string, len(argTypes))
				for i, t := range argTypes {
					parts[i] = t.String()
				}
				msg := "operator does not exist: " + strings.Join(parts, " "+name+" ")
				if len(parts) == 1 {
					msg = "operator does not exist: " + name + " " + parts[0]
				}
				return nil, errAt(&pgerror.Error{Code: pgerror.UndefinedFunction, Message: msg, Hint: e.Hint}, loc)
			}
		}
		return nil, errAt(err, loc)
	}
	for i := range args {
		if args[i], err = b.coerce(args[i], targets[i]); err != nil {
			return nil, errAt(err, loc)
		}
	}
	c := &expr.Call{Fn: fn, Args: args}
	if expr.IsConst(c) && !fn.Volatile {
		// Fold constants so a bad literal fails at bind time.
		d, err := c.Eval(b.foldCtx(), nil)
		if err == nil {
			return &expr.Const{Val: d}, nil
		}
	}
	return c, nil
}

func (b *binder) bindCase(ce *pg.CaseExpr, sc *scope) (expr.Expr, error) {
	var operand expr.Expr
	var err error
	if ce.Arg != nil {
		if operand, err = b.bindExpr(ce.Arg, sc); err != nil {
			return nil, err
		}
	}
	var conds, vals []expr.Expr
	for _, w := range ce.Args {
		cw := w.GetCaseWhen()
		var cond expr.Expr
		if operand != nil {
			v, err := b.bindExpr(cw.Expr, sc)
			if err != nil {
				return nil, err
			}
			pair, _, err := b.unify([]expr.Expr{operand, v}, "CASE/WHEN")
			if err != nil {
				return nil, errAt(err, cw.Location)
			}
			cond = &expr.Compare{Op: expr.EQ, L: pair[0], R: pair[1]}
		} else if cond, err = b.bindBool(cw.Expr, sc, "argument of CASE/WHEN"); err != nil {
			return nil, err
		}
		v, err := b.bindExpr(cw.Result, sc)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
		vals = append(vals, v)
	}
	var els expr.Expr = &expr.Const{Val: types.NullUnknown}
	if ce.Defresult != nil {
		if els, err = b.bindExpr(ce.Defresult, sc); err != nil {
			return nil, err
		}
	}
	all, t, err := b.unify(append(vals, els), "CASE")
	if err != nil {
		return nil, errAt(err, ce.Location)
	}
	out := &expr.Case{Typ: t, Else: all[len(all)-1]}
	for i := range conds {
		out.Whens = append(out.Whens, expr.When{Cond: conds[i], Val: all[i]})
	}
	return out, nil
}

// greatest builds GREATEST/LEAST from CASE: NULL arguments are ignored.
func greatest(args []expr.Expr, t types.Type, isGreatest bool) expr.Expr {
	acc := args[0]
	for _, a := range args[1:] {
		op := expr.GT
		if !isGreatest {
			op = expr.LT
		}
		acc = &expr.Case{Typ: t, Whens: []expr.When{
			{Cond: &expr.IsNull{Arg: acc}, Val: a},
			{Cond: &expr.IsNull{Arg: a}, Val: acc},
			{Cond: &expr.Compare{Op: op, L: a, R: acc}, Val: a},
		}, Else: acc}
	}
	return acc
}

func (b *binder) bindSQLValueFunction(f *pg.SQLValueFunction) (expr.Expr, error) {
	name := map[pg.SQLValueFunctionOp]string{
		pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:        "current_date",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:   "now",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N: "now",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:      "localtimestamp",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:    "localtimestamp",
	}[f.Op]
	switch f.Op {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_USER, pg.SQLValueFunctionOp_SVFOP_USER, pg.SQLValueFunctionOp_SVFOP_SESSION_USER, pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
		return &expr.Const{Val: types.NewText(b.s.user())}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return &expr.Const{Val: types.NewText("postgres")}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return b.call("current_schema", nil, f.Location)
	}
	if name == "" || !expr.HasFunction(name) {
		return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "%s is not supported", f.Op), f.Location)
	}
	return b.call(name, nil, f.Location)
}

func funcName(names []*pg.Node) string {
	var parts []string
	for _, n := range names {
		if s := n.GetString_(); s != nil {
			parts = append(parts, strings.ToLower(s.Sval))
		}
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		return parts[1]
	}
	return strings.Join(parts, ".")
}

func (b *binder) bindFuncCall(fc *pg.FuncCall, sc *scope) (expr.Expr, error) {
	name := funcName(fc.Funcname)
	if fc.Over != nil {
		if col, ok := b.windows[fc]; ok {
			return col, nil
		}
		return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "window function %s() is only supported as a top-k filter", name), fc.Location)
	}
	if expr.IsAggregate(name) || fc.AggStar {
		return nil, errAt(pgerror.New(pgerror.GroupingError, "aggregate functions are not allowed here"), fc.Location)
	}
	if s, ok := b.srfs[fc]; ok {
		return b.srfValue(s), nil
	}
	if isSetFunc(name) {
		return nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "set-returning function %s is only supported in FROM and in the select list of a query without aggregates", name), fc.Location)
	}
	args := make([]expr.Expr, len(fc.Args))
	for i, a := range fc.Args {
		e, err := b.bindExpr(a, sc)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	switch name {
	case "pg_typeof":
		// The argument's type, known when binding. PostgreSQL returns a
		// regtype, which prints as the type's name; Tributary has no
		// regtype values (regtype casts give an oid), so the name is text.
		if len(args) != 1 {
			break
		}
		return &expr.Const{Val: types.NewText(args[0].Type().String())}, nil
	case "coalesce":
		args, t, err := b.unify(args, "COALESCE")
		if err != nil {
			return nil, err
		}
		return &expr.Coalesce{Args: args, Typ: t}, nil
	case "greatest", "least":
		args, t, err := b.unify(args, strings.ToUpper(name))
		if err != nil {
			return nil, err
		}
		return greatest(args, t, name == "greatest"), nil
	case "nullif":
		args, t, err := b.unify(args, "NULLIF")
		if err != nil {
			return nil, err
		}
		return &expr.Case{Whens: []expr.When{{Cond: &expr.Compare{Op: expr.EQ, L: args[0], R: args[1]}, Val: &expr.Const{Val: types.Null(t)}}}, Else: args[0], Typ: t}, nil
	}
	if !expr.HasFunction(name) {
		return nil, errAt(undefinedFunc(name, args), fc.Location)
	}
	return b.call(name, args, fc.Location)
}

func undefinedFunc(name string, args []expr.Expr) error {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.Type().String()
	}
	return &pgerror.Error{Code: pgerror.UndefinedFunction, Message: fmt.Sprintf("function %s(%s) does not exist", name, strings.Join(parts, ", ")),
		Hint: "No function matches the given name and argument types. You might need to add explicit type casts."}
}

// aggScope binds expressions over an Aggregate's output: group-by
// expressions become references to key columns, aggregate calls to
// aggregate columns; other column references are errors.
type aggScope struct {
	input    *scope      // the scope aggregate arguments are bound in
	groups   []expr.Expr // bound group-by expressions (over input)
	groupStr []string
	aggs     []dataflow.AggCall
	aggStr   []string
	byNode   map[*pg.FuncCall]int // the aggregate each call node was bound to
	// countStarArg, when set, is what count(*) counts (the marker column of
	// a decorrelated subquery's outer join), so that unmatched rows give 0.
	countStarArg expr.Expr
	// extra are columns prepended to the output (the decorrelated D columns).
	nkeys int
}

// match binds n if it is an aggregate call or a group-by expression.
func (a *aggScope) match(b *binder, n *pg.Node) (expr.Expr, bool, error) {
	if fc := n.GetFuncCall(); fc != nil && fc.Over == nil {
		name := funcName(fc.Funcname)
		if expr.IsAggregate(name) {
			e, err := a.bindAgg(b, name, fc)
			return e, true, err
		}
	}
	if n.GetAConst() != nil || hasSubLink(n) {
		return nil, false, nil
	}
	saved := a.input.agg
	a.input.agg = nil
	e, err := b.bindExpr(n, a.input)
	a.input.agg = saved
	if err != nil {
		// Not bindable over the input as a whole: let the caller descend
		// (a subexpression may be a group key).
		if pgerror.CodeOf(err) == pgerror.UndefinedColumn || pgerror.CodeOf(err) == pgerror.GroupingError {
			return nil, false, nil
		}
		return nil, false, nil
	}
	key := e.String()
	for i, g := range a.groupStr {
		if g == key {
			return &expr.Col{Idx: i, Typ: a.groups[i].Type()}, true, nil
		}
	}
	if n.GetColumnRef() != nil {
		if c, ok := e.(*expr.Col); ok && c.Idx < a.nkeys {
			return &expr.Col{Idx: c.Idx, Typ: c.Typ}, true, nil
		}
		if _, ok := e.(*expr.Col); ok {
			return nil, true, errAt(pgerror.New(pgerror.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", columnRefName(n.GetColumnRef())), n.GetColumnRef().Location)
		}
		// An outer reference is constant per group.
		return nil, false, nil
	}
	return nil, false, nil
}

func columnRefName(cr *pg.ColumnRef) string {
	var parts []string
	for _, f := range cr.Fields {
		if s := f.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	return strings.Join(parts, ".")
}

func (a *aggScope) bindAgg(b *binder, name string, fc *pg.FuncCall) (expr.Expr, error) {
	// The second binding pass over an aggregating query (bindOverAggregate)
	// finds the aggregates the first pass registered by their call node:
	// their arguments are bound once, over the input rows.
	if i, ok := a.byNode[fc]; ok {
		return &expr.Col{Idx: len(a.groups) + i, Typ: a.aggs[i].Ret}, nil
	}
	saved := a.input.agg
	a.input.agg = nil
	savedDefer := b.deferSubLinks
	b.deferSubLinks = false
	defer func() { a.input.agg, b.deferSubLinks = saved, savedDefer }()
	var args []expr.Expr
	if fc.AggStar {
		if a.countStarArg != nil {
			args = []expr.Expr{a.countStarArg}
		}
	} else {
		for _, n := range fc.Args {
			e, err := b.bindExpr(n, a.input)
			if err != nil {
				return nil, err
			}
			if e, err = b.resolveUnknown(e); err != nil {
				return nil, err
			}
			args = append(args, e)
		}
	}
	argTypes := make([]types.Type, len(args))
	for i, e := range args {
		argTypes[i] = e.Type()
	}
	agg, targets, err := expr.ResolveAggregate(name, argTypes)
	if err != nil {
		return nil, errAt(err, fc.Location)
	}
	for i := range args {
		if args[i], err = b.coerce(args[i], targets[i]); err != nil {
			return nil, err
		}
	}
	call := dataflow.AggCall{Agg: agg, Args: args, Distinct: fc.AggDistinct, Ret: agg.Ret}
	if call.Ret == types.Unknown && len(args) > 0 {
		call.Ret = args[0].Type()
	}
	// ORDER BY inside the call matters only to order-sensitive aggregates;
	// their keys travel as extra arguments.
	if len(fc.AggOrder) > 0 {
		if _, ok := agg.New(argTypes).(expr.Ordered); ok {
			for _, o := range fc.AggOrder {
				sb := o.GetSortBy()
				k, err := b.bindExpr(sb.Node, a.input)
				if err != nil {
					return nil, err
				}
				desc := sb.SortbyDir == pg.SortByDir_SORTBY_DESC
				nullsFirst := desc
				switch sb.SortbyNulls {
				case pg.SortByNulls_SORTBY_NULLS_FIRST:
					nullsFirst = true
				case pg.SortByNulls_SORTBY_NULLS_LAST:
					nullsFirst = false
				}
				call.Args = append(call.Args, k)
				call.Desc = append(call.Desc, desc)
				call.NullsFirst = append(call.NullsFirst, nullsFirst)
				call.OrderKeys++
			}
		}
	}
	if fc.AggFilter != nil {
		f, err := b.bindBool(fc.AggFilter, a.input, "argument of FILTER")
		if err != nil {
			return nil, err
		}
		call.Filter = f
	}
	key := fmt.Sprintf("%s|%v|%s|%v|%v", name, fc.AggDistinct, exprListString(call.Args), call.Filter, call.Desc)
	if a.byNode == nil {
		a.byNode = map[*pg.FuncCall]int{}
	}
	for i, s := range a.aggStr {
		if s == key {
			a.byNode[fc] = i
			return &expr.Col{Idx: len(a.groups) + i, Typ: a.aggs[i].Ret}, nil
		}
	}
	a.aggs = append(a.aggs, call)
	a.aggStr = append(a.aggStr, key)
	a.byNode[fc] = len(a.aggs) - 1
	return &expr.Col{Idx: len(a.groups) + len(a.aggs) - 1, Typ: call.Ret}, nil
}

func exprListString(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}
