package sql

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-db/tributary/storage"
)

// checkpointViews are materialized views of several operator kinds
// (reduce with min/max, join, top-k, distinct, a view over a view), so that
// a restart from a checkpoint must rebuild each kind's internal state.
var checkpointViews = []struct{ name, def string }{
	{"per_k", "SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k"},
	{"joined", "SELECT d.label, count(*) AS n, sum(t.v) AS s FROM t JOIN dims d ON t.k = d.k GROUP BY d.label"},
	{"top3", "SELECT id, v FROM t ORDER BY v DESC, id LIMIT 3"},
	{"labels", "SELECT DISTINCT label FROM dims"},
	{"big_k", "SELECT k, n FROM per_k WHERE n > 2"},
}

// snapshotAll returns every table's and materialized view's contents.
func snapshotAll(ts *testSession, names []string) map[string][]string {
	out := map[string][]string{}
	for _, n := range names {
		out[n] = ts.restoredRows("SELECT * FROM " + n)
	}
	return out
}

// checkViewsFresh checks every materialized view against a fresh run of its
// definition, read from tb_catalog.objects.
func checkViewsFresh(t *testing.T, ts *testSession) {
	t.Helper()
	defs := ts.restoredRows("SELECT name || ' | ' || sql FROM tb_catalog.objects WHERE kind = 'materialized view'")
	if len(defs) == 0 {
		t.Fatal("no materialized views")
	}
	for _, d := range defs {
		name, def, _ := strings.Cut(d, " | ")
		if got, want := ts.restoredRows("SELECT * FROM "+name), ts.restoredRows(def); !slices.Equal(got, want) {
			t.Errorf("view %s after restart:\n%s\nits definition:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestRestartFromCheckpoint restarts from a checkpoint plus a log tail that
// holds writes, a view created after the checkpoint and a dropped and
// recreated table, and checks that every table and view is what it was
// and every view equals a fresh run of its definition; then restarts from
// a checkpoint with an empty tail, and from one after more DDL.
func TestRestartFromCheckpoint(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v int, note text)")
	ts.mustExec("CREATE INDEX t_k ON t (k)")
	ts.mustExec("CREATE TABLE dims (k int PRIMARY KEY, label text)")
	ts.mustExec("CREATE TABLE gone (x int)")
	ts.mustExec("INSERT INTO gone VALUES (1), (2)")
	for _, v := range checkpointViews {
		ts.mustExec(fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", v.name, v.def))
	}
	for k := 0; k < 10; k++ {
		ts.mustExec(fmt.Sprintf("INSERT INTO dims VALUES (%d, 'label %d')", k, k%4))
	}
	nextID := 0
	write := func(n int) {
		for i := 0; i < n; i++ {
			switch op := rng.IntN(10); {
			case op < 6 || nextID < 5:
				var vals []string
				for j := 0; j < 1+rng.IntN(5); j++ {
					vals = append(vals, fmt.Sprintf("(%d, %d, %d, 'n%d')", nextID, rng.IntN(12), rng.IntN(1000), nextID))
					nextID++
				}
				ts.mustExec("INSERT INTO t VALUES " + strings.Join(vals, ", "))
			case op < 8:
				ts.mustExec(fmt.Sprintf("UPDATE t SET v = v + %d WHERE k = %d", rng.IntN(50), rng.IntN(12)))
			default:
				ts.mustExec(fmt.Sprintf("DELETE FROM t WHERE id = %d", rng.IntN(nextID)))
			}
		}
	}
	write(60)
	ts.mustExec("DROP TABLE gone")
	ts.mustExec("CREATE TABLE gone (y text)") // the same name, a new id
	ts.mustExec("INSERT INTO gone VALUES ('second')")
	ts.mustExec("CHECKPOINT")
	cp := ts.restoredRows("SELECT valid_at IS NOT NULL, tables, taken_by_this_process, last_error IS NULL FROM tb_catalog.checkpoints")
	if want := []string{"t | 3 | 1 | t"}; !slices.Equal(cp, want) {
		t.Fatalf("tb_catalog.checkpoints after CHECKPOINT: %v, want %v", cp, want)
	}
	// The tail: writes, a view created after the checkpoint, DDL.
	write(40)
	ts.mustExec("CREATE MATERIALIZED VIEW late AS SELECT k, count(*) AS n FROM t GROUP BY k")
	ts.mustExec("CREATE TABLE after_cp (a int)")
	ts.mustExec("INSERT INTO after_cp VALUES (7)")
	write(20)
	names := []string{"t", "dims", "gone", "after_cp", "late"}
	for _, v := range checkpointViews {
		names = append(names, v.name)
	}
	before := snapshotAll(ts, names)
	ts.e.Close()

	ts = openTestEngine(t, dir)
	// The five views of the checkpoint are restored from their state;
	// "late" is created by the tail.
	st := ts.restoredRows("SELECT phase, checkpoint_valid_at IS NOT NULL, tables_loaded, views_recomputed, views_restored, log_batches > 0 FROM tb_catalog.restart")
	if want := []string{"done | t | 3 | 0 | 5 | t"}; !slices.Equal(st, want) {
		t.Fatalf("tb_catalog.restart: %v, want %v", st, want)
	}
	if after := snapshotAll(ts, names); !mapsEqual(before, after) {
		t.Fatalf("state after a restart from a checkpoint differs:\nbefore %v\nafter  %v", before, after)
	}
	checkViewsFresh(t, ts)
	// A checkpoint taken right after a restart, before any write, is valid
	// at the latest restored time (not at the latest DDL's).
	ts.mustExec("CHECKPOINT")
	ts.e.Close()
	ts = openTestEngine(t, dir)
	if st := ts.restoredRows("SELECT log_batches FROM tb_catalog.restart"); !slices.Equal(st, []string{"0"}) {
		t.Fatalf("a checkpoint taken before any write left a log tail of %v batches", st)
	}
	if after := snapshotAll(ts, names); !mapsEqual(before, after) {
		t.Fatalf("state after a checkpoint taken right after a restart differs:\nbefore %v\nafter  %v", before, after)
	}
	// The restored engine keeps maintaining the views.
	write(30)
	checkViewsFresh(t, ts)

	// A checkpoint with an empty tail.
	ts.mustExec("CHECKPOINT")
	before = snapshotAll(ts, names)
	ts.e.Close()
	ts = openTestEngine(t, dir)
	if st := ts.restoredRows("SELECT tables_loaded, views_recomputed, views_restored, log_batches FROM tb_catalog.restart"); !slices.Equal(st, []string{"4 | 0 | 6 | 0"}) {
		t.Fatalf("tb_catalog.restart with an empty tail: %v", st)
	}
	if after := snapshotAll(ts, names); !mapsEqual(before, after) {
		t.Fatalf("state after a restart from a checkpoint with no tail differs:\nbefore %v\nafter  %v", before, after)
	}
	checkViewsFresh(t, ts)
	ts.e.Close()
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestCheckpointWhileWriting takes checkpoints while other sessions write
// and checks that each restart (from the checkpoint and its tail) gives
// back exactly the acknowledged state: a checkpoint is consistent at its
// time even though it is encoded while writes go on.
func TestCheckpointWhileWriting(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int)")
	ts.mustExec("CREATE MATERIALIZED VIEW n AS SELECT k, count(*) AS n FROM t GROUP BY k")
	done := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			s := &testSession{t: t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: context.Background()}
			for i := 0; i < 200; i++ {
				if _, err := s.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, %d)", w*1000+i, i%7)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	var cps []*storage.Checkpoint
	for i := 0; i < 4; i++ {
		cp, err := ts.e.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp)
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	want := ts.restoredRows("SELECT k, n FROM n")
	ts.e.Close()
	ts = openTestEngine(t, dir)
	if got := ts.restoredRows("SELECT count(*) FROM t"); !slices.Equal(got, []string{"800"}) {
		t.Fatalf("restored %v rows, want 800 (checkpoints at %v)", got, cps)
	}
	if got := ts.restoredRows("SELECT k, n FROM n"); !slices.Equal(got, want) {
		t.Fatalf("view after restart %v, want %v", got, want)
	}
	checkViewsFresh(t, ts)
	ts.e.Close()
}

// BenchmarkRestartFromCheckpoint measures NewEngine over a checkpoint of
// 200k and 1M rows with five materialized views (the views of
// scripts/bench-durable-vs-postgres.sh) and an empty log tail. It reports
// the restart's load and views phases, and for the CHECKPOINT that made
// it how long writers were held (writers_held_ms: cloning and encoding the
// views' operator state under the lock) and the size of that state, and
// the live heap the restarted engine holds (heap_MB: its growth over the
// heap before it; the engine that built the checkpoint is unreachable by
// then, so the restart collects garbage as often as a fresh server's) and
// the most heap it held meanwhile, garbage included (peak_heap_MB, sampled
// every 5 ms, over the same base):
//
//	timeout 900 go test -run XXX -bench RestartFromCheckpoint -benchtime 1x ./sql/
//
// The restart runs under the pprof label phase=restart, which its
// goroutines inherit, so that a CPU profile of the run can be cut down to
// it (the checkpoint's build is most of the samples):
//
//	timeout 900 go test -p 1 -run XXX -bench 'RestartFromCheckpoint/rows=1000000$' -benchtime 1x -cpuprofile /tmp/r.cpu ./sql/
//	go tool pprof -tagfocus phase=restart -top /tmp/r.cpu
//
// (The collector's own workers carry no label.) With
// RESTART_HEAP_PROFILE=file set, the live heap after the restart (after a
// GC; the builder is unreachable by then) is written to file, which is
// where the bytes a row of each holder come from. The 3M- and 10M-row
// sizes run only when named (-bench 'RestartFromCheckpoint/rows=3000000';
// 10M needs about 12 GB). RESTART_COLLECTOR=off-while-loading restarts
// with CollectorWhileLoading, as tributary serve does.
func BenchmarkRestartFromCheckpoint(b *testing.B) {
	for _, rows := range []int{200_000, 1_000_000, 3_000_000, 10_000_000} {
		if rows > 1_000_000 && !strings.Contains(flag.Lookup("test.bench").Value.String(), fmt.Sprint(rows)) {
			continue
		}
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) { benchRestartFromCheckpoint(b, rows) })
	}
}

func benchRestartFromCheckpoint(b *testing.B, rows int) {
	dir := b.TempDir()
	ts := openUntrackedBenchEngine(b, dir)
	fillBenchEvents(ts, rows)
	ts.mustExec("CHECKPOINT")
	cp := ts.restoredRows("SELECT writers_held_ms, view_state_bytes, duration_ms FROM tb_catalog.checkpoints")
	b.Logf("checkpoint writers_held_ms | view_state_bytes | duration_ms: %v", cp)
	var held, stateBytes float64
	if _, err := fmt.Sscanf(cp[0], "%g | %g", &held, &stateBytes); err != nil {
		b.Fatal(err)
	}
	ts.e.Close()
	b.ResetTimer()
	var load, views, heap, peak float64
	ts = nil // the restart runs with the builder's state unreachable, as in a fresh process
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		base := liveHeap()
		if f := os.Getenv("RESTART_HEAP_PROFILE"); f != "" {
			writeHeapProfile(b, f+".before")
		}
		b.StartTimer()
		var ts *testSession // closed below, then unreachable
		stopPeak := watchPeakHeap()
		pprof.Do(context.Background(), pprof.Labels("phase", "restart"), func(context.Context) {
			if os.Getenv("RESTART_COLLECTOR") == "off-while-loading" {
				var c CollectorWhileLoading
				ts = openUntrackedBenchEngineWith(b, dir, c.Phase)
				c.End()
				return
			}
			ts = openUntrackedBenchEngine(b, dir)
		})
		b.StopTimer()
		peak = max(peak, float64(stopPeak()-base)/1e6)
		st := ts.restoredRows("SELECT load_ms, views_ms, views_restored, views_recomputed FROM tb_catalog.restart")
		b.Logf("load_ms | views_ms | views_restored | views_recomputed: %v", st)
		var l, v float64
		if _, err := fmt.Sscanf(st[0], "%g | %g", &l, &v); err != nil {
			b.Fatal(err)
		}
		load, views = load+l, views+v
		heap = float64(liveHeap()-base) / 1e6
		if f := os.Getenv("RESTART_HEAP_PROFILE"); f != "" {
			writeHeapProfile(b, f)
		}
		ts.e.Close()
		b.StartTimer()
	}
	b.ReportMetric(load/float64(b.N), "load_ms")
	b.ReportMetric(views/float64(b.N), "views_ms")
	b.ReportMetric(held, "ckpt_writers_held_ms")
	b.ReportMetric(stateBytes/1e6, "view_state_MB")
	b.ReportMetric(heap, "heap_MB")
	b.ReportMetric(peak, "peak_heap_MB")
}

// watchPeakHeap samples the bytes of heap objects, live or not yet
// collected, every 5 ms until the returned function is called, which
// returns the largest sample (runtime/metrics: no stop of the world).
func watchPeakHeap() func() int64 {
	const name = "/memory/classes/heap/objects:bytes"
	sample := []metrics.Sample{{Name: name}}
	read := func() int64 {
		metrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	var peak atomic.Int64
	peak.Store(read())
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if v := read(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return max(peak.Load(), read())
	}
}

// writeHeapProfile writes the heap profile (live objects as of the last
// GC) to file.
func writeHeapProfile(b *testing.B, file string) {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCheckpointPause measures how long a CHECKPOINT holds writers
// off (tb_catalog.checkpoints.writers_held_ms: cloning the B-trees and
// encoding the views' operator state) over 1M rows under the five views,
// with the views encoded on one goroutine and on GOMAXPROCS, alternating
// in the same process (one write before each checkpoint, or it is skipped):
//
//	timeout 900 go test -run XXX -bench CheckpointPause -benchtime 10x ./sql/
func BenchmarkCheckpointPause(b *testing.B) {
	const rows = 1_000_000
	ts := openUntrackedBenchEngine(b, b.TempDir())
	defer ts.e.Close()
	fillBenchEvents(ts, rows)
	next := rows
	defer func() { checkpointEncoders = 0 }()
	held := map[int][]float64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, workers := range []int{1, 0} {
			checkpointEncoders = workers
			ts.mustExec(fmt.Sprintf("INSERT INTO events VALUES (%d, 1, 1, 'x')", next))
			next++
			ts.mustExec("CHECKPOINT")
			var ms float64
			fmt.Sscan(ts.restoredRows("SELECT writers_held_ms FROM tb_catalog.checkpoints")[0], &ms)
			held[workers] = append(held[workers], ms)
		}
	}
	b.StopTimer()
	for workers, name := range map[int]string{1: "held_ms_1_encoder", 0: "held_ms_parallel"} {
		slices.Sort(held[workers])
		b.ReportMetric(held[workers][len(held[workers])/2], name)
	}
}

// liveHeap is the heap in use after a garbage collection, in bytes.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkRestartWithTail restarts from a checkpoint of the 100k-row
// events table under the five views followed by one logged
// `UPDATE events SET v = v + 1` (200k updates): the crash restart of
// scripts/bench-durable-vs-postgres.sh. tail_ms is the restart less
// loading the checkpoint and recomputing the views: replaying the tail.
//
//	timeout 900 go test -run XXX -bench RestartWithTail -benchtime 3x ./sql/
func BenchmarkRestartWithTail(b *testing.B) {
	const rows = 100_000
	dir := b.TempDir()
	ts := openBenchEngine(b, dir)
	ts.mustExec("CREATE TABLE dims (k int PRIMARY KEY, label text)")
	ts.mustExec("INSERT INTO dims SELECT g, 'label ' || (g % 7) FROM generate_series(0, 999) AS g")
	ts.mustExec("CREATE TABLE events (id int8 PRIMARY KEY, k int, v int, note text)")
	for _, v := range benchViews {
		ts.mustExec("CREATE MATERIALIZED VIEW " + v)
	}
	ts.mustExec(fmt.Sprintf("INSERT INTO events SELECT g, g %% 1000, ((g::int8 * 7919) %% 1000000)::int, 'note ' || g FROM generate_series(0, %d) AS g", rows-1))
	ts.mustExec("CHECKPOINT")
	ts.mustExec("UPDATE events SET v = v + 1")
	ts.e.Close()
	b.ResetTimer()
	var tail float64
	for i := 0; i < b.N; i++ {
		ts := openBenchEngine(b, dir)
		b.StopTimer()
		st := ts.restoredRows("SELECT log_updates, elapsed_ms - load_ms - views_ms FROM tb_catalog.restart")
		parts := strings.Split(st[0], " | ")
		if len(st) != 1 || parts[0] != "200000" {
			b.Fatalf("restart replayed %v, want 200000 updates of tail", st)
		}
		ms, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			b.Fatal(err)
		}
		tail += ms
		ts.e.Close()
		b.StartTimer()
	}
	b.ReportMetric(tail/float64(b.N), "tail_ms")
	b.ReportMetric(float64(b.N)*2*rows/(tail/1000), "tail_updates/s")
}

// fillBenchEvents creates dims (1 000 keys), events and the five views
// over them, and inserts rows events, 100k to a statement.
func fillBenchEvents(ts *testSession, rows int) {
	ts.mustExec("CREATE TABLE dims (k int PRIMARY KEY, label text)")
	ts.mustExec("INSERT INTO dims SELECT g, 'label ' || (g % 7) FROM generate_series(0, 999) AS g")
	ts.mustExec("CREATE TABLE events (id int8 PRIMARY KEY, k int, v int, note text)")
	for _, v := range benchViews {
		ts.mustExec("CREATE MATERIALIZED VIEW " + v)
	}
	for i := 0; i < rows; i += 100_000 {
		ts.mustExec(fmt.Sprintf("INSERT INTO events SELECT g, g %% 1000, (random() * 999999)::int, 'note ' || g FROM generate_series(%d, %d) AS g", i, min(i+100_000, rows)-1))
	}
}

// benchViews are the five views of the restart benchmarks.
var benchViews = []string{
	"per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM events GROUP BY k",
	"per_bucket AS SELECT k % 10 AS b, min(v) AS lo, max(v) AS hi FROM events GROUP BY k % 10",
	"totals AS SELECT count(*) AS n, sum(v) AS s FROM events",
	"top10 AS SELECT id, v FROM events ORDER BY v DESC, id LIMIT 10",
	"per_label AS SELECT d.label, count(*) AS n FROM events e JOIN dims d ON e.k = d.k GROUP BY d.label",
}

// TestCheckpointRandomized interleaves random writes, DDL (views and a
// table created and dropped), checkpoints and restarts, and after every
// restart checks that each table and view holds what it held before and
// each view equals a fresh run of its definition. The seed is logged.
func TestCheckpointRandomized(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	defs := []string{
		"SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k",
		"SELECT id, v FROM t ORDER BY v DESC, id LIMIT 4",
		"SELECT DISTINCT k FROM t WHERE v > 500",
		"SELECT a.k, count(*) AS n FROM t a JOIN t b ON a.k = b.k AND a.id < b.id GROUP BY a.k",
	}
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v int)")
	views := map[string]bool{}
	side := false
	nextID, nextView := 0, 0
	for step := 0; step < 300; step++ {
		switch op := rng.IntN(100); {
		case op < 45:
			var vals []string
			for j := 0; j < 1+rng.IntN(8); j++ {
				vals = append(vals, fmt.Sprintf("(%d, %d, %d)", nextID, rng.IntN(6), rng.IntN(1000)))
				nextID++
			}
			ts.mustExec("INSERT INTO t VALUES " + strings.Join(vals, ", "))
		case op < 60:
			ts.mustExec(fmt.Sprintf("UPDATE t SET v = %d WHERE k = %d", rng.IntN(1000), rng.IntN(6)))
		case op < 70:
			if nextID > 0 {
				ts.mustExec(fmt.Sprintf("DELETE FROM t WHERE id %% 7 = %d AND id < %d", rng.IntN(7), rng.IntN(nextID)))
			}
		case op < 76:
			name := fmt.Sprintf("v%d", nextView)
			nextView++
			ts.mustExec(fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", name, defs[rng.IntN(len(defs))]))
			views[name] = true
		case op < 80:
			for name := range views {
				ts.mustExec("DROP MATERIALIZED VIEW " + name)
				delete(views, name)
				break
			}
		case op < 84:
			if side {
				ts.mustExec("DROP TABLE side")
			} else {
				ts.mustExec("CREATE TABLE side (x int)")
				ts.mustExec(fmt.Sprintf("INSERT INTO side VALUES (%d)", step))
			}
			side = !side
		case op < 92:
			ts.mustExec("CHECKPOINT")
		default:
			names := []string{"t"}
			if side {
				names = append(names, "side")
			}
			for name := range views {
				names = append(names, name)
			}
			before := snapshotAll(ts, names)
			ts.e.Close()
			ts = openTestEngine(t, dir)
			if after := snapshotAll(ts, names); !mapsEqual(before, after) {
				t.Fatalf("step %d: state after a restart differs:\nbefore %v\nafter  %v", step, before, after)
			}
			// Every view the checkpoint holds is restored from its state.
			if st := ts.restoredRows("SELECT views_recomputed FROM tb_catalog.restart"); !slices.Equal(st, []string{"0"}) {
				t.Fatalf("step %d: %v views recomputed after a restart", step, st)
			}
			if len(views) > 0 {
				checkViewsFresh(t, ts)
			}
		}
	}
	ts.e.Close()
}

// TestRestoredIndexTakesWritesUnplaced restarts from a checkpoint tables
// whose indexes' bags are left unplaced (dataflow.Arrangement.
// AddColsDistinct), then inserts rows — which such a bag takes unplaced
// too, even a duplicate of a row of a table without a primary key — and
// reads through the indexes (a lookup by k, a join view stepped by a
// change to the other side), then retracts rows, which places and folds
// the bags: after each step every view equals its definition and every
// read by k equals a scan, through a tail replayed at a second restart too.
func TestRestoredIndexTakesWritesUnplaced(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v int)")
	ts.mustExec("CREATE INDEX t_k ON t (k)")
	ts.mustExec("CREATE TABLE bag (k int, v int)") // no key: duplicates
	ts.mustExec("CREATE INDEX bag_k ON bag (k)")
	ts.mustExec("CREATE TABLE d (k int PRIMARY KEY, label text)")
	ts.mustExec("INSERT INTO d SELECT g, 'l' || (g % 3) FROM generate_series(0, 9) AS g")
	ts.mustExec("INSERT INTO t SELECT g, g % 10, g % 7 FROM generate_series(1, 3000) AS g")
	ts.mustExec("INSERT INTO bag SELECT g % 10, g % 4 FROM generate_series(1, 3000) AS g")
	ts.mustExec("CREATE MATERIALIZED VIEW j AS SELECT d.label, count(*) AS n, sum(t.v) AS s FROM t JOIN d ON t.k = d.k GROUP BY d.label")
	ts.mustExec("CREATE MATERIALIZED VIEW jb AS SELECT d.label, count(*) AS n, sum(b.v) AS s FROM bag b JOIN d ON b.k = d.k GROUP BY d.label")
	ts.mustExec("CHECKPOINT")
	ts.e.Close()
	check := func(ts *testSession, step string) {
		t.Helper()
		checkViewsFresh(t, ts)
		for k := 0; k < 10; k++ {
			for _, tbl := range []string{"t", "bag"} {
				byIndex := ts.restoredRows(fmt.Sprintf("SELECT count(*), sum(v) FROM %s WHERE k = %d", tbl, k))
				byScan := ts.restoredRows(fmt.Sprintf("SELECT count(*), sum(v) FROM %s WHERE k + 0 = %d", tbl, k))
				if !slices.Equal(byIndex, byScan) {
					t.Fatalf("%s: %s where k = %d: %v by the index, %v by a scan", step, tbl, k, byIndex, byScan)
				}
			}
		}
	}
	ts = openTestEngine(t, dir)
	check(ts, "after the restart")
	ts.mustExec("INSERT INTO t SELECT g, g % 10, g % 5 FROM generate_series(3001, 3500) AS g")
	ts.mustExec("INSERT INTO bag SELECT g % 10, g % 4 FROM generate_series(1, 500) AS g") // rows there already
	ts.mustExec("UPDATE d SET label = 'x' WHERE k IN (2, 3)")                             // the join looks t and bag up by k
	check(ts, "after inserts")
	ts.e.Close()
	ts = openTestEngine(t, dir) // the inserts are the log's tail now
	check(ts, "after a restart with a tail of inserts")
	ts.mustExec("DELETE FROM t WHERE id % 3 = 0")
	ts.mustExec("DELETE FROM bag WHERE v = 1 AND k < 5")
	ts.mustExec("UPDATE t SET v = v + 1 WHERE k = 4")
	ts.mustExec("UPDATE d SET label = 'y' WHERE k = 4")
	check(ts, "after retractions")
	ts.e.Close()
}
