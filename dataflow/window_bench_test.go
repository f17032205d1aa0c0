package dataflow_test

import (
	"testing"
	"time"

	"math/rand/v2"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// BenchmarkWindowOperators steps the dataflow plans the binder builds for
//
//	SELECT window_start, window_end, count(*), sum(v) FROM TUMBLE(ev, ts, '10 s') GROUP BY 1, 2
//	SELECT window_start, window_end, count(*), sum(v) FROM HOP(ev, ts, '2 s', '10 s') GROUP BY 1, 2
//	SELECT usr, window_start, window_end, count(*), sum(v) FROM SESSION(ev, ts, '10 s', usr) GROUP BY 1, 2, 3
//
// with batches of 1000 events (usr, ts, v), 10 ms apart in event time over
// 1000 users, 5% late by up to a minute: the operators alone, without the
// SQL layer and the INSERT that the sql package's BenchmarkWindowView also
// pays for. The state grows with b.N.
func BenchmarkWindowOperators(b *testing.B) {
	const batch = 1000
	in := &dataflow.Get{ID: 1, Name: "ev", Typs: []types.Type{types.Int8, types.Timestamp, types.Int8}}
	usr := &expr.Col{Idx: 0, Typ: types.Int8}
	ts := &expr.Col{Idx: 1, Typ: types.Timestamp}
	v := &expr.Col{Idx: 2, Typ: types.Int8}
	const sec = int64(1e6)
	ival := func(us int64) expr.Expr {
		return &expr.Const{Val: types.NewInterval(types.IntervalValue{Micros: us})}
	}
	call := func(name string, args ...expr.Expr) expr.Expr {
		argTypes := make([]types.Type, len(args))
		for i, a := range args {
			argTypes[i] = a.Type()
		}
		fn, _, err := expr.Resolve(name, argTypes)
		if err != nil {
			b.Fatal(err)
		}
		return &expr.Call{Fn: fn, Args: args}
	}
	epoch := &expr.Const{Val: types.NewTimestamp(types.Timestamp, types.TimeToMicros(time.Unix(0, 0)))}
	// windows returns the Map (or union of Maps) adding window_start and
	// window_end to each event, as bindWindowTable builds it.
	windows := func(slide, size int64) dataflow.Plan {
		start0 := call("date_bin", ival(slide), ts, epoch)
		var ins []dataflow.Plan
		for i := int64(0); i < size/slide; i++ {
			start := start0
			if i > 0 {
				start = call("-", start0, ival(i*slide))
			}
			ins = append(ins, &dataflow.Map{Input: in, Exprs: []expr.Expr{usr, ts, v, start, call("+", start, ival(size))}})
		}
		if len(ins) == 1 {
			return ins[0]
		}
		return &dataflow.Union{Ins: ins}
	}
	aggs := func() []dataflow.AggCall { return []dataflow.AggCall{benchAgg(b, "count"), benchAgg(b, "sum", v)} }
	plans := []struct {
		name string
		plan func() dataflow.Plan
	}{
		{"tumble", func() dataflow.Plan {
			return &dataflow.Reduce{Input: windows(10*sec, 10*sec), Keys: []int{3, 4}, Aggs: aggs()}
		}},
		{"hop", func() dataflow.Plan {
			return &dataflow.Reduce{Input: windows(2*sec, 10*sec), Keys: []int{3, 4}, Aggs: aggs()}
		}},
		{"session", func() dataflow.Plan {
			return &dataflow.Reduce{Input: &dataflow.Session{Input: in, Time: 1, Keys: []int{0}, Gap: 10 * sec}, Keys: []int{0, 3, 4}, Aggs: aggs()}
		}},
		{"session-only", func() dataflow.Plan { return &dataflow.Session{Input: in, Time: 1, Keys: []int{0}, Gap: 10 * sec} }},
	}
	for _, p := range plans {
		b.Run(p.name, func(b *testing.B) {
			flow, err := dataflow.Build(p.plan(), nil)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(benchSeed, 0))
			clock := types.TimeToMicros(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
			fill := func(row types.Row) {
				clock += 10_000
				t := clock
				if rng.IntN(20) == 0 {
					t -= int64(rng.IntN(60_000)) * 1000
				}
				row[0] = types.NewInt8(int64(rng.IntN(1000)))
				row[1] = types.NewTimestamp(types.Timestamp, t)
				row[2] = types.NewInt8(int64(rng.IntN(100)))
			}
			ctx := newCtx()
			changes := map[dataflow.CollectionID][]dataflow.Update{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				changes[1] = dataflow.Consolidate(rowBatch(batch, 3, fill))
				if _, err := flow.Step(ctx, changes); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
