package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// testClock is a wall clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return uint64(c.t.UnixMilli())
}

// newHistorySession opens an engine on l with a test clock and no
// background maintenance.
func newHistorySession(t *testing.T, l storage.Log, clk *testClock) *testSession {
	t.Helper()
	e, err := NewEngine(EngineOptions{Log: l, Clock: clk.now, MaintenanceInterval: -1, TickInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
}

func (ts *testSession) mustQuery2(q string) string {
	ts.t.Helper()
	got, err := ts.query(q)
	if err != nil {
		ts.t.Fatalf("%s: %v (SQLSTATE %s)", q, err, pgerror.CodeOf(err))
	}
	return strings.Join(got, "; ")
}

func (ts *testSession) wantError(q string, code pgerror.Code, contains string) {
	ts.t.Helper()
	_, err := ts.exec(q)
	if errCode(err) != code || !strings.Contains(fmt.Sprint(err), contains) {
		ts.t.Fatalf("%s: got %v (SQLSTATE %s), want SQLSTATE %s containing %q", q, err, errCode(err), code, contains)
	}
}

// TestAsOf reads tables, views and materialized views at past times, in
// the forms AS OF accepts, and checks the errors before an object's since
// and in the future; then compacts the log and checks that every read at or
// after the new since is unchanged, across a restart too.
func TestAsOf(t *testing.T) {
	for _, kind := range []string{"mem", "pebble"} {
		t.Run(kind, func(t *testing.T) {
			var l storage.Log = storage.NewMemLog()
			dir := t.TempDir()
			if kind == "pebble" {
				pl, err := storage.OpenPebble(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				l = pl
			}
			clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			ts := newHistorySession(t, l, clk)
			step := func(q string) uint64 {
				at := clk.advance(time.Second)
				ts.mustExec(q)
				return at
			}
			tCreate := step("CREATE TABLE t (k int PRIMARY KEY, v text)")
			step("CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n, string_agg(v, ',' ORDER BY v) AS vs FROM t")
			step("CREATE VIEW v AS SELECT k * 10 AS k10 FROM t WHERE k < 3")
			t1 := step("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
			t2 := step("UPDATE t SET v = 'B' WHERE k = 2")
			t3 := step("DELETE FROM t WHERE k = 1")
			t4 := step("INSERT INTO t VALUES (3, 'c'), (1, 'again')")
			for i := 0; i < 20; i++ { // churn that compaction can remove
				step(fmt.Sprintf("INSERT INTO t VALUES (%d, 'x')", 100+i))
				step(fmt.Sprintf("DELETE FROM t WHERE k = %d", 100+i))
			}
			want := map[uint64][3]string{
				t1: {"1 | a; 2 | b", "2 | a,b", "10; 20"},
				t2: {"1 | a; 2 | B", "2 | B,a", "10; 20"},
				t3: {"2 | B", "1 | B", "20"},
				t4: {"1 | again; 2 | B; 3 | c", "3 | B,again,c", "10; 20"},
			}
			check := func(when string, times ...uint64) {
				t.Helper()
				for _, at := range times {
					w := want[at]
					for i, q := range []string{"SELECT * FROM t AS OF %d", "SELECT * FROM mv AS OF %d", "SELECT * FROM v AS OF %d"} {
						if got := ts.mustQuery2(fmt.Sprintf(q, at)); got != w[i] {
							t.Fatalf("%s: %s at %d: %q, want %q", when, q, at, got, w[i])
						}
					}
				}
			}
			check("before compaction", t1, t2, t3, t4)
			// A cursor over an AS OF query holds the rows of that time,
			// whatever is written while it is open.
			ts.mustExec("BEGIN")
			ts.mustExec(fmt.Sprintf("DECLARE c CURSOR FOR SELECT * FROM mv AS OF %d", t2))
			ts.mustExec(fmt.Sprintf("DECLARE d CURSOR FOR SELECT k10 FROM v ORDER BY k10 DESC AS OF %d", t3))
			ts.mustExec("INSERT INTO t VALUES (0, 'while open')")
			if got := ts.mustQuery2("FETCH ALL c"); got != want[t2][1] {
				t.Fatalf("FETCH from a cursor AS OF t2: %q, want %q", got, want[t2][1])
			}
			if got := ts.mustQuery2("FETCH ALL d"); got != want[t3][2] {
				t.Fatalf("FETCH from a cursor AS OF t3: %q, want %q", got, want[t3][2])
			}
			ts.mustExec("ROLLBACK")
			// COPY (SELECT ... AS OF t) TO STDOUT copies the rows of time t.
			res, err := ts.exec(fmt.Sprintf("COPY (SELECT k, v FROM t ORDER BY k AS OF %d) TO STDOUT", t2))
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for _, r := range res.CopyOut.Rows {
				out = res.CopyOut.AppendRow(out, r)
			}
			if got := string(out); got != "1\ta\n2\tB\n" {
				t.Fatalf("COPY (SELECT ... AS OF t2): %q", got)
			}
			// A time between writes reads the earlier write; timestamps and
			// strings name instants; parameters of any form work.
			at := time.UnixMilli(int64(t2 + 500)).UTC()
			for _, q := range []string{
				fmt.Sprintf("SELECT * FROM t AS OF %d", t2+500),
				fmt.Sprintf("SELECT * FROM t AS OF '%s'", at.Format("2006-01-02 15:04:05.000-07")),
				fmt.Sprintf("SELECT * FROM t AS OF TIMESTAMPTZ '%s'", at.Format("2006-01-02 15:04:05.000-07")),
				fmt.Sprintf("SELECT * FROM t AS OF TIMESTAMP '%s' + INTERVAL '0 seconds'", at.Format("2006-01-02 15:04:05.000")),
				fmt.Sprintf("SELECT * FROM t AS OF %d.9", t2+500),
			} {
				if got := ts.mustQuery2(q); got != want[t2][0] {
					t.Fatalf("%s: %q", q, got)
				}
			}
			// Without a zone, a time is wall time in the session's zone.
			ts.mustExec("SET TimeZone = 'Asia/Tokyo'")
			tokyo := at.In(time.FixedZone("JST", 9*3600)).Format("2006-01-02 15:04:05.000")
			for _, q := range []string{
				fmt.Sprintf("SELECT * FROM t AS OF TIMESTAMP '%s'", tokyo),
				fmt.Sprintf("SELECT * FROM t AS OF '%s'", tokyo),
			} {
				if got := ts.mustQuery2(q); got != want[t2][0] {
					t.Fatalf("%s in Tokyo: %q", q, got)
				}
			}
			ts.mustExec("RESET TimeZone")
			// A parameter: prepared once, executed at two times.
			sts, err := ts.s.ParseStatements("SELECT * FROM t AS OF $1")
			if err != nil {
				t.Fatal(err)
			}
			prep, err := ts.s.Prepare(ts.ctx, sts[0], nil)
			if err != nil || len(prep.ParamTypes) != 1 {
				t.Fatalf("preparing AS OF $1: %v, %v", prep, err)
			}
			for _, at := range []uint64{t1, t3} {
				res, err := ts.s.Execute(ts.ctx, prep, []types.Datum{types.NewText(fmt.Sprint(at))})
				if err != nil {
					t.Fatal(err)
				}
				got := renderRows(res.Rows)
				slices.Sort(got)
				if strings.Join(got, "; ") != want[at][0] {
					t.Fatalf("AS OF $1 = %d: %q", at, got)
				}
			}
			// The current contents agree with AS OF now.
			if got, now := ts.mustQuery2("SELECT * FROM mv"), ts.mustQuery2("SELECT * FROM mv AS OF now()"); got != now || got != want[t4][1] {
				t.Fatalf("mv now %q, AS OF now() %q", got, now)
			}
			// A column named "of" is not AS OF.
			if got := ts.mustQuery2("SELECT k AS of FROM t WHERE k = 3"); got != "3" {
				t.Fatalf("column alias of: %q", got)
			}
			ts.wantError(fmt.Sprintf("SELECT * FROM t AS OF %d", tCreate-1), pgerror.InvalidParameterValue, "before the oldest readable time of \"t\"")
			ts.wantError(fmt.Sprintf("SELECT * FROM v AS OF %d", t1-2500), pgerror.InvalidParameterValue, "oldest readable time of \"v\"")
			ts.wantError(fmt.Sprintf("SELECT * FROM t AS OF %d", clk.advance(0)+60_000), pgerror.InvalidParameterValue, "in the future")
			ts.wantError("SELECT * FROM t AS OF true", pgerror.InvalidParameterValue, "AS OF needs a time")
			ts.wantError("SELECT * FROM t AS OF NULL", pgerror.InvalidParameterValue, "NULL")

			// Reading at a time closes it: a later write gets a later time.
			future := clk.advance(0) + 10
			clk.advance(20 * time.Millisecond)
			ts.mustQuery2(fmt.Sprintf("SELECT * FROM t AS OF %d", future))
			if ts.e.mu.lastTime < future {
				t.Fatalf("reading AS OF %d left the timeline at %d", future, ts.e.mu.lastTime)
			}

			// Compaction an hour later (the default window) keeps every
			// read at or after since and shrinks the log.
			before := logUpdates(t, l)
			clk.advance(DefaultRetainHistory + time.Minute)
			tLate := step("INSERT INTO t VALUES (4, 'late')")
			want[tLate] = [3]string{"1 | again; 2 | B; 3 | c; 4 | late", "4 | B,again,c,late", "10; 20"}
			st, err := ts.e.Maintain(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			after := logUpdates(t, l)
			if st.Removed == 0 || after >= before {
				t.Fatalf("compaction %+v: the log went from %d to %d updates", st, before, after)
			}
			check("after compaction", tLate)
			since := ts.e.hist.sinceOf(ts.e.mu.cat.byName[objKey("public", "t")].ID)
			if since < t4 {
				t.Fatalf("since %d did not move past the writes of an hour ago", since)
			}
			if got := ts.mustQuery2("SELECT (extract(epoch FROM since) * 1000)::int8 FROM tb_catalog.history WHERE object = 't'"); got != fmt.Sprint(since) {
				t.Fatalf("tb_catalog.history says t's since is %s, want %d", got, since)
			}
			want[since] = want[t4]
			check("after compaction", since)
			ts.wantError(fmt.Sprintf("SELECT * FROM mv AS OF %d", t4), pgerror.InvalidParameterValue, "oldest readable time")
			cur := ts.mustQuery2("SELECT * FROM mv")

			// Restart: the compacted log replays to the same state, and the
			// since survives.
			if kind == "pebble" {
				ts.e.Close()
				pl, err := storage.OpenPebble(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				l = pl
			} else {
				ts.e.stopMaintenance()
			}
			ts = newHistorySession(t, l, clk)
			defer ts.e.Close()
			if got := ts.mustQuery2("SELECT * FROM mv"); got != cur {
				t.Fatalf("mv after restart %q, want %q", got, cur)
			}
			check("after restart", since, tLate)
			ts.wantError(fmt.Sprintf("SELECT * FROM t AS OF %d", since-1), pgerror.InvalidParameterValue, "oldest readable time")
		})
	}
}

func logUpdates(t *testing.T, l storage.Log) int {
	n := 0
	if err := l.Replay(context.Background(), func(b storage.Batch) error { n += len(b.Entries); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetention checks that a table's rows vanish once they are older than
// its retention, from the table and the views over it, that AS OF reads
// before the expiry still see them, that a materialized view's
// retain_history keeps its inputs' history, and that all of it survives a
// restart.
func TestRetention(t *testing.T) {
	l := storage.NewMemLog()
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	ts := newHistorySession(t, l, clk)
	step := func(d time.Duration, q string) uint64 {
		at := clk.advance(d)
		ts.mustExec(q)
		return at
	}
	ts.wantError("CREATE TABLE bad (x int) WITH (retention = 'soon')", pgerror.InvalidParameterValue, "retention")
	ts.wantError("CREATE TABLE bad (x int) WITH (retention = '-1 day')", pgerror.InvalidParameterValue, "positive")
	ts.wantError("CREATE TABLE bad (x int) WITH (colour = 'red')", pgerror.InvalidParameterValue, "unrecognized parameter")
	step(time.Second, "CREATE TABLE ev (id int, note text) WITH (retention = '2 days', fillfactor = 70)")
	step(time.Second, "CREATE MATERIALIZED VIEW n WITH (retain_history = '3 days') AS SELECT count(*) AS n FROM ev")
	tA := step(time.Second, "INSERT INTO ev VALUES (1, 'a'), (2, 'b')")
	step(24*time.Hour, "INSERT INTO ev VALUES (3, 'c')")
	step(time.Hour, "UPDATE ev SET note = 'b2' WHERE id = 2") // rewriting a row restarts its clock
	maintain := func() MaintenanceStats {
		st, err := ts.e.Maintain(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := maintain(); st.Expired != 0 {
		t.Fatalf("rows expired after a day: %+v", st)
	}
	clk.advance(24*time.Hour - time.Hour + time.Second) // row 1 is two days old
	tExp := clk.advance(0)
	if st := maintain(); st.Expired != 1 {
		t.Fatalf("expired %d rows, want 1 (row 1)", st.Expired)
	}
	if got := ts.mustQuery2("SELECT id, note FROM ev"); got != "2 | b2; 3 | c" {
		t.Fatalf("after row 1 expired: %q", got)
	}
	if got := ts.mustQuery2("SELECT * FROM n"); got != "2" {
		t.Fatalf("view after row 1 expired: %q", got)
	}
	// The materialized view's 3 days of history keep the table's too.
	if got := ts.mustQuery2(fmt.Sprintf("SELECT id FROM ev AS OF %d", tA)); got != "1; 2" {
		t.Fatalf("AS OF before the expiry: %q", got)
	}
	if got := ts.mustQuery2(fmt.Sprintf("SELECT * FROM n AS OF %d", tExp-1)); got != "3" {
		t.Fatalf("view AS OF before the expiry: %q", got)
	}
	clk.advance(2 * 24 * time.Hour)
	maintain()
	if got := ts.mustQuery2("SELECT * FROM n"); got != "0" {
		t.Fatalf("view after every row expired: %q", got)
	}
	step(time.Second, "INSERT INTO ev VALUES (9, 'new')")
	clk.advance(2*24*time.Hour + time.Second)
	if st := maintain(); st.Expired != 1 {
		t.Fatalf("row 9: %+v", st)
	}
	clk.advance(3*24*time.Hour + time.Minute) // past the view's retain_history
	maintain()
	tNew := step(time.Second, "INSERT INTO ev VALUES (10, 'newer')")
	maintain()
	if n := logUpdates(t, l); n != 1 {
		t.Fatalf("the log holds %d updates, want 1 (row 10): expired rows and their retractions compact away", n)
	}
	ts.e.stopMaintenance()
	ts = newHistorySession(t, l, clk)
	if got := ts.mustQuery2("SELECT id FROM ev"); got != "10" {
		t.Fatalf("after restart: %q", got)
	}
	if got := ts.mustQuery2("SELECT * FROM n"); got != "1" {
		t.Fatalf("view after restart: %q", got)
	}
	// Row 10 still expires two days after it was inserted, not after the
	// restart.
	clk.advance(time.Duration(tNew+2*24*3600*1000-1000-clk.advance(0)) * time.Millisecond)
	if st := maintain2(t, ts); st.Expired != 0 {
		t.Fatalf("row 10 expired early after restart: %+v", st)
	}
	clk.advance(time.Second)
	if st := maintain2(t, ts); st.Expired != 1 {
		t.Fatalf("row 10 did not expire after restart: %+v", st)
	}
	if got := ts.mustQuery2("SELECT * FROM n"); got != "0" {
		t.Fatalf("view after row 10 expired: %q", got)
	}
}

func maintain2(t *testing.T, ts *testSession) MaintenanceStats {
	st, err := ts.e.Maintain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestReplayAfterCompactionPassesFakeStates restarts from a compacted log
// whose replay passes through a state that never existed (a row deleted
// after a view was created is gone from the log, so the view hydrates
// without it and divides by zero): restore must not fail, and the view must
// end up equal to its definition.
func TestReplayAfterCompactionPassesFakeStates(t *testing.T) {
	l := storage.NewMemLog()
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	ts := newHistorySession(t, l, clk)
	for _, q := range []string{
		"CREATE TABLE t (x int)",
		"INSERT INTO t VALUES (1), (2)",
		"CREATE MATERIALIZED VIEW d AS SELECT 10 / (count(*) - 1) AS q FROM t",
		"UPDATE t SET x = 3 WHERE x = 1",
	} {
		clk.advance(time.Second)
		ts.mustExec(q)
	}
	clk.advance(2 * DefaultRetainHistory)
	if _, err := ts.e.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts = newHistorySession(t, l, clk)
	if got := ts.mustQuery2("SELECT * FROM d"); got != "10" {
		t.Fatalf("view after restart: %q", got)
	}
}

// TestCompactionWithCheckpoints restarts from a checkpoint after compaction
// and retention: compaction never passes the checkpoint (restart applies
// the log after it as written), and the rows loaded from the checkpoint
// still expire at their insertion time plus retention.
func TestCompactionWithCheckpoints(t *testing.T) {
	dir := t.TempDir()
	pl, err := storage.OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	ts := newHistorySession(t, pl, clk)
	step := func(d time.Duration, q string) uint64 {
		at := clk.advance(d)
		ts.mustExec(q)
		return at
	}
	step(time.Second, "CREATE TABLE t (k int, v text) WITH (retention = '1 day')")
	step(time.Second, "CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM t")
	tOld := step(time.Second, "INSERT INTO t VALUES (1, 'old'), (2, 'old')")
	step(time.Second, "DELETE FROM t WHERE k = 2")
	if _, err := ts.e.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	tCk := ts.e.mu.lastTime
	step(12*time.Hour, "INSERT INTO t VALUES (3, 'young')")
	step(time.Second, "DELETE FROM t WHERE k = 3")
	step(time.Second, "INSERT INTO t VALUES (4, 'young')")
	clk.advance(2 * time.Hour)
	if _, err := ts.e.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if since := ts.e.hist.sinceOf(ts.e.mu.cat.byName[objKey("public", "t")].ID); since != tCk {
		t.Fatalf("since %d, want the checkpoint's time %d", since, tCk)
	}
	ts.e.Close()
	pl, err = storage.OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts = newHistorySession(t, pl, clk)
	defer ts.e.Close()
	if got := ts.mustQuery2("SELECT k FROM t"); got != "1; 4" {
		t.Fatalf("after restart: %q", got)
	}
	// Row 1 came from the checkpoint; it expires a day after tOld.
	clk.advance(time.Duration(tOld+24*3600*1000-clk.advance(0)) * time.Millisecond)
	st, err := ts.e.Maintain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Expired != 1 {
		t.Fatalf("row 1 did not expire after a restart from a checkpoint: %+v", st)
	}
	if got := ts.mustQuery2("SELECT k FROM t"); got != "4" {
		t.Fatalf("after the expiry: %q", got)
	}
	if got := ts.mustQuery2("SELECT * FROM c"); got != "1" {
		t.Fatalf("view after the expiry: %q", got)
	}
}

// TestAsOfTemporalAndWindowClose: a temporal filter read AS OF t compares
// with t (mz_now() is the read time), and an EMIT ON WINDOW CLOSE view,
// whose output depends on arrival, cannot be read AS OF.
func TestAsOfTemporalAndWindowClose(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	ts := newHistorySession(t, storage.NewMemLog(), clk)
	step := func(d time.Duration, q string) uint64 {
		at := clk.advance(d)
		ts.mustExec(q)
		return at
	}
	step(time.Second, "CREATE TABLE ev (id int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second')")
	step(time.Second, "CREATE MATERIALIZED VIEW recent AS SELECT id FROM ev WHERE ts + INTERVAL '1 minute' > mz_now()")
	step(time.Second, "CREATE MATERIALIZED VIEW w AS SELECT window_start, count(*) AS n FROM TUMBLE(ev, ts, INTERVAL '1 minute') GROUP BY window_start EMIT ON WINDOW CLOSE")
	t1 := step(time.Second, "INSERT INTO ev VALUES (1, now())")
	clk.advance(2 * time.Minute)
	if got := ts.mustQuery2("SELECT * FROM recent AS OF now()"); got != "" {
		t.Fatalf("recent AS OF two minutes after the insert: %q", got)
	}
	if got := ts.mustQuery2(fmt.Sprintf("SELECT * FROM recent AS OF %d", t1+1000)); got != "1" {
		t.Fatalf("recent AS OF a second after the insert: %q", got)
	}
	ts.wantError(fmt.Sprintf("SELECT * FROM w AS OF %d", t1), pgerror.FeatureNotSupported, "EMIT ON WINDOW CLOSE")
}

// BenchmarkAsOf reads an aggregate view over a table whose log holds 100k
// rows in 100 batches (and 20k of them deleted again), at the latest time:
// as a plain read of the maintained view, AS OF (the view inlined and the
// table read from the log), and AS OF after compaction:
//
//	timeout 900 go test -run XXX -bench AsOf -benchtime 20x ./sql/
func BenchmarkAsOf(b *testing.B) {
	ts := openBenchEngine(b, b.TempDir())
	ts.mustExec("CREATE TABLE t (id int8, k int, v text)")
	ts.mustExec("CREATE MATERIALIZED VIEW agg AS SELECT k, count(*) AS n, sum(id) AS s FROM t GROUP BY k")
	for i := 0; i < 100; i++ {
		ts.mustExec(fmt.Sprintf("INSERT INTO t SELECT g, g %% 10, 'row ' || g FROM generate_series(%d, %d) g", i*1000, i*1000+999))
	}
	ts.mustExec("DELETE FROM t WHERE id % 5 = 0")
	want := ts.mustQuery2("SELECT * FROM agg")
	run := func(b *testing.B, q string) {
		for i := 0; i < b.N; i++ {
			if got := ts.mustQuery2(q); got != want {
				b.Fatalf("%s: %q, want %q", q, got, want)
			}
		}
	}
	b.Run("view", func(b *testing.B) { run(b, "SELECT * FROM agg") })
	b.Run("as-of", func(b *testing.B) { run(b, "SELECT * FROM agg AS OF mz_now()") })
	b.Run("as-of-compacted", func(b *testing.B) {
		b.StopTimer()
		id := ts.e.mu.cat.byName[objKey("public", "t")].ID
		if _, err := ts.e.log.Compact(context.Background(), uint64(id), ts.e.log.LastTime()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		run(b, "SELECT * FROM agg AS OF mz_now()")
	})
}

// TestAsOfDuringCompaction runs writers, AS OF readers and compaction at
// once (under -race in make test's invariants run too): every AS OF read of
// a recorded time either returns exactly what was there at that time or,
// once compaction has passed it, fails with 22023; never a wrong answer.
func TestAsOfDuringCompaction(t *testing.T) {
	for _, kind := range []string{"mem", "pebble"} {
		t.Run(kind, func(t *testing.T) {
			var l storage.Log = storage.NewMemLog()
			if kind == "pebble" {
				pl, err := storage.OpenPebble(t.TempDir(), &storage.PebbleOptions{MinFreeBytes: -1})
				if err != nil {
					t.Fatal(err)
				}
				l = pl
			}
			clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			ts := newHistorySession(t, l, clk)
			defer ts.e.Close()
			ts.mustExec("CREATE TABLE t (k int)")
			ts.mustExec("CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n, sum(k) AS s FROM t")
			type point struct {
				at   uint64
				want string
			}
			points := make(chan point, 1000)
			done := make(chan struct{})
			errs := make(chan error, 3)
			go func() { // writer: inserts and deletes, recording the view at each time
				defer close(points)
				w := &testSession{t: t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: context.Background()}
				for i := 0; i < 200; i++ {
					q := fmt.Sprintf("INSERT INTO t VALUES (%d)", i)
					if i%3 == 2 {
						q = fmt.Sprintf("DELETE FROM t WHERE k = %d", i-1)
					}
					if _, err := w.exec(q); err != nil {
						errs <- err
						return
					}
					w.e.mu.RLock()
					at := w.e.mu.lastTime
					w.e.mu.RUnlock()
					res, err := w.query("SELECT * FROM c")
					if err != nil {
						errs <- err
						return
					}
					points <- point{at, strings.Join(res, "; ")}
				}
			}()
			go func() { // compaction, with the clock moving on
				for {
					select {
					case <-done:
						errs <- nil
						return
					default:
					}
					clk.advance(10 * time.Minute)
					if _, err := ts.e.Maintain(context.Background()); err != nil {
						errs <- err
						return
					}
				}
			}()
			r := &testSession{t: t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: context.Background()}
			read, compacted := 0, 0
			check := func(p point) {
				got, err := r.query(fmt.Sprintf("SELECT * FROM c AS OF %d", p.at))
				switch {
				case errCode(err) == pgerror.InvalidParameterValue:
					compacted++
				case err != nil:
					t.Fatalf("AS OF %d: %v", p.at, err)
				case strings.Join(got, "; ") != p.want:
					t.Fatalf("AS OF %d: %q, want %q", p.at, got, p.want)
				default:
					read++
				}
			}
			var all []point
			for p := range points {
				check(p) // while writes and compaction go on
				all = append(all, p)
			}
			close(done)
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			// Once more after the last compaction: the old times are gone,
			// the rest still exact.
			clk.advance(time.Hour)
			ts.mustExec("INSERT INTO t VALUES (-1)")
			if _, err := ts.e.Maintain(context.Background()); err != nil {
				t.Fatal(err)
			}
			compacted = 0
			for _, p := range all {
				check(p)
			}
			t.Logf("%d reads exact, %d past compaction", read, compacted)
			if read == 0 || compacted == 0 {
				t.Fatal("the test exercised only one side of since")
			}
		})
	}
}
