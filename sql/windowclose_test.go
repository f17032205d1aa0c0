package sql

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// eowcDefs are EMIT ON WINDOW CLOSE views over bids; with no late rows
// each must equal its definition restricted to the closed windows.
var eowcDefs = map[string]string{
	"tumb":  "SELECT window_start, window_end, k, count(*) AS n, sum(price) AS total FROM TUMBLE(bids, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end, k",
	"hop":   "SELECT window_end, max(price) AS top FROM HOP(bids, ts, INTERVAL '5 seconds', INTERVAL '10 seconds') GROUP BY window_end HAVING count(*) > 1",
	"named": "SELECT window_end, n.name, count(*) AS c FROM TUMBLE(bids, ts, INTERVAL '5 seconds') w JOIN names n ON n.k = w.k GROUP BY window_end, n.name",
	"sess":  "SELECT window_start, window_end, k, count(*) AS n, min(price) AS low FROM SESSION(bids, ts, INTERVAL '2 seconds', k) GROUP BY window_start, window_end, k",
}

// eowcClosed is the condition on window_end of a closed window: a window
// closes when the watermark reaches its end, a session when the watermark
// passes it (a row at the watermark may still extend it).
var eowcClosed = map[string]string{"tumb": "<=", "hop": "<=", "named": "<=", "sess": "<"}

func bidsWatermark(ts *testSession) string {
	rows := ts.restoredRows(`SELECT watermark FROM tb_catalog.watermarks WHERE object = 'bids'`)
	if len(rows) != 1 || rows[0] == "NULL" {
		return ""
	}
	return rows[0]
}

func checkEOWC(t *testing.T, ts *testSession, when string) {
	t.Helper()
	wm := bidsWatermark(ts)
	for _, name := range sortedKeys(eowcDefs) {
		got := ts.restoredRows("SELECT * FROM " + name)
		var want []string
		if wm != "" {
			want = ts.restoredRows(fmt.Sprintf("SELECT * FROM (%s) q WHERE window_end %s '%s'", eowcDefs[name], eowcClosed[name], wm))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: view %s (watermark %s)\n got %v\nwant %v", when, name, wm, got, want)
		}
	}
}

func TestEmitOnWindowClose(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE TABLE bids (k int, price int, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '3 seconds')`)
	ts.mustExec(`CREATE TABLE names (k int, name text)`)
	ts.mustExec(`INSERT INTO names VALUES (0, 'zero'), (1, 'one'), (1, 'uno'), (2, 'two')`)
	for _, name := range sortedKeys(eowcDefs) {
		ts.mustExec("CREATE MATERIALIZED VIEW " + name + " AS " + eowcDefs[name] + " EMIT ON WINDOW CLOSE")
	}
	checkEOWC(t, ts, "empty")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int64) string {
		return "'" + base.Add(time.Duration(ms)*time.Millisecond).Format("2006-01-02 15:04:05.000") + "'"
	}
	// Events move forward with some disorder, always at or after the
	// watermark, so none is late.
	var wm int64 = -1 << 62
	var maxTs int64
	for batch := 0; batch < 40; batch++ {
		var vals []string
		for i := 0; i < 1+rng.Intn(20); i++ {
			t0 := max(wm, maxTs-2500) + rng.Int63n(4000)
			maxTs = max(maxTs, t0)
			vals = append(vals, fmt.Sprintf("(%d, %d, %s)", rng.Intn(3), rng.Intn(100), at(t0)))
		}
		ts.mustExec("INSERT INTO bids VALUES " + strings.Join(vals, ", "))
		wm = maxTs - 3000
		checkEOWC(t, ts, fmt.Sprintf("batch %d", batch))
	}
	if rows := ts.restoredRows(`SELECT view, source, late_rows FROM tb_catalog.window_close`); !slices.Equal(rows, []string{"hop | bids | 0", "named | bids | 0", "sess | bids | 0", "tumb | bids | 0"}) {
		t.Fatalf("window_close: %v", rows)
	}
	// Late rows (windows closed) are dropped and counted; a HOP row counts
	// once per window it falls in. Deleting rows of closed windows changes
	// nothing either.
	before := map[string][]string{}
	for name := range eowcDefs {
		before[name] = ts.restoredRows("SELECT * FROM " + name)
	}
	ts.mustExec(fmt.Sprintf("INSERT INTO bids VALUES (1, 1000, %s), (2, 1000, %s)", at(wm-20000), at(wm-15000)))
	ts.mustExec(fmt.Sprintf("DELETE FROM bids WHERE ts < %s", at(wm-25000)))
	for name := range eowcDefs {
		if got := ts.restoredRows("SELECT * FROM " + name); !slices.Equal(got, before[name]) {
			t.Fatalf("view %s changed by late rows:\n got %v\nwant %v", name, got, before[name])
		}
	}
	t.Logf("closed windows: tumb %d rows, hop %d rows; %v", len(before["tumb"]), len(before["hop"]), ts.restoredRows(`SELECT * FROM tb_catalog.window_close`))
	want := []string{"hop | 4", "named | 3", "sess | 2", "tumb | 2"}
	if rows := ts.restoredRows(`SELECT view, late_rows FROM tb_catalog.window_close`); !slices.Equal(rows, want) {
		t.Fatalf("late rows: %v", rows)
	}
	// Closed windows' state is gone: only windows ending after the
	// watermark are held.
	if rows := ts.restoredRows(`SELECT view FROM tb_catalog.window_close WHERE open_windows > 12 OR (state_rows <> open_windows AND view NOT IN ('sess', 'named'))`); len(rows) != 0 {
		t.Fatalf("state of closed windows kept: %v", ts.restoredRows(`SELECT * FROM tb_catalog.window_close`))
	}
	// A restart from a checkpoint restores the views' state (open windows,
	// bounds, late counts) and output: they cannot be recomputed from the
	// table, which holds the late rows and not the deleted ones.
	ts.mustExec("CHECKPOINT")
	ts.mustExec(fmt.Sprintf("INSERT INTO bids VALUES (0, 1, %s)", at(wm)))
	if err := ts.e.Close(); err != nil {
		t.Fatal(err)
	}
	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	if got := ts.restoredRows("SELECT checkpoint_valid_at IS NOT NULL, views_restored, views_recomputed FROM tb_catalog.restart"); !slices.Equal(got, []string{"t | 4 | 0"}) {
		t.Fatalf("the restart did not restore the views from the checkpoint: %v", got)
	}
	for name := range eowcDefs {
		if got := ts.restoredRows("SELECT * FROM " + name); !slices.Equal(got, before[name]) {
			t.Fatalf("view %s after restart:\n got %v\nwant %v", name, got, before[name])
		}
	}
	if rows := ts.restoredRows(`SELECT view, late_rows FROM tb_catalog.window_close`); !slices.Equal(rows, want) {
		t.Fatalf("late rows after restart: %v", rows)
	}
	ts.mustExec(fmt.Sprintf("INSERT INTO bids VALUES (0, 1, %s)", at(maxTs+60000)))
	if got := ts.restoredRows("SELECT count(*) FROM tumb"); slices.Equal(got, []string{fmt.Sprint(len(before["tumb"]))}) {
		t.Fatalf("no window closed after the watermark moved a minute on")
	}
}

func TestEmitOnWindowCloseErrors(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec(`CREATE TABLE bids (k int, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '1 second')`)
	ts.mustExec(`CREATE TABLE plain (k int, ts timestamp)`)
	for _, q := range []string{
		"SELECT k, count(*) FROM bids GROUP BY k",
		"SELECT * FROM bids",
		"SELECT count(*) FROM TUMBLE(bids, ts, INTERVAL '1 minute')",
		"SELECT window_end, count(*) FROM TUMBLE(plain, ts, INTERVAL '1 minute') GROUP BY window_end",
		"SELECT window_start, k, count(*) FROM SESSION(bids, ts, INTERVAL '10 seconds', k) GROUP BY window_start, k",
		"SELECT window_end, n FROM (SELECT window_end, count(*) AS n FROM TUMBLE(bids, ts, INTERVAL '1 minute') GROUP BY window_end) w ORDER BY n LIMIT 1",
	} {
		_, err := ts.exec("CREATE MATERIALIZED VIEW v AS " + q + " EMIT ON WINDOW CLOSE")
		if errCode(err) != pgerror.FeatureNotSupported {
			t.Errorf("%s: got %v (SQLSTATE %s), want 0A000", q, err, errCode(err))
		}
	}
	res := ts.mustExec("EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT window_end, count(*) FROM TUMBLE(bids, ts, INTERVAL '1 minute') GROUP BY window_end EMIT ON WINDOW CLOSE")
	if text := fmt.Sprint(renderRows(res.Rows)); !strings.Contains(text, "emit on window close (keys [0] by the watermark of bids)") {
		t.Fatalf("EXPLAIN: %s", text)
	}
}
