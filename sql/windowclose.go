package sql

import (
	"errors"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// EMIT ON WINDOW CLOSE.
//
// CREATE MATERIALIZED VIEW v AS SELECT ... GROUP BY window_start,
// window_end [, keys] EMIT ON WINDOW CLOSE: the aggregation's group keys
// are traced back through the plan to the time column of a table; the keys
// that are monotone functions of a column with a WATERMARK (window_start and
// window_end of TUMBLE and HOP are date_bin of it, plus or minus constants)
// close their groups when the watermark passes (dataflow.WindowClose). Only
// projections and filters (HAVING) may follow the aggregation, so the view
// stays append-only.

// errReplayWholeLog stops a restore from a checkpoint that lacks the state
// of an EMIT ON WINDOW CLOSE view (a checkpoint of another binary, or one
// taken while the view had failed): such a view cannot be recomputed from
// the tables' contents (rows it dropped as late are in the tables; windows
// it emitted may have had their rows deleted since), so the engine replays
// the whole log instead (the log is never truncated today). With its state
// in the checkpoint (its open windows, bounds and late count, and its
// output) the view is restored like any other.
var errReplayWholeLog = errors.New("sql: EMIT ON WINDOW CLOSE views need the whole log")

// windowCloseNeedsLogLocked reports whether some materialized view emits on
// window close and checkpoint cp does not hold its state.
// REQUIRES: mu held.
func (e *Engine) windowCloseNeedsLogLocked(cp *storage.Checkpoint) bool {
	restorable := e.restorableViewsLocked(cp)
	for _, o := range e.mu.cat.byName {
		if o.EmitOnWindowClose && !restorable[o.ID] {
			return true
		}
	}
	return false
}

// windowClosePlan makes the plan's final aggregation emit on window close.
func windowClosePlan(plan dataflow.Plan, cat *catalog) (dataflow.Plan, error) {
	notWindowed := func() error {
		return &pgerror.Error{Code: pgerror.FeatureNotSupported,
			Message: "EMIT ON WINDOW CLOSE needs a query that aggregates over windows",
			Detail:  "The query must end in a GROUP BY that includes window_start or window_end of TUMBLE or HOP, followed only by projections and HAVING.",
			Hint:    "For example: SELECT window_start, window_end, count(*) FROM TUMBLE(t, ts, INTERVAL '1 minute') GROUP BY window_start, window_end EMIT ON WINDOW CLOSE"}
	}
	red := finalReduce(plan)
	if red == nil {
		return nil, notWindowed()
	}
	if len(red.Keys) == 0 {
		return nil, notWindowed()
	}
	spec := &dataflow.WindowClose{}
	sessions := map[*dataflow.Session]bool{}
	var unwatermarked *Object
	for k, col := range red.Keys {
		lin, ok := lineage(red.Input, col)
		if !ok || len(lin) == 0 {
			continue
		}
		src := lin[0]
		same := true
		for _, l := range lin {
			same = same && l.get.ID == src.get.ID && l.col == src.col && monotone(l.e)
		}
		if t := src.get.Typs[src.col]; !same || (t != types.Timestamp && t != types.TimestampTZ) {
			continue
		}
		o := cat.byID(src.get.ID)
		if o == nil || o.Watermark == nil || o.Watermark.Col != src.col {
			if o != nil && unwatermarked == nil {
				unwatermarked = o
			}
			continue
		}
		if spec.Keys != nil && spec.Source != src.get.ID {
			continue // one watermark closes a view's windows
		}
		spec.Source, spec.SourceName, spec.TimeType = src.get.ID, o.Name, src.get.Typs[src.col]
		ck := dataflow.CloseKey{Key: k}
		for _, l := range lin {
			ck.Bounds = append(ck.Bounds, expr.Shift(l.e, func(int) int { return 0 }))
			if l.session != nil {
				sessions[l.session] = true
			}
		}
		spec.Keys = append(spec.Keys, ck)
	}
	if spec.Keys == nil {
		if readsSession(red.Input) {
			return nil, &pgerror.Error{Code: pgerror.FeatureNotSupported,
				Message: "EMIT ON WINDOW CLOSE over SESSION windows needs window_end in the GROUP BY",
				Detail:  "A session is final once the watermark passes its window_end; its window_start says nothing about when it closes.",
				Hint:    "GROUP BY window_start, window_end [, keys]."}
		}
		if unwatermarked != nil {
			return nil, &pgerror.Error{Code: pgerror.FeatureNotSupported,
				Message: "EMIT ON WINDOW CLOSE needs a watermark on the windows' time column, and " + unwatermarked.Kind.String() + " " + unwatermarked.Name + " declares none",
				Hint:    "Declare one when creating the table: CREATE TABLE " + unwatermarked.Name + " (..., WATERMARK FOR ts AS ts - INTERVAL '5 seconds')."}
		}
		return nil, notWindowed()
	}
	// The Sessions whose window_end closes groups drop late rows and
	// forget closed sessions; then the final Reduce (a new node if a
	// Session below it was rewritten) closes its groups.
	marked := 0
	plan = dataflow.Rewrite(plan, func(p dataflow.Plan) dataflow.Plan {
		if sn, ok := p.(*dataflow.Session); ok && sessions[sn] {
			marked++
			c := *sn
			c.Close = &dataflow.SessionClose{Source: spec.Source, SourceName: spec.SourceName}
			return &c
		}
		return p
	})
	if marked != len(sessions) {
		return nil, notWindowed()
	}
	red = finalReduce(plan)
	return dataflow.Rewrite(plan, func(p dataflow.Plan) dataflow.Plan {
		if p == dataflow.Plan(red) {
			c := *red
			c.Close = spec
			return &c
		}
		return p
	}), nil
}

// readsSession reports whether the plan forms SESSION windows.
func readsSession(p dataflow.Plan) bool {
	if _, ok := p.(*dataflow.Session); ok {
		return true
	}
	for _, in := range p.Inputs() {
		if readsSession(in) {
			return true
		}
	}
	return false
}

// finalReduce is the Reduce a plan ends in, above which only maps and
// filters run (so that its append-only output stays append-only), or nil.
func finalReduce(p dataflow.Plan) *dataflow.Reduce {
	for {
		switch n := p.(type) {
		case *dataflow.Map:
			p = n.Input
		case *dataflow.Filter:
			p = n.Input
		case *dataflow.Reduce:
			return n
		default:
			return nil
		}
	}
}

// origin is where a column's values come from: expression e over the row
// of collection get, which reads only its column col.
type origin struct {
	get *dataflow.Get
	col int
	e   expr.Expr
	// session is set for the window_end of a SESSION over get's column
	// col: e is then that column, whose watermark a session must end
	// before to be closed (once the Session drops rows behind it).
	session *dataflow.Session
}

// lineage traces column col of p to the collection column it is computed
// from, through maps, filters, joins and unions (one origin per union
// branch).
// ok is false when the column depends on anything else.
func lineage(p dataflow.Plan, col int) ([]origin, bool) {
	switch n := p.(type) {
	case *dataflow.Get:
		return []origin{{get: n, col: col, e: &expr.Col{Idx: col, Typ: n.Typs[col]}}}, true
	case *dataflow.Filter:
		return lineage(n.Input, col)
	case *dataflow.TemporalFilter:
		return lineage(n.Input, col)
	case *dataflow.Session:
		width := len(n.Input.Types())
		switch {
		case col < width:
			return lineage(n.Input, col)
		case col == width+1: // window_end
			sub, ok := lineage(n.Input, n.Time)
			if !ok || len(sub) != 1 {
				return nil, false
			}
			if c, isCol := sub[0].e.(*expr.Col); !isCol || c.Idx != sub[0].col {
				return nil, false
			}
			sub[0].session = n
			return sub, true
		}
		return nil, false
	case *dataflow.Map:
		e := n.Exprs[col]
		cols := expr.Columns(e)
		if len(cols) != 1 {
			return nil, false
		}
		var in int
		for c := range cols {
			in = c
		}
		sub, ok := lineage(n.Input, in)
		if !ok {
			return nil, false
		}
		if c, isCol := e.(*expr.Col); isCol && c.Idx == in {
			return sub, true
		}
		out := make([]origin, len(sub))
		for i, s := range sub {
			if s.session != nil {
				return nil, false // a session's window_end is not a value of the row
			}
			out[i] = origin{get: s.get, col: s.col, e: expr.Map(e, func(x expr.Expr) expr.Expr {
				if c, ok := x.(*expr.Col); ok && c.Idx == in {
					return s.e
				}
				return x
			})}
		}
		return out, true
	case *dataflow.Join:
		// A window of a joined row is its side's window. (Rows the other
		// side adds to a closed window later are dropped as late.)
		if nl := len(n.Left.Types()); col < nl {
			return lineage(n.Left, col)
		} else {
			return lineage(n.Right, col-nl)
		}
	case *dataflow.Union:
		var out []origin
		for _, in := range n.Ins {
			sub, ok := lineage(in, col)
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
		}
		return out, true
	}
	return nil, false
}

// monotone reports whether e, an expression of one time column, never
// decreases when the column increases: the column itself, casts between
// timestamp types, date_bin and date_trunc of it by constants, and adding
// or subtracting constants.
func monotone(e expr.Expr) bool {
	isTime := func(t types.Type) bool { return t == types.Timestamp || t == types.TimestampTZ }
	switch x := e.(type) {
	case *expr.Col:
		return true
	case *expr.Cast:
		return isTime(x.To) && isTime(x.Arg.Type()) && monotone(x.Arg)
	case *expr.Call:
		a := x.Args
		switch x.Fn.Name {
		case "date_bin":
			return len(a) == 3 && expr.IsConst(a[0]) && expr.IsConst(a[2]) && monotone(a[1])
		case "date_trunc":
			return len(a) == 2 && expr.IsConst(a[0]) && monotone(a[1])
		case "+":
			return len(a) == 2 && ((monotone(a[0]) && expr.IsConst(a[1])) || (expr.IsConst(a[0]) && monotone(a[1])))
		case "-":
			return len(a) == 2 && monotone(a[0]) && expr.IsConst(a[1]) && a[1].Type() == types.Interval
		}
	}
	return false
}

// Watermark implements dataflow.Watermarks for materialized views.
func (v *viewArrangements) Watermark(id dataflow.CollectionID) func() (int64, bool) {
	o := v.cat.byID(id)
	if o == nil || o.Watermark == nil {
		return nil
	}
	return o.Watermark.Value
}
