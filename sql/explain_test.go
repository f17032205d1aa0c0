package sql

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestExplain runs the datadriven files under testdata/explain, one fresh
// engine per file. Regenerate with -rewrite and review the diff: the
// expected plans are the documentation of what the binder and planner do.
//
// Commands:
//
//	exec       run the input's statements (DDL, DML); prints nothing on
//	           success, the error with its SQLSTATE otherwise
//	explain [optimized]
//	           print EXPLAIN of the input query: the optimized logical plan
//	           and the dataflow plan, or only the former (EXPLAIN prints
//	           shared plan nodes once per use, so the dataflow of a query
//	           with IN subqueries runs to thousands of lines)
//	query      run the input query and print its rows, sorted
func TestExplain(t *testing.T) {
	datadriven.Walk(t, "testdata/explain", func(t *testing.T, path string) {
		ts := newTestSession(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "exec":
				if _, err := ts.exec(td.Input); err != nil {
					return fmt.Sprintf("error %s: %v\n", errCode(err), err)
				}
				return ""
			case "explain":
				res, err := ts.exec("EXPLAIN " + td.Input)
				if err != nil {
					return fmt.Sprintf("error %s: %v\n", errCode(err), err)
				}
				out := strings.Join(renderRows(res.Rows), "\n") + "\n"
				if td.HasArg("optimized") {
					out, _, _ = strings.Cut(out, "\nDataflow:\n")
				}
				return out
			case "query":
				rows, err := ts.query(td.Input)
				if err != nil {
					return fmt.Sprintf("error %s: %v\n", errCode(err), err)
				}
				if len(rows) == 0 {
					return "(no rows)\n"
				}
				return strings.Join(slices.Clip(rows), "\n") + "\n"
			}
			t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
			return ""
		})
	})
}
