package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-db/tributary/source"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// waitRows waits until q answers want (sorted rows joined by "; ").
func (ts *testSession) waitRows(q, want string) {
	ts.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := ts.query(q)
		if err != nil {
			ts.t.Fatalf("%s: %v", q, err)
		}
		got := strings.Join(rows, "; ")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("timed out waiting for %s to answer %s; last: %s", q, want, got)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkCounter checks that source c holds 1..n exactly once each, in whole
// batches of batch rows unless finished at upTo, and returns n.
func (ts *testSession) checkCounter(c string, batch, upTo int) int {
	ts.t.Helper()
	rows, err := ts.query("SELECT count(*), count(DISTINCT counter), coalesce(min(counter), 1), coalesce(max(counter), 0) FROM " + c)
	if err != nil {
		ts.t.Fatal(err)
	}
	var n, distinct, lo, hi int
	fmt.Sscanf(rows[0], "%d | %d | %d | %d", &n, &distinct, &lo, &hi)
	if n != distinct || lo != 1 || hi != n || (n%batch != 0 && n != upTo) {
		ts.t.Fatalf("%s holds %s (count, distinct, min, max): not 1..n once each in whole batches of %d", c, rows[0], batch)
	}
	return n
}

func TestSourceLoadGeneratorCounter(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec(`CREATE SOURCE c FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', batch_size = 10, up_to = 100)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW cs AS SELECT count(*) AS n, sum(counter) AS s, max(counter) AS m FROM c`)
	ts.mustExec(`CREATE SOURCE recent FROM LOAD GENERATOR COUNTER WITH (tick_interval = 1, batch_size = 3, up_to = 100, max_cardinality = 5)`)
	ts.waitRows(`SELECT name, connector, status, position, batches, rows, error FROM tb_catalog.sources`,
		"c | load generator counter | finished | counter 100 | 10 | 100 | NULL; recent | load generator counter | finished | counter 100 | 34 | 195 | NULL")
	for q, want := range map[string]string{
		`SELECT * FROM cs`:                     "100 | 5050 | 100",
		`SELECT count(*), sum(counter) FROM c`: "100 | 5050",
		`SELECT string_agg(counter::text, ',' ORDER BY counter) FROM recent`: "96,97,98,99,100",
		`SHOW SOURCES`: "c | load generator counter; recent | load generator counter",
	} {
		rows, err := ts.query(q)
		if err != nil || strings.Join(rows, "; ") != want {
			t.Errorf("%s: %v %v, want %s", q, rows, err, want)
		}
	}
	if res := ts.mustExec(`SHOW TABLES`); len(res.Rows) != 0 {
		t.Errorf("SHOW TABLES lists sources: %v", renderRows(res.Rows))
	}
	ts.checkCounter("c", 10, 100)

	for _, c := range []struct {
		sql  string
		code pgerror.Code
		msg  string
	}{
		{`INSERT INTO c VALUES (101)`, pgerror.WrongObjectType, `cannot change source "c"`},
		{`UPDATE c SET counter = 0`, pgerror.WrongObjectType, `cannot change source "c"`},
		{`DELETE FROM c`, pgerror.WrongObjectType, `cannot change source "c"`},
		{`TRUNCATE c`, pgerror.WrongObjectType, `cannot change source "c"`},
		{`COPY c FROM STDIN`, pgerror.WrongObjectType, `cannot change source "c"`},
		{`DROP TABLE c`, pgerror.WrongObjectType, `"c" is not a table`},
		{`DROP SOURCE c`, pgerror.DependentObjectsStillExist, `cannot drop source c because other objects depend on it`},
		{`CREATE TABLE t (x int); DROP SOURCE t`, pgerror.WrongObjectType, `"t" is not a source`},
		{`DROP SOURCE nosuch`, pgerror.UndefinedTable, `source "nosuch" does not exist`},
		{`CREATE SOURCE c FROM LOAD GENERATOR COUNTER`, pgerror.DuplicateTable, `"c" already exists`},
		{`CREATE SOURCE d FROM LOAD GENERATOR COUNTER WITH (tick_interval = 'soon')`, pgerror.InvalidParameterValue, "tick_interval"},
		{`CREATE SOURCE d FROM LOAD GENERATOR COUNTER WITH (speed = 3)`, pgerror.InvalidParameterValue, `unrecognized option "speed"`},
		{`CREATE SOURCE d FROM LOAD GENERATOR COUNTER WITH (retention = 'forever')`, pgerror.InvalidParameterValue, "retention"},
		{`CREATE SOURCE d (x int) FROM LOAD GENERATOR COUNTER`, pgerror.InvalidTableDefinition, "own columns"},
		{`CREATE SOURCE d FROM POSTGRES WITH (publication = 'p')`, pgerror.InvalidParameterValue, "needs the option connection"},
		{`CREATE SOURCE d (x int) FROM POSTGRES WITH (connection = 'postgres://u@h/db', table = 't', publication = 'p', slot = 's')`, pgerror.InvalidTableDefinition, "needs a column list with a PRIMARY KEY"},
		{`CREATE SOURCE d (x int PRIMARY KEY) FROM POSTGRES WITH (connection = 'postgres://u@h/db', table = 't', publication = 'p', slot = 'S-1')`, pgerror.InvalidParameterValue, "slot = 'name'"},
		{`CREATE SOURCE d (x int PRIMARY KEY) FROM POSTGRES WITH (connection = 'postgres://u@h/db', table = 'a.b.c', publication = 'p', slot = 's')`, pgerror.InvalidParameterValue, "table = 'schema.table'"},
		{`CREATE SOURCE d (x int PRIMARY KEY) FROM POSTGRES WITH (connection = 'postgres://u@h/db', table = 't', publication = 'p', slot = 's', snapshot = 'maybe')`, pgerror.InvalidParameterValue, `"snapshot"`},
		{`CREATE SOURCE d (x int PRIMARY KEY) FROM POSTGRES WITH (connection = 'postgres://u@h/db', table = 't', publication = 'p', slot = 's', port = 1)`, pgerror.InvalidParameterValue, `unrecognized option "port"`},
		{`CREATE SOURCE d FROM WEBHOOK`, pgerror.SyntaxError, "needs FORMAT TEXT, BYTES or JSON"},
		{`CREATE SOURCE d (x int) FROM WEBHOOK FORMAT TEXT`, pgerror.InvalidTableDefinition, "one column, body"},
		{`CREATE SOURCE d FROM LOAD GENERATOR TPCH`, pgerror.FeatureNotSupported, "LOAD GENERATOR TPCH"},
		{`BEGIN; CREATE SOURCE d FROM LOAD GENERATOR COUNTER`, pgerror.ActiveSqlTransaction, "inside a transaction block"},
	} {
		_, err := ts.exec(c.sql)
		if errCode(err) != c.code || !strings.Contains(fmt.Sprint(err), c.msg) {
			t.Errorf("%s: %v (%s), want %s with %q", c.sql, err, errCode(err), c.code, c.msg)
		}
		ts.exec("ROLLBACK")
	}
	if _, ok := ts.e.mu.cat.lookup("public", "d"); ok {
		t.Fatal("a refused CREATE SOURCE left an object")
	}
	res := ts.mustExec(`CREATE SOURCE IF NOT EXISTS c FROM LOAD GENERATOR COUNTER`)
	if len(res.Notices) != 1 || res.Tag != "CREATE SOURCE" {
		t.Fatalf("CREATE SOURCE IF NOT EXISTS of an existing one: %+v", res)
	}
	if res := ts.mustExec(`DROP SOURCE c CASCADE`); res.Tag != "DROP SOURCE" {
		t.Fatalf("DROP SOURCE answered %s", res.Tag)
	}
	if _, err := ts.exec(`SELECT * FROM cs`); errCode(err) != pgerror.UndefinedTable {
		t.Fatalf("the view over a dropped source: %v", err)
	}
	if rows, _ := ts.query(`SELECT name FROM tb_catalog.sources`); strings.Join(rows, ";") != "recent" {
		t.Fatalf("sources after the drop: %v", rows)
	}
	ts.mustExec(`DROP SOURCE IF EXISTS c`)
}

// TestSourceResumesExactlyOnce restarts an engine on the same directory
// while a counter runs, from the log and from a checkpoint: after each
// restart the source holds every value once and goes on from where the log
// ended.
func TestSourceResumesExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE SOURCE c FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', batch_size = 7, up_to = 700)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW cs AS SELECT count(*) AS n, max(counter) AS m FROM c`)
	waitFor(t, "the counter to reach 70", func() bool { return ts.countOf("c") >= 70 })
	for round := 0; round < 3; round++ {
		if round == 1 {
			if _, err := ts.e.Checkpoint(ts.ctx); err != nil {
				t.Fatal(err)
			}
		}
		before := ts.countOf("c")
		if err := ts.e.Close(); err != nil {
			t.Fatal(err)
		}
		ts = openTestEngine(t, dir)
		n := ts.checkCounter("c", 7, 700)
		if n < before {
			t.Fatalf("round %d: %d rows after the restart, %d before", round, n, before)
		}
		// One read, one timestamp: the view equals its definition.
		rows, _ := ts.query(`SELECT cs.n, cs.m, (SELECT count(*) FROM c), (SELECT max(counter) FROM c) FROM cs`)
		var vn, vm, sn, sm int
		fmt.Sscanf(rows[0], "%d | %d | %d | %d", &vn, &vm, &sn, &sm)
		if vn != sn || vm != sm || vn < n {
			t.Fatalf("round %d: the view says %s (n, m, count, max)", round, rows[0])
		}
		t.Logf("round %d: %d rows before the stop, %d after the restart", round, before, n)
	}
	ts.waitRows(`SELECT status, position FROM tb_catalog.sources`, "finished | counter 700")
	ts.checkCounter("c", 7, 700)
	ts.waitRows(`SELECT * FROM cs`, "700 | 700")

	// A rolled-back DROP SOURCE leaves the source running; a committed one
	// removes its position with its data.
	ts.mustExec(`CREATE SOURCE d FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', batch_size = 5, up_to = 400)`)
	ts.mustExec(`BEGIN`)
	ts.mustExec(`DROP SOURCE d`)
	ts.mustExec(`ROLLBACK`)
	ts.waitRows(`SELECT status, position FROM tb_catalog.sources WHERE name = 'd'`, "finished | counter 400")
	ts.checkCounter("d", 5, 400)
	ts.mustExec(`DROP SOURCE c CASCADE`)
	ts.mustExec(`DROP SOURCE d`)
	if _, err := ts.e.Maintain(ts.ctx); err != nil {
		t.Fatal(err)
	}
	if pos, err := ts.e.log.Positions(); err != nil || len(pos) != 0 {
		t.Fatalf("positions after dropping every source: %v, %v", pos, err)
	}
	ts.e.Close()
}

// countOf counts a relation's rows.
func (ts *testSession) countOf(rel string) int {
	ts.t.Helper()
	rows, err := ts.query("SELECT count(*) FROM " + rel)
	if err != nil {
		ts.t.Fatal(err)
	}
	var n int
	fmt.Sscan(rows[0], &n)
	return n
}

// TestSourceRetention: a source WITH (retention) forgets events older than
// that, and a view over it follows; the connector's own retractions of rows
// retention already removed are no-ops, not errors.
func TestSourceRetention(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	ts := newHistorySession(t, storage.NewMemLog(), clk)
	defer ts.e.Close()
	ts.mustExec(`CREATE SOURCE r FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', max_cardinality = 5, retention = '1 hour')`)
	ts.mustExec(`CREATE MATERIALIZED VIEW rn AS SELECT count(*) AS n FROM r`)
	waitFor(t, "five rows", func() bool { return ts.countOf("r") == 5 })
	clk.advance(2 * time.Hour)
	st, err := ts.e.Maintain(ts.ctx)
	if err != nil || st.Expired == 0 {
		t.Fatalf("maintenance after two hours: %+v, %v", st, err)
	}
	// The counter goes on, retracting values retention already took.
	var last string
	waitFor(t, "the counter to refill its five rows", func() bool {
		rows, _ := ts.query(`SELECT (SELECT n FROM rn), count(*), min(counter) > 5 FROM r`)
		last = rows[0]
		return last == "5 | 5 | t"
	})
	ts.waitRows(`SELECT status, error FROM tb_catalog.sources`, "running | NULL")
	rows, _ := ts.query(`SELECT retention FROM tb_catalog.history WHERE object = 'r'`)
	if strings.Join(rows, "") != "01:00:00" {
		t.Fatalf("tb_catalog.history's retention of the source: %v", rows)
	}
}

// TestSubscribeToSource: a SUBSCRIBE to a source and to a view over it
// streams each batch the connector commits, once, at its timestamp; AS OF
// reads a source's past like a table's.
func TestSubscribeToSource(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec(`CREATE SOURCE c FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', batch_size = 5, up_to = 50, max_cardinality = 10)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(counter) AS s FROM c`)
	sub := ts.subscribe(`SUBSCRIBE c`)
	view := ts.subscribe(`SUBSCRIBE total WITH (SNAPSHOT = false)`)
	ts.waitRows(`SELECT status FROM tb_catalog.sources`, "finished")
	// The stream's changes sum to the source's contents, each value
	// inserted once and (but the last ten) retracted once.
	ctx, cancel := context.WithTimeout(context.Background(), subscribeDeadline)
	defer cancel()
	net := map[int64]int64{}
	ins := map[int64]int{}
	var times []uint64
	for seen := 0; seen < 50+40; {
		rows, err := sub.Next(ctx, 0, -1)
		if err != nil {
			t.Fatalf("after %d changes: %v", seen, err)
		}
		for _, r := range rows { // mz_timestamp, mz_diff, counter
			v, d := r[2].Int(), r[1].Int()
			net[v] += d
			if d > 0 {
				ins[v]++
			}
			at, _ := strconv.ParseUint(types.FormatText(r[0]), 10, 64) // mz_timestamp is numeric
			if len(times) == 0 || times[len(times)-1] != at {
				times = append(times, at)
			}
			seen++
		}
	}
	for v := int64(1); v <= 50; v++ {
		if ins[v] != 1 || (v > 40) != (net[v] == 1) {
			t.Fatalf("value %d: inserted %d times, net %d", v, ins[v], net[v])
		}
	}
	if !slices.IsSorted(times) {
		t.Fatalf("timestamps out of order: %v", times)
	}
	// The view's stream ends at the source's final contents.
	var last []string
	for {
		rows, err := view.Next(ctx, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range renderRows(rows) {
			if _, rest, _ := strings.Cut(r, " | "); strings.HasPrefix(rest, "1 | ") {
				last = append(last, strings.TrimPrefix(rest, "1 | "))
			}
		}
		if len(last) > 0 && last[len(last)-1] == "10 | 455" {
			break
		}
	}
	// AS OF the first and the third batch's times: the source as it was.
	for i, want := range map[int]string{0: "5 | 5", 2: "10 | 15"} { // max_cardinality 10
		rows, err := ts.query(fmt.Sprintf(`SELECT count(*), max(counter) FROM c AS OF %d`, times[i]))
		if err != nil || rows[0] != want {
			t.Fatalf("AS OF batch %d's time: %v %v, want %s", i, rows, err, want)
		}
	}
}

// heldLog is a MemLog that can hold a source's batch past a position in
// its group commit (durable, and visible to Replay, only once the test
// releases it) and refuse catalog records.
type heldLog struct {
	storage.MemLog
	mu          sync.Mutex
	holdAfter   byte // hold batches whose position's first byte is above this
	failCatalog bool
	pending     []storage.Batch
	waiters     int
	// second is closed when a second caller waits for a held batch.
	second   chan struct{}
	released chan struct{}
}

func (l *heldLog) Append(ctx context.Context, b storage.Batch) error {
	l.mu.Lock()
	fail := l.failCatalog && b.Catalog != nil
	l.mu.Unlock()
	if fail {
		return errors.New("the test's log refuses catalog records")
	}
	return l.MemLog.Append(ctx, b)
}

func (l *heldLog) Enqueue(b storage.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(b.Positions) > 0 && b.Positions[0].Value[0] > l.holdAfter || len(l.pending) > 0 {
		l.pending = append(l.pending, b)
		return nil
	}
	return l.MemLog.Append(context.Background(), b)
}

func (l *heldLog) WaitDurable(t uint64) error {
	l.mu.Lock()
	held := len(l.pending) > 0 && l.pending[0].Time <= t
	if held {
		if l.waiters++; l.waiters == 2 {
			close(l.second)
		}
	}
	l.mu.Unlock()
	if held {
		<-l.released
	}
	return nil
}

func (l *heldLog) release() {
	l.mu.Lock()
	for _, b := range l.pending {
		_ = l.MemLog.Append(context.Background(), b)
	}
	l.pending = nil
	l.mu.Unlock()
	close(l.released)
}

// TestResyncWaitsForSourceBatch: when the log refuses a DDL statement's
// catalog record, the engine rebuilds itself from the log; a source's
// batch may then be queued but not yet written (sources commit outside
// the DDL gate). The rebuild must wait for it, or the source, already past
// that batch, would never send its rows again.
func TestResyncWaitsForSourceBatch(t *testing.T) {
	l := &heldLog{holdAfter: 5, second: make(chan struct{}), released: make(chan struct{})}
	e, err := NewEngine(EngineOptions{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	// The first batch (1..5) is written at once, the second held.
	ts.mustExec(`CREATE SOURCE c FROM LOAD GENERATOR COUNTER WITH (tick_interval = '20ms', batch_size = 5, up_to = 10)`)
	waitFor(t, "the second batch to be queued", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.pending) == 1
	})
	l.mu.Lock()
	l.failCatalog = true
	l.mu.Unlock()
	failed := make(chan error, 1)
	go func() { _, err := ts.exec(`CREATE TABLE x (a int)`); failed <- err }()
	waited := false
	select {
	case <-l.second: // the rebuild waits for the batch, as it must
		waited = true
	case err = <-failed:
		t.Logf("CREATE TABLE returned (%v) without waiting for the queued batch", err)
	}
	l.release()
	if waited {
		err = <-failed // the session is the test's again
	}
	if err == nil {
		t.Fatal("CREATE TABLE succeeded though the log refused its catalog record")
	}
	l.mu.Lock()
	l.failCatalog = false
	l.mu.Unlock()
	ts.waitRows(`SELECT status FROM tb_catalog.sources`, "finished")
	if got := ts.countOf("c"); got != 10 {
		t.Fatalf("after the rebuild the source holds %d rows, want 10", got)
	}
}

// BenchmarkCounterSource measures a load generator feeding a durable log
// under a view (count and sum of the counter): COUNTER with batch_size rows
// per 1 ms tick up to 2M rows, each batch one synced write (its rows and
// the source's position) that steps the view; rows/s from CREATE SOURCE
// until the source has finished:
//
//	timeout 900 go test -run XXX -bench CounterSource -benchtime 1x ./sql/
func BenchmarkCounterSource(b *testing.B) {
	const rows = 2_000_000
	for _, batch := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ts := openBenchEngine(b, b.TempDir())
				start := time.Now()
				ts.mustExec(fmt.Sprintf(`CREATE SOURCE c FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', batch_size = %d, up_to = %d)`, batch, rows))
				ts.mustExec(`CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(counter) AS s FROM c`)
				for {
					res := ts.mustExec(`SELECT status FROM tb_catalog.sources`)
					if renderRows(res.Rows)[0] == "finished" {
						break
					}
					time.Sleep(time.Millisecond) // polling a benchmark's end, not synchronising a test
				}
				b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
				ts.e.Close()
			}
		})
	}
}

// TestWebhookSource: events delivered to a webhook source are rows once
// Deliver returns, also after a ROLLBACK of DDL rebuilt the catalog (whose
// objects then hold fresh connectors: Engine.Webhook finds the running
// one), and Engine.Webhook refuses what is not a webhook source.
func TestWebhookSource(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec(`CREATE SOURCE hooks FROM WEBHOOK FORMAT TEXT`)
	ts.mustExec(`CREATE SOURCE c FROM LOAD GENERATOR COUNTER WITH (up_to = 1)`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deliver := func(body string) {
		t.Helper()
		w, err := ts.e.Webhook("public", "hooks")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Deliver(ctx, []byte(body)); err != nil {
			t.Fatalf("delivering %q: %v", body, err)
		}
	}
	deliver("one")
	ts.mustExec(`BEGIN`)
	ts.mustExec(`CREATE TABLE t (x int)`)
	ts.mustExec(`ROLLBACK`)
	deliver("two")
	if rows, err := ts.query(`SELECT body FROM hooks`); err != nil || strings.Join(rows, ",") != "one,two" {
		t.Fatalf("hooks: %v %v", rows, err)
	}
	ts.waitRows(`SELECT name, position FROM tb_catalog.sources WHERE name = 'hooks'`, "hooks | requests 2")
	for name, code := range map[string]pgerror.Code{"c": pgerror.WrongObjectType, "nosuch": pgerror.UndefinedTable} {
		if _, err := ts.e.Webhook("public", name); errCode(err) != code {
			t.Errorf("Webhook(%s): %v, want %s", name, err, code)
		}
	}
}

// BenchmarkWebhookSource measures events/s POSTed over HTTP (keep-alive,
// 32 concurrent clients) into a durable WEBHOOK source (FORMAT JSON) under
// a view, each answered once durable; concurrent requests share a write:
//
//	timeout 900 go test -run XXX -bench WebhookSource -benchtime 20000x ./sql/
func BenchmarkWebhookSource(b *testing.B) {
	ts := openBenchEngine(b, b.TempDir())
	ts.mustExec(`CREATE SOURCE hooks FROM WEBHOOK FORMAT JSON`)
	ts.mustExec(`CREATE MATERIALIZED VIEW per_kind AS SELECT body->>'kind' AS kind, count(*) AS n FROM hooks GROUP BY 1`)
	srv := httptest.NewServer(source.WebhookHandler(ts.e.Webhook))
	defer srv.Close()
	url := srv.URL + "/api/webhook/public/hooks"
	const clients = 32
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				res, err := client.Post(url, "application/json", strings.NewReader(fmt.Sprintf(`{"kind": "k%d", "i": %d}`, i%10, i)))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("POST: %s", res.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if n := ts.countOf("hooks"); n != b.N {
		b.Fatalf("%d events in the source, %d answered", n, b.N)
	}
}
