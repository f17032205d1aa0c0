package sql

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
)

// stateViews are materialized views of every kind of stateful operator
// over t (with a watermark), u and ev: aggregates of every kind, joins
// (inner, outer), top-k, DISTINCT/EXCEPT/INTERSECT (threshold), windows,
// EMIT ON WINDOW CLOSE and temporal filters.
var stateViews = map[string]string{
	"aggs": `SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a, min(v) AS lo, max(s) AS hi,
		string_agg(s, ',' ORDER BY s) AS names, bool_and(v > 0) AS pos, stddev(v) AS sd, count(DISTINCT v % 5) AS dv
		FROM t GROUP BY k`,
	"total":     "SELECT count(*) AS n, sum(v) AS s, string_agg(DISTINCT s, '|') AS ss FROM t",
	"ijoin":     "SELECT t.id, u.label, t.v FROM t JOIN u ON t.k = u.k",
	"louter":    "SELECT t.id, u.label FROM t LEFT JOIN u ON t.k = u.k",
	"fouter":    "SELECT t.id, u.k AS uk, u.label FROM t FULL JOIN u ON t.k = u.k",
	"labels":    "SELECT u.label, count(*) AS n, sum(t.v) AS s FROM t JOIN u ON t.k = u.k GROUP BY u.label",
	"top":       "SELECT id, v FROM t ORDER BY v DESC, id LIMIT 3 OFFSET 1",
	"rank":      "SELECT id, k, rn FROM (SELECT id, k, row_number() OVER (PARTITION BY k ORDER BY v, id) AS rn FROM t) q WHERE rn <= 2",
	"dist":      "SELECT DISTINCT k FROM t",
	"exc":       "SELECT k FROM t EXCEPT SELECT k FROM u",
	"inter":     "SELECT k FROM t INTERSECT SELECT k FROM u",
	"tumb":      "SELECT window_start, k, count(*) AS n, sum(v) AS s FROM TUMBLE(t, ts, INTERVAL '10 seconds') GROUP BY window_start, k",
	"hop":       "SELECT window_end, max(v) AS top FROM HOP(t, ts, INTERVAL '5 seconds', INTERVAL '10 seconds') GROUP BY window_end",
	"sess":      "SELECT window_start, window_end, k, count(*) AS n FROM SESSION(t, ts, INTERVAL '2 seconds', k) GROUP BY window_start, window_end, k",
	"tumb_eowc": "SELECT window_start, window_end, k, count(*) AS n, min(v) AS lo FROM TUMBLE(t, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end, k EMIT ON WINDOW CLOSE",
	"sess_eowc": "SELECT window_start, window_end, k, count(*) AS n FROM SESSION(t, ts, INTERVAL '2 seconds', k) GROUP BY window_start, window_end, k EMIT ON WINDOW CLOSE",
	"over_view": "SELECT k, n FROM aggs WHERE n > 1",
}

// TestViewStateSurvivesRestarts runs random writes, clock moves,
// checkpoints and restarts against an engine on a durable log and, beside
// it, the same statements against a twin that never restarts. Every
// restart from a checkpoint must restore every view from its state
// (views_recomputed 0); after it, and after more writes, every view must
// equal the twin's (a restored dataflow produces what one that never
// restarted does: EMIT ON WINDOW CLOSE views and their late counts
// included) and every view that is a function of its inputs must equal a
// fresh run of its definition; temporal filter views are checked against
// their definitions at the read timestamp. The seed is logged.
func TestViewStateSurvivesRestarts(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	clock := &manualClock{t: clockStart}
	dir := t.TempDir()
	open := func() *testSession {
		l, err := storage.OpenPebble(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return newClockedSession(t, l, clock)
	}
	ts := open()
	twin := newClockedSession(t, storage.NewMemLog(), clock)
	defer twin.e.Close()
	exec := func(q string) {
		ts.mustExec(q)
		twin.mustExec(q)
	}
	exec(`CREATE TABLE t (id int8 PRIMARY KEY, k int, v int, s text, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '3 seconds')`)
	exec(`CREATE TABLE u (k int, label text)`)
	createTemporalViews(ts)
	createTemporalViews(twin)
	names := sortedKeys(stateViews)
	for _, name := range names {
		exec("CREATE MATERIALIZED VIEW " + name + " AS " + stateViews[name])
	}
	nViews := len(stateViews) + len(temporalDefs)

	compare := func(when string) {
		t.Helper()
		for _, name := range names {
			if got, want := ts.restoredRows("SELECT * FROM "+name), twin.restoredRows("SELECT * FROM "+name); !slices.Equal(got, want) {
				t.Fatalf("%s: view %s\n got %v\nwant %v (as in the engine that never restarted)", when, name, got, want)
			}
			if strings.Contains(stateViews[name], "EMIT ON WINDOW CLOSE") {
				continue
			}
			if got, want := ts.restoredRows("SELECT * FROM "+name), ts.restoredRows(stateViews[name]); !slices.Equal(got, want) {
				t.Fatalf("%s: view %s\n got %v\nits definition %v", when, name, got, want)
			}
		}
		q := "SELECT view, late_rows, open_windows FROM tb_catalog.window_close"
		if got, want := ts.restoredRows(q), twin.restoredRows(q); !slices.Equal(got, want) {
			t.Fatalf("%s: window_close %v, want %v", when, got, want)
		}
		checkTemporalViews(t, ts, when)
	}

	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTs := int64(0) // ms after base
	nextID, checkpoints, restarts := 0, 0, 0
	words := []string{"ant", "bee", "cat", "dog", "", "émile"}
	for step := 0; step < 250; step++ {
		switch op := rng.IntN(100); {
		case op < 35:
			var vals []string
			for j := 0; j < 1+rng.IntN(6); j++ {
				// Mostly forward in event time, now and then late.
				at := maxTs + int64(rng.IntN(2500)) - 500
				if rng.IntN(15) == 0 {
					at -= 20000
				}
				maxTs = max(maxTs, at)
				vals = append(vals, fmt.Sprintf("(%d, %d, %d, '%s', '%s')", nextID, rng.IntN(5), rng.IntN(14)-3,
					words[rng.IntN(len(words))], base.Add(time.Duration(at)*time.Millisecond).Format("2006-01-02 15:04:05.000")))
				nextID++
			}
			exec("INSERT INTO t VALUES " + strings.Join(vals, ", "))
		case op < 45:
			exec(fmt.Sprintf("UPDATE t SET v = v + %d, s = '%s' WHERE k = %d", rng.IntN(5)-2, words[rng.IntN(len(words))], rng.IntN(5)))
		case op < 52 && nextID > 0:
			exec(fmt.Sprintf("DELETE FROM t WHERE id %% 5 = %d AND id > %d", rng.IntN(5), rng.IntN(nextID)))
		case op < 60:
			if rng.IntN(2) == 0 {
				exec(fmt.Sprintf("INSERT INTO u VALUES (%d, 'l%d')", rng.IntN(7), rng.IntN(3)))
			} else {
				exec(fmt.Sprintf("DELETE FROM u WHERE k = %d", rng.IntN(7)))
			}
		case op < 70:
			at := clock.t.Add(time.Duration(rng.IntN(600)-300) * time.Second)
			exec(fmt.Sprintf("INSERT INTO ev VALUES (%d, %s, INTERVAL '%d seconds')", rng.IntN(30), tsLit(at), rng.IntN(300)))
		case op < 80:
			clock.advance(time.Duration(rng.IntN(90)) * time.Second)
			ts.e.Tick()
			twin.e.Tick()
		case op < 90:
			ts.mustExec("CHECKPOINT")
			checkpoints++
		default:
			compare(fmt.Sprintf("step %d, before the restart", step))
			if err := ts.e.Close(); err != nil {
				t.Fatal(err)
			}
			ts = open()
			restarts++
			st := ts.restoredRows("SELECT checkpoint_valid_at IS NOT NULL, views_restored, views_recomputed FROM tb_catalog.restart")
			if want := fmt.Sprintf("t | %d | 0", nViews); checkpoints > 0 && !slices.Equal(st, []string{want}) {
				t.Fatalf("step %d: tb_catalog.restart %v, want %s: every view restored from its state", step, st, want)
			}
			compare(fmt.Sprintf("step %d, after the restart", step))
		}
	}
	compare("at the end")
	t.Logf("%d checkpoints, %d restarts, %d rows of t", checkpoints, restarts, nextID)
	ts.e.Close()
}

// TestViewStateFingerprintMismatch: a checkpointed view state whose
// fingerprint is not the one of the dataflow this binary builds (another
// planner or state format) is not loaded: the view is recomputed, and is
// right.
func TestViewStateFingerprintMismatch(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (k int, v int)")
	ts.mustExec("CREATE MATERIALIZED VIEW a AS SELECT k, sum(v) AS s, count(DISTINCT v) AS d FROM t GROUP BY k")
	ts.mustExec("CREATE MATERIALIZED VIEW b AS SELECT k, count(*) AS n FROM t GROUP BY k")
	ts.mustExec("INSERT INTO t SELECT g % 7, g FROM generate_series(1, 100) AS g")
	ts.mustExec("CHECKPOINT")
	want := ts.restoredRows("SELECT * FROM a")
	ts.e.Close()

	ts = openWrappedTestEngine(t, dir, func(l *storage.PebbleLog) storage.Log { return &fingerprintLog{PebbleLog: l} })
	defer ts.e.Close()
	if st := ts.restoredRows("SELECT views_restored, views_recomputed FROM tb_catalog.restart"); !slices.Equal(st, []string{"1 | 1"}) {
		t.Fatalf("tb_catalog.restart %v, want b restored and a recomputed", st)
	}
	if got := ts.restoredRows("SELECT * FROM a"); !slices.Equal(got, want) {
		t.Fatalf("recomputed view: %v, want %v", got, want)
	}
	ts.mustExec("INSERT INTO t VALUES (1, 1000), (99, 5)")
	checkViewsFresh(t, ts)
}

// fingerprintLog is a log whose checkpoint reports another fingerprint
// for the state of its first view (the first collection whose Meta is a
// fingerprint), as a checkpoint of another binary would.
type fingerprintLog struct {
	*storage.PebbleLog
}

func (l *fingerprintLog) LatestCheckpoint() (*storage.Checkpoint, error) {
	cp, err := l.PebbleLog.LatestCheckpoint()
	if cp == nil || err != nil {
		return cp, err
	}
	for i := range cp.Collections {
		if c := &cp.Collections[i]; len(c.Meta) == 64 {
			c.Meta = []byte(strings.Repeat("0", 64))
			break
		}
	}
	return cp, nil
}

// TestViewStateCorrupt: a view's state that does not decode is reported as
// corruption naming the view (XX001), never loaded or silently replaced.
func TestViewStateCorrupt(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (k int, v int)")
	ts.mustExec("CREATE MATERIALIZED VIEW sums AS SELECT k, sum(v) AS s FROM t GROUP BY k")
	ts.mustExec("INSERT INTO t SELECT g % 7, g FROM generate_series(1, 100) AS g")
	ts.mustExec("CHECKPOINT")
	ts.e.Close()

	for _, damage := range []func([]byte) []byte{
		func(c []byte) []byte { return c[:len(c)/2] },                                  // truncated
		func(c []byte) []byte { return append(c, 0x01, 0x04, 0x02) },                   // a row too many
		func(c []byte) []byte { c = append([]byte(nil), c...); c[1] = 0x7f; return c }, // a bad type code
	} {
		l, err := storage.OpenPebble(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(EngineOptions{Log: &corruptStateLog{PebbleLog: l, damage: damage}})
		if err == nil {
			e.Close()
			t.Fatal("a damaged view state was loaded")
		}
		l.Close()
		var pe *pgerror.Error
		if !errors.As(err, &pe) || pe.Code != pgerror.DataCorrupted || !strings.Contains(err.Error(), "sums") {
			t.Fatalf("damaged view state: %v, want XX001 naming the view", err)
		}
	}
}

// corruptStateLog damages every view state chunk it reads.
type corruptStateLog struct {
	*storage.PebbleLog
	damage func([]byte) []byte
}

func (l *corruptStateLog) ReadCheckpointState(ctx context.Context, cp *storage.Checkpoint, c storage.CollectionID, f func([]byte) error) error {
	return l.PebbleLog.ReadCheckpointState(ctx, cp, c, func(chunk []byte) error { return f(l.damage(chunk)) })
}

// TestViewStateOfAFailedView: a view whose dataflow failed (a row divides
// by zero) has no state worth keeping; the checkpoint leaves it out and
// the restart recomputes it, failing again until the data lets it
// recover, while the other views are restored.
func TestViewStateOfAFailedView(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (k int, v int)")
	ts.mustExec("CREATE MATERIALIZED VIEW inv AS SELECT k, sum(100 / v) AS s FROM t GROUP BY k")
	ts.mustExec("CREATE MATERIALIZED VIEW cnt AS SELECT k, count(*) AS n FROM t GROUP BY k")
	ts.mustExec("INSERT INTO t VALUES (1, 5), (2, 0)")
	if _, err := ts.query("SELECT * FROM inv"); errCode(err) != pgerror.DivisionByZero {
		t.Fatalf("reading the failed view: %v", err)
	}
	ts.mustExec("CHECKPOINT")
	if got := ts.restoredRows("SELECT views FROM tb_catalog.checkpoints"); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("the checkpoint holds %v views' state, want 1 (not the failed one)", got)
	}
	ts.e.Close()
	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	if got := ts.restoredRows("SELECT views_restored, views_recomputed FROM tb_catalog.restart"); !slices.Equal(got, []string{"1 | 1"}) {
		t.Fatalf("tb_catalog.restart %v, want cnt restored and inv recomputed", got)
	}
	if _, err := ts.query("SELECT * FROM inv"); errCode(err) != pgerror.DivisionByZero {
		t.Fatalf("reading the failed view after the restart: %v", err)
	}
	ts.mustExec("DELETE FROM t WHERE v = 0")
	checkViewsFresh(t, ts)
}

// TestWindowCloseWithoutStateReplaysTheLog: an EMIT ON WINDOW CLOSE view
// cannot be recomputed from the tables (the late rows are in them, the
// deleted rows of emitted windows are not), so a checkpoint without its
// state (here: a fingerprint of another binary) makes the restart replay
// the whole log, which gives the same output.
func TestWindowCloseWithoutStateReplaysTheLog(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE TABLE bids (k int, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '1 second')`)
	ts.mustExec(`CREATE MATERIALIZED VIEW w AS SELECT window_end, count(*) AS n FROM TUMBLE(bids, ts, INTERVAL '10 seconds') GROUP BY window_end EMIT ON WINDOW CLOSE`)
	ts.mustExec(`INSERT INTO bids VALUES (1, '2026-01-01 00:00:01'), (2, '2026-01-01 00:00:05'), (3, '2026-01-01 00:00:31')`)
	ts.mustExec(`INSERT INTO bids VALUES (4, '2026-01-01 00:00:02')`) // late: its window closed
	ts.mustExec(`DELETE FROM bids WHERE k = 2`)                       // of an emitted window
	ts.mustExec("CHECKPOINT")
	want := ts.restoredRows("SELECT * FROM w")
	if len(want) != 1 {
		t.Fatalf("emitted windows: %v", want)
	}
	ts.e.Close()

	ts = openWrappedTestEngine(t, dir, func(l *storage.PebbleLog) storage.Log { return &fingerprintLog{PebbleLog: l} })
	defer ts.e.Close()
	if st := ts.restoredRows("SELECT checkpoint_valid_at IS NULL, views_restored FROM tb_catalog.restart"); !slices.Equal(st, []string{"t | 0"}) {
		t.Fatalf("tb_catalog.restart %v, want the whole log replayed", st)
	}
	if got := ts.restoredRows("SELECT * FROM w"); !slices.Equal(got, want) {
		t.Fatalf("view after replaying the log: %v, want %v", got, want)
	}
	if got := ts.restoredRows("SELECT late_rows FROM tb_catalog.window_close"); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("late rows after replaying the log: %v", got)
	}
}
