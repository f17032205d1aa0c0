package sql

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

func openTestEngine(t *testing.T, dir string) *testSession {
	t.Helper()
	return openWrappedTestEngine(t, dir, func(l *storage.PebbleLog) storage.Log { return l })
}

// openWrappedTestEngine opens an engine on the log in dir as wrap returns
// it (a test's log that alters what the engine reads).
func openWrappedTestEngine(t *testing.T, dir string, wrap func(*storage.PebbleLog) storage.Log) *testSession {
	t.Helper()
	l, err := storage.OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(EngineOptions{Log: wrap(l)})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	return &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
}

func (ts *testSession) restoredRows(q string) []string {
	ts.t.Helper()
	rows, err := ts.query(q)
	if err != nil {
		ts.t.Fatalf("%s: %v", q, err)
	}
	return rows
}

// restoreDefs are the materialized and plain views of TestRestart, by name,
// with their definitions: after a restart each must equal a fresh run of
// its definition.
var restoreDefs = map[string]string{
	"totals":    "SELECT o.cust, c.name, sum(o.amount) AS total, count(*) AS n FROM orders o JOIN customers c ON o.cust = c.id GROUP BY o.cust, c.name",
	"big":       "SELECT cust, total FROM totals WHERE total > 100",
	"v_recent":  "SELECT id, amount FROM orders WHERE id > 3",
	"per_since": "SELECT since, count(*) AS n FROM customers GROUP BY since",
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, since date, note bytea, span interval)`)
	ts.mustExec(`CREATE TABLE orders (id int8 PRIMARY KEY, cust int, amount numeric, tags text)`)
	ts.mustExec(`CREATE TABLE dropped (x int)`)
	ts.mustExec(`INSERT INTO dropped VALUES (1)`)
	ts.mustExec(`DROP TABLE dropped`)
	ts.mustExec(`CREATE TABLE dropped (y text)`) // a new id for the same name
	ts.mustExec(`INSERT INTO dropped VALUES ('second')`)
	ts.mustExec(`INSERT INTO customers VALUES (1, 'ann', '2020-01-02', '\x00ff00', '1 mon 2 days 03:04:05.000006'), (2, 'bob', NULL, NULL, NULL), (3, 'cy', '2020-01-02', '', '-1 year')`)
	ts.mustExec(`CREATE MATERIALIZED VIEW totals AS ` + restoreDefs["totals"])
	ts.mustExec(`CREATE MATERIALIZED VIEW big AS ` + restoreDefs["big"])
	ts.mustExec(`CREATE VIEW v_recent AS ` + restoreDefs["v_recent"])
	ts.mustExec(`CREATE MATERIALIZED VIEW per_since AS ` + restoreDefs["per_since"])
	ts.mustExec(`CREATE INDEX orders_cust ON orders (cust)`)
	ts.mustExec(`INSERT INTO orders VALUES (1, 1, 10.50, 'a'), (2, 1, 99.99, NULL), (3, 2, 0.001, 'x'), (4, 3, -5, '')`)
	ts.mustExec(`BEGIN`)
	ts.mustExec(`INSERT INTO orders VALUES (5, 2, 200, 'tx')`)
	ts.mustExec(`UPDATE orders SET amount = amount * 2 WHERE cust = 1`)
	ts.mustExec(`COMMIT`)
	ts.mustExec(`DELETE FROM orders WHERE id = 3`)
	ts.mustExec(`UPDATE customers SET name = 'bobby' WHERE id = 2`)

	queries := []string{"SELECT * FROM customers", "SELECT * FROM orders", "SELECT * FROM dropped", "SELECT * FROM orders WHERE cust = 1"}
	for name := range restoreDefs {
		queries = append(queries, "SELECT * FROM "+name)
	}
	slices.Sort(queries)
	before := map[string][]string{}
	for _, q := range queries {
		before[q] = ts.restoredRows(q)
	}
	lastTime := ts.e.mu.lastTime
	if err := ts.e.Close(); err != nil {
		t.Fatal(err)
	}

	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	for _, q := range queries {
		if got := ts.restoredRows(q); !slices.Equal(got, before[q]) {
			t.Errorf("%s after restart:\n%s\nbefore:\n%s", q, strings.Join(got, "\n"), strings.Join(before[q], "\n"))
		}
	}
	checkViews := func(when string) {
		t.Helper()
		for name, def := range restoreDefs {
			if got, want := ts.restoredRows("SELECT * FROM "+name), ts.restoredRows(def); !slices.Equal(got, want) {
				t.Errorf("%s: view %s:\n%s\nits definition:\n%s", when, name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
	checkViews("after restart")
	if ts.e.mu.lastTime < lastTime {
		t.Fatalf("the timestamp oracle went back from %d to %d", lastTime, ts.e.mu.lastTime)
	}
	if got := ts.restoredRows("SELECT relname FROM pg_class WHERE relname = 'orders_cust'"); len(got) != 1 {
		t.Errorf("index orders_cust is missing after restart: %v", got)
	}

	// The primary keys were restored with the rows.
	if _, err := ts.exec(`INSERT INTO orders VALUES (1, 1, 1, 'dup')`); err == nil {
		t.Error("a duplicate primary key was accepted after restart")
	}
	// New writes get later times and keep the views current.
	ts.mustExec(`INSERT INTO orders VALUES (6, 3, 1000, 'new')`)
	ts.mustExec(`DELETE FROM orders WHERE id = 4`)
	if ts.e.mu.lastTime <= lastTime {
		t.Errorf("a write after restart got time %d, not after %d", ts.e.mu.lastTime, lastTime)
	}
	checkViews("after new writes")
	ts.mustExec(`CREATE TABLE later (z int)`)
	ts.mustExec(`INSERT INTO later VALUES (7)`)
	want := ts.restoredRows("SELECT * FROM orders")
	ts.e.Close()

	// And they survive one more restart.
	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	if got := ts.restoredRows("SELECT * FROM orders"); !slices.Equal(got, want) {
		t.Errorf("orders after the second restart:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := ts.restoredRows("SELECT * FROM later"); !slices.Equal(got, []string{"7"}) {
		t.Errorf("later after the second restart: %v", got)
	}
	checkViews("after the second restart")
}

func TestRestoreKeepsTimeMonotonic(t *testing.T) {
	future := uint64(time.Now().Add(time.Hour).UnixMilli())
	l := storage.NewMemLog()
	l.Append(context.Background(), storage.Batch{Time: future, Catalog: []byte("CREATE TABLE t (x int)")})
	e, err := NewEngine(EngineOptions{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	ts.mustExec("INSERT INTO t VALUES (1)")
	if e.mu.lastTime <= future {
		t.Fatalf("a write after restoring a log that ends at %d got time %d", future, e.mu.lastTime)
	}
}

func TestRestoreReportsBadRecords(t *testing.T) {
	for name, b := range map[string]storage.Batch{
		"bad DDL":       {Time: 1, Catalog: []byte("CREATE TABLE")},
		"unknown table": {Time: 1, Entries: []storage.Entry{{Collection: 42, Row: types.Row{types.NewInt4(1)}, Diff: 1}}},
		"failing DDL":   {Time: 1, Catalog: []byte("DROP TABLE nothing_here")},
	} {
		l := storage.NewMemLog()
		l.Append(context.Background(), b)
		if _, err := NewEngine(EngineOptions{Log: l}); err == nil {
			t.Errorf("%s: restoring succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// Benchmarks of durable writes and of restart, on a Pebble log in a
// temporary directory (each write is synced before it is acknowledged), and
// of the same writes on the in-memory log for comparison:
//
//	timeout 900 go test -run XXX -bench Durable -benchtime 2s ./sql/
func BenchmarkDurableInsert(b *testing.B) {
	for _, c := range []struct {
		log   string
		batch int
	}{{"pebble", 1}, {"pebble", 100}, {"pebble", 1000}, {"mem", 1}, {"mem", 100}} {
		batch := c.batch
		b.Run(fmt.Sprintf("log=%s/rows=%d", c.log, batch), func(b *testing.B) {
			dir := b.TempDir()
			if c.log == "mem" {
				dir = ""
			}
			ts := openBenchEngine(b, dir)
			ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v text)")
			var sb strings.Builder
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sb.Reset()
				sb.WriteString("INSERT INTO t VALUES ")
				for j := 0; j < batch; j++ {
					if j > 0 {
						sb.WriteString(", ")
					}
					fmt.Fprintf(&sb, "(%d, %d, 'row %d')", i*batch+j, j%10, j)
				}
				ts.mustExec(sb.String())
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// BenchmarkInsertTypmodColumns inserts 1000-row INSERTs of literals into
// columns with type modifiers (varchar(n), numeric(p, s): a function call
// per value), on the in-memory log.
func BenchmarkInsertTypmodColumns(b *testing.B) {
	ts := openBenchEngine(b, "")
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v varchar(40), n numeric(10, 2))")
	var sb strings.Builder
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sb.Reset()
		sb.WriteString("INSERT INTO t VALUES ")
		for j := 0; j < 1000; j++ {
			if j > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "(%d, %d, 'row %d', %d.5)", i*1000+j, j%10, j, j)
		}
		ts.mustExec(sb.String())
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDurableConcurrentInsert measures single-row autocommit INSERTs
// into a table with a materialized aggregate, by N sessions at once on a
// Pebble log: with group commit the writers share syncs, so throughput
// grows with N while each write still waits for its own durability.
func BenchmarkDurableConcurrentInsert(b *testing.B) {
	for _, writers := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ts := openBenchEngine(b, b.TempDir())
			ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v text)")
			ts.mustExec("CREATE MATERIALIZED VIEW agg AS SELECT k, count(*), sum(id) FROM t GROUP BY k")
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := ts.e.NewSession(SessionOptions{})
					defer s.Close()
					sts, err := s.ParseStatements("INSERT INTO t VALUES ($1, $2, 'a row')")
					if err != nil {
						b.Error(err)
						return
					}
					p, err := s.Prepare(context.Background(), sts[0], []types.Type{types.Int8, types.Int4})
					if err != nil {
						b.Error(err)
						return
					}
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := s.Execute(context.Background(), p, []types.Datum{types.NewInt8(i), types.NewInt4(int32(i % 100))}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkDurableRestart measures NewEngine over a log of 100k rows in
// 100 INSERTs of 1000, with a materialized aggregate over them.
func BenchmarkDurableRestart(b *testing.B) {
	dir := b.TempDir()
	ts := openBenchEngine(b, dir)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v text)")
	ts.mustExec("CREATE MATERIALIZED VIEW agg AS SELECT k, count(*), sum(id) FROM t GROUP BY k")
	var sb strings.Builder
	for i := 0; i < 100; i++ {
		sb.Reset()
		sb.WriteString("INSERT INTO t VALUES ")
		for j := 0; j < 1000; j++ {
			if j > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "(%d, %d, 'row %d')", i*1000+j, j%100, j)
		}
		ts.mustExec(sb.String())
	}
	ts.e.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts := openBenchEngine(b, dir)
		if got := ts.restoredRows("SELECT count(*) FROM t"); got[0] != "100000" {
			b.Fatalf("restored %v rows", got)
		}
		ts.e.Close()
	}
}

func openBenchEngine(b *testing.B, dir string) *testSession {
	b.Helper()
	ts := openUntrackedBenchEngine(b, dir)
	b.Cleanup(func() { ts.e.Close() })
	return ts
}

// openUntrackedBenchEngine is openBenchEngine without the cleanup: the
// caller closes the engine, and once it drops the session nothing keeps
// the engine's state reachable (a benchmark that measures the heap of a
// later engine, or its garbage collections, in a process as fresh as a
// server's).
func openUntrackedBenchEngine(b *testing.B, dir string) *testSession {
	b.Helper()
	return openUntrackedBenchEngineWith(b, dir, nil)
}

// openUntrackedBenchEngineWith is openUntrackedBenchEngine with a restore
// phase hook (EngineOptions.RestorePhaseHook).
func openUntrackedBenchEngineWith(b *testing.B, dir string, hook func(phase string)) *testSession {
	b.Helper()
	var l storage.Log = storage.NewMemLog()
	if dir != "" {
		var err error
		if l, err = storage.OpenPebble(dir, &storage.PebbleOptions{Logger: slog.New(slog.DiscardHandler)}); err != nil {
			b.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("BENCH_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e, err := NewEngine(EngineOptions{Log: l, Logger: logger, RestorePhaseHook: hook})
	if err != nil {
		b.Fatal(err)
	}
	return &testSession{t: b, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
}

// BenchmarkDurableCopy measures COPY FROM STDIN (CSV) of 100k-row COPYs
// into events(id int8 PRIMARY KEY, k int, v int, note text) on a Pebble
// log, each acknowledged once durable:
//
//	timeout 900 go test -run XXX -bench DurableCopy -benchtime 10x ./sql/
func BenchmarkDurableCopy(b *testing.B) {
	for _, log := range []string{"pebble", "mem"} {
		b.Run("log="+log, func(b *testing.B) {
			dir := ""
			if log == "pebble" {
				dir = b.TempDir()
			}
			benchCopy(b, openBenchEngine(b, dir))
		})
	}
}

func benchCopy(b *testing.B, ts *testSession) {
	const rows = 100_000
	ts.mustExec("CREATE TABLE events (id int8 PRIMARY KEY, k int, v int, note text)")
	chunks := make([][]byte, b.N)
	for i := range chunks {
		var sb strings.Builder
		for j := i * rows; j < (i+1)*rows; j++ {
			fmt.Fprintf(&sb, "%d,%d,%d,note %d\n", j, j%1000, (j*7919)%1_000_000, j)
		}
		chunks[i] = []byte(sb.String())
	}
	b.SetBytes(int64(len(chunks[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := ts.mustExec("COPY events FROM STDIN WITH (FORMAT csv)")
		data := chunks[i]
		for len(data) > 0 {
			n := min(len(data), 64<<10) // psql sends the file in pieces
			if err := res.CopyIn.Data(data[:n]); err != nil {
				b.Fatal(err)
			}
			data = data[n:]
		}
		if _, err := res.CopyIn.Done(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}
