package sql

import (
	"strconv"
	"testing"
)

// TestSequenceRestart: a restarted engine never hands out a sequence value
// again (it continues after the logged reservation), and keeps serial and
// identity columns, setval, ALTER SEQUENCE RESTART and an exhausted
// sequence as they were.
func TestSequenceRestart(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE t (id bigserial PRIMARY KEY, v text)")
	ts.mustExec("CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY, v int)")
	ts.mustExec("CREATE SEQUENCE s")
	ts.mustExec("CREATE SEQUENCE r")
	ts.mustExec("CREATE SEQUENCE small MAXVALUE 3")
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		id := ts.one("INSERT INTO t (v) VALUES ('x') RETURNING id")
		seen[id] = true
	}
	ts.mustExec("INSERT INTO g (v) VALUES (1), (2)")
	if got := ts.one("SELECT nextval('s')"); got != "1" {
		t.Fatalf("nextval = %s", got)
	}
	ts.mustExec("SELECT setval('r', 500)")
	ts.mustExec("SELECT nextval('small'), nextval('small'), nextval('small')")
	ts.e.Close()

	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	for i := 0; i < 40; i++ {
		id := ts.one("INSERT INTO t (v) VALUES ('y') RETURNING id")
		if seen[id] {
			t.Fatalf("id %s handed out again after the restart", id)
		}
		n, _ := strconv.Atoi(id)
		if n <= 40 {
			t.Fatalf("id %d after the restart is not after the 40 used before", n)
		}
	}
	if got := ts.one("SELECT count(DISTINCT id) FROM t"); got != "80" {
		t.Fatalf("distinct ids = %s", got)
	}
	if got := ts.one("SELECT nextval('s') > 1"); got != "t" {
		t.Fatal("sequence s repeated a value")
	}
	if got := ts.one("SELECT nextval('r')"); got != "501" {
		t.Fatalf("after setval(500) and a restart nextval = %s, want 501", got)
	}
	if _, err := ts.exec("SELECT nextval('small')"); errCode(err) != "2200H" {
		t.Fatalf("an exhausted sequence after a restart: %v, want 2200H", err)
	}
	ts.mustExec("INSERT INTO g (v) VALUES (3)")
	if got := ts.one("SELECT count(DISTINCT id) FROM g"); got != "3" {
		t.Fatalf("identity ids after the restart: %s distinct, want 3", got)
	}
	if _, err := ts.exec("INSERT INTO g (id, v) VALUES (1, 1)"); errCode(err) != "428C9" {
		t.Fatalf("GENERATED ALWAYS after a restart: %v", err)
	}
}

// COPY fills a serial column from its sequence (under the write lock the
// sequence's log record needs), one value per row, never repeated.
func TestCopyFillsSerialColumns(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE s (id bigserial PRIMARY KEY, v text)")
	ts.mustExec("INSERT INTO s (v) VALUES ('before')")
	lines := ""
	for i := 0; i < 100; i++ {
		lines += "x\n"
	}
	if _, err := ts.copyFrom("COPY s (v) FROM STDIN", lines); err != nil {
		t.Fatal(err)
	}
	if got := ts.one("SELECT count(DISTINCT id) || ' ' || min(id) || ' ' || max(id) FROM s"); got != "101 1 101" {
		t.Fatalf("ids: %s, want 101 distinct from 1 to 101", got)
	}
}
