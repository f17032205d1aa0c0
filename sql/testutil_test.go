package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// testSession drives one Session of a fresh Engine the way pgwire's simple
// query protocol does: parse, prepare, execute, one statement at a time.
type testSession struct {
	t   testing.TB
	e   *Engine
	s   *Session
	ctx context.Context
}

func newTestSession(t testing.TB) *testSession {
	t.Helper()
	e, err := NewEngine(EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
}

// exec runs every statement of q and returns the result of the last one.
// It stops at the first error.
func (ts *testSession) exec(q string) (*Result, error) {
	sts, err := ts.s.ParseStatements(q)
	if err != nil {
		return nil, err
	}
	var res *Result
	for _, st := range sts {
		p, err := ts.s.Prepare(ts.ctx, st, nil)
		if err != nil {
			return nil, err
		}
		res, err = ts.s.Execute(ts.ctx, p, nil)
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// mustExec is exec that fails the test on an error.
func (ts *testSession) mustExec(q string) *Result {
	ts.t.Helper()
	res, err := ts.exec(q)
	if err != nil {
		ts.t.Fatalf("%s: %v (SQLSTATE %s)", q, err, pgerror.CodeOf(err))
	}
	return res
}

// query runs q and returns its rows rendered as sorted text lines (see
// renderRows): a multiset, for comparing results whose order SQL leaves open.
func (ts *testSession) query(q string) ([]string, error) {
	res, err := ts.exec(q)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, fmt.Errorf("%s: no result", q)
	}
	out := renderRows(res.Rows)
	slices.Sort(out)
	return out, nil
}

// renderRows renders each row as its columns' PostgreSQL text forms joined
// by " | ", with NULL for a null.
func renderRows(rows []types.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, d := range r {
			if d.IsNull() {
				parts[j] = "NULL"
			} else {
				parts[j] = types.FormatText(d)
			}
		}
		out[i] = strings.Join(parts, " | ")
	}
	return out
}

// errCode is the SQLSTATE of err, "" for nil.
func errCode(err error) pgerror.Code {
	if err == nil {
		return ""
	}
	return pgerror.CodeOf(err)
}
