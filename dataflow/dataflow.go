package dataflow

import (
	"github.com/tributary-db/tributary/sql/expr"
)

// Dataflow is a running plan: its operators and their state. It advances
// one timestamp per Step; each Step sees the whole change of every input at
// that timestamp, so its output is the exact change of the plan's result.
// A Dataflow is not safe for concurrent use: the coordinator steps it.
type Dataflow struct {
	plan  Plan
	nodes []node // in dependency order: inputs before the node reading them
	first bool
	// temporal are the temporal filters' operators, whose pending changes
	// make the dataflow due for a step with no input change (NextDue).
	temporal []*temporalOp
	cons     consolidator // for the batches between operators
	// fingerprint caches Fingerprint (checkpoint.go).
	fingerprint string
}

// needsConsolidatedInput reports whether op must see each row of its
// input once. Most operators fold their input into state by adding diffs
// (Map, Filter, FlatMap, Union, Negate are linear; Join's arrangements,
// Reduce's groups and TopK's trees add counts), so an unconsolidated batch
// gives them the same result, and consolidating every operator's output
// (sorting it) was a third of the CPU of building a view over 1M rows. A
// retraction in an unconsolidated batch always refers to a row that was
// there before the step (it came from a retracted input row, which had
// been added earlier), so counts never go negative whatever the order.
// The operators that count or schedule single updates — the late rows of
// an EMIT ON WINDOW CLOSE, a session's chains, a temporal filter's
// pending changes, Threshold's clamp — keep consolidated inputs.
func needsConsolidatedInput(op operator) bool {
	switch op := op.(type) {
	case *mapOp, *filterOp, *flatMapOp, *unionOp, *negateOp, *joinOp, *topKOp:
		return false
	case *reduceOp:
		return op.closing != nil
	}
	return true
}

// preservesConsolidation reports whether op's output is consolidated
// whenever its inputs are: a Filter passes a subsequence of its input
// through, a Negate flips every diff.
func preservesConsolidation(op operator) bool {
	switch op.(type) {
	case *filterOp, *negateOp:
		return true
	}
	return false
}

type node struct {
	op     operator
	inputs []int // indexes into nodes
	get    *Get  // set for the dataflow's inputs
	// consolidate is set when a consumer of the node's output needs it
	// consolidated (needsConsolidatedInput).
	consolidate bool
}

// Build instantiates the operators of a plan, with empty state. Joins that
// read a collection directly use shared's arrangements of it when it has
// them (shared may be nil); the caller keeps those current.
func Build(p Plan, shared SharedArrangements) (*Dataflow, error) { return build(p, false, shared) }

// build instantiates a plan; once marks a dataflow that will run one step.
func build(p Plan, once bool, shared SharedArrangements) (*Dataflow, error) {
	d := &Dataflow{plan: p, first: true}
	// A plan is a DAG: a node reached twice is instantiated once, and its
	// output batch is read by every consumer (operators never modify their
	// inputs).
	memo := map[Plan]int{}
	refs := consumers(p)
	var add func(p Plan) (int, error)
	add = func(p Plan) (int, error) {
		if i, ok := memo[p]; ok {
			return i, nil
		}
		// A Map fused into the operator before or after it (fuse) runs
		// as that operator's node.
		built, fused := fuse(p, refs, once, shared)
		ins := p.Inputs()
		if fused != nil {
			ins = fused.Inputs()
		}
		var inputs []int
		for _, in := range ins {
			i, err := add(in)
			if err != nil {
				return 0, err
			}
			inputs = append(inputs, i)
		}
		op, err := built, error(nil)
		if op == nil {
			op, err = buildOp(p, once, shared)
		}
		if err != nil {
			return 0, err
		}
		n := node{op: op, inputs: inputs}
		if t, ok := op.(*temporalOp); ok {
			d.temporal = append(d.temporal, t)
		}
		if g, ok := p.(*Get); ok {
			n.get = g
		}
		d.nodes = append(d.nodes, n)
		memo[p] = len(d.nodes) - 1
		return len(d.nodes) - 1, nil
	}
	if _, err := add(p); err != nil {
		return nil, err
	}
	for _, n := range d.nodes {
		if needsConsolidatedInput(n.op) {
			for _, in := range n.inputs {
				d.nodes[in].consolidate = true
			}
		}
	}
	return d, nil
}

// consumers counts, for every node of the DAG p, the edges that read it.
func consumers(p Plan) map[Plan]int {
	refs := map[Plan]int{}
	Visit(p, func(n Plan) {
		for _, in := range n.Inputs() {
			refs[in]++
		}
	})
	return refs
}

// fuse builds a Map together with its neighbour when the Map's output or
// input has no other reader: a Map over a Join evaluates its expressions on
// the joined row as the join produces it, and a Reduce over a Map evaluates
// them on each input row as it accumulates it (every aggregate's input is a
// Map: the group keys and arguments). Either way the intermediate batch —
// 1M joined rows of every column — is never built; on the initial build of
// a view over 1M rows it was most of the allocations. fuse returns the
// operator for p and the plan node whose inputs become its inputs, or nil
// if p is built alone.
func fuse(p Plan, refs map[Plan]int, once bool, shared SharedArrangements) (operator, Plan) {
	switch p := p.(type) {
	case *Map:
		j, ok := p.Input.(*Join)
		if !ok || refs[j] != 1 {
			return nil, nil
		}
		op, err := buildOp(j, once, shared)
		if err != nil {
			return nil, nil
		}
		proj := newProjection(p.Exprs)
		op.(*joinOp).project = &proj
		return op, j
	case *Reduce:
		m, ok := p.Input.(*Map)
		if !ok || refs[m] != 1 || p.Close != nil {
			return nil, nil
		}
		if _, overJoin := m.Input.(*Join); overJoin && refs[m.Input] == 1 {
			return nil, nil // the Map goes with the Join
		}
		op, err := buildOp(p, once, shared)
		if err != nil {
			return nil, nil
		}
		proj := newProjection(p.Input.(*Map).Exprs)
		op.(*reduceOp).pre = &proj
		return op, m
	}
	return nil, nil
}

// Plan returns the plan the dataflow runs.
func (d *Dataflow) Plan() Plan { return d.plan }

// Step advances the dataflow by one timestamp. changes holds, for each
// collection the plan reads, its consolidated change at this timestamp (on
// the first step: its full contents). Step does not retain changes' slices.
// It returns the consolidated change of the plan's output.
//
// An error (a row that divides by zero, say) leaves the dataflow's state
// partially advanced; the caller must treat the dataflow as failed.
func (d *Dataflow) Step(ctx *expr.Ctx, changes map[CollectionID][]Update) ([]Update, error) {
	return d.step(ctx, func(g *Get) ([]Update, error) { return changes[g.ID], nil })
}

// step advances the dataflow, asking read for the change of each Get.
func (d *Dataflow) step(ctx *expr.Ctx, read func(*Get) ([]Update, error)) ([]Update, error) {
	outs := make([][]Update, len(d.nodes))
	first := d.first
	d.first = false
	for i, n := range d.nodes {
		if n.get != nil {
			in, err := read(n.get)
			if err != nil {
				return nil, err
			}
			outs[i] = in
			continue
		}
		if err := ctx.Canceled(); err != nil {
			return nil, err
		}
		ins := make([][]Update, len(n.inputs))
		for j, in := range n.inputs {
			ins[j] = outs[in]
		}
		out, err := n.op.step(ctx, first, ins)
		if err != nil {
			return nil, err
		}
		switch {
		case i == len(d.nodes)-1:
			// The plan's output is consolidated in row order: readers
			// of an ad-hoc query see its rows sorted.
			outs[i] = Consolidate(out)
		case n.consolidate && !preservesConsolidation(n.op):
			outs[i] = d.cons.consolidate(out)
		default:
			outs[i] = out
		}
	}
	return outs[len(outs)-1], nil
}

// RunOnce builds a dataflow and runs its one step over the contents read
// returns for each Get (its whole collection, or for a Get with a Lookup
// only the rows with that key): how an ad-hoc SELECT runs, with the same
// operators as a materialized view. read's batches are not retained.
func RunOnce(ctx *expr.Ctx, p Plan, read func(*Get) ([]Update, error)) ([]Update, error) {
	d, err := build(p, true, nil)
	if err != nil {
		return nil, err
	}
	return d.step(ctx, read)
}
