package sql

import (
	"slices"
	"testing"
)

// TestViewsShareArrangements: joins of materialized views that read a table
// directly by the same columns use one index of it, kept by the engine,
// and dropping the views releases it; results stay exact.
func TestViewsShareArrangements(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE o (id int PRIMARY KEY, k int, v int)")
	ts.mustExec("CREATE TABLE c (k int, name text)")
	ts.mustExec("INSERT INTO o VALUES (1, 1, 10), (2, 1, 20), (3, 2, 30)")
	ts.mustExec("INSERT INTO c VALUES (1, 'one'), (2, 'two')")
	ts.mustExec("CREATE MATERIALIZED VIEW j1 AS SELECT c.name, o.v FROM o JOIN c ON o.k = c.k")
	ts.mustExec("CREATE MATERIALIZED VIEW j2 AS SELECT c.name, sum(o.v) AS s FROM c JOIN o ON c.k = o.k GROUP BY c.name")

	indexOn := func(table string, col int) *tableIndex {
		o, _ := ts.e.mu.cat.lookup("public", table)
		return o.indexFor([]int{col})
	}
	x := indexOn("o", 1)
	if x == nil || x.users != 2 {
		t.Fatalf("o(k) index: %+v, want one shared by both views", x)
	}
	if y := indexOn("c", 0); y == nil || y.users != 2 {
		t.Fatalf("c(k) index: %+v, want one shared by both views", y)
	}
	ts.mustExec("INSERT INTO o VALUES (4, 2, 5)")
	ts.mustExec("UPDATE c SET k = 2 WHERE name = 'one'")
	for view, def := range map[string]string{
		"j1": "SELECT c.name, o.v FROM o JOIN c ON o.k = c.k",
		"j2": "SELECT c.name, sum(o.v) AS s FROM c JOIN o ON c.k = o.k GROUP BY c.name",
	} {
		got, err := ts.query("SELECT * FROM " + view)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ts.query(def)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s = %v, want %v", view, got, want)
		}
	}
	if got, _ := ts.query("SELECT * FROM j2"); !slices.Equal(got, []string{"one | 35", "two | 35"}) {
		t.Fatalf("j2 = %v", got)
	}
	ts.mustExec("DROP MATERIALIZED VIEW j1")
	if x.users != 1 {
		t.Fatalf("after dropping j1 the index has %d users, want 1", x.users)
	}
	ts.mustExec("DROP MATERIALIZED VIEW j2")
	if indexOn("o", 1) != nil || indexOn("c", 0) != nil {
		t.Fatal("indexes kept after their last view was dropped")
	}
}
