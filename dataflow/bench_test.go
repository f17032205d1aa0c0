package dataflow_test

// Micro-benchmarks of single operators stepped directly, without the SQL
// layer, the coordinator lock or the log: what one step of a Reduce or a
// Join costs per input update, for a step of 1 update (a single-row
// autocommit write) and of 1000 (a batched write). Run with
//
//	timeout 900 go test -run XXX -bench . -benchtime 2s ./dataflow/
//
// Results are in docs/performance.md.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

const (
	benchGroups  = 100    // distinct group keys of the Reduce
	benchPrefill = 10_000 // input rows loaded by the first step
	benchSeed    = 42
)

var benchBatchSizes = []int{1, 1000}

func benchAgg(b *testing.B, name string, args ...expr.Expr) dataflow.AggCall {
	b.Helper()
	argTypes := make([]types.Type, len(args))
	for i, a := range args {
		argTypes[i] = a.Type()
	}
	agg, _, err := expr.ResolveAggregate(name, argTypes)
	if err != nil {
		b.Fatal(err)
	}
	ret := agg.Ret
	if ret == types.Unknown { // min, max: the argument's type
		ret = argTypes[0]
	}
	return dataflow.AggCall{Agg: agg, Args: args, Ret: ret}
}

// rowBatch returns n insertions of rows of width cols filled by fill, backed
// by one allocation: the rows of a batch may be retained by the operators'
// state (which never modifies them), so each batch gets fresh memory.
func rowBatch(n, cols int, fill func(row types.Row)) []dataflow.Update {
	slab := make([]types.Datum, n*cols)
	batch := make([]dataflow.Update, n)
	for i := range batch {
		row := types.Row(slab[i*cols : (i+1)*cols : (i+1)*cols])
		fill(row)
		batch[i] = dataflow.Update{Row: row, Diff: 1}
	}
	return batch
}

func newCtx() *expr.Ctx { return &expr.Ctx{} }

// window holds the rows currently in a collection, oldest first, for the
// benchmarks' "window" mode: each step retracts as many of the oldest rows
// as it inserts, so the operator's state stays at its prefilled size and
// the timing is a true steady state. (In "insert" mode the state grows with
// b.N, and the per-update cost grows with it.)
type window struct{ rows []types.Row }

func (w *window) push(batch []dataflow.Update) {
	for _, u := range batch {
		w.rows = append(w.rows, u.Row)
	}
}

// retract appends the retraction of the n oldest rows to batch.
func (w *window) retract(batch []dataflow.Update, n int) []dataflow.Update {
	for _, r := range w.rows[:n] {
		batch = append(batch, dataflow.Update{Row: r, Diff: -1})
	}
	w.rows = w.rows[n:]
	return batch
}

var benchModes = []string{"insert", "window"}

// BenchmarkReduce steps the plan of
//
//	SELECT k, count(*), sum(v), min(v), max(v) FROM t GROUP BY k
//
// over 100 groups holding 10k rows, with batches of n new rows ("insert")
// or of n new rows and the retraction of the n oldest ("window", 2n
// updates). Every batch
// of 1000 touches all 100 groups, so it emits 200 updates; a batch of 1
// emits 2 (the group's old row retracted, the new one inserted).
func BenchmarkReduce(b *testing.B) {
	for _, mode := range benchModes {
		for _, n := range benchBatchSizes {
			b.Run(fmt.Sprintf("%s/batch=%d", mode, n), func(b *testing.B) {
				const t = dataflow.CollectionID(1)
				v := &expr.Col{Idx: 1, Typ: types.Int8, Name: "v"}
				plan := &dataflow.Reduce{
					Input: &dataflow.Get{ID: t, Name: "t", Typs: []types.Type{types.Int8, types.Int8}},
					Keys:  []int{0},
					Aggs: []dataflow.AggCall{
						benchAgg(b, "count"), benchAgg(b, "sum", v), benchAgg(b, "min", v), benchAgg(b, "max", v),
					},
				}
				flow, err := dataflow.Build(plan, nil)
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(benchSeed, 0))
				fill := func(row types.Row) {
					row[0] = types.NewInt8(int64(rng.IntN(benchGroups)))
					row[1] = types.NewInt8(int64(rng.IntN(1_000_000)))
				}
				ctx := newCtx()
				changes := map[dataflow.CollectionID][]dataflow.Update{t: rowBatch(benchPrefill, 2, fill)}
				var w window
				w.push(changes[t])
				if out, err := flow.Step(ctx, changes); err != nil || len(out) != benchGroups {
					b.Fatalf("prefill: %d groups, %v", len(out), err)
				}

				b.ReportAllocs()
				b.ResetTimer()
				updates := 0
				for i := 0; i < b.N; i++ {
					batch := rowBatch(n, 2, fill)
					if mode == "window" {
						w.push(batch)
						batch = w.retract(batch, n)
					}
					updates += len(batch)
					changes[t] = batch
					out, err := flow.Step(ctx, changes)
					if err != nil {
						b.Fatal(err)
					}
					if len(out) == 0 {
						b.Fatal("no output change")
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(updates)/b.Elapsed().Seconds(), "updates/s")
			})
		}
	}
}

// BenchmarkJoin steps the plan of
//
//	SELECT * FROM orders o JOIN customers c ON o.cust = c.id
//
// with 10k orders and 1000 customers (unique ids) arranged, and batches of
// n new orders ("insert") or n new and n retracted orders ("window"): each
// order finds exactly one customer, so the output has as many updates as
// the batch.
func BenchmarkJoin(b *testing.B) {
	const customers = 1000
	for _, mode := range benchModes {
		for _, n := range benchBatchSizes {
			b.Run(fmt.Sprintf("%s/batch=%d", mode, n), func(b *testing.B) {
				const orders, custs = dataflow.CollectionID(1), dataflow.CollectionID(2)
				plan := &dataflow.Join{
					Left:     &dataflow.Get{ID: orders, Name: "orders", Typs: []types.Type{types.Int8, types.Int8, types.Int8}},
					Right:    &dataflow.Get{ID: custs, Name: "customers", Typs: []types.Type{types.Int8, types.Int8}},
					LeftKey:  []expr.Expr{&expr.Col{Idx: 1, Typ: types.Int8, Name: "cust"}},
					RightKey: []expr.Expr{&expr.Col{Idx: 0, Typ: types.Int8, Name: "id"}},
				}
				flow, err := dataflow.Build(plan, nil)
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(benchSeed, 0))
				id := int64(0)
				fillOrder := func(row types.Row) {
					row[0] = types.NewInt8(id)
					row[1] = types.NewInt8(int64(rng.IntN(customers)))
					row[2] = types.NewInt8(int64(rng.IntN(1000)))
					id++
				}
				c := int64(0)
				fillCustomer := func(row types.Row) {
					row[0] = types.NewInt8(c)
					row[1] = types.NewInt8(c % 10)
					c++
				}
				ctx := newCtx()
				changes := map[dataflow.CollectionID][]dataflow.Update{
					orders: rowBatch(benchPrefill, 3, fillOrder),
					custs:  rowBatch(customers, 2, fillCustomer),
				}
				var w window
				w.push(changes[orders])
				if out, err := flow.Step(ctx, changes); err != nil || len(out) != benchPrefill {
					b.Fatalf("prefill: %d rows, %v", len(out), err)
				}
				delete(changes, custs)

				b.ReportAllocs()
				b.ResetTimer()
				updates := 0
				for i := 0; i < b.N; i++ {
					batch := rowBatch(n, 3, fillOrder)
					if mode == "window" {
						w.push(batch)
						batch = w.retract(batch, n)
					}
					updates += len(batch)
					changes[orders] = batch
					out, err := flow.Step(ctx, changes)
					if err != nil {
						b.Fatal(err)
					}
					if len(out) != len(batch) {
						b.Fatalf("got %d joined updates, want %d", len(out), len(batch))
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(updates)/b.Elapsed().Seconds(), "updates/s")
			})
		}
	}
}
