package parser

import "testing"

func TestAsOf(t *testing.T) {
	for _, c := range []struct {
		sql, stmt string
		asOf      bool
	}{
		{"SELECT * FROM t AS OF 1700000000000", "SELECT * FROM t", true},
		{"SELECT count(*) FROM t WHERE x > 1 AS OF now() - INTERVAL '1 hour';", "SELECT count(*) FROM t WHERE x > 1", true},
		{"select a as of from t", "select a as of from t", false},            // a column named "of"
		{"SELECT 1 AS of", "SELECT 1 AS of", false},                          // likewise
		{"SELECT * FROM t AS OF", "SELECT * FROM t AS OF", false},            // a table alias "of"
		{"SELECT (SELECT 1 AS of) AS OF 5", "SELECT (SELECT 1 AS of)", true}, // only the top level counts
		{"SELECT 1 UNION SELECT 2 AS OF '2026-01-01'", "SELECT 1 UNION SELECT 2", true},
		{"SELECT 'AS OF 5'", "SELECT 'AS OF 5'", false},
		{"SELECT 1 -- AS OF 5", "SELECT 1 -- AS OF 5", false},
	} {
		sts, err := Parse(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if len(sts) != 1 || sts[0].AST == nil {
			t.Fatalf("%s: %d statements", c.sql, len(sts))
		}
		if sts[0].SQL != c.stmt || (sts[0].AsOf != nil) != c.asOf {
			t.Errorf("%s: statement %q, AS OF %v; want %q, %v", c.sql, sts[0].SQL, sts[0].AsOf != nil, c.stmt, c.asOf)
		}
	}
	for _, bad := range []string{"SELECT * FROM t AS OF 1 2", "INSERT INTO t VALUES (1) AS OF 5"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
}
