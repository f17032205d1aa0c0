package sql_test

// Throughput of window views under a stream of events: each iteration is
// one transaction inserting 1000 events (one INSERT ... VALUES statement),
// mostly in event-time order (10 ms apart, 1000 users), 5% late by up to a
// minute. The view is count/sum grouped by window (and user, for sessions).
// Reported as events/s; the state grows with b.N (nothing retracts). Run
// with
//
//	timeout 900 go test -run XXX -bench WindowView -benchtime 200x ./sql/
//
// Results are in docs/performance.md ("Windows").

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

const (
	winBenchBatch = 1000
	winBenchUsers = 1000
)

var winBenchViews = []struct{ name, def string }{
	// The table alone: what parsing and applying the INSERT costs.
	{"none", ""},
	{"tumble", `SELECT window_start, window_end, count(*) AS n, sum(v) AS s
		FROM TUMBLE(ev, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end`},
	{"hop", `SELECT window_start, window_end, count(*) AS n, sum(v) AS s
		FROM HOP(ev, ts, INTERVAL '2 seconds', INTERVAL '10 seconds') GROUP BY window_start, window_end`},
	{"session", `SELECT usr, window_start, window_end, count(*) AS n, sum(v) AS s
		FROM SESSION(ev, ts, INTERVAL '10 seconds', usr) GROUP BY usr, window_start, window_end`},
	// EMIT ON WINDOW CLOSE (the table's watermark allows the minute of
	// lateness, so no event is dropped): closed windows leave the state.
	{"tumble_eowc", `SELECT window_start, window_end, count(*) AS n, sum(v) AS s
		FROM TUMBLE(ev, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end EMIT ON WINDOW CLOSE`},
	{"session_eowc", `SELECT usr, window_start, window_end, count(*) AS n, sum(v) AS s
		FROM SESSION(ev, ts, INTERVAL '10 seconds', usr) GROUP BY usr, window_start, window_end EMIT ON WINDOW CLOSE`},
}

func BenchmarkWindowView(b *testing.B) {
	for _, v := range winBenchViews {
		b.Run(v.name, func(b *testing.B) {
			s := newBenchSession(b)
			benchExec(b, s, `CREATE TABLE ev (id bigint PRIMARY KEY, usr int, ts timestamp, v int, WATERMARK FOR ts AS ts - INTERVAL '1 minute')`)
			if v.def != "" {
				benchExec(b, s, "CREATE MATERIALIZED VIEW w AS "+v.def)
			}
			rng := rand.New(rand.NewPCG(benchSeed, benchSeed))
			clock := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			id := 0
			var q strings.Builder
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				q.Reset()
				q.WriteString("INSERT INTO ev VALUES ")
				for j := 0; j < winBenchBatch; j++ {
					clock = clock.Add(10 * time.Millisecond)
					ts := clock
					if rng.IntN(20) == 0 {
						ts = ts.Add(-time.Duration(rng.IntN(60_000)) * time.Millisecond)
					}
					if j > 0 {
						q.WriteString(", ")
					}
					id++
					fmt.Fprintf(&q, "(%d, %d, '%s', %d)", id, rng.IntN(winBenchUsers), ts.Format("2006-01-02 15:04:05.000"), rng.IntN(100))
				}
				stmt := q.String()
				b.StartTimer()
				benchExec(b, s, stmt)
			}
			b.ReportMetric(float64(b.N*winBenchBatch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
