package parser

import (
	"strings"
	"testing"
)

func TestSubscribe(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want string // relation or "query", snapshot, progress, as of, up to
		ast  string // the wrapping statement's AST kind, "" for none
	}{
		{"SUBSCRIBE v", "v true false false false", ""},
		{"subscribe to s.v with (progress)", "s.v true true false false", ""},
		{`SUBSCRIBE "To" WITH (SNAPSHOT = false, PROGRESS = true)`, "To false true false false", ""},
		{"SUBSCRIBE v WITH (snapshot false) AS OF 5 UP TO 7", "v false false true true", ""},
		{"SUBSCRIBE (SELECT a FROM t WHERE b IN (SELECT 1)) UP TO mz_now() + INTERVAL '1s'", "query true false false true", ""},
		{"SUBSCRIBE v AS OF now() - INTERVAL '1 minute'", "v true false true false", ""},
		{"SUBSCRIBE v AS OF AT LEAST 5 UP TO 6", "v true false true true", ""},
		{"SUBSCRIBE v WITHIN TIMESTAMP ORDER BY a DESC, (b) WITH (PROGRESS) UP TO 6", "v true true false true", ""},
		{"SUBSCRIBE v WITH (PROGRESS) UP TO 6 AS OF 5 WITHIN TIMESTAMP ORDER BY a", "v true true true true", ""}, // any order
		{`DECLARE c CURSOR FOR SUBSCRIBE (SELECT 1 AS key) WITH(PROGRESS) AS OF AT LEAST TIMESTAMP '2026-01-01' ENVELOPE UPSERT (KEY ("key", b))`, "query true true true false", "declare"},
		{"COPY (SUBSCRIBE v WITH (PROGRESS)) TO STDOUT WITH (FORMAT csv)", "v true true false false", "copy"},
		{"DECLARE c CURSOR FOR SUBSCRIBE (SELECT 1) AS OF 3", "query true false true false", "declare"},
	} {
		sts, err := Parse(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if len(sts) != 1 || sts[0].Subscribe == nil {
			t.Fatalf("%s: no SUBSCRIBE", c.sql)
		}
		sub := sts[0].Subscribe
		what := "query"
		if sub.Relation != nil {
			what = strings.TrimPrefix(sub.Relation.Schemaname+"."+sub.Relation.Relname, ".")
		}
		got := strings.Join([]string{what, boolText(sub.Snapshot), boolText(sub.Progress), boolText(sub.AsOf != nil), boolText(sub.UpTo != nil)}, " ")
		if sub.Envelope != "" && strings.Join(sub.EnvelopeKey, ",") != "key,b" {
			t.Errorf("%s: envelope %s key %v", c.sql, sub.Envelope, sub.EnvelopeKey)
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.sql, got, c.want)
		}
		kind := ""
		switch {
		case sts[0].AST.GetCopyStmt() != nil:
			kind = "copy"
		case sts[0].AST.GetDeclareCursorStmt() != nil:
			kind = "declare"
		case sts[0].AST != nil:
			kind = "other"
		}
		if kind != c.ast {
			t.Errorf("%s: wrapped in %q, want %q", c.sql, kind, c.ast)
		}
	}
	for _, bad := range []string{
		"SUBSCRIBE", "SUBSCRIBE v junk", "SUBSCRIBE (INSERT INTO t VALUES (1))", "SUBSCRIBE v WITH (FOO)",
		"SUBSCRIBE v WITH (PROGRESS = 2)", "SUBSCRIBE v AS OF", "SUBSCRIBE v UP TO", "SUBSCRIBE ()",
		"COPY (SUBSCRIBE v TO STDOUT", "FETCH 1 c WITH (wait = 1)", "SUBSCRIBE v WITHIN TIMESTAMP ORDER BY",
		"SUBSCRIBE v WITHIN TIMESTAMP ORDER BY a,", "SUBSCRIBE v ENVELOPE UPSERT (KEY ())",
		"SUBSCRIBE v ENVELOPE UPSERT (KEY (a b))", "SUBSCRIBE v ENVELOPE FOO (KEY (a))", "SUBSCRIBE v UP TO 1 UP TO 2",
		"SUBSCRIBE v ENVELOPE UPSERT (KEY (a)) WITHIN TIMESTAMP ORDER BY a",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
	sts, err := Parse("FETCH 10 c WITH (TIMEOUT = '1.5s'); FETCH c")
	if err != nil || len(sts) != 2 || sts[0].Fetch == nil || sts[0].Fetch.Timeout != "1.5s" || sts[0].AST.GetFetchStmt() == nil || sts[1].Fetch != nil {
		t.Fatalf("FETCH WITH (TIMEOUT): %v %+v", err, sts)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// FuzzParseSubscribe: the token-level parsing of SUBSCRIBE, COPY
// (SUBSCRIBE), DECLARE ... FOR SUBSCRIBE and FETCH ... WITH never panics,
// and what it accepts has a relation or a query.
func FuzzParseSubscribe(f *testing.F) {
	for _, s := range []string{
		"SUBSCRIBE v WITH (snapshot false) AS OF 5 UP TO 7",
		"COPY (SUBSCRIBE (SELECT 1)) TO STDOUT",
		"DECLARE c CURSOR FOR SUBSCRIBE v",
		"FETCH 10 c WITH (TIMEOUT = '1s')",
		"SUBSCRIBE (SELECT (1)) AS OF (2) UP TO (3)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sts, err := Parse(q)
		if err != nil {
			return
		}
		for _, st := range sts {
			if sub := st.Subscribe; sub != nil && (sub.Relation == nil) == (sub.Query == nil) {
				t.Fatalf("%q: SUBSCRIBE with neither or both of a relation and a query", q)
			}
		}
	})
}
