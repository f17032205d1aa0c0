package dataflow

import (
	"fmt"

	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// operator is one running node. step receives, for each input, the change
// at the step's timestamp — consolidated if needsConsolidatedInput says so,
// otherwise possibly with a row several times or cancelling pairs — and
// returns its own change.
// Inputs are owned by the operator for the duration of the call only; the
// returned batch is owned by the caller. first is true on the first step of
// the dataflow (when Get inputs carry snapshots and Constants emit).
type operator interface {
	step(ctx *expr.Ctx, first bool, ins [][]Update) ([]Update, error)
}

type getOp struct{ id CollectionID }

func (o *getOp) step(*expr.Ctx, bool, [][]Update) ([]Update, error) {
	panic("dataflow: getOp is fed by the dataflow, not stepped")
}

type constantOp struct{ rows []types.Row }

func (o *constantOp) step(_ *expr.Ctx, first bool, _ [][]Update) ([]Update, error) {
	if !first {
		return nil, nil
	}
	out := make([]Update, len(o.rows))
	for i, r := range o.rows {
		out[i] = Update{Row: r, Diff: 1}
	}
	return out, nil
}

// projection is a list of expressions evaluated over a row into a row (a
// Map, or one fused into a Join or Reduce). Plain column references — most
// of a projection — are copied, not evaluated through expr.Expr: a datum is
// eight words, returned by value from each Eval.
type projection struct {
	exprs []expr.Expr
	cols  []int // cols[i] ≥ 0: exprs[i] is that input column
}

func newProjection(exprs []expr.Expr) projection {
	p := projection{exprs: exprs, cols: make([]int, len(exprs))}
	for i, e := range exprs {
		p.cols[i] = -1
		if c, ok := e.(*expr.Col); ok {
			p.cols[i] = c.Idx
		}
	}
	return p
}

// eval writes the expressions over in to out (len(p.exprs) datums).
func (p *projection) eval(ctx *expr.Ctx, in, out types.Row) error {
	for j, c := range p.cols {
		if c >= 0 {
			out[j] = in[c]
			continue
		}
		d, err := p.exprs[j].Eval(ctx, in)
		if err != nil {
			return err
		}
		out[j] = d
	}
	return nil
}

type mapOp struct{ proj projection }

func (o *mapOp) step(ctx *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	in := ins[0]
	out := make([]Update, len(in))
	w := len(o.proj.exprs)
	// One allocation for all output rows of the batch.
	cells := make([]types.Datum, len(in)*w)
	for i, u := range in {
		if i&4095 == 4095 {
			if err := ctx.Canceled(); err != nil {
				return nil, err
			}
		}
		row := cells[i*w : (i+1)*w : (i+1)*w]
		if err := o.proj.eval(ctx, u.Row, row); err != nil {
			return nil, err
		}
		out[i] = Update{Row: row, Diff: u.Diff}
	}
	return out, nil
}

type flatMapOp struct {
	calls []expr.SetCall
	width int // output columns added by the calls
}

func newFlatMapOp(p *FlatMap) *flatMapOp {
	o := &flatMapOp{calls: p.Calls}
	for _, c := range p.Calls {
		o.width += len(c.Func.Cols)
	}
	return o
}

func (o *flatMapOp) step(ctx *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	var out []Update
	results := make([][]types.Row, len(o.calls))
	var args []types.Datum
	for i, u := range ins[0] {
		if i&1023 == 1023 {
			if err := ctx.Canceled(); err != nil {
				return nil, err
			}
		}
		n := 0
		for k, c := range o.calls {
			args = args[:0]
			for _, a := range c.Args {
				d, err := a.Eval(ctx, u.Row)
				if err != nil {
					return nil, err
				}
				args = append(args, d)
			}
			rows, err := c.Func.Fn(ctx, args)
			if err != nil {
				return nil, err
			}
			results[k] = rows
			n = max(n, len(rows))
		}
		// One allocation for the rows this input row yields.
		w := len(u.Row) + o.width
		cells := make([]types.Datum, n*w)
		for r := 0; r < n; r++ {
			row := cells[r*w : (r+1)*w : (r+1)*w]
			at := copy(row, u.Row)
			for k, c := range o.calls {
				for j, col := range c.Func.Cols {
					if r < len(results[k]) {
						row[at] = results[k][r][j]
					} else {
						row[at] = types.Null(col.Typ)
					}
					at++
				}
			}
			out = append(out, Update{Row: row, Diff: u.Diff})
		}
	}
	return out, nil
}

type filterOp struct{ pred expr.Expr }

func (o *filterOp) step(ctx *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	out := ins[0][:0:0]
	for i, u := range ins[0] {
		if i&4095 == 4095 {
			if err := ctx.Canceled(); err != nil {
				return nil, err
			}
		}
		d, err := o.pred.Eval(ctx, u.Row)
		if err != nil {
			return nil, err
		}
		if !d.IsNull() && d.Bool() {
			out = append(out, u)
		}
	}
	return out, nil
}

type unionOp struct{}

func (o *unionOp) step(_ *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	n := 0
	for _, in := range ins {
		n += len(in)
	}
	out := make([]Update, 0, n)
	for _, in := range ins {
		out = append(out, in...)
	}
	return out, nil
}

type negateOp struct{}

func (o *negateOp) step(_ *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	out := make([]Update, len(ins[0]))
	for i, u := range ins[0] {
		out[i] = Update{Row: u.Row, Diff: -u.Diff}
	}
	return out, nil
}

// thresholdOp keeps each row's running count and emits the change of
// max(count, 0).
type thresholdOp struct{ counts *Index }

func (o *thresholdOp) step(_ *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	var out []Update
	for _, u := range ins[0] {
		before := o.counts.Count(u.Row)
		o.counts.Apply([]Update{u})
		after := before + u.Diff
		if d := max(after, 0) - max(before, 0); d != 0 {
			out = append(out, Update{Row: u.Row, Diff: d})
		}
	}
	return out, nil
}

// joinOp is the bilinear join over two arrangements keyed by the join key.
// Each side's arrangement is either the operator's own, holding the side's
// contents before the step (old), or a shared one that the coordinator keeps
// current for every reader — an index of the collection the side reads —
// which already includes the step's change (new). The output change is
//
//	old, old:  ΔL⋈R + (L+ΔL)⋈ΔR        (the own left is updated in between)
//	new, old:  ΔL⋈R + L'⋈ΔR            (L' = L+ΔL, shared)
//	old, new:  ΔL⋈R' + L⋈ΔR            (the left lookups run before it is updated)
//	new, new:  ΔL⋈R' + L'⋈ΔR − ΔL⋈ΔR
//
// all equal to (L+ΔL)(R+ΔR) − LR.
type joinOp struct {
	lkey, rkey []expr.Expr
	nullEq     bool
	left       *Arrangement
	right      *Arrangement
	// leftShared and rightShared mark sides whose arrangement is shared
	// (new at step time, never modified here).
	leftShared, rightShared bool
	// once is set for a dataflow that runs a single step (an ad-hoc
	// query): the right side's arrangement would never be read, so it is
	// not built.
	once bool
	// project, when set, is a Map fused into the join (fuse): each output
	// row is these expressions over the joined row.
	project *projection
	joined  types.Row // scratch for the joined row when projecting
	slab    rowSlab
}

// rowSlab hands out rows carved from chunks of datums, so an operator
// emitting many rows allocates once per chunk instead of once per row.
// Chunks double from one row's worth up to rowSlabMaxChunk within a step
// (reset starts over), so a step that emits one row allocates one row and
// at most half of a step's last chunk is left unused.
type rowSlab struct {
	free []types.Datum
	next int // datums in the next chunk
}

// rowSlabMaxChunk is the largest chunk, in datums (~230 KB).
const rowSlabMaxChunk = 4096

// reset forgets the current chunk (its rows stay valid).
func (s *rowSlab) reset() { s.free, s.next = nil, 0 }

// row returns a zeroed row of n datums. It shares its chunk's backing
// array with other rows, never its cells; the chunk lives as long as any
// of its rows.
func (s *rowSlab) row(n int) types.Row {
	if n > len(s.free) {
		s.next = min(max(2*s.next, n), rowSlabMaxChunk)
		s.free = make([]types.Datum, max(s.next, n))
	}
	r := s.free[:n:n]
	s.free = s.free[n:]
	return r
}

// output appends the join of l and r with diff to out: the concatenated
// row, or the fused projection of it.
func (o *joinOp) output(ctx *expr.Ctx, out []Update, l, r types.Row, diff int64) ([]Update, error) {
	if o.project == nil {
		row := o.slab.row(len(l) + len(r))
		copy(row[copy(row, l):], r)
		return append(out, Update{Row: row, Diff: diff}), nil
	}
	o.joined = append(append(o.joined[:0], l...), r...)
	row := o.slab.row(len(o.project.exprs))
	if err := o.project.eval(ctx, o.joined, row); err != nil {
		return out, err
	}
	return append(out, Update{Row: row, Diff: diff}), nil
}

type keyed struct {
	key types.Row
	u   Update
}

func (o *joinOp) keys(ctx *expr.Ctx, key []expr.Expr, in []Update) ([]keyed, error) {
	out := make([]keyed, 0, len(in))
	// The keys are carved from one array: the arrangements encode a key
	// and do not keep it.
	cells := make([]types.Datum, len(in)*len(key))
	for _, u := range in {
		k := cells[:len(key):len(key)]
		ok, err := evalKey(ctx, key, u.Row, o.nullEq, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, keyed{key: k, u: u})
			cells = cells[len(key):]
		}
	}
	return out, nil
}

func (o *joinOp) step(ctx *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	dl, err := o.keys(ctx, o.lkey, ins[0])
	if err != nil {
		return nil, err
	}
	dr, err := o.keys(ctx, o.rkey, ins[1])
	if err != nil {
		return nil, err
	}
	o.slab.reset()
	// Sized for one match per changed row (a join on a key), rather than
	// grown by doubling from nothing: 200k output rows per step under an
	// UPDATE of every row.
	out := make([]Update, 0, len(dl)+len(dr))
	// A join can produce far more rows than it reads: check for a cancel
	// every few thousand output rows. canceled also holds the first error
	// of a fused projection.
	var canceled error
	emit := func(l, r types.Row, diff int64) {
		if canceled != nil {
			return
		}
		out, canceled = o.output(ctx, out, l, r, diff)
		if len(out)&4095 == 0 && canceled == nil {
			canceled = ctx.Canceled()
		}
	}
	probeRight := func() { // ΔL ⋈ right
		for _, l := range dl {
			if canceled != nil {
				return
			}
			o.right.Lookup(l.key, func(r types.Row, n int64) {
				emit(l.u.Row, r, l.u.Diff*n)
			})
		}
	}
	probeLeft := func() { // left ⋈ ΔR
		for _, r := range dr {
			if canceled != nil {
				return
			}
			o.left.Lookup(r.key, func(l types.Row, n int64) {
				emit(l, r.u.Row, n*r.u.Diff)
			})
		}
	}
	addLeft := func() {
		if !o.leftShared {
			for _, l := range dl {
				o.left.Add(l.key, l.u.Row, l.u.Diff)
			}
		}
	}
	addRight := func() {
		if !o.rightShared && !o.once {
			for _, r := range dr {
				o.right.Add(r.key, r.u.Row, r.u.Diff)
			}
		}
	}
	switch {
	case o.once && !o.leftShared && !o.rightShared:
		// Both sides start empty and there is no later step.
		addLeft()
		probeLeft()
	case o.rightShared && !o.leftShared:
		probeLeft()
		probeRight()
		addLeft()
	case o.leftShared && o.rightShared:
		probeRight()
		probeLeft()
		if len(dl) == 0 || len(dr) == 0 {
			break // ΔL⋈ΔR is empty: no arrangement of ΔL to build
		}
		delta := NewArrangement()
		for _, l := range dl {
			delta.Add(l.key, l.u.Row, l.u.Diff)
		}
		for _, r := range dr {
			delta.Lookup(r.key, func(l types.Row, n int64) {
				emit(l, r.u.Row, -n*r.u.Diff)
			})
		}
	default:
		probeRight()
		addLeft()
		probeLeft()
		addRight()
	}
	if canceled != nil {
		return nil, canceled
	}
	return out, nil
}

// reduceOp keeps, per group, the row count and one retractable accumulator
// per aggregate, and emits (old output, -1), (new output, +1) for the groups
// a step touches.
type reduceOp struct {
	keys   []int
	aggs   []AggCall
	global bool
	groups map[string]*group
	buf    []byte
	// closing is set for EMIT ON WINDOW CLOSE (windowclose.go).
	closing *closing
	// pre, when set, is the Map before the Reduce fused into it (fuse):
	// each input row is first replaced by these expressions over it, in a
	// scratch row (the groups copy the datums they keep).
	pre    *projection
	preRow types.Row
	// twins[i] is the index of the aggregate whose state aggregate i
	// answers from (min(v) and max(v): extremeTwins), or -1.
	twins []int
}

// extremeTwins pairs each max(c) with a min(c) of the same value before it
// (or a min with a max), neither DISTINCT nor filtered: the later one keeps
// no multiset of its own (expr.ExtremeTwin). Two argument columns hold the
// same value when they are one column, or columns of the Map under the
// Reduce that are one column of its input (the planner projects each
// aggregate's argument apart: min(v), max(v) read #1 and #2, both v). nil
// when there is no pair.
func extremeTwins(p *Reduce) []int {
	var twins []int
	type source struct {
		in  bool // a column of the Map's input, not of the Reduce's
		col int
		typ types.Type
	}
	plain := func(a AggCall) (source, bool) {
		if !expr.IsExtreme(a.Agg) || a.Distinct || a.Filter != nil || a.OrderKeys != 0 || len(a.Args) != 1 {
			return source{}, false
		}
		c, ok := a.Args[0].(*expr.Col)
		if !ok {
			return source{}, false
		}
		if m, ok := p.Input.(*Map); ok && c.Idx < len(m.Exprs) {
			if in, ok := m.Exprs[c.Idx].(*expr.Col); ok {
				return source{in: true, col: in.Idx, typ: in.Typ}, true
			}
		}
		return source{col: c.Idx, typ: c.Typ}, true
	}
	for i, a := range p.Aggs {
		si, ok := plain(a)
		if !ok {
			continue
		}
		for j, b := range p.Aggs[:i] {
			sj, ok := plain(b)
			if !ok || b.Agg.Name == a.Agg.Name || sj != si || (twins != nil && twins[j] >= 0) {
				continue
			}
			if twins == nil {
				twins = make([]int, len(p.Aggs))
				for k := range twins {
					twins[k] = -1
				}
			}
			twins[i] = j
			break
		}
	}
	return twins
}

// twinOf returns the aggregate whose state aggregate i answers from, or -1.
func (o *reduceOp) twinOf(i int) int {
	if o.twins == nil {
		return -1
	}
	return o.twins[i]
}

type group struct {
	key      types.Row
	count    int64
	states   []expr.AggState
	distinct []map[string]int64 // per DISTINCT aggregate: argument multiset
	out      types.Row          // the row last emitted, nil if none
	touched  bool
}

// groupOf returns the group of row (by the reduce's key columns), creating
// it when it is new; o.buf holds the group's encoded key afterwards.
func (o *reduceOp) groupOf(row types.Row) (g *group, created bool) {
	o.buf = o.buf[:0]
	for _, k := range o.keys {
		o.buf = types.AppendKey(o.buf, row[k])
	}
	if g, ok := o.groups[string(o.buf)]; ok {
		return g, false
	}
	key := make(types.Row, len(o.keys))
	for i, k := range o.keys {
		key[i] = row[k]
	}
	g = o.newGroup(key)
	o.groups[string(o.buf)] = g
	return g, true
}

func (o *reduceOp) newGroup(key types.Row) *group {
	g := &group{key: key, states: make([]expr.AggState, len(o.aggs)), distinct: make([]map[string]int64, len(o.aggs))}
	for i, a := range o.aggs {
		if j := o.twinOf(i); j >= 0 {
			if twin, ok := expr.ExtremeTwin(g.states[j]); ok {
				g.states[i] = twin
				continue
			}
		}
		argTypes := make([]types.Type, len(a.Args))
		for j, e := range a.Args {
			argTypes[j] = e.Type()
		}
		g.states[i] = a.Agg.New(argTypes[:len(argTypes)-a.OrderKeys])
		if a.OrderKeys > 0 {
			g.states[i].(expr.Ordered).OrderBy(a.OrderKeys, a.Desc, a.NullsFirst)
		}
		if a.Distinct {
			g.distinct[i] = map[string]int64{}
		}
	}
	return g
}

func (o *reduceOp) step(ctx *expr.Ctx, first bool, ins [][]Update) ([]Update, error) {
	if o.closing != nil {
		return o.stepClosing(ctx, ins[0])
	}
	var touched []*group
	if first && o.global {
		g := o.newGroup(types.Row{})
		o.groups[""] = g
		g.touched = true
		touched = append(touched, g)
	}
	var args []types.Datum
	for i, u := range ins[0] {
		if o.pre != nil {
			if i&4095 == 4095 {
				if err := ctx.Canceled(); err != nil {
					return nil, err
				}
			}
			if cap(o.preRow) < len(o.pre.exprs) {
				o.preRow = make(types.Row, len(o.pre.exprs))
			}
			row := o.preRow[:len(o.pre.exprs)]
			if err := o.pre.eval(ctx, u.Row, row); err != nil {
				return nil, err
			}
			u.Row = row
		}
		g, _ := o.groupOf(u.Row)
		if !g.touched {
			g.touched = true
			touched = append(touched, g)
		}
		var err error
		if args, err = o.accumulate(ctx, g, u, args); err != nil {
			return nil, err
		}
	}
	var out []Update
	for _, g := range touched {
		g.touched = false
		var next types.Row
		if g.count > 0 || (o.global && len(o.keys) == 0) {
			next = make(types.Row, 0, len(g.key)+len(o.aggs))
			next = append(next, g.key...)
			for _, s := range g.states {
				d, err := s.Result()
				if err != nil {
					return nil, err
				}
				next = append(next, d)
			}
		}
		if g.out != nil && next != nil && types.RowsEqual(g.out, next) {
			continue
		}
		if g.out != nil {
			out = append(out, Update{Row: g.out, Diff: -1})
		}
		if next != nil {
			out = append(out, Update{Row: next, Diff: 1})
		}
		g.out = next
		if g.count == 0 && !(o.global && len(o.keys) == 0) {
			o.buf = types.RowKey(o.buf[:0], g.key)
			delete(o.groups, string(o.buf))
		}
	}
	return out, nil
}

// accumulate adds one input update to its group's count and aggregate
// states. args is a scratch buffer, returned for reuse.
func (o *reduceOp) accumulate(ctx *expr.Ctx, g *group, u Update, args []types.Datum) ([]types.Datum, error) {
	g.count += u.Diff
	for i, a := range o.aggs {
		if o.twinOf(i) >= 0 {
			continue // its twin's state has the change
		}
		if a.Filter != nil {
			d, err := a.Filter.Eval(ctx, u.Row)
			if err != nil {
				return args, err
			}
			if d.IsNull() || !d.Bool() {
				continue
			}
		}
		args = args[:0]
		for _, e := range a.Args {
			d, err := e.Eval(ctx, u.Row)
			if err != nil {
				return args, err
			}
			args = append(args, d)
		}
		diff := u.Diff
		if a.Distinct {
			k := string(types.RowKey(nil, args))
			before := g.distinct[i][k]
			after := before + u.Diff
			if after == 0 {
				delete(g.distinct[i], k)
			} else {
				g.distinct[i][k] = after
			}
			switch {
			case before <= 0 && after > 0:
				diff = 1
			case before > 0 && after <= 0:
				diff = -1
			default:
				continue
			}
		}
		if err := g.states[i].Add(args, diff); err != nil {
			return args, err
		}
	}
	return args, nil
}

func buildOp(p Plan, once bool, shared SharedArrangements) (operator, error) {
	switch p := p.(type) {
	case *Get:
		return &getOp{id: p.ID}, nil
	case *Constant:
		return &constantOp{rows: p.Rows}, nil
	case *Map:
		return &mapOp{proj: newProjection(p.Exprs)}, nil
	case *Filter:
		return &filterOp{pred: p.Pred}, nil
	case *FlatMap:
		return newFlatMapOp(p), nil
	case *TemporalFilter:
		return newTemporalOp(p), nil
	case *Union:
		return &unionOp{}, nil
	case *Negate:
		return &negateOp{}, nil
	case *Threshold:
		return &thresholdOp{counts: NewIndex()}, nil
	case *Join:
		op := &joinOp{lkey: p.LeftKey, rkey: p.RightKey, nullEq: p.NullEq, once: once}
		op.left, op.leftShared = sharedSide(shared, p.Left, p.LeftKey)
		op.right, op.rightShared = sharedSide(shared, p.Right, p.RightKey)
		return op, nil
	case *Reduce:
		op := &reduceOp{keys: p.Keys, aggs: p.Aggs, global: p.Global, groups: map[string]*group{}, twins: extremeTwins(p)}
		if p.Close != nil && !once {
			c, err := newClosing(p.Close, shared)
			if err != nil {
				return nil, err
			}
			op.closing = c
		}
		return op, nil
	case *TopK:
		return newTopKOp(p), nil
	case *Session:
		op := newSessionOp(p)
		if p.Close != nil && !once {
			c, err := newSessionClosing(p.Close, shared)
			if err != nil {
				return nil, err
			}
			op.closing = c
		}
		return op, nil
	}
	return nil, fmt.Errorf("dataflow: unknown plan node %T", p)
}

// SharedArrangements hands out arrangements that the caller keeps current
// with a collection's contents, keyed by some of its columns: an index of a
// table or view. Arrangement returns nil when it cannot provide one. At
// every Step, a shared arrangement must already include that step's change
// of the collection.
type SharedArrangements interface {
	Arrangement(id CollectionID, cols []int) *Arrangement
}

// sharedSide returns the shared arrangement for a join side that reads a
// collection directly and is keyed by plain columns, or a fresh one.
func sharedSide(shared SharedArrangements, side Plan, key []expr.Expr) (*Arrangement, bool) {
	g, ok := side.(*Get)
	if shared == nil || !ok || g.LookupCols != nil {
		return NewArrangement(), false
	}
	cols := make([]int, len(key))
	for i, k := range key {
		c, ok := k.(*expr.Col)
		if !ok {
			return NewArrangement(), false
		}
		cols[i] = c.Idx
	}
	if a := shared.Arrangement(g.ID, cols); a != nil {
		return a, true
	}
	return NewArrangement(), false
}

// evalKey evaluates a join key over row into k (len(key) datums); ok is
// false for a key with a NULL, which joins nothing unless nullEq.
func evalKey(ctx *expr.Ctx, key []expr.Expr, row types.Row, nullEq bool, k types.Row) (ok bool, err error) {
	for i, e := range key {
		d, err := e.Eval(ctx, row)
		if err != nil {
			return false, err
		}
		if d.IsNull() && !nullEq {
			return false, nil
		}
		k[i] = d
	}
	return true, nil
}
