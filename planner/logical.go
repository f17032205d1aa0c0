package planner

import (
	"fmt"
	"strings"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// Rel is a node of the logical plan: relational algebra over bound, typed
// scalar expressions, as the binder produces it. Column references in a
// node's expressions index the node's input row (for a Join: the left row
// followed by the right row).
type Rel interface {
	Types() []types.Type
	children() []Rel
	describe() string
}

// Scan reads a collection (a table, or a materialized view's output).
type Scan struct {
	ID   dataflow.CollectionID
	Name string
	Typs []types.Type
	// LookupCols and Lookup restrict the scan to rows with those column
	// values, answered from an index (see UseIndexes).
	LookupCols []int
	Lookup     types.Row
}

// Values is a constant relation.
type Values struct {
	Rows []types.Row
	Typs []types.Type
}

// Filter keeps rows where Pred is true.
type Filter struct {
	Input Rel
	Pred  expr.Expr
}

// Project computes the output columns.
type Project struct {
	Input Rel
	Exprs []expr.Expr
}

// JoinKind is the kind of a join.
// FlatMap appends the columns of set-returning functions evaluated per
// input row (set-returning functions in a select list); see dataflow.FlatMap.
type FlatMap struct {
	Input Rel
	Calls []expr.SetCall
}

type JoinKind uint8

// Join kinds. A cross join is an inner join with a true condition.
const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
)

func (k JoinKind) String() string {
	return [...]string{"Inner", "Left", "Right", "Full"}[k]
}

// Join combines Left and Right rows for which On is true (nil: always),
// padding unmatched rows with NULLs for outer joins. NullEq marks the
// equalities of On as IS NOT DISTINCT FROM (used by decorrelation).
type Join struct {
	Kind        JoinKind
	Left, Right Rel
	On          expr.Expr
}

// Aggregate groups by the Keys columns of its input.
type Aggregate struct {
	Input  Rel
	Keys   []int
	Aggs   []dataflow.AggCall
	Global bool
}

// Distinct removes duplicate rows.
type Distinct struct{ Input Rel }

// SetOpKind is UNION, INTERSECT or EXCEPT.
type SetOpKind uint8

// Set operations.
const (
	Union SetOpKind = iota
	Intersect
	Except
)

// SetOp combines two relations of the same column types.
type SetOp struct {
	Kind        SetOpKind
	All         bool
	Left, Right Rel
}

// TopK keeps rows ranked Offset+1 … Offset+Limit per group (see dataflow.TopK).
type TopK struct {
	Input     Rel
	Group     []int
	Order     []dataflow.SortKey
	Limit     int64
	Offset    int64
	RowNumber bool
}

// Session assigns session windows per group of the Keys columns (see
// dataflow.Session): the input columns, then window_start and window_end.
type Session struct {
	Input Rel
	Time  int
	Keys  []int
	Gap   int64 // microseconds
}

func (r *Session) Types() []types.Type {
	in := r.Input.Types()
	return append(append([]types.Type(nil), in...), in[r.Time], in[r.Time])
}
func (r *Session) children() []Rel { return []Rel{r.Input} }
func (r *Session) describe() string {
	gap := expr.Const{Val: types.NewInterval(types.IntervalValue{Micros: r.Gap})}
	return fmt.Sprintf("Session time=#%d gap=%s keys=%v", r.Time, gap.String(), r.Keys)
}

func (r *Scan) Types() []types.Type     { return r.Typs }
func (r *Values) Types() []types.Type   { return r.Typs }
func (r *Filter) Types() []types.Type   { return r.Input.Types() }
func (r *Distinct) Types() []types.Type { return r.Input.Types() }
func (r *SetOp) Types() []types.Type    { return r.Left.Types() }
func (r *Project) Types() []types.Type {
	out := make([]types.Type, len(r.Exprs))
	for i, e := range r.Exprs {
		out[i] = e.Type()
	}
	return out
}
func (r *FlatMap) Types() []types.Type {
	out := append([]types.Type(nil), r.Input.Types()...)
	for _, c := range r.Calls {
		for _, col := range c.Func.Cols {
			out = append(out, col.Typ)
		}
	}
	return out
}
func (r *Join) Types() []types.Type {
	return append(append([]types.Type(nil), r.Left.Types()...), r.Right.Types()...)
}
func (r *Aggregate) Types() []types.Type {
	in := r.Input.Types()
	var out []types.Type
	for _, k := range r.Keys {
		out = append(out, in[k])
	}
	for _, a := range r.Aggs {
		out = append(out, a.Ret)
	}
	return out
}
func (r *TopK) Types() []types.Type {
	out := append([]types.Type(nil), r.Input.Types()...)
	if r.RowNumber {
		out = append(out, types.Int8)
	}
	return out
}

func (r *Scan) children() []Rel      { return nil }
func (r *Values) children() []Rel    { return nil }
func (r *Filter) children() []Rel    { return []Rel{r.Input} }
func (r *Project) children() []Rel   { return []Rel{r.Input} }
func (r *Join) children() []Rel      { return []Rel{r.Left, r.Right} }
func (r *FlatMap) children() []Rel   { return []Rel{r.Input} }
func (r *Aggregate) children() []Rel { return []Rel{r.Input} }
func (r *Distinct) children() []Rel  { return []Rel{r.Input} }
func (r *SetOp) children() []Rel     { return []Rel{r.Left, r.Right} }
func (r *TopK) children() []Rel      { return []Rel{r.Input} }

func (r *Scan) describe() string     { return "Scan " + r.Name }
func (r *Values) describe() string   { return fmt.Sprintf("Values (%d rows)", len(r.Rows)) }
func (r *Filter) describe() string   { return "Filter " + r.Pred.String() }
func (r *Distinct) describe() string { return "Distinct" }
func (r *Project) describe() string {
	parts := make([]string, len(r.Exprs))
	for i, e := range r.Exprs {
		parts[i] = e.String()
	}
	return "Project " + strings.Join(parts, ", ")
}
func (r *FlatMap) describe() string {
	parts := make([]string, len(r.Calls))
	for i, c := range r.Calls {
		parts[i] = c.String()
	}
	return "FlatMap " + strings.Join(parts, ", ")
}
func (r *Join) describe() string {
	s := r.Kind.String() + "Join"
	if r.On != nil {
		s += " on " + r.On.String()
	}
	return s
}
func (r *Aggregate) describe() string {
	var aggs []string
	for _, a := range r.Aggs {
		aggs = append(aggs, a.Agg.Name)
	}
	return fmt.Sprintf("Aggregate keys=%v aggs=[%s]", r.Keys, strings.Join(aggs, ", "))
}
func (r *SetOp) describe() string {
	s := [...]string{"Union", "Intersect", "Except"}[r.Kind]
	if r.All {
		s += " All"
	}
	return s
}
func (r *TopK) describe() string {
	return fmt.Sprintf("TopK group=%v order=%v limit=%d offset=%d", r.Group, r.Order, r.Limit, r.Offset)
}

// ExplainRel renders a logical plan as an indented tree. A node shared by
// several consumers is printed once; later uses refer to it ("-> #3").
func ExplainRel(r Rel) string {
	return dataflow.ExplainDAG(r, Rel.children, Rel.describe)
}

// Conjuncts splits an AND tree into its terms.
func Conjuncts(e expr.Expr) []expr.Expr {
	if e == nil {
		return nil
	}
	if a, ok := e.(*expr.And); ok {
		var out []expr.Expr
		for _, x := range a.Args {
			out = append(out, Conjuncts(x)...)
		}
		return out
	}
	return []expr.Expr{e}
}

// AndOf joins terms with AND (nil for none).
func AndOf(terms []expr.Expr) expr.Expr {
	switch len(terms) {
	case 0:
		return nil
	case 1:
		return terms[0]
	}
	return &expr.And{Args: terms}
}
