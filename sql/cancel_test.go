package sql

import (
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// TestStatementTimeoutCancelsALongQuery: a cross join of a million rows per
// side cannot finish in 50 ms; statement_timeout must stop it with 57014,
// and the session keeps working.
func TestStatementTimeoutCancelsALongQuery(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE big (x int)")
	ts.mustExec("INSERT INTO big SELECT * FROM generate_series(1, 2000)")
	ts.mustExec("SET statement_timeout = 50")
	_, err := ts.exec("SELECT count(*) FROM big a, big b, big c WHERE a.x + b.x + c.x < 0")
	if code := errCode(err); code != pgerror.QueryCanceled {
		t.Fatalf("got %v (SQLSTATE %s), want 57014", err, code)
	}
	ts.mustExec("SET statement_timeout = 0")
	if got, err := ts.query("SELECT count(*) FROM big"); err != nil || got[0] != "2000" {
		t.Fatalf("after the timeout: %v, %v", got, err)
	}
}
