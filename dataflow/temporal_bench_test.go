package dataflow_test

// BenchmarkTemporalFilter: the cost per row of a temporal filter
// (WHERE mz_now() >= ts AND mz_now() < ts + 5 minutes, as two bounds over
// precomputed columns): each step inserts a batch of rows valid from now,
// whose retractions are scheduled, and advances time by one second, which
// releases the retractions of the rows that expired. The pending queue
// holds five minutes of rows (300 steps) in the steady state. Run with
//
//	timeout 900 go test -run XXX -bench TemporalFilter -benchtime 2000x ./dataflow/

import (
	"fmt"
	"testing"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

func BenchmarkTemporalFilter(b *testing.B) {
	for _, batch := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			typs := []types.Type{types.Int8, types.TimestampTZ, types.TimestampTZ}
			get := &dataflow.Get{ID: 1, Name: "ev", Typs: typs}
			plan := &dataflow.TemporalFilter{Input: get, Bounds: []dataflow.TimeBound{
				{Op: expr.GE, Expr: &expr.Col{Idx: 1, Typ: types.TimestampTZ}},
				{Op: expr.LT, Expr: &expr.Col{Idx: 2, Typ: types.TimestampTZ}},
			}}
			flow, err := dataflow.Build(plan, nil)
			if err != nil {
				b.Fatal(err)
			}
			const second = int64(1_000_000)
			now := int64(1_000_000) * second
			id := int64(0)
			ctx := &expr.Ctx{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ups := make([]dataflow.Update, batch)
				for j := range ups {
					id++
					ups[j] = dataflow.Update{Row: types.Row{types.NewInt8(id), types.NewTimestamp(types.TimestampTZ, now), types.NewTimestamp(types.TimestampTZ, now+300*second)}, Diff: 1}
				}
				ctx.Timestamp = now
				if _, err := flow.Step(ctx, map[dataflow.CollectionID][]dataflow.Update{1: ups}); err != nil {
					b.Fatal(err)
				}
				now += second
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/row")
			b.ReportMetric(float64(flow.StateRows()), "pending")
		})
	}
}
