package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tributary-db/tributary/sqllogictest/pgtest"
)

// winQuestion is one window question asked of both engines: on Tributary
// with TUMBLE/HOP/SESSION (as a materialized view, kept incrementally, and
// as an ad-hoc query), on PostgreSQL in its own SQL (date_bin,
// generate_series, window functions).
type winQuestion struct {
	name, tributary, postgres string
}

// pgSessions numbers PostgreSQL's sessions: lag() marks the rows that start
// a session (no previous row of the key, or one more than the gap before)
// and a running sum of the marks numbers them (sid). Both windows order by
// (ts, id), one total order, so that of several rows at one time only the
// first can start a session.
func pgSessions(partition, tsExpr, from string) string {
	return fmt.Sprintf(`SELECT *, sum(brk) OVER (%[1]s ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS sid FROM (
			SELECT *, CASE WHEN ts - lag(ts) OVER (%[1]s ORDER BY ts, id) <= interval '%[2]d seconds' THEN 0 ELSE 1 END AS brk
			FROM (SELECT id, k, v, %[3]s AS ts FROM %[4]s) r WHERE ts IS NOT NULL) m`, partition, winGap, tsExpr, from)
}

// pgSession aggregates pgSessions per (key and) session; min/max bound it.
func pgSession(partition, selectKey, tsExpr, from string, aggs string) string {
	return fmt.Sprintf(`SELECT %[1]smin(ts), max(ts) + interval '%[2]d seconds', %[3]s FROM (%[4]s) n GROUP BY %[1]ssid`,
		selectKey, winGap, aggs, pgSessions(partition, tsExpr, from))
}

var winQuestions = []winQuestion{
	{"tumble",
		fmt.Sprintf(`SELECT window_start, window_end, count(*) AS n, sum(v) AS s FROM TUMBLE(ev, ts, INTERVAL '%d seconds') GROUP BY window_start, window_end`, winTumble),
		fmt.Sprintf(`SELECT date_bin('%[1]d seconds', ts, '1970-01-01'), date_bin('%[1]d seconds', ts, '1970-01-01') + interval '%[1]d seconds', count(*), sum(v)
			FROM ev WHERE ts IS NOT NULL GROUP BY 1, 2`, winTumble)},
	{"hop",
		fmt.Sprintf(`SELECT window_start, window_end, count(*) AS n, sum(v) AS s FROM HOP(ev, ts, INTERVAL '%d seconds', INTERVAL '%d seconds') GROUP BY window_start, window_end`, winSlide, winHop),
		fmt.Sprintf(`SELECT w.ws, w.ws + interval '%[2]d seconds', count(*), sum(v)
			FROM ev CROSS JOIN LATERAL (SELECT date_bin('%[1]d seconds', ev.ts, '1970-01-01') - i * interval '%[1]d seconds' AS ws
				FROM generate_series(0, %[2]d / %[1]d - 1) i) w
			WHERE ev.ts IS NOT NULL GROUP BY 1, 2`, winSlide, winHop)},
	{"session_by_key",
		fmt.Sprintf(`SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s, max(v) AS mx FROM SESSION(ev, ts, INTERVAL '%d seconds', k) GROUP BY k, window_start, window_end`, winGap),
		pgSession("PARTITION BY k", "k, ", "ts", "ev", "count(*), sum(v), max(v)")},
	{"session_rows",
		fmt.Sprintf(`SELECT id, window_start, window_end FROM SESSION(ev, ts, INTERVAL '%d seconds', k)`, winGap),
		fmt.Sprintf(`SELECT id, min(ts) OVER w, max(ts) OVER w + interval '%d seconds' FROM (%s) n WINDOW w AS (PARTITION BY k, sid)`,
			winGap, pgSessions("PARTITION BY k", "ts", "ev"))},
	{"session",
		fmt.Sprintf(`SELECT window_start, window_end, count(*) AS n, sum(v) AS s FROM SESSION(ev, ts, INTERVAL '%d seconds') GROUP BY window_start, window_end`, winGap),
		pgSession("", "", "ts", "ev", "count(*), sum(v)")},
	{"session_timestamptz",
		fmt.Sprintf(`SELECT window_start, window_end, count(*) AS n, min(v) AS mn FROM SESSION((SELECT v, ts::timestamptz AS tz FROM ev WHERE k IS DISTINCT FROM 1), tz, INTERVAL '%d seconds') GROUP BY window_start, window_end`, winGap),
		pgSession("", "", "ts::timestamptz", "ev WHERE k IS DISTINCT FROM 1", "count(*), min(v)")},
}

// TestWindowsMatchPostgres runs the same random stream of writes (late
// rows, updates, deletes) on Tributary and on a throwaway PostgreSQL and
// after every transaction compares the answers to the window questions:
// Tributary's materialized views and ad-hoc queries over TUMBLE, HOP and
// SESSION against PostgreSQL's date_bin, generate_series and window
// functions. Skipped only when PostgreSQL's binaries are not installed.
func TestWindowsMatchPostgres(t *testing.T) {
	bin, why := pgtest.Bin()
	if bin == "" {
		t.Skipf("no PostgreSQL to compare with: %s", why)
	}
	admin := pgtest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pgc, err := pgconn.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer pgc.Close(context.Background())
	pgQuery := func(q string) []string {
		t.Helper()
		res, err := pgc.Exec(ctx, q).ReadAll()
		if err != nil {
			t.Fatalf("PostgreSQL: %s: %v", q, err)
		}
		return renderPGResults(res)
	}
	const schema = `CREATE TABLE ev (id int PRIMARY KEY, k int, ts timestamp, v int)`
	pgQuery("SET TimeZone = 'UTC'")
	pgQuery(schema)

	seed := testSeed(t)
	steps := 120
	if *flagLong {
		steps = 1500
	}
	if testing.Short() {
		steps = 30
	}
	ts := newTestSession(t)
	ts.mustExec(schema)
	for _, q := range winQuestions {
		ts.mustExec("CREATE MATERIALIZED VIEW pg_" + q.name + " AS " + q.tributary)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x27d4eb2f165667c5))
	g := &winGen{rng: rng, clock: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC).Unix()}
	model := map[int]winEvent{} // only to pick existing ids
	for step := 1; step <= steps; step++ {
		g.clock += int64(rng.IntN(3))
		if rng.IntN(6) == 0 {
			g.clock += int64(5 + rng.IntN(20))
		}
		stmts := []string{"BEGIN"}
		for n := 1 + rng.IntN(5); n > 0; n-- {
			stmts = append(stmts, g.stmt(model))
		}
		stmts = append(stmts, "COMMIT")
		for _, q := range stmts {
			ts.mustExec(q)
			pgQuery(q)
		}
		for _, q := range winQuestions {
			want := pgQuery(q.postgres)
			for _, read := range []string{"SELECT * FROM pg_" + q.name, q.tributary} {
				got, err := ts.query(read)
				if err != nil {
					t.Fatalf("seed %d step %d: %s: %v", seed, step, read, err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d step %d: %s differs from PostgreSQL\nTributary: %s\n%s\nPostgreSQL: %s\n%s\nlast transaction:\n  %s",
						seed, step, q.name, read, indent(got), q.postgres, indent(want), strings.Join(stmts, "\n  "))
				}
			}
		}
	}
	t.Logf("seed %d: %d transactions, %d rows at the end, PostgreSQL agreed on all %d questions after each", seed, steps, len(model), len(winQuestions))
}

// renderPGResults renders a real PostgreSQL's text-format results as
// renderRows does Tributary's (" | " between columns, NULL for a null),
// sorted: a multiset to compare with the same query's rows here.
func renderPGResults(res []*pgconn.Result) []string {
	var out []string
	for _, r := range res {
		for _, row := range r.Rows {
			parts := make([]string, len(row))
			for i, c := range row {
				if c == nil {
					parts[i] = "NULL"
				} else {
					parts[i] = string(c)
				}
			}
			out = append(out, strings.Join(parts, " | "))
		}
	}
	slices.Sort(out)
	return out
}
