package sql_test

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkUpdateUnderViews runs `UPDATE events SET v = v + 1` over the
// 100k-row table of scripts/bench-durable-vs-postgres.sh, with no view
// (views=none: the statement and the table alone) and under the script's
// five materialized views (views=all). Each UPDATE writes 200k updates (a
// retraction and an insertion per row); updates/s counts them, as the
// script does. A restart replays a logged UPDATE through the same apply and
// view steps (BenchmarkRestartWithTail).
//
//	timeout 900 go test -run XXX -bench UpdateUnderViews -benchtime 10x -benchmem \
//	    -cpuprofile /tmp/upd.cpu -o /tmp/sql.test ./sql/
//	go tool pprof -top -cum /tmp/sql.test /tmp/upd.cpu
func BenchmarkUpdateUnderViews(b *testing.B) {
	const rows = 100_000
	for _, views := range []string{"none", "all"} {
		b.Run("views="+views, func(b *testing.B) {
			s := newBenchSession(b)
			benchExec(b, s, "CREATE TABLE dims (k int PRIMARY KEY, label text)")
			benchExec(b, s, "INSERT INTO dims SELECT g, 'label ' || (g % 7) FROM generate_series(0, 999) AS g")
			benchExec(b, s, "CREATE TABLE events (id int8 PRIMARY KEY, k int, v int, note text)")
			if views == "all" {
				for _, v := range viewBuildViews {
					benchExec(b, s, "CREATE MATERIALIZED VIEW "+v)
				}
			}
			benchExec(b, s, fmt.Sprintf("INSERT INTO events SELECT g, g %% 1000, ((g::int8 * 7919) %% 1000000)::int, 'note ' || g FROM generate_series(0, %d) AS g", rows-1))
			update := benchPrepare(b, s, "UPDATE events SET v = v + 1")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Execute(ctx, update, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)*2*rows/b.Elapsed().Seconds(), "updates/s")
			// The table and, through totals, the views followed every UPDATE:
			// v's sum grew by rows per UPDATE.
			if views == "all" {
				checkCount(b, s, "SELECT (s - (SELECT sum(v) FROM events))::int8 FROM totals", 0)
				checkCount(b, s, "SELECT count(*) FROM (SELECT k, count(*) AS n, sum(v) AS s FROM events GROUP BY k EXCEPT SELECT * FROM per_k) x", 0)
			}
		})
	}
}
