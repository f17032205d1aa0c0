package parser

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
)

func TestCreateSource(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want string // connector/generator/format/envelope | name | columns | options | watermark
	}{
		{"CREATE SOURCE c FROM LOAD GENERATOR COUNTER", "load generator/counter// | c | 0 | 0 | "},
		{"create source if not exists s.c from load generator counter with (tick_interval = '10ms', up_to = 5)", "load generator/counter// | s.c | 0 | 2 | "},
		{`CREATE SOURCE "Ev" (id int8, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '4 seconds') FROM KAFKA WITH (topic = 'ev') FORMAT JSON ENVELOPE UPSERT`, "kafka//json/upsert | Ev | 2 | 1 | ts"},
		{"CREATE SOURCE w (body text)\n  FROM WEBHOOK FORMAT TEXT", "webhook//text/ | w | 1 | 0 | "},
		{"CREATE SOURCE p FROM POSTGRES WITH (retention = '30 days') ENVELOPE DEBEZIUM FORMAT JSON", "postgres//json/debezium | p | 0 | 1 | "},
	} {
		sts, err := Parse(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		st := sts[0]
		if st.Streaming == nil || st.Streaming.Source == nil || st.AST.GetCreateStmt() == nil {
			t.Fatalf("%s: not a source: %+v", c.sql, st)
		}
		src, cs := st.Streaming.Source, st.AST.GetCreateStmt()
		wm := ""
		if st.Streaming.Watermark != nil {
			wm = st.Streaming.Watermark.Column
		}
		got := fmt.Sprintf("%s/%s/%s/%s | %s | %d | %d | %s", src.Connector, src.Generator, src.Format, src.Envelope,
			strings.TrimPrefix(cs.Relation.Schemaname+"."+cs.Relation.Relname, "."), len(cs.TableElts), len(cs.Options), wm)
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.sql, got, c.want)
		}
		if st.SQL != c.sql {
			t.Errorf("SQL %q, want the original text", st.SQL)
		}
	}
	for _, c := range []struct{ sql, msg string }{
		{"CREATE SOURCE c", "expected FROM"},
		{"CREATE SOURCE c FROM FILE", "expected KAFKA, POSTGRES, WEBHOOK or LOAD GENERATOR"},
		{"CREATE SOURCE c FROM LOAD GENERATOR", "expected KAFKA"},
		{"CREATE SOURCE c FROM KAFKA FORMAT JSON FORMAT TEXT", "FORMAT given twice"},
		{"CREATE SOURCE c FROM KAFKA PARTITIONS 3", "at PARTITIONS"},
		{"CREATE SOURCE c (a int FROM KAFKA", "unbalanced"},
		{"CREATE SOURCE c (a nosuch type x) FROM KAFKA", "syntax error"},
	} {
		_, err := Parse(c.sql)
		if err == nil || !strings.Contains(err.Error(), c.msg) || pgerror.CodeOf(err) != pgerror.SyntaxError {
			t.Errorf("%s: %v, want 42601 with %q", c.sql, err, c.msg)
		}
	}
}
