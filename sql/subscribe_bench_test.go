package sql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/types"
)

// BenchmarkSubscribedViewSingleRowInserts is
// BenchmarkAggregateViewSingleRowInserts with subscribers reading the
// view's changes as they come (each drained by its own goroutine, as a
// connection would): what a subscription costs the writers. "view" follows
// the materialized view's own step output; "query" runs a private dataflow
// of the same aggregate.
func BenchmarkSubscribedViewSingleRowInserts(b *testing.B) {
	for _, c := range []struct {
		kind string
		n    int
	}{{"view", 1}, {"view", 10}, {"query", 1}} {
		b.Run(fmt.Sprintf("%s/subscribers=%d", c.kind, c.n), func(b *testing.B) {
			e, err := sql.NewEngine(sql.EngineOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = e.Close() })
			s := e.NewSession(sql.SessionOptions{User: "bench"})
			const def = `SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k`
			benchExec(b, s, `CREATE TABLE t (k int, v int)`)
			benchExec(b, s, `CREATE MATERIALIZED VIEW agg AS `+def)
			rng := rand.New(rand.NewPCG(benchSeed, 0))
			insertValues(b, s, "t", benchPrefill, func(i int) string {
				return fmt.Sprintf("%d,%d", i%benchGroups, rng.IntN(1_000_000))
			})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			rows := make([]int, c.n)
			for i := range c.n {
				sub := e.NewSession(sql.SessionOptions{User: "bench"})
				q := `SUBSCRIBE agg`
				if c.kind == "query" {
					q = `SUBSCRIBE (` + def + `)`
				}
				st := benchExec(b, sub, q).Stream
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer st.Close()
					for {
						got, err := st.Next(ctx, 0, -1)
						if err != nil {
							return
						}
						rows[i] += len(got)
					}
				}()
			}
			ins := benchPrepare(b, s, `INSERT INTO t VALUES ($1, $2)`, types.Int4, types.Int4)
			params := make([]types.Datum, 2)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				params[0] = intParam(ins, 0, int64(rng.IntN(benchGroups)))
				params[1] = intParam(ins, 1, int64(rng.IntN(1_000_000)))
				if _, err := s.Execute(context.Background(), ins, params); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			cancel()
			wg.Wait()
			for i, n := range rows {
				// The snapshot (100 groups) and then 2 rows per insert
				// (the group's old and new aggregate), minus what was
				// still buffered when the benchmark stopped.
				if n < benchGroups {
					b.Fatalf("subscriber %d read %d rows", i, n)
				}
			}
		})
	}
}
