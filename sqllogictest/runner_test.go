package sqllogictest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5/pgconn"
)

// The runner's unit tests are datadriven files under testdata/runner (not
// *.slt or *.test, so "tributary slt sqllogictest/testdata" does not run
// them). Regenerate with -rewrite and review the diff. A datadriven input
// ends at its first "----" line, so scripts there write "~~~~" for the
// "----" that separates SQL from results.
//
// Commands:
//
//	parse [file=NAME] [crlf]      parse the input script, dump the records
//	render layout=L types=T [sort=S] [colnames]
//	                              render rows ('|'-separated, NULL, '' for
//	                              the empty string) as a query would
//	check [threshold=N] [engine=E]
//	                              verify one query record against the rows
//	                              after a "====" line; the label table and
//	                              threshold persist until "reset"
//	error                         does the header (first input line) accept
//	                              the error on the second line ("CODE: msg"
//	                              for a server error, else a client error)?
//	reset                         forget labels, threshold back to 8
func TestRunner(t *testing.T) {
	datadriven.Walk(t, "testdata/runner", func(t *testing.T, path string) {
		r := newTestRunner()
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "parse":
				return ddParse(t, td)
			case "render":
				return ddRender(t, td)
			case "check":
				return ddCheck(t, td, r)
			case "error":
				return ddError(t, td)
			case "reset":
				*r = *newTestRunner()
				return ""
			}
			t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
			return ""
		})
	})
}

// script turns a datadriven input into script text.
func script(input string) string {
	lines := strings.Split(input, "\n")
	for i, l := range lines {
		if l == "~~~~" {
			lines[i] = "----"
		}
	}
	return strings.Join(lines, "\n")
}

func newTestRunner() *runner {
	return &runner{opts: Options{Engine: DefaultEngine}, labels: map[string]string{}, threshold: 8}
}

func ddParse(t *testing.T, td *datadriven.TestData) string {
	name := "script.test"
	td.MaybeScanArgs(t, "file", &name)
	input := script(td.Input) + "\n"
	if td.HasArg("crlf") {
		input = strings.ReplaceAll(input, "\n", "\r\n")
	}
	recs, err := Parse(name, input)
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%d: %s\n", r.Line, describeRecord(&r))
	}
	return b.String()
}

func describeRecord(r *Record) string {
	var parts []string
	for _, c := range r.Conditions {
		if c.Only {
			parts = append(parts, "onlyif "+c.Engine)
		} else {
			parts = append(parts, "skipif "+c.Engine)
		}
	}
	if r.Connection != "" {
		parts = append(parts, "conn="+r.Connection)
	}
	switch r.Kind {
	case KindStatement:
		parts = append(parts, "statement")
	case KindQuery:
		parts = append(parts, "query", "types="+r.Types, r.Sort.String())
		if r.Label != "" {
			parts = append(parts, "label="+r.Label)
		}
		if r.ColNames {
			parts = append(parts, "colnames")
		}
	case KindSimple:
		parts = append(parts, "simple")
	case KindHashThreshold:
		parts = append(parts, "hash-threshold", strconv.Itoa(r.Threshold))
	case KindHalt:
		parts = append(parts, "halt")
	case KindSubtest:
		parts = append(parts, "subtest "+r.Name)
	case KindSleep:
		parts = append(parts, "sleep "+r.Duration.String())
	case KindControl:
		parts = append(parts, "control "+strings.Join(r.Control, " "))
	}
	if r.Counted() {
		if r.Layout == RowWise {
			parts = append(parts, "rowwise")
		} else {
			parts = append(parts, "valuewise")
		}
	}
	if r.Err != nil {
		parts = append(parts, "error("+describeExpectedError(r.Err)+")")
	}
	if r.Count >= 0 {
		parts = append(parts, fmt.Sprintf("count=%d", r.Count))
	}
	if r.Retry != nil {
		parts = append(parts, fmt.Sprintf("retry=%d backoff=%s", r.Retry.Attempts, r.Retry.Backoff))
	}
	s := strings.Join(parts, " ")
	if r.SQL != "" {
		s += fmt.Sprintf("\n  sql: %q", r.SQL)
	}
	if r.HasResults {
		s += fmt.Sprintf("\n  expected: %q", r.Expected)
	}
	return s
}

// parseRows reads '|'-separated test rows: NULL is SQL NULL and ” the
// empty string.
func parseRows(lines []string) [][]Value {
	var rows [][]Value
	for _, l := range lines {
		var row []Value
		for _, f := range strings.Split(l, "|") {
			switch f {
			case "NULL":
				row = append(row, Value{Null: true})
			case "''":
				row = append(row, Value{})
			default:
				row = append(row, Value{Text: f})
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func ddRender(t *testing.T, td *datadriven.TestData) string {
	var layout, types, sortMode string
	td.ScanArgs(t, "layout", &layout)
	td.ScanArgs(t, "types", &types)
	td.MaybeScanArgs(t, "sort", &sortMode)
	rec := &Record{Kind: KindQuery, Types: types, ColNames: td.HasArg("colnames")}
	if layout == "rowwise" {
		rec.Layout = RowWise
	}
	switch sortMode {
	case "rowsort":
		rec.Sort = RowSort
	case "valuesort":
		rec.Sort = ValueSort
	}
	var lines []string
	if td.Input != "" {
		lines = strings.Split(td.Input, "\n")
	}
	names := make([]string, len(types))
	for i := range names {
		names[i] = fmt.Sprintf("col %d", i+1)
	}
	out := render(rec, names, parseRows(lines))
	return strings.Join(out.lines, "\n") + "\n" + hashLine(len(out.values), hashValues(out.values)) + "\n"
}

func ddCheck(t *testing.T, td *datadriven.TestData, r *runner) string {
	td.MaybeScanArgs(t, "threshold", &r.threshold)
	td.MaybeScanArgs(t, "engine", &r.opts.Engine)
	name := "check.test"
	td.MaybeScanArgs(t, "file", &name)
	text, actual, _ := strings.Cut(td.Input, "\n====\n")
	recs, err := Parse(name, script(text))
	if err != nil {
		return "error: " + err.Error()
	}
	if len(recs) != 1 || recs[0].Kind != KindQuery {
		t.Fatalf("%s: check needs exactly one query record", td.Pos)
	}
	rec := &recs[0]
	if r.skipped(rec) {
		r.noteSkipped(rec)
		return "skipped\n"
	}
	var lines []string
	if actual != "" {
		lines = strings.Split(actual, "\n")
	}
	rows := parseRows(lines)
	ncols := len(rec.Types)
	if len(rows) > 0 {
		ncols = len(rows[0])
	}
	res := stmtResult{names: make([]string, ncols), rows: rows}
	if f := r.checkQuery(rec, res); f != nil {
		return fmt.Sprintf("FAIL\nexpected:\n%s\ngot:\n%s\n", f.Expected, f.Got)
	}
	return "ok\n"
}

func ddError(t *testing.T, td *datadriven.TestData) string {
	header, spec, _ := strings.Cut(td.Input, "\n")
	var err error
	if code, msg, ok := strings.Cut(spec, ": "); ok && len(code) == 5 {
		err = &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg}
	} else {
		err = errors.New(spec)
	}
	e, perr := parseExpectedError(strings.TrimPrefix(strings.TrimPrefix(header, "statement "), "query "))
	if perr != nil {
		return "parse error: " + perr.Error() + "\n"
	}
	if matchError(e, err) {
		return "match\n"
	}
	return "no match\n"
}

// TestIncludeAndFiles checks include expansion and directory walking on
// real files.
func TestIncludeAndFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("suite/b.slt", "statement ok\nSELECT 'b'\n\ninclude parts/*.slt.part\n")
	write("suite/a.test", "statement ok\nSELECT 'a'\n")
	write("suite/parts/2.slt.part", "statement ok\nSELECT 2\n")
	write("suite/parts/1.slt.part", "statement ok\nSELECT 1\n")
	write("suite/notes.txt", "not a script\n")

	files, err := CollectFiles([]string{filepath.Join(dir, "suite")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, " "), "suite/a.test suite/b.slt"; got != want {
		t.Errorf("CollectFiles names = %q, want %q", got, want)
	}

	recs, err := ParseFile(filepath.Join(dir, "suite/b.slt"))
	if err != nil {
		t.Fatal(err)
	}
	var sqls []string
	for _, r := range recs {
		sqls = append(sqls, r.SQL)
	}
	if got, want := strings.Join(sqls, ", "), "SELECT 'b', SELECT 1, SELECT 2"; got != want {
		t.Errorf("included SQL = %q, want %q", got, want)
	}

	write("suite/bad.slt", "include nothing/*.slt.part\n")
	if _, err := ParseFile(filepath.Join(dir, "suite/bad.slt")); err == nil {
		t.Error("include of an empty glob parsed without error")
	}
}
