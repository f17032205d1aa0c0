package dataflow

import (
	"fmt"
	"math"
	"strings"

	"github.com/google/btree"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// TemporalFilter keeps each input row while the system time lies in the
// row's validity interval, derived from Bounds: a conjunction of
// "mz_now() Op Expr", where Expr reads only the row. It is a temporal filter
// (Materialize's term): rows enter and leave the output as time passes, with
// no change of the input.
//
// Time here is the step's system timestamp (expr.Ctx.MzNow, microseconds
// since 2000-01-01, a whole number of milliseconds). A row's interval is
// [from, until): "mz_now() >= x" gives from = x, "> x" from = x+1,
// "< y" until = y, "<= y" until = y+1, "= x" both; several bounds
// intersect. A bound whose Expr is NULL makes the row never valid, as the
// comparison would be NULL.
type TemporalFilter struct {
	Input  Plan
	Bounds []TimeBound
}

// TimeBound is one conjunct "mz_now() Op Expr" of a TemporalFilter. Op is
// LT, LE, GT, GE or EQ; Expr is of type timestamp or timestamptz.
type TimeBound struct {
	Op   expr.CmpOp
	Expr expr.Expr
}

func (p *TemporalFilter) Types() []types.Type { return p.Input.Types() }
func (p *TemporalFilter) Inputs() []Plan      { return []Plan{p.Input} }
func (p *TemporalFilter) describe() string {
	parts := make([]string, len(p.Bounds))
	for i, b := range p.Bounds {
		parts[i] = fmt.Sprintf("mz_now() %s %s", b.Op, b.Expr)
	}
	return "TemporalFilter " + strings.Join(parts, " AND ")
}

// temporalOp emits a row's insertion when the step time enters its interval
// and its retraction when the time leaves it. Changes for future times wait
// in pending, ordered by time; every step releases those that are due
// (time <= the step's time). An input retraction schedules the opposite
// changes, which cancel the pending ones (entries consolidate by time and
// row), so a row deleted before it became valid leaves no state behind.
type temporalOp struct {
	bounds  []TimeBound
	pending *btree.BTreeG[*pendingChange]
	buf     []byte
}

type pendingChange struct {
	at   int64  // the system time (micros since 2000) the change is due at
	key  string // types.RowKey of row: orders and consolidates entries
	row  types.Row
	diff int64
}

func lessPending(a, b *pendingChange) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.key < b.key
}

func newTemporalOp(p *TemporalFilter) *temporalOp {
	return &temporalOp{bounds: p.Bounds, pending: btree.NewG(16, lessPending)}
}

// interval derives a row's validity interval; ok is false when it is empty.
func (o *temporalOp) interval(ctx *expr.Ctx, row types.Row) (from, until int64, ok bool, err error) {
	from, until = math.MinInt64, math.MaxInt64
	for _, b := range o.bounds {
		d, err := b.Expr.Eval(ctx, row)
		if err != nil {
			return 0, 0, false, err
		}
		if d.IsNull() {
			return 0, 0, false, nil
		}
		x := d.Int() // timestamps are micros since 2000
		switch b.Op {
		case expr.GE:
			from = max(from, x)
		case expr.GT:
			from = max(from, satInc(x))
		case expr.LT:
			until = min(until, x)
		case expr.LE:
			until = min(until, satInc(x))
		case expr.EQ:
			from, until = max(from, x), min(until, satInc(x))
		}
	}
	return from, until, from < until, nil
}

func satInc(x int64) int64 {
	if x == math.MaxInt64 {
		return x
	}
	return x + 1
}

func (o *temporalOp) schedule(at int64, row types.Row, diff int64) {
	o.buf = types.RowKey(o.buf[:0], row)
	probe := &pendingChange{at: at, key: string(o.buf)}
	if e, ok := o.pending.Get(probe); ok {
		e.diff += diff
		if e.diff == 0 {
			o.pending.Delete(e)
		}
		return
	}
	probe.row, probe.diff = row, diff
	o.pending.ReplaceOrInsert(probe)
}

func (o *temporalOp) step(ctx *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	now := ctx.MzNow()
	var out []Update
	for i, u := range ins[0] {
		if i&4095 == 4095 {
			if err := ctx.Canceled(); err != nil {
				return nil, err
			}
		}
		from, until, ok, err := o.interval(ctx, u.Row)
		if err != nil {
			return nil, err
		}
		if !ok || until <= now {
			continue
		}
		if from <= now {
			out = append(out, u)
		} else {
			o.schedule(from, u.Row, u.Diff)
		}
		if until != math.MaxInt64 {
			o.schedule(until, u.Row, -u.Diff)
		}
	}
	for {
		e, ok := o.pending.Min()
		if !ok || e.at > now {
			break
		}
		o.pending.DeleteMin()
		out = append(out, Update{Row: e.row, Diff: e.diff})
	}
	return out, nil
}

// nextDue is the earliest time a pending change is due at.
func (o *temporalOp) nextDue() (int64, bool) {
	e, ok := o.pending.Min()
	if !ok {
		return 0, false
	}
	return e.at, true
}

func (o *temporalOp) stateRows() int { return o.pending.Len() }

// NextDue returns the earliest system time (micros since 2000) at which a
// temporal filter of the dataflow has a change scheduled, and false when
// none has: a Step at or after that time, even with no input change,
// releases it.
func (d *Dataflow) NextDue() (int64, bool) {
	var next int64
	found := false
	for _, op := range d.temporal {
		if at, ok := op.nextDue(); ok && (!found || at < next) {
			next, found = at, true
		}
	}
	return next, found
}

// stateSizer is an operator that keeps rows of state.
type stateSizer interface{ stateRows() int }

// StateRows is the number of entries the dataflow's operators hold as
// state (join arrangements' rows not shared with the catalog, reduce
// groups, top-k rows, pending temporal changes): a measure of its memory
// that grows with the live data, not with the history.
func (d *Dataflow) StateRows() int {
	n := 0
	for _, nd := range d.nodes {
		if s, ok := nd.op.(stateSizer); ok {
			n += s.stateRows()
		}
	}
	return n
}

// Rewrite rebuilds a plan bottom-up, replacing each node (with its inputs
// already rewritten) by f's result. Plans are DAGs: a node reached twice is
// rewritten once, so sharing is kept.
func Rewrite(p Plan, f func(Plan) Plan) Plan {
	memo := map[Plan]Plan{}
	var walk func(p Plan) Plan
	walk = func(p Plan) Plan {
		if r, ok := memo[p]; ok {
			return r
		}
		ins := p.Inputs()
		changed := false
		next := make([]Plan, len(ins))
		for i, in := range ins {
			next[i] = walk(in)
			changed = changed || next[i] != in
		}
		n := p
		if changed {
			n = withInputs(p, next)
		}
		n = f(n)
		memo[p] = n
		return n
	}
	return walk(p)
}

// withInputs returns a copy of p reading ins.
func withInputs(p Plan, ins []Plan) Plan {
	switch p := p.(type) {
	case *Map:
		c := *p
		c.Input = ins[0]
		return &c
	case *Filter:
		c := *p
		c.Input = ins[0]
		return &c
	case *TemporalFilter:
		c := *p
		c.Input = ins[0]
		return &c
	case *FlatMap:
		c := *p
		c.Input = ins[0]
		return &c
	case *Session:
		c := *p
		c.Input = ins[0]
		return &c
	case *Join:
		c := *p
		c.Left, c.Right = ins[0], ins[1]
		return &c
	case *Union:
		return &Union{Ins: ins}
	case *Negate:
		return &Negate{Input: ins[0]}
	case *Threshold:
		return &Threshold{Input: ins[0]}
	case *Reduce:
		c := *p
		c.Input = ins[0]
		return &c
	case *TopK:
		c := *p
		c.Input = ins[0]
		return &c
	}
	if r, ok := p.(interface{ WithInputs([]Plan) Plan }); ok {
		return r.WithInputs(ins)
	}
	panic(fmt.Sprintf("dataflow: cannot rewrite the inputs of %T", p))
}
