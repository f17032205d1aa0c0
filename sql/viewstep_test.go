package sql

import (
	"fmt"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// TestViewsStepInParallel writes batches large enough that the views of a
// level step in parallel (parallelStepRows): views of several operator
// kinds over one table, two of them joining the same shared indexes, and
// views over views (a second level) — one of which joins a first-level view
// with a table. After every write each view must equal a fresh run of its
// definition. A view that fails (division by zero) in a parallel level
// fails alone and recovers when the data lets it. Run with -race.
func TestViewsStepInParallel(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, k int, v int)")
	ts.mustExec("CREATE TABLE dims (k int PRIMARY KEY, label text)")
	ts.mustExec("INSERT INTO dims SELECT g, 'label ' || (g % 7) FROM generate_series(0, 99) AS g")
	for _, v := range []string{
		"per_k AS SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k",
		"top5 AS SELECT id, v FROM t ORDER BY v DESC, id LIMIT 5",
		"per_label AS SELECT d.label, count(*) AS n FROM t JOIN dims d ON t.k = d.k GROUP BY d.label",
		"sum_label AS SELECT d.label, sum(t.v) AS s FROM t JOIN dims d ON t.k = d.k GROUP BY d.label",
		"quotient AS SELECT id, 1000000 / (v - 7777) AS q FROM t",
		"busy_k AS SELECT k, n FROM per_k WHERE n > 50",
		"busy_label AS SELECT d.label, sum(p.n) AS n FROM per_k p JOIN dims d ON p.k = d.k GROUP BY d.label",
	} {
		ts.mustExec("CREATE MATERIALIZED VIEW " + v)
	}
	ts.mustExec("INSERT INTO t SELECT g, g % 100, (g * 37) % 5000 FROM generate_series(1, 6000) AS g")
	checkViewsFresh(t, ts)
	ts.mustExec("UPDATE t SET v = v + 1")
	checkViewsFresh(t, ts)
	ts.mustExec("UPDATE t SET k = (k + 1) % 100, v = v * 2 WHERE id % 3 = 0")
	checkViewsFresh(t, ts)

	// One row makes quotient divide by zero: it fails, the others follow.
	ts.mustExec("UPDATE t SET v = CASE WHEN id = 10 THEN 7777 ELSE v + 1 END")
	if _, err := ts.query("SELECT * FROM quotient"); pgerror.CodeOf(err) != pgerror.DivisionByZero {
		t.Fatalf("reading the failed view: %v, want division by zero", err)
	}
	for _, name := range []string{"per_k", "top5", "per_label", "sum_label", "busy_k", "busy_label"} {
		if got, want := ts.restoredRows("SELECT * FROM "+name), ts.restoredRows(matViewSQL(t, ts, name)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("view %s beside the failed one:\n%v\nits definition:\n%v", name, got, want)
		}
	}
	ts.mustExec("DELETE FROM t WHERE id % 2 = 0")
	checkViewsFresh(t, ts)
}

// matViewSQL returns a materialized view's defining query.
func matViewSQL(t *testing.T, ts *testSession, name string) string {
	t.Helper()
	defs := ts.restoredRows(fmt.Sprintf("SELECT sql FROM tb_catalog.objects WHERE name = '%s'", name))
	if len(defs) != 1 {
		t.Fatalf("definition of %s: %v", name, defs)
	}
	return defs[0]
}
