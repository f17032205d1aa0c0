package dataflow_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// BenchmarkCheckpointState: the cost of Dataflow.Checkpoint (which a
// checkpoint runs under the coordinator's write lock, holding writers off)
// and of Restore, for the state of a top-k over 1M rows (every row is
// state) and of a min/max by k % 10 over them (a multiset of about 950k
// distinct values), encoded as the sql layer does (storage's row encoding):
//
//	timeout 900 go test -run XXX -bench CheckpointState -benchmem ./dataflow/
func BenchmarkCheckpointState(b *testing.B) {
	const rows = 1_000_000
	typs := []types.Type{types.Int8, types.Int4, types.Int4}
	get := &dataflow.Get{ID: 1, Name: "events", Typs: typs}
	k := &expr.Col{Idx: 1, Typ: types.Int4}
	v := &expr.Col{Idx: 2, Typ: types.Int4}
	v1 := &expr.Col{Idx: 1, Typ: types.Int4} // v after the Map
	mod, _, err := expr.Resolve("%", []types.Type{types.Int4, types.Int4})
	if err != nil {
		b.Fatal(err)
	}
	plans := map[string]dataflow.Plan{
		"topk": &dataflow.TopK{Input: get, Order: []dataflow.SortKey{{Col: 2, Desc: true}, {Col: 0}}, Limit: 10},
		"minmax": &dataflow.Reduce{
			Input: &dataflow.Map{Input: get, Exprs: []expr.Expr{&expr.Call{Fn: mod, Args: []expr.Expr{k, &expr.Const{Val: types.NewInt4(10)}}}, v}},
			Keys:  []int{0},
			Aggs:  []dataflow.AggCall{aggCall(b, "min", false, v1), aggCall(b, "max", false, v1)},
		},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	snap := make([]dataflow.Update, rows)
	for i := range snap {
		snap[i] = dataflow.Update{Row: types.Row{types.NewInt8(int64(i)), types.NewInt4(int32(i % 1000)), types.NewInt4(int32(rng.IntN(1_000_000)))}, Diff: 1}
	}
	for _, name := range []string{"topk", "minmax"} {
		plan := plans[name]
		d, err := dataflow.Build(plan, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Step(&expr.Ctx{}, map[dataflow.CollectionID][]dataflow.Update{1: snap}); err != nil {
			b.Fatal(err)
		}
		var saved *encodedState
		b.Run(fmt.Sprintf("%s/checkpoint", name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				saved = &encodedState{buf: make([]byte, 0, 32<<20)}
				if err := d.Checkpoint(saved); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(saved.buf))/1e6, "MB")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/input_row")
		})
		b.Run(fmt.Sprintf("%s/restore", name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := dataflow.Build(plan, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := r.Restore(&stateReader{rest: saved.buf}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
