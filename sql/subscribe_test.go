package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// subscribeDeadline bounds how long a test waits for rows that must come.
const subscribeDeadline = 20 * time.Second

func newSubscribeSession(t *testing.T, opts EngineOptions) (*testSession, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Log, opts.Clock, opts.MaintenanceInterval, opts.TickInterval = storage.NewMemLog(), clk.now, -1, -1
	e, err := NewEngine(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}, clk
}

// subscribe starts a bare SUBSCRIBE and returns its stream.
func (ts *testSession) subscribe(q string) *Subscription {
	ts.t.Helper()
	res := ts.mustExec(q)
	if res.Stream == nil {
		ts.t.Fatalf("%s: no stream", q)
	}
	ts.t.Cleanup(res.Stream.Close)
	return res.Stream
}

// takeRows waits (with a deadline) for exactly n rows and renders them
// with mz_timestamp relative to base ("+ms").
func takeRows(t *testing.T, sub *Subscription, n int, base uint64) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), subscribeDeadline)
	defer cancel()
	var rows []types.Row
	for len(rows) < n {
		got, err := sub.Next(ctx, n-len(rows), -1)
		if err != nil {
			t.Fatalf("after %d of %d rows (%v): %v", len(rows), n, renderSub(rows, base), err)
		}
		rows = append(rows, got...)
	}
	// Nothing more may be buffered.
	if extra, err := sub.Next(context.Background(), 0, 0); err == nil && len(extra) > 0 {
		t.Fatalf("unexpected rows after %v: %v", renderSub(rows, base), renderSub(extra, base))
	}
	return renderSub(rows, base)
}

func renderSub(rows []types.Row, base uint64) []string {
	out := renderRows(rows)
	for i, r := range out {
		ts, rest, _ := strings.Cut(r, " | ")
		n, _ := strconv.ParseUint(ts, 10, 64)
		out[i] = fmt.Sprintf("+%d | %s", n-base, rest)
	}
	return out
}

func wantRows(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (ts *testSession) lastTime() uint64 {
	ts.e.mu.RLock()
	defer ts.e.mu.RUnlock()
	return ts.e.mu.lastTime
}

func TestSubscribeMaterializedView(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE t (k int, v int)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW m AS SELECT k, sum(v) AS s FROM t GROUP BY k`)
	ts.mustExec(`INSERT INTO t VALUES (1, 10), (1, 5), (2, 1)`)
	clk.advance(time.Second)
	ts.e.Tick() // the timeline at the clock: later writes come 1000 ms apart
	sub := ts.subscribe(`SUBSCRIBE TO m WITH (PROGRESS)`)
	cols := []string{}
	for _, c := range sub.Columns() {
		cols = append(cols, c.Name+" "+c.Type.String())
	}
	if got := strings.Join(cols, ", "); got != "mz_timestamp numeric, mz_progressed boolean, mz_diff bigint, k integer, s bigint" {
		t.Fatalf("columns: %s", got)
	}
	t0 := ts.lastTime()
	wantRows(t, takeRows(t, sub, 3, t0),
		"+0 | f | 1 | 1 | 15", "+0 | f | 1 | 2 | 1", "+1 | t | NULL | NULL | NULL")

	// One transaction: all of its changes at one timestamp, consolidated.
	clk.advance(time.Second)
	ts.mustExec(`BEGIN; INSERT INTO t VALUES (1, 1); INSERT INTO t VALUES (3, 3); INSERT INTO t VALUES (4, 4); DELETE FROM t WHERE k = 4; COMMIT`)
	wantRows(t, takeRows(t, sub, 4, t0),
		"+1000 | f | -1 | 1 | 15", "+1000 | f | 1 | 1 | 16", "+1000 | f | 1 | 3 | 3", "+1001 | t | NULL | NULL | NULL")

	// A write that does not change the view, and a tick: progress only.
	clk.advance(time.Second)
	ts.mustExec(`INSERT INTO t VALUES (2, 0)`)
	clk.advance(time.Second)
	ts.e.Tick()
	wantRows(t, takeRows(t, sub, 2, t0), "+2001 | t | NULL | NULL | NULL", "+3001 | t | NULL | NULL | NULL")

	// Two writes: two timestamps, in order.
	clk.advance(time.Second)
	ts.mustExec(`DELETE FROM t WHERE k = 3`)
	ts.mustExec(`UPDATE t SET v = 2 WHERE k = 2 AND v = 1`)
	wantRows(t, takeRows(t, sub, 5, t0),
		"+4000 | f | -1 | 3 | 3", "+4001 | t | NULL | NULL | NULL",
		"+4001 | f | -1 | 2 | 1", "+4001 | f | 1 | 2 | 2", "+4002 | t | NULL | NULL | NULL")

	// Dropping the view ends the subscription with an error.
	sub.Close()
	sub2 := ts.subscribe(`SUBSCRIBE m WITH (SNAPSHOT = false)`)
	ts.mustExec(`DROP MATERIALIZED VIEW m`)
	if _, err := sub2.Next(context.Background(), 0, 0); errCode(err) != pgerror.UndefinedTable {
		t.Fatalf("after DROP: %v", err)
	}
	ts.mustExec(`INSERT INTO t VALUES (9, 9)`)
	if n := len(ts.e.subs.list); n != 0 {
		t.Fatalf("%d subscriptions still stepped after they ended", n)
	}
}

func TestSubscribeQueryUpTo(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE t (k int, v int)`)
	ts.mustExec(`CREATE VIEW big AS SELECT k, v FROM t WHERE v > 2`)
	ts.mustExec(`INSERT INTO t VALUES (1, 1), (2, 5), (2, 5)`)
	clk.advance(time.Second)
	ts.e.Tick()
	t0 := ts.lastTime()
	// A plain view: a private dataflow; a duplicate row is one row with
	// mz_diff 2.
	sub := ts.subscribe(fmt.Sprintf(`SUBSCRIBE (SELECT v, k FROM big) UP TO %d`, t0+1500))
	wantRows(t, takeRows(t, sub, 1, t0), "+0 | 2 | 5 | 2")
	clk.advance(time.Second)
	ts.mustExec(`INSERT INTO t VALUES (3, 7), (4, 1)`)
	wantRows(t, takeRows(t, sub, 1, t0), "+1000 | 1 | 7 | 3")
	clk.advance(time.Second)
	ts.mustExec(`INSERT INTO t VALUES (5, 9)`) // at +2000: past UP TO
	if rows, err := sub.Next(context.Background(), 0, 0); !errors.Is(err, io.EOF) {
		t.Fatalf("after UP TO: %v, %v", renderSub(rows, t0), err)
	}
	// A snapshot without changes still counts: a subscription on a plain
	// view sees the view's definition.
	sub2 := ts.subscribe(`SUBSCRIBE big WITH (SNAPSHOT = false, PROGRESS)`)
	t1 := ts.lastTime()
	wantRows(t, takeRows(t, sub2, 1, t1), "+1 | t | NULL | NULL | NULL")
}

func TestSubscribeAsOf(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE t (k int)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM t`)
	clk.advance(time.Second)
	ts.mustExec(`INSERT INTO t VALUES (1)`)
	t1 := ts.lastTime()
	clk.advance(time.Second)
	ts.mustExec(`INSERT INTO t VALUES (2)`)
	clk.advance(time.Second)
	ts.mustExec(`DELETE FROM t WHERE k = 1`)
	clk.advance(time.Second)
	sub := ts.subscribe(fmt.Sprintf(`SUBSCRIBE c AS OF %d`, t1))
	wantRows(t, takeRows(t, sub, 5, t1),
		"+0 | 1 | 1", "+1000 | -1 | 1", "+1000 | 1 | 2", "+2000 | 1 | 1", "+2000 | -1 | 2")
	clk.advance(time.Second)
	ts.mustExec(`INSERT INTO t VALUES (3)`)
	wantRows(t, takeRows(t, sub, 2, t1), "+4000 | -1 | 1", "+4000 | 1 | 2")
	ts.wantError(fmt.Sprintf(`SUBSCRIBE c AS OF %d`, t1+100_000), pgerror.InvalidParameterValue, "in the future")
	// Before the table existed: an error, or with AT LEAST the oldest
	// readable time (the view's creation: count 0).
	ts.wantError(fmt.Sprintf(`SUBSCRIBE c AS OF %d`, t1-10_000), pgerror.InvalidParameterValue, "oldest readable time")
	least := ts.subscribe(fmt.Sprintf(`SUBSCRIBE c WITH (PROGRESS) AS OF AT LEAST %d UP TO %d`, t1-10_000, t1+1))
	rows := takeRows(t, least, 5, t1)
	if !strings.HasSuffix(rows[0], " | f | 1 | 0") || rows[2] != "+0 | f | -1 | 0" || rows[3] != "+0 | f | 1 | 1" || rows[4] != "+1 | t | NULL | NULL" {
		t.Fatalf("AS OF AT LEAST: %v", rows)
	}
	// UP TO passed during the replay: the stream is over.
	if _, err := least.Next(context.Background(), 0, 0); !errors.Is(err, io.EOF) {
		t.Fatalf("after UP TO: %v", err)
	}
}

func TestSubscribeEmitOnWindowClose(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE bids (k int, price int, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '3 seconds')`)
	ts.mustExec(`CREATE MATERIALIZED VIEW tumb AS SELECT window_end, k, count(*) AS n FROM TUMBLE(bids, ts, INTERVAL '10 seconds') GROUP BY window_end, k EMIT ON WINDOW CLOSE`)
	sub := ts.subscribe(`SUBSCRIBE tumb`)
	t0 := ts.lastTime()
	clk.advance(time.Second)
	ts.mustExec(`INSERT INTO bids VALUES (1, 5, '2026-01-01 00:00:01'), (1, 6, '2026-01-01 00:00:02')`)
	ts.mustExec(`UPDATE bids SET price = 7 WHERE price = 5`)
	ts.mustExec(`INSERT INTO bids VALUES (2, 1, '2026-01-01 00:00:12')`)
	// The windows close when the watermark (25 s - 3 s) passes their end:
	// each is emitted once, as an insertion, never retracted.
	ts.mustExec(`INSERT INTO bids VALUES (1, 1, '2026-01-01 00:00:14'), (1, 1, '2026-01-01 00:00:25')`)
	got := takeRows(t, sub, 3, t0)
	for _, r := range got {
		if !strings.Contains(r, " | 1 | ") {
			t.Fatalf("an EMIT ON WINDOW CLOSE subscription emitted a non-insertion: %v", got)
		}
	}
	for i := range got {
		got[i] = got[i][strings.Index(got[i], " | "):]
	}
	wantRows(t, got, " | 1 | 2026-01-01 00:00:10 | 1 | 2", " | 1 | 2026-01-01 00:00:20 | 1 | 1", " | 1 | 2026-01-01 00:00:20 | 2 | 1")
}

func TestSubscribeCursor(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE t (k int)`)
	ts.mustExec(`INSERT INTO t VALUES (1), (2)`)
	clk.advance(time.Second)
	ts.e.Tick()
	t0 := ts.lastTime()
	ts.wantError(`DECLARE c CURSOR FOR SUBSCRIBE t`, pgerror.NoActiveSqlTransaction, "transaction blocks")
	ts.mustExec(`BEGIN`)
	ts.mustExec(`DECLARE c CURSOR FOR SUBSCRIBE t`)
	res := ts.mustExec(`FETCH 1 c`)
	if res.Tag != "FETCH 1" {
		t.Fatalf("tag %q", res.Tag)
	}
	wantRows(t, renderSub(res.Rows, t0), "+0 | 1 | 1")
	res = ts.mustExec(`FETCH ALL c`)
	wantRows(t, renderSub(res.Rows, t0), "+0 | 1 | 2")
	// Nothing available: an empty answer once the timeout passes.
	res = ts.mustExec(`FETCH ALL c WITH (timeout = '0s')`)
	if res.Tag != "FETCH 0" || len(res.Rows) != 0 {
		t.Fatalf("FETCH with timeout: %s %v", res.Tag, res.Rows)
	}
	// Another session writes; FETCH without timeout waits for it.
	other := ts.session()
	done := make(chan error, 1)
	go func() {
		clk.advance(time.Second)
		_, err := other.exec(`INSERT INTO t VALUES (3)`)
		done <- err
	}()
	res = ts.mustExec(`FETCH 10 c`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantRows(t, renderSub(res.Rows, t0), "+1000 | 1 | 3")
	ts.wantError(`FETCH 1 c WITH (timeout = 'soon')`, pgerror.InvalidParameterValue, "timeout")
	ts.mustExec(`ROLLBACK`)
	// The transaction's end closed the cursor and its subscription.
	ts.mustExec(`INSERT INTO t VALUES (4)`)
	if n := len(ts.e.subs.list); n != 0 {
		t.Fatalf("%d subscriptions left after the cursor closed", n)
	}
}

func TestSubscribeFallsBehind(t *testing.T) {
	ts, _ := newSubscribeSession(t, EngineOptions{SubscribeBufferRows: 5})
	ts.mustExec(`CREATE TABLE t (k int)`)
	ts.mustExec(`INSERT INTO t SELECT generate_series(1, 8)`)
	// A snapshot larger than the bound is fine: the bound is on the rows
	// buffered after it.
	sub := ts.subscribe(`SUBSCRIBE t`)
	if rows, err := sub.Next(context.Background(), 0, 0); err != nil || len(rows) != 8 {
		t.Fatalf("snapshot: %d rows, %v", len(rows), err)
	}
	for i := range 14 {
		ts.mustExec(fmt.Sprintf(`INSERT INTO t VALUES (%d)`, i))
	}
	_, err := sub.Next(context.Background(), 0, 0)
	if errCode(err) != pgerror.OutOfMemory {
		t.Fatalf("a subscription past its buffer: %v", err)
	}
	// Writers went on and the subscription is gone.
	ts.mustExec(`INSERT INTO t VALUES (7)`)
	if n := len(ts.e.subs.list); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sub2 := ts.subscribe(`SUBSCRIBE t WITH (SNAPSHOT false)`)
	if _, err := sub2.Next(ctx, 0, -1); errCode(err) != pgerror.QueryCanceled {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestSubscribeErrors(t *testing.T) {
	ts, _ := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE t (k int)`)
	ts.wantError(`SUBSCRIBE nope`, pgerror.UndefinedTable, "nope")
	ts.wantError(`SUBSCRIBE t WITH (FOO)`, pgerror.SyntaxError, "FOO")
	ts.wantError(`SUBSCRIBE t WITH (PROGRESS = maybe)`, pgerror.InvalidParameterValue, "Boolean")
	ts.wantError(`SUBSCRIBE (INSERT INTO t VALUES (1))`, pgerror.SyntaxError, "SELECT")
	ts.wantError(`SUBSCRIBE t junk`, pgerror.SyntaxError, "junk")
	ts.wantError(`SUBSCRIBE t ENVELOPE UPSERT (KEY (nope))`, pgerror.UndefinedColumn, "nope")
	ts.wantError(`SUBSCRIBE t ENVELOPE DEBEZIUM (KEY (k, k))`, pgerror.DuplicateColumn, "twice")
	ts.wantError(`SUBSCRIBE t WITHIN TIMESTAMP ORDER BY nope`, pgerror.UndefinedColumn, "nope")
	ts.wantError(`SUBSCRIBE t WITHIN TIMESTAMP ORDER BY k + 1`, pgerror.FeatureNotSupported, "column names")
	ts.wantError(`SUBSCRIBE (SELECT random() FROM t)`, pgerror.FeatureNotSupported, "")
	ts.mustExec(`BEGIN; INSERT INTO t VALUES (1)`)
	ts.wantError(`SUBSCRIBE t`, pgerror.FeatureNotSupported, "written")
	ts.mustExec(`ROLLBACK`)
}

func TestSubscribeTemporalFilterTicks(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE ev (id int, at timestamptz)`)
	ts.mustExec(`INSERT INTO ev VALUES (1, '2026-03-01 12:00:00+00'), (2, '2026-03-01 12:00:05+00')`)
	// A query with a temporal filter: its private dataflow releases the
	// retractions as ticks move the timeline, with no writes.
	sub := ts.subscribe(`SUBSCRIBE (SELECT id FROM ev WHERE mz_now() < at + INTERVAL '3 seconds')`)
	t0 := uint64(clk.now().UnixMilli())
	wantRows(t, takeRows(t, sub, 2, t0), "+2 | 1 | 1", "+2 | 1 | 2")
	clk.advance(4 * time.Second)
	ts.e.Tick()
	wantRows(t, takeRows(t, sub, 1, t0), "+4000 | -1 | 1")
	clk.advance(4 * time.Second)
	ts.e.Tick()
	wantRows(t, takeRows(t, sub, 1, t0), "+8000 | -1 | 2")
}

// TestSubscribeProperty: under random transactions and ticks, each
// subscription's stream, accumulated up to any timestamp it emitted,
// equals its relation read AS OF that timestamp (an independent answer:
// the query run once over the log's history); timestamps never go back,
// and no data row comes below a progress row's frontier.
func TestSubscribeProperty(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE a (k int, v int)`)
	ts.mustExec(`CREATE TABLE b (k int, w int)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW agg AS SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k`)
	ts.mustExec(`CREATE VIEW j AS SELECT a.k, a.v, b.w FROM a JOIN b ON a.k = b.k WHERE a.v <> b.w`)
	subs := map[string]*Subscription{
		"agg": ts.subscribe(`SUBSCRIBE agg WITH (PROGRESS)`),
		"j":   ts.subscribe(`SUBSCRIBE j`),
		"q":   ts.subscribe(`SUBSCRIBE (SELECT k, max(w) AS m FROM b GROUP BY k HAVING count(*) > 1) WITH (PROGRESS)`),
	}
	queries := map[string]string{
		"agg": `SELECT * FROM agg`,
		"j":   `SELECT * FROM j`,
		"q":   `SELECT k, max(w) AS m FROM b GROUP BY k HAVING count(*) > 1`,
	}
	for i := 0; i < 60; i++ {
		clk.advance(time.Duration(1+rng.IntN(5)) * time.Millisecond)
		switch rng.IntN(5) {
		case 0:
			ts.e.Tick()
		case 1:
			ts.mustExec(fmt.Sprintf(`DELETE FROM a WHERE k = %d`, rng.IntN(4)))
		default:
			var sb strings.Builder
			sb.WriteString("BEGIN;")
			for range 1 + rng.IntN(3) {
				table, col := "a", rng.IntN(4)
				if rng.IntN(2) == 0 {
					table = "b"
				}
				fmt.Fprintf(&sb, "INSERT INTO %s VALUES (%d, %d);", table, rng.IntN(4), col)
			}
			if rng.IntN(3) == 0 {
				fmt.Fprintf(&sb, "UPDATE b SET w = w + 1 WHERE k = %d;", rng.IntN(4))
			}
			sb.WriteString("COMMIT")
			ts.mustExec(sb.String())
		}
	}
	for name, sub := range subs {
		rows, err := sub.Next(context.Background(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		progress := len(sub.Columns()) > 0 && sub.Columns()[1].Name == "mz_progressed"
		meta := 2
		if progress {
			meta = 3
		}
		state := map[string]int64{}
		var last, frontier uint64
		checks := 0
		check := func(at uint64) {
			checks++
			want := ts.mustQuery(fmt.Sprintf(`%s AS OF %d`, queries[name], at))
			var got []string
			for r, n := range state {
				for range n {
					got = append(got, r)
				}
			}
			slices.Sort(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s at %d: the stream accumulates to\n%v\nAS OF reads\n%v", name, at, got, want)
			}
		}
		for i, r := range rows {
			at, _ := strconv.ParseUint(types.FormatText(r[0]), 10, 64)
			if at < last || at < frontier && !(progress && r[1].Bool()) {
				t.Fatalf("%s: row %d at %d after %d (frontier %d)", name, i, at, last, frontier)
			}
			if at > last && i > 0 {
				check(last)
			}
			last = at
			if progress && r[1].Bool() {
				frontier = at
				continue
			}
			line := strings.Join(renderRows([]types.Row{r[meta:]}), "")
			if state[line] += r[meta-1].Int(); state[line] == 0 {
				delete(state, line)
			}
		}
		// The final frontier may be one past the timeline.
		check(min(last, ts.lastTime()))
		if checks < 5 {
			t.Fatalf("%s: only %d timestamps checked", name, checks)
		}
	}
}

func TestSubscriptionsCatalog(t *testing.T) {
	ts, _ := newSubscribeSession(t, EngineOptions{SubscribeBufferRows: 100})
	ts.mustExec(`CREATE TABLE t (k int)`)
	ts.mustExec(`INSERT INTO t VALUES (1), (2)`)
	sub := ts.subscribe(`SUBSCRIBE t`)
	q := ts.subscribe(`SUBSCRIBE (SELECT k FROM t WHERE k > 1)`)
	ts.mustExec(`INSERT INTO t VALUES (3)`)
	const list = `SELECT relation, buffered_rows, buffer_limit, emitted_at >= started_at FROM tb_catalog.subscriptions`
	wantRows(t, ts.mustQuery(list), "NULL | 2 | 101 | t", "public.t | 3 | 102 | t")
	if _, err := sub.Next(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	q.Close()
	wantRows(t, ts.mustQuery(list), "public.t | 0 | 102 | t")
}

func TestSubscribeWithinTimestampOrderBy(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE t (k int, v text)`)
	ts.mustExec(`INSERT INTO t VALUES (1, 'a'), (2, NULL), (3, 'c')`)
	clk.advance(time.Second)
	ts.e.Tick()
	t0 := ts.lastTime()
	sub := ts.subscribe(`SUBSCRIBE t WITHIN TIMESTAMP ORDER BY v DESC NULLS LAST, k WITH (PROGRESS)`)
	wantRows(t, takeRows(t, sub, 4, t0), "+0 | f | 1 | 3 | c", "+0 | f | 1 | 1 | a", "+0 | f | 1 | 2 | NULL", "+1 | t | NULL | NULL | NULL")
	clk.advance(time.Second)
	ts.mustExec(`UPDATE t SET v = 'b' WHERE k = 2`)
	sub2 := ts.subscribe(`SUBSCRIBE t WITHIN TIMESTAMP ORDER BY mz_diff, k DESC`)
	clk.advance(time.Second)
	ts.mustExec(`UPDATE t SET v = 'z'`)
	wantRows(t, takeRows(t, sub2, 9, t0)[3:],
		"+2000 | -1 | 3 | c", "+2000 | -1 | 2 | b", "+2000 | -1 | 1 | a", "+2000 | 1 | 3 | z", "+2000 | 1 | 2 | z", "+2000 | 1 | 1 | z")
}

func TestSubscribeEnvelopes(t *testing.T) {
	ts, clk := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE kv (key int, value int)`)
	ts.mustExec(`INSERT INTO kv VALUES (1, 2), (2, 4)`)
	clk.advance(time.Second)
	ts.e.Tick()
	t0 := ts.lastTime()
	up := ts.subscribe(`SUBSCRIBE kv ENVELOPE UPSERT (KEY (key)) WITH (PROGRESS)`)
	dbz := ts.subscribe(`SUBSCRIBE (SELECT value, key FROM kv) ENVELOPE DEBEZIUM (KEY (key))`)
	names := func(sub *Subscription) string {
		var out []string
		for _, c := range sub.Columns() {
			out = append(out, c.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(up) + " / " + names(dbz); got != "mz_timestamp,mz_progressed,mz_state,key,value / mz_timestamp,mz_state,key,before_value,after_value" {
		t.Fatalf("columns %s", got)
	}
	write := func(q string) {
		clk.advance(time.Second)
		ts.mustExec(q)
	}
	write(`UPDATE kv SET value = 10 WHERE key = 1`)
	write(`INSERT INTO kv VALUES (3, 6)`)
	write(`DELETE FROM kv`)
	write(`INSERT INTO kv VALUES (1, 1), (1, 2)`)
	wantRows(t, takeRows(t, up, 13, t0),
		"+0 | f | upsert | 1 | 2", "+0 | f | upsert | 2 | 4", "+1 | t | NULL | NULL | NULL",
		"+1000 | f | upsert | 1 | 10", "+1001 | t | NULL | NULL | NULL",
		"+2000 | f | upsert | 3 | 6", "+2001 | t | NULL | NULL | NULL",
		"+3000 | f | delete | 1 | NULL", "+3000 | f | delete | 2 | NULL", "+3000 | f | delete | 3 | NULL", "+3001 | t | NULL | NULL | NULL",
		"+4000 | f | key_violation | 1 | NULL", "+4001 | t | NULL | NULL | NULL")
	wantRows(t, takeRows(t, dbz, 8, t0),
		"+0 | insert | 1 | NULL | 2", "+0 | insert | 2 | NULL | 4",
		"+1000 | upsert | 1 | 2 | 10", "+2000 | insert | 3 | NULL | 6",
		"+3000 | delete | 1 | 10 | NULL", "+3000 | delete | 2 | 4 | NULL", "+3000 | delete | 3 | 6 | NULL",
		"+4000 | key_violation | 1 | NULL | NULL")
}
