package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tributary-db/tributary/metrics"
	"github.com/tributary-db/tributary/pgwire"
	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/storage"
)

// runningServe is serve running in this process, for tests.
type runningServe struct {
	pg, metrics string // addresses
	ready       chan struct{}
	done        chan int // serve's exit code
	cancel      context.CancelFunc
}

// startServe starts serve on dataDir ("" for memory) with metrics on, and
// returns once its listeners are open (the restore may still run). phase,
// when set, is the engine's restore phase hook. Tests using it must not run
// in parallel: the hooks are package variables.
func startServe(t *testing.T, dataDir string, phase func(string)) *runningServe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningServe{ready: make(chan struct{}), done: make(chan int, 1), cancel: cancel}
	listening := make(chan [2]string, 1)
	serveHooks.restorePhase = phase
	serveHooks.listening = func(pg, m net.Addr) { listening <- [2]string{pg.String(), m.String()} }
	serveHooks.ready = func() { close(r.ready) }
	t.Cleanup(func() {
		serveHooks.restorePhase, serveHooks.listening, serveHooks.ready = nil, nil, nil
	})
	cfg := serveConfig{listen: "127.0.0.1:0", metricsListen: "127.0.0.1:0", dataDir: dataDir, auth: pgwire.AuthTrust, tick: -1}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { r.done <- serve(ctx, cfg, log) }()
	select {
	case a := <-listening:
		r.pg, r.metrics = a[0], a[1]
	case code := <-r.done:
		t.Fatalf("serve exited with %d before listening", code)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *runningServe) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if code := <-r.done; code != 0 {
		t.Errorf("serve exited with %d", code)
	}
}

func (r *runningServe) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, fmt.Sprintf("postgres://tributary@%s/postgres?sslmode=disable", r.pg))
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads /metrics into series → value, a series being the metric's
// name with its labels as exposed ("tributary_view_rows{schema=\"public\",view=\"v\"}").
func (r *runningServe) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, "http://"+r.metrics+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func (r *runningServe) readyz(t *testing.T) (int, metrics.Readiness) {
	t.Helper()
	code, body := httpGet(t, "http://"+r.metrics+"/readyz")
	var rd metrics.Readiness
	if err := json.Unmarshal([]byte(body), &rd); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return code, rd
}

func wantMetric(t *testing.T, m map[string]float64, series string, want float64) {
	t.Helper()
	got, ok := m[series]
	if !ok {
		t.Errorf("%s is not exposed", series)
	} else if got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

// TestServeDuringRestore holds a restart at one restore phase and checks
// what an operator sees meanwhile: the process is live, not ready, /readyz
// and /metrics show the restore's progress, and clients are refused with
// FATAL 57P03 naming it; once released, normal service.
func TestServeDuringRestore(t *testing.T) {
	dir := t.TempDir()
	// History: a table and an aggregate view, a checkpoint of 300 rows,
	// then a tail of 7 write batches after it.
	func() {
		l, err := storage.OpenPebble(dir, &storage.PebbleOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := sql.NewEngine(sql.EngineOptions{Log: l, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TickInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		engExec(t, eng, `CREATE TABLE t (k int PRIMARY KEY, v int)`)
		engExec(t, eng, `CREATE MATERIALIZED VIEW agg AS SELECT k % 10 AS g, count(*) AS n, sum(v) AS s FROM t GROUP BY k % 10`)
		engExec(t, eng, `INSERT INTO t SELECT g, g * 2 FROM generate_series(1, 300) AS g`)
		if _, err := eng.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range 7 {
			engExec(t, eng, fmt.Sprintf(`INSERT INTO t VALUES (%d, 1)`, 1000+i))
		}
	}()

	reached, release := make(chan struct{}), make(chan struct{})
	r := startServe(t, dir, func(phase string) {
		if phase == sql.PhaseRestoringViews {
			close(reached)
			<-release
		}
	})
	<-reached

	if code, body := httpGet(t, "http://"+r.metrics+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while restoring: %d %s", code, body)
	}
	code, rd := r.readyz(t)
	if code != http.StatusServiceUnavailable || rd.Status != "starting" || rd.Restore.Phase != sql.PhaseRestoringViews ||
		rd.Restore.RowsLoaded != 300 || rd.Restore.TablesLoaded != 1 || rd.Restore.CatalogRecords != 2 || rd.Restore.CheckpointTime == 0 {
		t.Errorf("/readyz while restoring: %d %+v", code, rd)
	}
	m := r.scrape(t)
	wantMetric(t, m, "tributary_ready", 0)
	wantMetric(t, m, `tributary_restore_phase{phase="restoring materialized views"}`, 1)
	wantMetric(t, m, `tributary_restore_phase{phase="done"}`, 0)
	wantMetric(t, m, "tributary_restore_rows_loaded", 300)
	wantMetric(t, m, "tributary_restore_catalog_records", 2)
	wantMetric(t, m, "tributary_restore_tail_batches", 0)
	if _, ok := m["tributary_commits_total"]; ok {
		t.Error("engine metrics are exposed before the engine restored")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.connect(ctx)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57P03" || pe.Severity != "FATAL" || pe.Message != "the database system is starting up" ||
		!strings.Contains(pe.Detail, "restoring materialized views") || !strings.Contains(pe.Detail, "300 rows loaded into 1 table,") {
		t.Fatalf("connecting while restoring: %v (%#v)", err, pe)
	}
	t.Logf("pgx while restoring: %v; DETAIL: %s", err, pe.Detail)
	if m := r.scrape(t); m["tributary_connections_refused_total"] < 1 {
		t.Errorf("tributary_connections_refused_total = %v after a refused connection", m["tributary_connections_refused_total"])
	}

	close(release)
	<-r.ready
	code, rd = r.readyz(t)
	if code != http.StatusOK || rd.Status != "ready" || rd.Restore.Phase != sql.PhaseDone || rd.Restore.TailBatches != 7 || rd.Restore.ViewsRestored != 1 || rd.Restore.ViewsRecomputed != 0 {
		t.Errorf("/readyz after the restore: %d %+v", code, rd)
	}
	conn, err := r.connect(ctx)
	if err != nil {
		t.Fatalf("connecting after the restore: %v", err)
	}
	defer conn.Close(ctx)
	var n, groups int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM agg)`).Scan(&n, &groups); err != nil || n != 307 || groups != 10 {
		t.Fatalf("after the restore: %d rows, %d groups, %v", n, groups, err)
	}
	var phase string
	if err := conn.QueryRow(ctx, `SELECT phase FROM tb_catalog.restart`).Scan(&phase); err != nil || phase != "done" {
		t.Errorf("tb_catalog.restart: %q %v", phase, err)
	}
	m = r.scrape(t)
	wantMetric(t, m, "tributary_ready", 1)
	wantMetric(t, m, `tributary_restore_phase{phase="done"}`, 1)
	wantMetric(t, m, "tributary_restore_tail_batches", 7)
	wantMetric(t, m, "tributary_restore_views_recomputed", 0)
	wantMetric(t, m, "tributary_restore_views_restored", 1)
	wantMetric(t, m, `tributary_view_rows{schema="public",view="agg"}`, 10)
	wantMetric(t, m, "tributary_checkpoint_last_rows", 300)
}

// TestMetricsAfterWrites checks the engine's counters and gauges against
// what the writes did and what SELECT says.
func TestMetricsAfterWrites(t *testing.T) {
	dir := t.TempDir()
	r := startServe(t, dir, nil)
	<-r.ready
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := r.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE t (k int PRIMARY KEY, v int)`)
	mustExec(`CREATE MATERIALIZED VIEW agg AS SELECT k % 7 AS g, count(*) AS n FROM t GROUP BY k % 7`)
	mustExec(`CREATE MATERIALIZED VIEW big AS SELECT k FROM t WHERE v > 10`)
	mustExec(`CREATE TABLE ev (id int, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '10 seconds')`)
	mustExec(`CREATE MATERIALIZED VIEW per_window AS SELECT window_start, count(*) AS n FROM TUMBLE(ev, ts, INTERVAL '10 seconds') GROUP BY window_start EMIT ON WINDOW CLOSE`)
	for i := range 20 {
		mustExec(`INSERT INTO t VALUES ($1, $2)`, i, i) // 20 commits, 20 updates
	}
	mustExec(`INSERT INTO t VALUES (100, 50), (101, 51), (102, 52)`) // 1 commit, 3 updates
	mustExec(`UPDATE t SET v = 99 WHERE k = 0`)                      // 1 commit, 2 updates
	mustExec(`INSERT INTO ev VALUES (1, '2024-01-01 10:00:05'), (2, '2024-01-01 10:00:31')`)
	mustExec(`INSERT INTO ev VALUES (3, '2024-01-01 10:00:08')`) // late: its window closed
	mustExec(`CHECKPOINT`)
	// Failures: a duplicate key (class 23), an unknown table and a syntax
	// error (class 42).
	if _, err := conn.Exec(ctx, `INSERT INTO t VALUES (1, 1)`); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := conn.Exec(ctx, `SELECT * FROM nosuch`); err == nil {
		t.Fatal("unknown table accepted")
	}
	if _, err := conn.Exec(ctx, `SELEC 1`); err == nil {
		t.Fatal("syntax error accepted")
	}

	var aggRows, bigRows int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM agg), (SELECT count(*) FROM big)`).Scan(&aggRows, &bigRows); err != nil {
		t.Fatal(err)
	}
	m := r.scrape(t)
	wantMetric(t, m, "tributary_ready", 1)
	wantMetric(t, m, "tributary_commits_total", 20+1+1+2)
	wantMetric(t, m, "tributary_rows_written_total", 20+3+2+2+1)
	wantMetric(t, m, `tributary_view_rows{schema="public",view="agg"}`, float64(aggRows))
	wantMetric(t, m, `tributary_view_rows{schema="public",view="big"}`, float64(bigRows))
	if aggRows != 7 || bigRows != 9+3+1 {
		t.Errorf("agg has %d rows, big %d; want 7 and 13", aggRows, bigRows)
	}
	// Every commit that touched t stepped agg; the ev writes did not.
	wantMetric(t, m, `tributary_view_steps_total{schema="public",view="agg"}`, 22)
	if m[`tributary_view_step_seconds_total{schema="public",view="agg"}`] <= 0 {
		t.Error("no step time recorded for agg")
	}
	wantMetric(t, m, `tributary_view_late_rows_dropped_total{schema="public",view="per_window"}`, 1)
	// The watermark: 10:00:31 - 10 s.
	wm := time.Date(2024, 1, 1, 10, 0, 21, 0, time.UTC)
	wantMetric(t, m, `tributary_table_watermark_seconds{schema="public",table="ev"}`, float64(wm.Unix()))
	wantMetric(t, m, `tributary_queries_total{type="insert"}`, 20+1+2+1)
	wantMetric(t, m, `tributary_queries_total{type="update"}`, 1)
	wantMetric(t, m, `tributary_queries_total{type="ddl"}`, 5)
	wantMetric(t, m, `tributary_queries_total{type="invalid"}`, 1)
	wantMetric(t, m, `tributary_query_errors_total{class="23"}`, 1)
	wantMetric(t, m, `tributary_query_errors_total{class="42"}`, 2)
	wantMetric(t, m, "tributary_connections_open", 1)
	wantMetric(t, m, "tributary_checkpoints_written_total", 1)
	wantMetric(t, m, "tributary_checkpoint_last_rows", 23+3)
	wantMetric(t, m, "tributary_checkpoint_last_tables", 2)
	// Every commit and catalog record (5 DDL statements) was synced; one
	// sync may carry several of them.
	syncs, batches := m["tributary_wal_sync_duration_seconds_count"], m["tributary_wal_sync_group_batches_sum"]
	if syncs < 1 || syncs > 29 || batches != 24+5 {
		t.Errorf("%v syncs made %v log batches durable; want 29", syncs, batches)
	}

	// A source: 12 values in batches of 5, each batch one commit.
	mustExec(`CREATE SOURCE c FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', batch_size = 5, up_to = 12)`)
	for status := ""; status != "finished"; {
		if err := conn.QueryRow(ctx, `SELECT status FROM tb_catalog.sources`).Scan(&status); err != nil {
			t.Fatal(err)
		}
	}
	m = r.scrape(t)
	wantMetric(t, m, `tributary_source_rows_total{schema="public",source="c"}`, 12)
	wantMetric(t, m, `tributary_source_batches_total{schema="public",source="c"}`, 3)
	wantMetric(t, m, `tributary_source_healthy{schema="public",source="c"}`, 1)
	wantMetric(t, m, `tributary_source_malformed_total{schema="public",source="c"}`, 0)
	wantMetric(t, m, "tributary_commits_total", 20+1+1+2+3)
}

func engExec(t *testing.T, eng *sql.Engine, q string) {
	t.Helper()
	s := eng.NewSession(sql.SessionOptions{User: "tributary"})
	defer s.Close()
	sts, err := s.ParseStatements(q)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, st := range sts {
		p, err := s.Prepare(ctx, st, nil)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if _, err := s.Execute(ctx, p, nil); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
