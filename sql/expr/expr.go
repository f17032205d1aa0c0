package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Ctx is what evaluation may read besides the row: the statement's
// timestamp (now()) and session settings. One Ctx serves a whole statement or
// dataflow step; Eval must not retain it.
type Ctx struct {
	// Now is the statement's logical time, for now(), current_timestamp and
	// mz_now(): microseconds since 2000-01-01 UTC.
	Now int64
	// Timestamp is the system timestamp the statement reads at, or the
	// dataflow step advances to (micros since 2000-01-01 UTC, a whole number
	// of milliseconds): what mz_now() returns and what temporal filters
	// compare with. 0 means Now.
	Timestamp int64
	// Location is the session's TimeZone, for timestamptz conversions; nil
	// is UTC (materialized views are evaluated in UTC, see
	// docs/compatibility.md).
	Location *time.Location
	// ZoneUsed, when set, is set to true by any evaluation that consulted
	// Location: the binder folds constants with it, to learn whether a
	// folded value depends on the session's TimeZone. Only a Ctx used by
	// one goroutine may set it.
	ZoneUsed *bool
	// Catalog answers the system functions' questions (pg_get_viewdef,
	// 'name'::regclass); nil where no catalog is at hand (constant folding,
	// materialized-view steps), and those functions then fail.
	Catalog CatalogReader
	// Context, when set, is the statement's: long loops over rows check it
	// (Canceled), so a cancel request or statement_timeout stops them.
	Context context.Context
	// Locks is the session's advisory locks; nil outside a session's
	// statement (materialized-view steps), where the lock functions fail.
	Locks AdvisoryLocker
	// Sequences is the session's access to sequences (nextval); nil
	// outside a session's statement.
	Sequences SequenceSource

	// args is the stack of function arguments being evaluated (Call.Eval):
	// a Ctx evaluates on one goroutine at a time.
	args []types.Datum
}

// MzNow is the system timestamp of the statement or step: Timestamp, or
// Now when it is unset.
func (c *Ctx) MzNow() int64 {
	if c.Timestamp != 0 {
		return c.Timestamp
	}
	return c.Now
}

// Canceled returns the 57014 error of a statement whose context is done,
// or nil. Loops call it every few thousand rows.
func (c *Ctx) Canceled() error {
	if c == nil || c.Context == nil {
		return nil
	}
	switch err := c.Context.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return pgerror.New(pgerror.QueryCanceled, "canceling statement due to statement timeout")
	default:
		return pgerror.New(pgerror.QueryCanceled, "canceling statement due to user request")
	}
}

// Expr is a bound, typed scalar expression. Column references are indexes
// into the row the expression is evaluated against. Eval is safe for
// concurrent use (expressions hold no mutable state) and does not retain row.
type Expr interface {
	Type() types.Type
	Eval(ctx *Ctx, row types.Row) (types.Datum, error)
	String() string
}

// Col reads column Idx of the input row.
type Col struct {
	Idx  int
	Typ  types.Type
	Name string // for EXPLAIN only
}

func (c *Col) Type() types.Type { return c.Typ }
func (c *Col) Eval(_ *Ctx, row types.Row) (types.Datum, error) {
	return row[c.Idx], nil
}
func (c *Col) String() string {
	if c.Name != "" {
		return fmt.Sprintf("#%d(%s)", c.Idx, c.Name)
	}
	return fmt.Sprintf("#%d", c.Idx)
}

// Const is a literal.
type Const struct{ Val types.Datum }

func (c *Const) Type() types.Type                              { return c.Val.Type() }
func (c *Const) Eval(_ *Ctx, _ types.Row) (types.Datum, error) { return c.Val, nil }
func (c *Const) String() string {
	if c.Val.IsNull() {
		return "NULL"
	}
	switch c.Val.Type().Family() {
	case types.FamNumeric, types.FamBool:
		return types.FormatText(c.Val)
	}
	return "'" + strings.ReplaceAll(types.FormatText(c.Val), "'", "''") + "'"
}

// Call applies a scalar function or operator overload. If the overload is
// strict (the default) a NULL argument yields NULL without calling it.
type Call struct {
	Fn   *Overload
	Args []Expr
}

func (c *Call) Type() types.Type { return c.Fn.Ret }
func (c *Call) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	if ctx == nil {
		ctx = &Ctx{}
	}
	// The arguments go on ctx's stack: a local array escaped (Fn is called
	// through a pointer), one 256-byte allocation per call, 20% of the
	// allocations of UPDATE events SET v = v + 1 under five views. Nested
	// calls push above base; Fn must not retain args (Overload.Fn).
	base := len(ctx.args)
	defer func() { ctx.args = ctx.args[:base] }()
	for _, a := range c.Args {
		d, err := a.Eval(ctx, row)
		if err != nil {
			return types.Datum{}, err
		}
		if d.IsNull() && !c.Fn.NonStrict {
			return types.Null(c.Fn.Ret), nil
		}
		ctx.args = append(ctx.args, d)
	}
	return c.Fn.Fn(ctx, ctx.args[base:len(ctx.args):len(ctx.args)])
}
func (c *Call) String() string {
	if c.Fn.Op != "" && len(c.Args) == 2 {
		return fmt.Sprintf("(%s %s %s)", c.Args[0], c.Fn.Op, c.Args[1])
	}
	if c.Fn.Op != "" && len(c.Args) == 1 {
		return fmt.Sprintf("(%s%s)", c.Fn.Op, c.Args[0])
	}
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return c.Fn.Name + "(" + strings.Join(parts, ", ") + ")"
}

// CmpOp is a comparison operator.
type CmpOp uint8

// Comparison operators.
const (
	EQ CmpOp = iota
	NE
	LT
	LE
	GT
	GE
	// IsDistinct and IsNotDistinct treat NULL as a value.
	IsDistinct
	IsNotDistinct
)

var cmpNames = [...]string{"=", "<>", "<", "<=", ">", ">=", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"}

func (op CmpOp) String() string { return cmpNames[op] }

// Commute returns the operator with its operands swapped (a < b ⇔ b > a).
func (op CmpOp) Commute() CmpOp {
	switch op {
	case LT:
		return GT
	case LE:
		return GE
	case GT:
		return LT
	case GE:
		return LE
	}
	return op
}

// Negate returns the operator's complement (NOT a < b ⇔ a >= b, for non-NULLs).
func (op CmpOp) Negate() CmpOp {
	return [...]CmpOp{NE, EQ, GE, GT, LE, LT, IsNotDistinct, IsDistinct}[op]
}

// Compare compares two expressions of comparable types (the binder has
// cast them to a common type).
type Compare struct {
	Op   CmpOp
	L, R Expr
}

func (c *Compare) Type() types.Type { return types.Bool }
func (c *Compare) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	l, err := c.L.Eval(ctx, row)
	if err != nil {
		return types.Datum{}, err
	}
	r, err := c.R.Eval(ctx, row)
	if err != nil {
		return types.Datum{}, err
	}
	switch c.Op {
	case IsDistinct:
		return types.NewBool(types.Compare(l, r) != 0), nil
	case IsNotDistinct:
		return types.NewBool(types.Compare(l, r) == 0), nil
	}
	if l.IsNull() || r.IsNull() {
		return types.Null(types.Bool), nil
	}
	return types.NewBool(CmpResult(c.Op, types.Compare(l, r))), nil
}
func (c *Compare) String() string { return fmt.Sprintf("(%s %s %s)", c.L, c.Op, c.R) }

// CmpResult applies op to the result of types.Compare.
func CmpResult(op CmpOp, c int) bool {
	switch op {
	case EQ, IsNotDistinct:
		return c == 0
	case NE, IsDistinct:
		return c != 0
	case LT:
		return c < 0
	case LE:
		return c <= 0
	case GT:
		return c > 0
	}
	return c >= 0
}

// And is SQL's three-valued conjunction of its arguments.
type And struct{ Args []Expr }

func (a *And) Type() types.Type { return types.Bool }
func (a *And) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	sawNull := false
	for _, e := range a.Args {
		d, err := e.Eval(ctx, row)
		if err != nil {
			return types.Datum{}, err
		}
		if d.IsNull() {
			sawNull = true
		} else if !d.Bool() {
			return types.NewBool(false), nil
		}
	}
	if sawNull {
		return types.Null(types.Bool), nil
	}
	return types.NewBool(true), nil
}
func (a *And) String() string { return joinExprs(a.Args, " AND ") }

// Or is SQL's three-valued disjunction.
type Or struct{ Args []Expr }

func (o *Or) Type() types.Type { return types.Bool }
func (o *Or) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	sawNull := false
	for _, e := range o.Args {
		d, err := e.Eval(ctx, row)
		if err != nil {
			return types.Datum{}, err
		}
		if d.IsNull() {
			sawNull = true
		} else if d.Bool() {
			return types.NewBool(true), nil
		}
	}
	if sawNull {
		return types.Null(types.Bool), nil
	}
	return types.NewBool(false), nil
}
func (o *Or) String() string { return joinExprs(o.Args, " OR ") }

func joinExprs(es []Expr, sep string) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// Not negates a boolean; NOT NULL is NULL.
type Not struct{ Arg Expr }

func (n *Not) Type() types.Type { return types.Bool }
func (n *Not) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	d, err := n.Arg.Eval(ctx, row)
	if err != nil || d.IsNull() {
		return types.Null(types.Bool), err
	}
	return types.NewBool(!d.Bool()), nil
}
func (n *Not) String() string { return "NOT " + n.Arg.String() }

// IsNull tests for NULL (IS NULL, or IS NOT NULL when Negate).
type IsNull struct {
	Arg    Expr
	Negate bool
}

func (n *IsNull) Type() types.Type { return types.Bool }
func (n *IsNull) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	d, err := n.Arg.Eval(ctx, row)
	if err != nil {
		return types.Datum{}, err
	}
	return types.NewBool(d.IsNull() != n.Negate), nil
}
func (n *IsNull) String() string {
	if n.Negate {
		return n.Arg.String() + " IS NOT NULL"
	}
	return n.Arg.String() + " IS NULL"
}

// IsBool is IS [NOT] TRUE / FALSE: never NULL.
type IsBool struct {
	Arg    Expr
	Want   bool
	Negate bool
}

func (n *IsBool) Type() types.Type { return types.Bool }
func (n *IsBool) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	d, err := n.Arg.Eval(ctx, row)
	if err != nil {
		return types.Datum{}, err
	}
	is := !d.IsNull() && d.Bool() == n.Want
	return types.NewBool(is != n.Negate), nil
}
func (n *IsBool) String() string {
	s := " IS "
	if n.Negate {
		s += "NOT "
	}
	return n.Arg.String() + s + strings.ToUpper(fmt.Sprint(n.Want))
}

// InList is `arg IN (list...)` with SQL NULL semantics: true if some element
// equals arg, else NULL if arg or some element is NULL, else false.
type InList struct {
	Arg    Expr
	List   []Expr
	Negate bool
}

func (in *InList) Type() types.Type { return types.Bool }
func (in *InList) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	a, err := in.Arg.Eval(ctx, row)
	if err != nil {
		return types.Datum{}, err
	}
	sawNull := a.IsNull()
	found := false
	for _, e := range in.List {
		d, err := e.Eval(ctx, row)
		if err != nil {
			return types.Datum{}, err
		}
		if d.IsNull() {
			sawNull = true
			continue
		}
		if !a.IsNull() && types.Compare(a, d) == 0 {
			found = true
			break
		}
	}
	switch {
	case found:
		return types.NewBool(!in.Negate), nil
	case sawNull:
		return types.Null(types.Bool), nil
	}
	return types.NewBool(in.Negate), nil
}
func (in *InList) String() string {
	op := " IN "
	if in.Negate {
		op = " NOT IN "
	}
	return in.Arg.String() + op + joinExprs(in.List, ", ")
}

// When is one arm of a CASE.
type When struct{ Cond, Val Expr }

// Case is a searched CASE (the binder rewrites simple CASE x WHEN v into
// x = v conditions). Else is never nil (the binder supplies a typed NULL).
type Case struct {
	Whens []When
	Else  Expr
	Typ   types.Type
}

func (c *Case) Type() types.Type { return c.Typ }
func (c *Case) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	for _, w := range c.Whens {
		d, err := w.Cond.Eval(ctx, row)
		if err != nil {
			return types.Datum{}, err
		}
		if !d.IsNull() && d.Bool() {
			return w.Val.Eval(ctx, row)
		}
	}
	return c.Else.Eval(ctx, row)
}
func (c *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range c.Whens {
		fmt.Fprintf(&b, " WHEN %s THEN %s", w.Cond, w.Val)
	}
	fmt.Fprintf(&b, " ELSE %s END", c.Else)
	return b.String()
}

// Coalesce returns its first non-NULL argument.
type Coalesce struct {
	Args []Expr
	Typ  types.Type
}

func (c *Coalesce) Type() types.Type { return c.Typ }
func (c *Coalesce) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	for _, e := range c.Args {
		d, err := e.Eval(ctx, row)
		if err != nil {
			return types.Datum{}, err
		}
		if !d.IsNull() {
			return d, nil
		}
	}
	return types.Null(c.Typ), nil
}
func (c *Coalesce) String() string { return "coalesce" + joinExprs(c.Args, ", ") }

// Cast converts its argument to type To with CastDatum.
type Cast struct {
	Arg Expr
	To  types.Type
}

func (c *Cast) Type() types.Type { return c.To }
func (c *Cast) Eval(ctx *Ctx, row types.Row) (types.Datum, error) {
	d, err := c.Arg.Eval(ctx, row)
	if err != nil {
		return types.Datum{}, err
	}
	return CastDatum(ctx, d, c.To)
}
func (c *Cast) String() string { return fmt.Sprintf("%s::%s", c.Arg, c.To) }

// NewCast returns e converted to type to, or e itself if it already has
// that type. A constant is converted at bind time, so a bad literal is an
// error of the statement, not of a row.
func NewCast(e Expr, to types.Type) (Expr, error) {
	return NewCastIn(&Ctx{Location: time.UTC}, e, to)
}

// NewCastIn is NewCast folding a constant with ctx (the session's
// TimeZone, for a literal cast to or from timestamptz).
func NewCastIn(ctx *Ctx, e Expr, to types.Type) (Expr, error) {
	if e.Type() == to {
		return e, nil
	}
	if c, ok := e.(*Const); ok {
		d, err := CastDatum(ctx, c.Val, to)
		if err != nil {
			return nil, err
		}
		return &Const{Val: d}, nil
	}
	if !CanCast(e.Type(), to) {
		return nil, pgerror.New(pgerror.CannotCoerce, "cannot cast type %s to %s", e.Type(), to)
	}
	return &Cast{Arg: e, To: to}, nil
}

// Walk calls f on e and, while f returns true, on its sub-expressions.
func Walk(e Expr, f func(Expr) bool) {
	if !f(e) {
		return
	}
	for _, c := range Children(e) {
		Walk(c, f)
	}
}

// Children returns e's direct sub-expressions.
func Children(e Expr) []Expr {
	switch x := e.(type) {
	case *Call:
		return x.Args
	case *Compare:
		return []Expr{x.L, x.R}
	case *And:
		return x.Args
	case *Or:
		return x.Args
	case *Not:
		return []Expr{x.Arg}
	case *IsNull:
		return []Expr{x.Arg}
	case *IsBool:
		return []Expr{x.Arg}
	case *InList:
		return append([]Expr{x.Arg}, x.List...)
	case *Case:
		var out []Expr
		for _, w := range x.Whens {
			out = append(out, w.Cond, w.Val)
		}
		return append(out, x.Else)
	case *Coalesce:
		return x.Args
	case *Cast:
		return []Expr{x.Arg}
	}
	return nil
}

// Map rebuilds e bottom-up, replacing each node by f(node-with-new-children).
func Map(e Expr, f func(Expr) Expr) Expr {
	switch x := e.(type) {
	case *Call:
		n := *x
		n.Args = mapAll(x.Args, f)
		return f(&n)
	case *Compare:
		return f(&Compare{Op: x.Op, L: Map(x.L, f), R: Map(x.R, f)})
	case *And:
		return f(&And{Args: mapAll(x.Args, f)})
	case *Or:
		return f(&Or{Args: mapAll(x.Args, f)})
	case *Not:
		return f(&Not{Arg: Map(x.Arg, f)})
	case *IsNull:
		return f(&IsNull{Arg: Map(x.Arg, f), Negate: x.Negate})
	case *IsBool:
		return f(&IsBool{Arg: Map(x.Arg, f), Want: x.Want, Negate: x.Negate})
	case *InList:
		return f(&InList{Arg: Map(x.Arg, f), List: mapAll(x.List, f), Negate: x.Negate})
	case *Case:
		n := &Case{Typ: x.Typ, Else: Map(x.Else, f)}
		for _, w := range x.Whens {
			n.Whens = append(n.Whens, When{Cond: Map(w.Cond, f), Val: Map(w.Val, f)})
		}
		return f(n)
	case *Coalesce:
		return f(&Coalesce{Args: mapAll(x.Args, f), Typ: x.Typ})
	case *Cast:
		return f(&Cast{Arg: Map(x.Arg, f), To: x.To})
	}
	return f(e)
}

func mapAll(es []Expr, f func(Expr) Expr) []Expr {
	out := make([]Expr, len(es))
	for i, e := range es {
		out[i] = Map(e, f)
	}
	return out
}

// Columns returns the set of column indexes e reads.
func Columns(e Expr) map[int]bool {
	out := map[int]bool{}
	Walk(e, func(x Expr) bool {
		if c, ok := x.(*Col); ok {
			out[c.Idx] = true
		}
		return true
	})
	return out
}

// Shift returns e with every column index i replaced by m(i).
func Shift(e Expr, m func(int) int) Expr {
	return Map(e, func(x Expr) Expr {
		if c, ok := x.(*Col); ok {
			return &Col{Idx: m(c.Idx), Typ: c.Typ, Name: c.Name}
		}
		return x
	})
}

// IsConst reports whether e reads no column, calls no volatile function and
// holds no node foreign to this package (a placeholder the binder has not
// yet given a value, for instance), so that it can be evaluated once, now.
func IsConst(e Expr) bool {
	ok := true
	Walk(e, func(x Expr) bool {
		switch c := x.(type) {
		case *Col:
			ok = false
		case *Call:
			if c.Fn.Volatile {
				ok = false
			}
		case *Const, *Compare, *And, *Or, *Not, *IsNull, *IsBool, *InList, *Case, *Coalesce, *Cast:
		default:
			ok = false
		}
		return ok
	})
	return ok
}

// Raise fails with Err when evaluated: the branch of a CASE that the
// binder adds for a run-time check (a scalar subquery that returned more
// than one row). Typ is the type the branch would have.
type Raise struct {
	Err *pgerror.Error
	Typ types.Type
}

func (r *Raise) Type() types.Type                              { return r.Typ }
func (r *Raise) Eval(_ *Ctx, _ types.Row) (types.Datum, error) { return types.Datum{}, r.Err }
func (r *Raise) String() string                                { return "raise(" + string(r.Err.Code) + ")" }
