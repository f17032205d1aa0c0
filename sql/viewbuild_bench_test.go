package sql_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkViewInitialBuild times the first computation of each of the five
// views of scripts/bench-durable-vs-postgres.sh over an in-memory table of
// viewBuildRows rows (what a restart from a checkpoint does per view), and
// an ad-hoc aggregate over the same table. Each iteration creates the view
// and drops it again; only the CREATE is timed.
//
//	timeout 900 go test -run XXX -bench ViewInitialBuild -benchtime 3x -cpuprofile /tmp/vb.cpu -o /tmp/sql.test ./sql/
func BenchmarkViewInitialBuild(b *testing.B) {
	const rows = 1_000_000
	s := newBenchSession(b)
	benchExec(b, s, "CREATE TABLE dims (k int PRIMARY KEY, label text)")
	benchExec(b, s, "INSERT INTO dims SELECT g, 'label ' || (g % 7) FROM generate_series(0, 999) AS g")
	benchExec(b, s, "CREATE TABLE events (id int8 PRIMARY KEY, k int, v int, note text)")
	for lo := 0; lo < rows; lo += 100_000 {
		benchExec(b, s, fmt.Sprintf("INSERT INTO events SELECT g, g %% 1000, ((g::int8 * 7919) %% 1000000)::int, 'note ' || g FROM generate_series(%d, %d) AS g", lo, lo+99_999))
	}
	checkCount(b, s, "SELECT count(*) FROM events", rows)
	ctx := context.Background()
	for _, v := range viewBuildViews {
		name := v[:strings.IndexByte(v, ' ')]
		b.Run(name, func(b *testing.B) {
			create := benchPrepare(b, s, "CREATE MATERIALIZED VIEW "+v)
			for i := 0; i < b.N; i++ {
				if _, err := s.Execute(ctx, create, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				benchExec(b, s, "DROP MATERIALIZED VIEW "+name)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N)*rows/b.Elapsed().Seconds(), "rows/s")
		})
	}
	b.Run("adhoc_aggregate", func(b *testing.B) {
		sel := benchPrepare(b, s, "SELECT k, count(*), sum(v), min(v), max(v) FROM events GROUP BY k")
		for i := 0; i < b.N; i++ {
			res, err := s.Execute(ctx, sel, nil)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Rows) != 1000 {
				b.Fatalf("got %d groups", len(res.Rows))
			}
		}
		b.ReportMetric(float64(b.N)*rows/b.Elapsed().Seconds(), "rows/s")
	})
}

// viewBuildViews are the five views of scripts/bench-durable-vs-postgres.sh
// (benchViews in the internal package's restart benchmark).
var viewBuildViews = []string{
	"per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM events GROUP BY k",
	"per_bucket AS SELECT k % 10 AS b, min(v) AS lo, max(v) AS hi FROM events GROUP BY k % 10",
	"totals AS SELECT count(*) AS n, sum(v) AS s FROM events",
	"top10 AS SELECT id, v FROM events ORDER BY v DESC, id LIMIT 10",
	"per_label AS SELECT d.label, count(*) AS n FROM events e JOIN dims d ON e.k = d.k GROUP BY d.label",
}
