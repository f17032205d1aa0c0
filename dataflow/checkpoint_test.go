package dataflow_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// encodedState is a checkpointed state as the sql layer keeps it: rows in
// storage's binary row encoding.
type encodedState struct {
	buf  []byte
	rows int
}

func (s *encodedState) WriteRow(prefix, r types.Row) error {
	s.buf = storage.AppendRows(s.buf, prefix, r)
	s.rows++
	return nil
}

// stateReader decodes every row into one buffer, as the sql layer's
// does, and overwrites the previous row first: an operator that kept a
// row it read instead of a copy restores a wrong state.
type stateReader struct {
	rest []byte
	row  types.Row
}

func (r *stateReader) ReadRow() (types.Row, error) {
	r.row = r.row[:cap(r.row)]
	for i := range r.row {
		r.row[i] = types.NewString(types.Text, "overwritten by the next ReadRow")
	}
	if len(r.rest) == 0 {
		return nil, io.EOF
	}
	row, rest, err := storage.DecodeRowInto(r.row, r.rest)
	r.rest, r.row = rest, row
	return row, err
}

func aggCall(t testing.TB, name string, distinct bool, args ...expr.Expr) dataflow.AggCall {
	t.Helper()
	var ts []types.Type
	for _, a := range args {
		ts = append(ts, a.Type())
	}
	agg, _, err := expr.ResolveAggregate(name, ts)
	if err != nil {
		t.Fatal(err)
	}
	ret := agg.Ret
	if ret == types.Unknown {
		ret = ts[0]
	}
	return dataflow.AggCall{Agg: agg, Args: args, Distinct: distinct, Ret: ret}
}

// checkpointPlans are plans with every kind of stateful operator over two
// collections of (k int8, v int8, ts timestamp) rows.
func checkpointPlans(t *testing.T) map[string]dataflow.Plan {
	typs := []types.Type{types.Int8, types.Int8, types.Timestamp}
	a := &dataflow.Get{ID: 1, Name: "a", Typs: typs}
	b := &dataflow.Get{ID: 2, Name: "b", Typs: typs}
	k := &expr.Col{Idx: 0, Typ: types.Int8}
	v := &expr.Col{Idx: 1, Typ: types.Int8}
	ts := &expr.Col{Idx: 2, Typ: types.Timestamp}
	plus, _, err := expr.Resolve("+", []types.Type{types.Timestamp, types.Interval})
	if err != nil {
		t.Fatal(err)
	}
	until := &expr.Call{Fn: plus, Args: []expr.Expr{ts, &expr.Const{Val: types.NewInterval(types.IntervalValue{Micros: 3})}}}
	return map[string]dataflow.Plan{
		"reduce": &dataflow.Reduce{
			Input: &dataflow.Map{Input: a, Exprs: []expr.Expr{k, v, ts}},
			Keys:  []int{0},
			Aggs: []dataflow.AggCall{
				aggCall(t, "count", false), aggCall(t, "sum", false, v), aggCall(t, "avg", false, v),
				aggCall(t, "min", false, v), aggCall(t, "max", false, ts), aggCall(t, "stddev", false, v),
				aggCall(t, "count", true, v), aggCall(t, "bool_and", false, &expr.Compare{Op: expr.GT, L: v, R: &expr.Const{Val: types.NewInt8(0)}}),
			},
		},
		"minmax-twins": &dataflow.Reduce{Input: a, Keys: []int{0}, Aggs: []dataflow.AggCall{
			aggCall(t, "max", false, v), aggCall(t, "count", false), aggCall(t, "min", false, v), aggCall(t, "min", false, v),
		}},
		"global": &dataflow.Reduce{Input: a, Global: true, Aggs: []dataflow.AggCall{aggCall(t, "sum", false, v), aggCall(t, "count", false)}},
		"join":   &dataflow.Join{Left: a, Right: b, LeftKey: []expr.Expr{k}, RightKey: []expr.Expr{k}},
		"join-expr": &dataflow.Map{
			Input: &dataflow.Join{Left: a, Right: &dataflow.Filter{Input: b, Pred: &expr.Compare{Op: expr.GT, L: v, R: &expr.Const{Val: types.NewInt8(2)}}},
				LeftKey: []expr.Expr{v}, RightKey: []expr.Expr{k}, NullEq: true},
			Exprs: []expr.Expr{k, &expr.Col{Idx: 4, Typ: types.Int8}},
		},
		"topk":       &dataflow.TopK{Input: a, Group: []int{0}, Order: []dataflow.SortKey{{Col: 1, Desc: true}}, Limit: 2, Offset: 1},
		"row_number": &dataflow.TopK{Input: a, Group: []int{0}, Order: []dataflow.SortKey{{Col: 2}}, Limit: -1, RowNumber: true},
		"except": &dataflow.Threshold{Input: &dataflow.Union{Ins: []dataflow.Plan{
			&dataflow.Map{Input: a, Exprs: []expr.Expr{k}},
			&dataflow.Negate{Input: &dataflow.Map{Input: b, Exprs: []expr.Expr{k}}}}}},
		"temporal": &dataflow.TemporalFilter{Input: a, Bounds: []dataflow.TimeBound{
			{Op: expr.GE, Expr: ts},
			{Op: expr.LT, Expr: until},
		}},
		"session": &dataflow.Session{Input: a, Time: 2, Keys: []int{0}, Gap: 2},
	}
}

// TestCheckpointRestore steps each plan with random changes, checkpoints
// it at a random step (through storage's row encoding), restores the
// state into a freshly built dataflow and steps both with the same further
// changes: the outputs must be equal at every step, and so must the states
// checkpointed at the end.
func TestCheckpointRestore(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for name, plan := range checkpointPlans(t) {
		t.Run(name, func(t *testing.T) {
			for trial := 0; trial < 10; trial++ {
				live := map[dataflow.CollectionID][]types.Row{}
				batch := func() map[dataflow.CollectionID][]dataflow.Update {
					ch := map[dataflow.CollectionID][]dataflow.Update{}
					for id := dataflow.CollectionID(1); id <= 2; id++ {
						for n := rng.IntN(6); n > 0; n-- {
							rows := live[id]
							if len(rows) > 0 && rng.IntN(3) == 0 {
								i := rng.IntN(len(rows))
								ch[id] = append(ch[id], dataflow.Update{Row: rows[i], Diff: -1})
								live[id] = append(rows[:i], rows[i+1:]...)
								continue
							}
							row := types.Row{types.NewInt8(int64(rng.IntN(4))), types.NewInt8(int64(rng.IntN(7) - 2)), types.NewTimestamp(types.Timestamp, int64(rng.IntN(30)))}
							if rng.IntN(10) == 0 {
								row[1] = types.Null(types.Int8)
							}
							ch[id] = append(ch[id], dataflow.Update{Row: row, Diff: 1})
							live[id] = append(live[id], row)
						}
						ch[id] = dataflow.Consolidate(ch[id])
					}
					return ch
				}
				ctx := &expr.Ctx{}
				orig, err := dataflow.Build(plan, nil)
				if err != nil {
					t.Fatal(err)
				}
				now := int64(0)
				stepAt := rng.IntN(8)
				for i := 0; i <= stepAt; i++ {
					now += int64(rng.IntN(3))
					ctx.Timestamp = now
					if _, err := orig.Step(ctx, batch()); err != nil {
						t.Fatal(err)
					}
				}
				saved := &encodedState{}
				if err := orig.Checkpoint(saved); err != nil {
					t.Fatal(err)
				}
				restored, err := dataflow.Build(plan, nil)
				if err != nil {
					t.Fatal(err)
				}
				if restored.Fingerprint() != orig.Fingerprint() {
					t.Fatal("fingerprints of one plan differ")
				}
				if err := restored.Restore(&stateReader{rest: saved.buf}); err != nil {
					t.Fatalf("restoring %d rows: %v", saved.rows, err)
				}
				if a, b := orig.StateRows(), restored.StateRows(); a != b {
					t.Fatalf("state rows %d after restore, %d before", b, a)
				}
				for i := 0; i < 8; i++ {
					now += int64(rng.IntN(3))
					ctx.Timestamp = now
					ch := batch()
					want, err := orig.Step(ctx, ch)
					if err != nil {
						t.Fatal(err)
					}
					got, err := restored.Step(ctx, ch)
					if err != nil {
						t.Fatal(err)
					}
					if showUpdates(got) != showUpdates(want) {
						t.Fatalf("step %d after the restore: got %v, want %v", i, showUpdates(got), showUpdates(want))
					}
				}
				again, again2 := &encodedState{}, &encodedState{}
				if err := orig.Checkpoint(again); err != nil {
					t.Fatal(err)
				}
				if err := restored.Checkpoint(again2); err != nil {
					t.Fatal(err)
				}
				if again.rows != again2.rows || len(again.buf) != len(again2.buf) {
					t.Fatalf("the states differ after the same steps: %d rows (%d bytes), %d rows (%d bytes)", again.rows, len(again.buf), again2.rows, len(again2.buf))
				}
			}
		})
	}
}

// TestRestoreRejectsBadState: a truncated, extended or foreign state is an
// ErrBadState, never a silently wrong dataflow.
func TestRestoreRejectsBadState(t *testing.T) {
	plans := checkpointPlans(t)
	ctx := &expr.Ctx{}
	src, _ := dataflow.Build(plans["reduce"], nil)
	row := types.Row{types.NewInt8(1), types.NewInt8(2), types.NewTimestamp(types.Timestamp, 3)}
	if _, err := src.Step(ctx, map[dataflow.CollectionID][]dataflow.Update{1: {{Row: row, Diff: 1}}}); err != nil {
		t.Fatal(err)
	}
	saved := &encodedState{}
	if err := src.Checkpoint(saved); err != nil {
		t.Fatal(err)
	}
	full := saved.buf
	_, rest, _ := storage.DecodeRow(full)
	header := full[:len(full)-len(rest)]
	for name, tc := range map[string]struct {
		plan  string
		state []byte
	}{
		"truncated":   {"reduce", header},
		"extra row":   {"reduce", storage.AppendRow(append([]byte(nil), full...), types.Row{types.NewInt8(9)})},
		"other plan":  {"topk", full},
		"empty state": {"reduce", nil},
	} {
		d, _ := dataflow.Build(plans[tc.plan], nil)
		if err := d.Restore(&stateReader{rest: tc.state}); !errors.Is(err, dataflow.ErrBadState) {
			t.Errorf("%s: Restore = %v, want ErrBadState", name, err)
		}
	}
}

func showUpdates(ups []dataflow.Update) string {
	s := ""
	for _, u := range ups {
		s += "("
		for i, d := range u.Row {
			if i > 0 {
				s += ","
			}
			if d.IsNull() {
				s += "NULL"
			} else {
				s += types.FormatText(d)
			}
			s += ":" + d.Type().String()
		}
		s += fmt.Sprintf(") %+d\n", u.Diff)
	}
	return s
}

// sharedLeft hands out an arrangement for collection 1 keyed by column 0.
type sharedLeft struct{ a *dataflow.Arrangement }

func (s sharedLeft) Arrangement(id dataflow.CollectionID, cols []int) *dataflow.Arrangement {
	if id == 1 && len(cols) == 1 && cols[0] == 0 {
		return s.a
	}
	return nil
}

// TestRestoreSharedSideMismatch: a join state taken while a side read a
// shared arrangement does not load into a join that keeps that side
// itself: ErrStateMismatch, so that the caller recomputes instead.
func TestRestoreSharedSideMismatch(t *testing.T) {
	plan := checkpointPlans(t)["join"]
	shared, err := dataflow.Build(plan, sharedLeft{dataflow.NewArrangement()})
	if err != nil {
		t.Fatal(err)
	}
	saved := &encodedState{}
	if err := shared.Checkpoint(saved); err != nil {
		t.Fatal(err)
	}
	own, _ := dataflow.Build(plan, nil)
	if err := own.Restore(&stateReader{rest: saved.buf}); !errors.Is(err, dataflow.ErrStateMismatch) {
		t.Fatalf("Restore = %v, want ErrStateMismatch", err)
	}
	again, _ := dataflow.Build(plan, sharedLeft{dataflow.NewArrangement()})
	if err := again.Restore(&stateReader{rest: saved.buf}); err != nil {
		t.Fatalf("Restore into the same sharing: %v", err)
	}
}

// TestExtremeTwins steps min and max of one column, which share a
// multiset, beside the same with the maxes filtered by a constant true,
// which keep their own: the outputs must be equal at every step, and the shared
// state must be smaller.
func TestExtremeTwins(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	typs := []types.Type{types.Int8, types.Int8, types.Timestamp}
	a := &dataflow.Get{ID: 1, Name: "a", Typs: typs}
	v := &expr.Col{Idx: 1, Typ: types.Int8}
	ts := &expr.Col{Idx: 2, Typ: types.Timestamp}
	always := &expr.Const{Val: types.NewBool(true)}
	// Over a Map that projects v and ts twice, as the planner does for
	// each aggregate's argument: min(#1) and max(#3) are both of v, max(#2)
	// and min(#4) both of ts.
	k := &expr.Col{Idx: 0, Typ: types.Int8}
	vAgain := &expr.Col{Idx: 3, Typ: types.Int8}
	tsAgain := &expr.Col{Idx: 4, Typ: types.Timestamp}
	plan := func(twins bool) dataflow.Plan {
		maxV, minTS := aggCall(t, "max", false, vAgain), aggCall(t, "min", false, tsAgain)
		if !twins {
			maxV.Filter, minTS.Filter = always, always
		}
		return &dataflow.Reduce{Input: &dataflow.Map{Input: a, Exprs: []expr.Expr{k, v, ts, v, ts}}, Keys: []int{0}, Aggs: []dataflow.AggCall{
			aggCall(t, "min", false, v), aggCall(t, "max", false, ts), maxV, minTS,
		}}
	}
	shared, err := dataflow.Build(plan(true), nil)
	if err != nil {
		t.Fatal(err)
	}
	apart, err := dataflow.Build(plan(false), nil)
	if err != nil {
		t.Fatal(err)
	}
	var live []types.Row
	ctx := &expr.Ctx{}
	for step := 0; step < 300; step++ {
		var ch []dataflow.Update
		for n := rng.IntN(8); n > 0; n-- {
			if len(live) > 0 && rng.IntN(2) == 0 {
				i := rng.IntN(len(live))
				ch = append(ch, dataflow.Update{Row: live[i], Diff: -1})
				live = append(live[:i], live[i+1:]...)
				continue
			}
			row := types.Row{types.NewInt8(int64(rng.IntN(3))), types.NewInt8(int64(rng.IntN(9) - 4)), types.NewTimestamp(types.Timestamp, int64(rng.IntN(20)))}
			if rng.IntN(8) == 0 {
				row[1] = types.Null(types.Int8)
			}
			ch = append(ch, dataflow.Update{Row: row, Diff: 1})
			live = append(live, row)
		}
		in := map[dataflow.CollectionID][]dataflow.Update{1: dataflow.Consolidate(ch)}
		got, err := shared.Step(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := apart.Step(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if showUpdates(got) != showUpdates(want) {
			t.Fatalf("step %d: shared min/max gave %v, separate %v", step, showUpdates(got), showUpdates(want))
		}
	}
	s, p := &encodedState{}, &encodedState{}
	if err := shared.Checkpoint(s); err != nil {
		t.Fatal(err)
	}
	if err := apart.Checkpoint(p); err != nil {
		t.Fatal(err)
	}
	if len(live) > 10 && len(s.buf) >= len(p.buf) {
		t.Fatalf("the shared state is %d bytes, the separate %d", len(s.buf), len(p.buf))
	}
}
