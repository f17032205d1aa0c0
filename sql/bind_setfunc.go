package sql

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Set-returning functions (generate_series, unnest, generate_subscripts,
// information_schema._pg_expandarray) in a select list or in FROM.
//
// In a select list they are evaluated per input row by a FlatMap (as
// PostgreSQL's ProjectSet does): several calls advance in lockstep, the
// shorter padded with NULLs. In FROM, a call whose arguments are constant
// (or read only an enclosing query) is a FlatMap over one empty row.
//
// A function with several output columns (_pg_expandarray's x and n)
// returns a record. A field selection on the call, (f(a)).n, reads the
// FlatMap's column directly; the whole record is its text form, (1,2),
// which prints as PostgreSQL prints a record, and the binder remembers its
// fields (scopeCol.record) so that a field selection on a column holding
// one, (sub.rec).x, reads the field back.

// srfBinding is where a select-list call's columns are in the scope.
type srfBinding struct {
	fn    *expr.SetFunc
	first int // index of the call's first column in the scope
}

// recordFields describes a record value: its fields' names and types.
type recordFields []expr.SetCol

// isSetFunc reports whether name is a set-returning function.
func isSetFunc(name string) bool {
	switch name {
	case "generate_series", "unnest", "generate_subscripts", "information_schema._pg_expandarray", "pg_get_keywords":
		return true
	}
	return false
}

// setFunc resolves a set-returning function for bound arguments: the
// function and the arguments coerced to its parameter types.
func (b *binder) setFunc(name string, args []expr.Expr, loc int32) (*expr.SetFunc, []expr.Expr, error) {
	switch name {
	case "generate_series":
		return b.generateSeriesFunc(args, loc)
	case "unnest":
		if len(args) != 1 {
			break
		}
		arr, err := b.textArrayArg(args[0], name, loc)
		if err != nil {
			return nil, nil, err
		}
		return &expr.SetFunc{Name: name, Cols: []expr.SetCol{{Name: "unnest", Typ: types.Unknown}}, Fn: unnestRows}, []expr.Expr{arr}, nil
	case "information_schema._pg_expandarray":
		if len(args) != 1 {
			break
		}
		arr, err := b.textArrayArg(args[0], name, loc)
		if err != nil {
			return nil, nil, err
		}
		return &expr.SetFunc{Name: "_pg_expandarray", Cols: []expr.SetCol{{Name: "x", Typ: types.Unknown}, {Name: "n", Typ: types.Int4}}, Fn: expandArrayRows}, []expr.Expr{arr}, nil
	case "pg_get_keywords":
		if len(args) != 0 {
			break
		}
		return &expr.SetFunc{Name: name, Cols: []expr.SetCol{{Name: "word", Typ: types.Text}, {Name: "catcode", Typ: types.Text},
			{Name: "barelabel", Typ: types.Bool}, {Name: "catdesc", Typ: types.Text}, {Name: "baredesc", Typ: types.Text}}, Fn: keywordRows}, nil, nil
	case "generate_subscripts":
		if len(args) != 2 && len(args) != 3 {
			break
		}
		arr, err := b.textArrayArg(args[0], name, loc)
		if err != nil {
			return nil, nil, err
		}
		out := []expr.Expr{arr}
		for i, t := range []types.Type{types.Int4, types.Bool}[:len(args)-1] {
			a, err := b.coerce(args[i+1], t)
			if err != nil {
				return nil, nil, errAt(err, loc)
			}
			out = append(out, a)
		}
		return &expr.SetFunc{Name: name, Cols: []expr.SetCol{{Name: "generate_subscripts", Typ: types.Int4}}, Fn: subscriptRows}, out, nil
	}
	return nil, nil, errAt(undefinedFunc(name, args), loc)
}

// textArrayArg coerces an array argument to its text form (Tributary's
// arrays are text, see pgcatalog_compat.go).
func (b *binder) textArrayArg(a expr.Expr, name string, loc int32) (expr.Expr, error) {
	if a.Type() != types.Unknown && a.Type().Family() != types.FamString {
		return nil, errAt(undefinedFunc(name, []expr.Expr{a}), loc)
	}
	return b.coerce(a, types.Text)
}

func (b *binder) generateSeriesFunc(args []expr.Expr, loc int32) (*expr.SetFunc, []expr.Expr, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, nil, errAt(undefinedFunc("generate_series", args), loc)
	}
	bounds, t, err := b.unify(args[:2], "generate_series")
	if err != nil {
		return nil, nil, errAt(err, loc)
	}
	switch {
	case t == types.Int2 || t == types.Unknown:
		t = types.Int4
	case t.Family() == types.FamString:
		t = types.TimestampTZ
	}
	switch t.Family() {
	case types.FamNumeric, types.FamDateTime:
	default:
		return nil, nil, errAt(undefinedFunc("generate_series", args), loc)
	}
	var step expr.Expr = &expr.Const{Val: types.NewInt4(1)}
	if len(args) == 3 {
		step = args[2]
	} else if t.Family() == types.FamDateTime {
		return nil, nil, errAt(undefinedFunc("generate_series", args), loc)
	}
	stepType := t
	if t.Family() == types.FamDateTime {
		stepType = types.Interval
	}
	out := make([]expr.Expr, 0, 3)
	for i, a := range append(bounds, step) {
		want := t
		if i == 2 {
			want = stepType
		}
		c, err := b.coerce(a, want)
		if err != nil {
			return nil, nil, errAt(err, loc)
		}
		out = append(out, c)
	}
	fn := &expr.SetFunc{Name: "generate_series", Cols: []expr.SetCol{{Name: "generate_series", Typ: t}},
		Fn: func(ctx *expr.Ctx, a []types.Datum) ([]types.Row, error) {
			return generateSeries(ctx, a[0], a[1], a[2], t)
		}}
	return fn, out, nil
}

func unnestRows(_ *expr.Ctx, a []types.Datum) ([]types.Row, error) {
	if a[0].IsNull() {
		return nil, nil
	}
	elems, nulls, _, err := expr.ArrayElems(a[0].Str())
	if err != nil {
		return nil, err
	}
	rows := make([]types.Row, len(elems))
	cells := make([]types.Datum, len(elems))
	for i, e := range elems {
		cells[i] = types.NewString(types.Unknown, e)
		if nulls[i] {
			cells[i] = types.Null(types.Unknown)
		}
		rows[i] = cells[i : i+1 : i+1]
	}
	return rows, nil
}

// keywordRows is pg_get_keywords(): PostgreSQL 15's keywords.
func keywordRows(*expr.Ctx, []types.Datum) ([]types.Row, error) {
	cats := map[string]string{"U": "unreserved", "C": "unreserved (cannot be function or type name)",
		"T": "reserved (can be function or type name)", "R": "reserved"}
	rows := make([]types.Row, len(pgKeywords))
	for i, k := range pgKeywords {
		bare := "requires AS"
		if k.bare {
			bare = "can be bare label"
		}
		rows[i] = types.Row{types.NewText(k.word), types.NewText(k.cat), types.NewBool(k.bare), types.NewText(cats[k.cat]), types.NewText(bare)}
	}
	return rows, nil
}

// expandArrayRows is information_schema._pg_expandarray: each element x
// with its 1-based position n.
func expandArrayRows(_ *expr.Ctx, a []types.Datum) ([]types.Row, error) {
	if a[0].IsNull() {
		return nil, nil
	}
	elems, nulls, _, err := expr.ArrayElems(a[0].Str())
	if err != nil {
		return nil, err
	}
	rows := make([]types.Row, len(elems))
	cells := make([]types.Datum, 2*len(elems))
	for i, e := range elems {
		row := cells[2*i : 2*i+2 : 2*i+2]
		row[0] = types.NewString(types.Unknown, e)
		if nulls[i] {
			row[0] = types.Null(types.Unknown)
		}
		row[1] = types.NewInt4(int32(i + 1))
		rows[i] = row
	}
	return rows, nil
}

// subscriptRows is generate_subscripts(arr, dim [, reverse]); the text
// form holds one-dimensional arrays only.
func subscriptRows(_ *expr.Ctx, a []types.Datum) ([]types.Row, error) {
	if a[0].IsNull() || a[1].IsNull() || a[1].Int() != 1 {
		return nil, nil
	}
	elems, _, lower, err := expr.ArrayElems(a[0].Str())
	if err != nil {
		return nil, err
	}
	reverse := len(a) > 2 && !a[2].IsNull() && a[2].Bool()
	rows := make([]types.Row, len(elems))
	for i := range elems {
		k := i
		if reverse {
			k = len(elems) - 1 - i
		}
		rows[i] = types.Row{types.NewInt4(int32(lower + k))}
	}
	return rows, nil
}

// bindSetFuncs finds the set-returning calls of a select list, evaluates
// them with a FlatMap over rel and records where their columns are, so
// that bindFuncCall and bindIndirection read them from there.
func (b *binder) bindSetFuncs(rel planner.Rel, items []*pg.ResTarget, sc *scope) (planner.Rel, error) {
	var calls []*pg.FuncCall
	for _, it := range items {
		var err error
		walkNodes(it.Val, func(n *pg.Node) bool {
			if err != nil || n.GetSubLink() != nil {
				return false // a subquery's select list is its own
			}
			fc := n.GetFuncCall()
			if fc == nil || fc.Over != nil || !isSetFunc(funcName(fc.Funcname)) {
				return true
			}
			for _, a := range fc.Args {
				walkNodes(a, func(m *pg.Node) bool {
					if f := m.GetFuncCall(); f != nil && isSetFunc(funcName(f.Funcname)) {
						err = errAt(pgerror.New(pgerror.FeatureNotSupported, "set-returning functions as arguments of set-returning functions are not supported"), f.Location)
					}
					return err == nil && m.GetSubLink() == nil
				})
			}
			calls = append(calls, fc)
			return false
		})
		if err != nil {
			return nil, err
		}
	}
	if len(calls) == 0 {
		return rel, nil
	}
	fm := &planner.FlatMap{}
	var bindings []srfBinding
	b.rel = rel
	for _, fc := range calls {
		args := make([]expr.Expr, len(fc.Args))
		for i, a := range fc.Args {
			e, err := b.bindExpr(a, sc)
			if err != nil {
				b.rel = nil
				return nil, err
			}
			args[i] = e
		}
		fn, args, err := b.setFunc(funcName(fc.Funcname), args, fc.Location)
		if err != nil {
			b.rel = nil
			return nil, err
		}
		fm.Calls = append(fm.Calls, expr.SetCall{Func: fn, Args: args})
		bindings = append(bindings, srfBinding{fn: fn})
	}
	// Subqueries in the arguments extended b.rel (and sc.cols) first.
	fm.Input = b.rel
	b.rel = nil
	if b.srfs == nil {
		b.srfs = map[*pg.FuncCall]srfBinding{}
	}
	for i, fc := range calls {
		bindings[i].first = len(sc.cols)
		for _, c := range bindings[i].fn.Cols {
			sc.cols = append(sc.cols, scopeCol{name: "?" + c.Name + "?", typ: c.Typ, hidden: true})
		}
		b.srfs[fc] = bindings[i]
	}
	return fm, nil
}

// srfValue is a select-list call's value: its column, or for a record its
// text form.
func (b *binder) srfValue(s srfBinding) expr.Expr {
	if len(s.fn.Cols) == 1 {
		return &expr.Col{Idx: s.first, Typ: s.fn.Cols[0].Typ}
	}
	args := make([]expr.Expr, len(s.fn.Cols))
	for i, c := range s.fn.Cols {
		args[i] = &expr.Col{Idx: s.first + i, Typ: c.Typ}
	}
	rec := &expr.Call{Fn: recordConstructor(len(args)), Args: args}
	b.noteRecord(rec, recordFields(s.fn.Cols))
	return rec
}

// recordConstructor builds a record's text form from its fields.
func recordConstructor(n int) *expr.Overload {
	argTypes := make([]types.Type, n)
	for i := range argTypes {
		argTypes[i] = types.Unknown
	}
	return &expr.Overload{Name: "tb_record", Args: argTypes, Ret: types.Text, Fn: func(_ *expr.Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(expr.FormatRecord(a)), nil
	}}
}

// noteRecord remembers that e is a record with the given fields.
func (b *binder) noteRecord(e expr.Expr, fields recordFields) {
	if b.records == nil {
		b.records = map[expr.Expr]recordFields{}
	}
	b.records[e] = fields
}

// bindFieldSelection binds (arg).field.
func (b *binder) bindFieldSelection(ind *pg.A_Indirection, field string, sc *scope) (expr.Expr, error) {
	if fc := ind.Arg.GetFuncCall(); fc != nil {
		if s, ok := b.srfs[fc]; ok {
			for i, c := range s.fn.Cols {
				if c.Name == field && len(s.fn.Cols) > 1 {
					return &expr.Col{Idx: s.first + i, Typ: c.Typ, Name: field}, nil
				}
			}
			return nil, pgerror.New(pgerror.UndefinedColumn, "could not identify column %q in record data type", field)
		}
	}
	arg, err := b.bindExpr(ind.Arg, sc)
	if err != nil {
		return nil, err
	}
	fields, ok := b.records[arg]
	if !ok {
		return nil, pgerror.New(pgerror.WrongObjectType, "column notation .%s applied to type %s, which is not a composite type", field, arg.Type())
	}
	for i, c := range fields {
		if c.Name != field {
			continue
		}
		typ, at := c.Typ, i
		fn := &expr.Overload{Name: "tb_record_field", Args: []types.Type{types.Text}, Ret: typ, Fn: func(ctx *expr.Ctx, a []types.Datum) (types.Datum, error) {
			if a[0].IsNull() {
				return types.Null(typ), nil
			}
			vals, present, valid := expr.ParseRecord(a[0].Str())
			if !valid || at >= len(vals) {
				return types.Datum{}, pgerror.New(pgerror.InvalidTextRepresentation, "malformed record literal: %q", a[0].Str())
			}
			if !present[at] {
				return types.Null(typ), nil
			}
			if typ == types.Unknown {
				return types.NewString(types.Unknown, vals[at]), nil
			}
			return expr.CastDatum(ctx, types.NewText(vals[at]), typ)
		}}
		return &expr.Call{Fn: fn, Args: []expr.Expr{arg}}, nil
	}
	return nil, pgerror.New(pgerror.UndefinedColumn, "could not identify column %q in record data type", field)
}

// bindSetFuncFrom binds a set-returning function in FROM (other than
// generate_series with constant arguments, which is a constant relation):
// a FlatMap over one empty row. Its arguments may read only an enclosing
// query (LATERAL references to earlier FROM items are not supported).
func (b *binder) bindSetFuncFrom(name string, fc *pg.FuncCall, rf *pg.RangeFunction, sc *scope) (planner.Rel, []scopeCol, error) {
	args := make([]expr.Expr, len(fc.Args))
	for i, a := range fc.Args {
		e, err := b.bindExpr(a, &scope{outer: sc.outer, corr: sc.corr})
		if err != nil {
			return nil, nil, err
		}
		args[i] = e
	}
	fn, args, err := b.setFunc(name, args, fc.Location)
	if err != nil {
		return nil, nil, err
	}
	var rel planner.Rel = &planner.FlatMap{Input: &planner.Values{Rows: []types.Row{{}}}, Calls: []expr.SetCall{{Func: fn, Args: args}}}
	alias := strings.TrimPrefix(fn.Name, "information_schema.")
	var colAliases []*pg.Node
	if rf.Alias != nil {
		alias = strings.ToLower(rf.Alias.Aliasname)
		colAliases = rf.Alias.Colnames
	}
	var cols []scopeCol
	for _, c := range fn.Cols {
		name := c.Name
		if len(fn.Cols) == 1 && rf.Alias != nil && len(colAliases) == 0 {
			name = alias // a scalar function's column is named after its alias
		}
		cols = append(cols, scopeCol{table: alias, name: name, typ: c.Typ})
	}
	if rf.Ordinality {
		return nil, nil, errAt(pgerror.New(pgerror.FeatureNotSupported, "WITH ORDINALITY is not supported for %s", name), fc.Location)
	}
	return rel, renameCols(cols, colAliases, alias), nil
}
