package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// BenchmarkInsertAggregateView measures what metrics cost the write path:
// single-row autocommit INSERTs through an aggregate view, without a
// metrics registry, and with one whose collector is gathered every 10 ms
// (a thousand times Prometheus' usual 15 s) and, on the Pebble log, fed
// every group commit's sync latency and size (docs/performance.md):
//
//	timeout 900 go test -run XXX -bench InsertAggregateView -count 5 ./metrics/
func BenchmarkInsertAggregateView(b *testing.B) {
	for _, logKind := range []string{"mem", "pebble"} {
		for _, on := range []bool{false, true} {
			name := "log=" + logKind + "/metrics=off"
			if on {
				name = "log=" + logKind + "/metrics=on"
			}
			b.Run(name, func(b *testing.B) { benchInsert(b, logKind, on) })
		}
	}
}

func benchInsert(b *testing.B, logKind string, on bool) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	progress := &sql.RestoreProgress{}
	var m *Metrics
	if on {
		m = New(progress)
	}
	opts := sql.EngineOptions{Logger: quiet, TickInterval: -1, MaintenanceInterval: -1, Progress: progress}
	if logKind == "pebble" {
		po := &storage.PebbleOptions{Logger: quiet, MinFreeBytes: -1}
		if m != nil {
			po.OnSync = m.OnSync
		}
		l, err := storage.OpenPebble(b.TempDir(), po)
		if err != nil {
			b.Fatal(err)
		}
		opts.Log = l
	}
	eng, err := sql.NewEngine(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	s := eng.NewSession(sql.SessionOptions{User: "tributary"})
	defer s.Close()
	ctx := context.Background()
	run := func(q string, params ...types.Datum) {
		sts, err := s.ParseStatements(q)
		if err != nil {
			b.Fatal(err)
		}
		p, err := s.Prepare(ctx, sts[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Execute(ctx, p, params); err != nil {
			b.Fatal(err)
		}
	}
	run(`CREATE TABLE t (k int, v int)`)
	run(`CREATE MATERIALIZED VIEW agg AS SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k`)
	run(`INSERT INTO t SELECT g % 100, g FROM generate_series(1, 10000) AS g`)
	sts, err := s.ParseStatements(`INSERT INTO t VALUES ($1, $2)`)
	if err != nil {
		b.Fatal(err)
	}
	ins, err := s.Prepare(ctx, sts[0], []types.Type{types.Int4, types.Int4})
	if err != nil {
		b.Fatal(err)
	}

	stop, scraped := make(chan struct{}), make(chan int)
	if m != nil {
		m.SetEngine(eng)
		go func() {
			n := 0
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					scraped <- n
					return
				case <-t.C:
					if _, err := m.Registry().Gather(); err != nil {
						panic(err)
					}
					n++
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	params := make([]types.Datum, 2)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		params[0] = types.NewInt(types.Int4, int64(rng.IntN(100)))
		params[1] = types.NewInt(types.Int4, int64(rng.IntN(1_000_000)))
		if _, err := s.Execute(ctx, ins, params); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	if m != nil {
		close(stop)
		b.ReportMetric(float64(<-scraped), "scrapes")
		// The metrics agree with the work done.
		mfs, err := m.Registry().Gather()
		if err != nil {
			b.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "tributary_commits_total" {
				if got := mf.GetMetric()[0].GetCounter().GetValue(); got != float64(b.N+1) {
					b.Fatalf("tributary_commits_total = %v after %d inserts", got, b.N+1)
				}
			}
		}
	}
	if st := eng.Stats(); !strings.HasPrefix(st.Views[0].Name, "agg") || st.Views[0].Rows != 100 {
		b.Fatalf("view stats %+v", st.Views)
	}
}

// BenchmarkScrape is the cost of one scrape (gathering every metric, the
// Go runtime's and the process' included) of an engine with 50 tables,
// each with a materialized view: it runs beside the writers, and the
// engine's part holds the read lock.
//
//	timeout 600 go test -run XXX -bench Scrape -count 5 ./metrics/
func BenchmarkScrape(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	progress := &sql.RestoreProgress{}
	m := New(progress)
	eng, err := sql.NewEngine(sql.EngineOptions{Logger: quiet, TickInterval: -1, MaintenanceInterval: -1, Progress: progress})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	s := eng.NewSession(sql.SessionOptions{User: "tributary"})
	defer s.Close()
	ctx := context.Background()
	for i := range 50 {
		for _, q := range []string{
			fmt.Sprintf(`CREATE TABLE t%d (k int, v int)`, i),
			fmt.Sprintf(`CREATE MATERIALIZED VIEW v%d AS SELECT k, count(*) FROM t%d GROUP BY k`, i, i),
			fmt.Sprintf(`INSERT INTO t%d SELECT g %% 10, g FROM generate_series(1, 100) AS g`, i),
		} {
			sts, err := s.ParseStatements(q)
			if err != nil {
				b.Fatal(err)
			}
			p, err := s.Prepare(ctx, sts[0], nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Execute(ctx, p, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.SetEngine(eng)
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if st := eng.Stats(); len(st.Views) != 50 {
				b.Fatal(len(st.Views))
			}
		}
	})
	b.Run("gather", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := m.Registry().Gather(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
