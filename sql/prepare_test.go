package sql

import (
	"context"
	"testing"

	"github.com/tributary-db/tributary/sql/types"
)

// prepare parses and prepares one statement, leaving parameter types to
// inference as a driver that sends no OIDs does.
func prepare(t *testing.T, s *Session, q string) *Prepared {
	t.Helper()
	sts, err := s.ParseStatements(q)
	if err != nil || len(sts) != 1 {
		t.Fatalf("parse %q: %v", q, err)
	}
	p, err := s.Prepare(context.Background(), sts[0], nil)
	if err != nil {
		t.Fatalf("prepare %q: %v", q, err)
	}
	return p
}

func TestPreparedStatementsInferParameterTypes(t *testing.T) {
	e, _ := NewEngine(EngineOptions{})
	s := e.NewSession(SessionOptions{})
	ctx := context.Background()
	if _, err := s.Execute(ctx, prepare(t, s, "CREATE TABLE t (a int PRIMARY KEY, b text, c numeric)"), nil); err != nil {
		t.Fatal(err)
	}
	ins := prepare(t, s, "INSERT INTO t VALUES ($1, $2, $3)")
	if got, want := ins.ParamTypes, []types.Type{types.Int4, types.Text, types.Numeric}; !equalTypes(got, want) {
		t.Fatalf("INSERT parameter types = %v, want %v", got, want)
	}
	for i := 1; i <= 3; i++ {
		c, _ := types.ParseText(types.Numeric, "1.5")
		if _, err := s.Execute(ctx, ins, []types.Datum{types.NewInt4(int32(i)), types.NewText("x"), c}); err != nil {
			t.Fatalf("execute %d: %v", i, err)
		}
	}
	sel := prepare(t, s, "SELECT b, c FROM t WHERE a = $1 OR a > $2 + 1")
	if got, want := sel.ParamTypes, []types.Type{types.Int4, types.Int4}; !equalTypes(got, want) {
		t.Fatalf("SELECT parameter types = %v, want %v", got, want)
	}
	if len(sel.Columns) != 2 || sel.Columns[0].Type != types.Text || sel.Columns[1].Type != types.Numeric {
		t.Fatalf("SELECT columns = %+v", sel.Columns)
	}
	res, err := s.Execute(ctx, sel, []types.Datum{types.NewInt4(1), types.NewInt4(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 {
		t.Fatalf("got %d rows, want 2 (a = 1 and a = 3)", len(res.Rows))
	}
}

func equalTypes(a, b []types.Type) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
