package sql

import (
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// Two transactions insert the same unique key: the first to commit wins,
// the second's COMMIT fails with 23505 and applies nothing.
func TestUniqueConflictAtCommit(t *testing.T) {
	a := newTestSession(t)
	b := a.otherSession(2)
	a.mustExec("CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE)")
	a.mustExec("BEGIN")
	b.mustExec("BEGIN")
	a.mustExec("INSERT INTO u VALUES (1, 'x')")
	b.mustExec("INSERT INTO u VALUES (2, 'x')")
	a.mustExec("COMMIT")
	if _, err := b.exec("COMMIT"); errCode(err) != pgerror.UniqueViolation {
		t.Fatalf("second commit: %v, want 23505", err)
	}
	if got := a.one("SELECT count(*) FROM u"); got != "1" {
		t.Fatalf("rows = %s, want 1", got)
	}
}

// The unique keys' counts are rebuilt on restart, from the log and from a
// checkpoint.
func TestUniqueAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec("CREATE TABLE u (id int, email text, CONSTRAINT u_email UNIQUE (email))")
	ts.mustExec("CREATE UNIQUE INDEX u_id ON u (id)")
	ts.mustExec("INSERT INTO u VALUES (1, 'x'), (2, 'y')")
	ts.mustExec("CHECKPOINT")
	ts.mustExec("INSERT INTO u VALUES (3, 'z')")
	ts.e.Close()

	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	for _, q := range []string{"INSERT INTO u VALUES (4, 'x')", "INSERT INTO u VALUES (4, 'z')", "INSERT INTO u VALUES (3, 'w')"} {
		if _, err := ts.exec(q); errCode(err) != pgerror.UniqueViolation {
			t.Fatalf("%s after a restart: %v, want 23505", q, err)
		}
	}
	ts.mustExec("INSERT INTO u VALUES (4, 'w')")
}
