package sql

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
)

// manualClock is a wall clock that moves only when the test says so.
type manualClock struct{ t time.Time }

func (c *manualClock) now() time.Time          { return c.t }
func (c *manualClock) advance(d time.Duration) { c.t = c.t.Add(d) }

var clockStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newClockedSession opens an engine on log whose time comes from clock,
// with no ticker: the test ticks.
func newClockedSession(t testing.TB, log storage.Log, clock *manualClock) *testSession {
	t.Helper()
	e, err := NewEngine(EngineOptions{Log: log, Clock: clock.now, TickInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
}

// temporalDefs are temporal-filter views over ev(id, ts, ttl): each must
// equal its definition run ad hoc, where mz_now() is the read timestamp.
var temporalDefs = map[string]string{
	"recent":  "SELECT id, ts FROM ev WHERE ts + INTERVAL '5 minutes' > mz_now()",
	"pending": "SELECT id FROM ev WHERE mz_now() < ts",
	"during":  "SELECT id FROM ev WHERE mz_now() BETWEEN ts AND ts + INTERVAL '1 minute' AND id % 2 = 0",
	"ttl":     "SELECT id FROM ev WHERE now() <= ts + ttl",
	"at":      "SELECT id FROM ev WHERE mz_now() = ts",
	"counts":  "SELECT id % 3 AS k, count(*) AS n FROM ev WHERE current_timestamp >= ts AND ts + INTERVAL '2 minutes' >= mz_now() GROUP BY id % 3",
	"joined":  "SELECT e.id, f.id AS other FROM ev e JOIN ev f ON e.id = f.id + 1 WHERE mz_now() < e.ts + INTERVAL '3 minutes' AND mz_now() >= f.ts",
}

func createTemporalViews(ts *testSession) {
	ts.mustExec(`CREATE TABLE ev (id int, ts timestamptz, ttl interval)`)
	for _, name := range sortedKeys(temporalDefs) {
		ts.mustExec("CREATE MATERIALIZED VIEW " + name + " AS " + temporalDefs[name])
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkTemporalViews compares every view with its definition at the
// current timestamp.
func checkTemporalViews(t *testing.T, ts *testSession, when string) {
	t.Helper()
	for _, name := range sortedKeys(temporalDefs) {
		got := ts.restoredRows("SELECT * FROM " + name)
		// In a view now() and current_timestamp mean mz_now(); ad hoc they
		// are the statement's wall-clock time.
		def := strings.NewReplacer("now()", "mz_now()", "current_timestamp", "mz_now()").Replace(temporalDefs[name])
		want := ts.restoredRows(strings.ReplaceAll(def, "mz_mz_now()", "mz_now()"))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: view %s\n got %v\nwant %v\nat %v, ev: %v", when, name, got, want, ts.restoredRows("SELECT mz_now()"), ts.restoredRows("SELECT * FROM ev"))
		}
	}
}

func tsLit(t time.Time) string { return "'" + t.UTC().Format("2006-01-02 15:04:05.000") + "+00'" }

func TestTemporalFilterRowsComeAndGo(t *testing.T) {
	clock := &manualClock{t: clockStart}
	ts := newClockedSession(t, storage.NewMemLog(), clock)
	defer ts.e.Close()
	createTemporalViews(ts)
	T := clockStart
	ts.mustExec(fmt.Sprintf(`INSERT INTO ev VALUES (1, %s, '1 minute'), (2, %s, '10 minutes'), (3, %s, '0'), (4, %s, NULL)`,
		tsLit(T.Add(-10*time.Minute)), tsLit(T.Add(-2*time.Minute)), tsLit(T.Add(time.Minute)), tsLit(T.Add(2*time.Minute))))
	if got := ts.restoredRows("SELECT id FROM recent"); !slices.Equal(got, []string{"2", "3", "4"}) {
		t.Fatalf("recent at start: %v", got)
	}
	if got := ts.restoredRows("SELECT id FROM pending"); !slices.Equal(got, []string{"3", "4"}) {
		t.Fatalf("pending at start: %v", got)
	}
	checkTemporalViews(t, ts, "start")
	// Inside a transaction that has written, views are read from their
	// definitions; now() there still means the view's timestamp. (Row 5's
	// bound, T, is between the clock's now() and the read timestamp.)
	ts.mustExec("BEGIN")
	ts.mustExec(fmt.Sprintf(`INSERT INTO ev VALUES (5, %s, '1 minute')`, tsLit(T.Add(-time.Minute))))
	checkTemporalViews(t, ts, "in a transaction")
	ts.mustExec("ROLLBACK")
	// Row 2 (ts = T-2m) leaves recent at T+3m; row 3 enters "during" at
	// T+1m and is no longer pending.
	clock.advance(3*time.Minute + time.Second)
	ts.e.Tick()
	if got := ts.restoredRows("SELECT id FROM recent"); !slices.Equal(got, []string{"3", "4"}) {
		t.Fatalf("recent at T+3m1s: %v", got)
	}
	if got := ts.restoredRows("SELECT id FROM pending"); len(got) != 0 {
		t.Fatalf("pending at T+3m1s: %v", got)
	}
	checkTemporalViews(t, ts, "T+3m1s")
	clock.advance(time.Hour)
	ts.e.Tick()
	if got := ts.restoredRows("SELECT id FROM recent"); len(got) != 0 {
		t.Fatalf("recent an hour later: %v", got)
	}
	checkTemporalViews(t, ts, "T+1h")
	// With nothing pending, no temporal state is left behind.
	for _, name := range []string{"recent", "pending", "during", "at"} {
		o, _ := ts.e.mu.cat.lookup("public", name)
		if _, due := o.Flow.NextDue(); due {
			t.Errorf("view %s still has changes scheduled after every row expired", name)
		}
	}
}

// TestTemporalFilterRandom drives random inserts, deletes and clock moves
// (including ones smaller than a millisecond and ones exactly onto row
// bounds) and checks every view against its definition after each step,
// then after a restart from the durable log at a later time.
func TestTemporalFilterRandom(t *testing.T) {
	seed := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("TEMPORAL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	l, err := storage.OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := &manualClock{t: clockStart}
	ts := newClockedSession(t, l, clock)
	createTemporalViews(ts)
	ids := map[int]bool{}
	for step := 0; step < 150; step++ {
		switch r := rng.Intn(10); {
		case r < 4:
			id := rng.Intn(40)
			// Times on whole seconds around now, so bounds often coincide
			// with ticks.
			at := clock.t.Add(time.Duration(rng.Intn(600)-300) * time.Second)
			ts.mustExec(fmt.Sprintf("INSERT INTO ev VALUES (%d, %s, INTERVAL '%d seconds')", id, tsLit(at), rng.Intn(300)))
			ids[id] = true
		case r < 5 && len(ids) > 0:
			ts.mustExec(fmt.Sprintf("DELETE FROM ev WHERE id = %d", rng.Intn(40)))
		case r < 6:
			ts.mustExec(fmt.Sprintf("UPDATE ev SET ts = ts + INTERVAL '%d seconds' WHERE id %% 5 = %d", rng.Intn(120)-60, rng.Intn(5)))
		default:
			clock.advance(time.Duration(rng.Intn(90)) * time.Second)
			ts.e.Tick()
		}
		if step == 100 {
			// The restart below loads this checkpoint, the views' state
			// (their temporal filters' pending changes) with it, and
			// replays the rest.
			ts.mustExec("CHECKPOINT")
		}
		checkTemporalViews(t, ts, fmt.Sprintf("step %d", step))
	}
	if err := ts.e.Close(); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Minute)
	l, err = storage.OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts = newClockedSession(t, l, clock)
	defer ts.e.Close()
	if got := ts.restoredRows("SELECT views_restored, views_recomputed FROM tb_catalog.restart"); !slices.Equal(got, []string{fmt.Sprintf("%d | 0", len(temporalDefs))}) {
		t.Fatalf("the restart did not restore the views from the checkpoint: %v", got)
	}
	checkTemporalViews(t, ts, "after restart")
	clock.advance(3 * time.Minute)
	ts.e.Tick()
	checkTemporalViews(t, ts, "after restart and a tick")
}

func TestTemporalFilterRefusals(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec(`CREATE TABLE ev (id int, ts timestamptz)`)
	for _, q := range []string{
		"SELECT id, now() FROM ev",
		"SELECT id FROM ev WHERE mz_now() > ts OR id = 1",
		"SELECT id FROM ev WHERE mz_now() - INTERVAL '1 minute' > ts",
		"SELECT id FROM ev WHERE mz_now() > now()",
		"SELECT count(*) FILTER (WHERE ts > mz_now()) FROM ev",
		"SELECT id FROM ev WHERE ts > mz_now() + random() * INTERVAL '1 second'",
		"SELECT id FROM ev WHERE random() > 0.5",
	} {
		_, err := ts.exec("CREATE MATERIALIZED VIEW v AS " + q)
		if errCode(err) != pgerror.FeatureNotSupported {
			t.Errorf("%s: got %v (SQLSTATE %s), want 0A000", q, err, errCode(err))
		}
	}
	// An ad-hoc query reads mz_now() as its read timestamp.
	rows := ts.restoredRows("SELECT mz_now() <= now() + INTERVAL '1 second', mz_now() > '2020-01-01'")
	if !slices.Equal(rows, []string{"t | t"}) {
		t.Fatalf("mz_now() in an ad-hoc query: %v", rows)
	}
}
