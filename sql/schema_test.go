package sql

import (
	"slices"
	"testing"
)

// TestSchemasRestart: objects created through a search path come back in
// the same schemas after a restart, views resolve their names as when they
// were created, and dropped schemas stay dropped.
func TestSchemasRestart(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE SCHEMA app")
	ts.mustExec("CREATE SCHEMA gone")
	ts.mustExec("CREATE TABLE gone.x (a int)")
	ts.mustExec("CREATE TABLE t (id int PRIMARY KEY, src text)")
	ts.mustExec("INSERT INTO t VALUES (1, 'public')")
	ts.mustExec("SET search_path TO app, public")
	ts.mustExec("CREATE TABLE t (id serial PRIMARY KEY, src text)")
	ts.mustExec("INSERT INTO t (src) VALUES ('app'), ('app')")
	ts.mustExec("CREATE VIEW v AS SELECT count(*) AS n, min(src) AS src FROM t")
	ts.mustExec("CREATE MATERIALIZED VIEW m AS SELECT src, count(*) AS n FROM t GROUP BY src")
	ts.mustExec("CREATE INDEX t_src ON t (src)")
	ts.mustExec("DROP SCHEMA gone CASCADE")
	ts.e.Close()

	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	want := []string{"app | m | m", "app | t | r", "app | t_id_seq | S", "app | t_pkey | i", "app | t_src | i", "app | v | v", "public | t | r", "public | t_pkey | i"}
	if got := ts.restoredRows("SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('app', 'public', 'gone')"); !slices.Equal(got, want) {
		t.Fatalf("relations after the restart:\n got  %q\n want %q", got, want)
	}
	// The default search path again: public.t unqualified, app's objects
	// qualified; the view still reads app.t.
	if got := ts.one("SELECT src FROM t"); got != "public" {
		t.Fatalf("public.t = %s", got)
	}
	if got := ts.one("SELECT n || ' ' || src FROM app.v"); got != "2 app" {
		t.Fatalf("app.v = %s", got)
	}
	ts.mustExec("INSERT INTO app.t (src) VALUES ('app')")
	if got := ts.one("SELECT n FROM app.m"); got != "3" {
		t.Fatalf("app.m = %s", got)
	}
	if got := ts.one("SELECT count(DISTINCT id) FROM app.t"); got != "3" {
		t.Fatalf("app.t ids: %s distinct, want 3", got)
	}
	if got := ts.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'gone'"); got != "0" {
		t.Fatal("a dropped schema came back")
	}
	ts.mustExec("CREATE SCHEMA gone")
}
