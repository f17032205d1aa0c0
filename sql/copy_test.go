package sql

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// copyFrom runs a COPY ... FROM STDIN statement through the Session API the
// way pgwire does: Execute, then the handler gets the chunks and Done.
func (ts *testSession) copyFrom(stmt string, chunks ...string) (*Result, error) {
	ts.t.Helper()
	res, err := ts.exec(stmt)
	if err != nil {
		return nil, err
	}
	if res.CopyIn == nil {
		ts.t.Fatalf("%s: no CopyIn handler", stmt)
	}
	for _, c := range chunks {
		if err := res.CopyIn.Data([]byte(c)); err != nil {
			res.CopyIn.Fail(err.Error())
			return nil, err
		}
	}
	return res.CopyIn.Done()
}

// splits returns data cut into chunks in several ways: whole, one byte at a
// time, and in two at every position, so that no record, escape, quote or
// CRLF boundary is assumed to be chunk-aligned.
func splits(data string) [][]string {
	out := [][]string{{data}}
	var bytes []string
	for i := range len(data) {
		bytes = append(bytes, data[i:i+1])
	}
	out = append(out, bytes)
	for i := 1; i < len(data); i++ {
		out = append(out, []string{data[:i], data[i:]})
	}
	return out
}

func (ts *testSession) mustQuery(q string) []string {
	ts.t.Helper()
	rows, err := ts.query(q)
	if err != nil {
		ts.t.Fatalf("%s: %v", q, err)
	}
	return rows
}

func TestCopyFromParsing(t *testing.T) {
	cases := []struct {
		name, table, stmt, data string
		want                    []string
	}{
		{
			name:  "text escapes, NULL, CRLF and end marker",
			table: "a int, b text, c text",
			stmt:  "COPY t FROM STDIN",
			data:  "1\tx\\ty\t\\N\r\n2\t\\\\N\t\\x41\\101\\n\r\n3\ta\\\tb\t\r\n\\.\r\nignored junk",
			want:  []string{"1 | x\ty | NULL", "2 | \\N | AA\n", "3 | a\tb | "},
		},
		{
			name:  "text without a final newline, custom delimiter and null",
			table: "a int, b text",
			stmt:  "COPY t FROM STDIN WITH (DELIMITER '|', NULL 'nil')",
			data:  "1|nil\n2|x\\|y\n3|",
			want:  []string{"1 | NULL", "2 | x|y", "3 | "},
		},
		{
			name:  "csv quoting, quoted newlines, header, CRLF",
			table: "a int, b text, c text",
			stmt:  "COPY t FROM STDIN WITH (FORMAT csv, HEADER)",
			data:  "a,b,c\r\n1,\"he said \"\"hi\"\"\",\r\n2,\"line1\nline2\",\"\"\r\n3,\"x,y\",plain\n",
			want:  []string{"1 | he said \"hi\" | NULL", "2 | line1\nline2 | ", "3 | x,y | plain"},
		},
		{
			name:  "csv delimiter, quote, escape and null options",
			table: "a int, b text",
			stmt:  `COPY t FROM STDIN WITH (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\', NULL 'NA')`,
			data:  "1;'it\\'s'\n2;NA\n3;'NA'\n4;\n",
			want:  []string{"1 | it's", "2 | NULL", "3 | NA", "4 | "},
		},
		{
			name:  "csv old syntax and force null options",
			table: "a int, b text, c text",
			stmt:  `COPY t FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (b), FORCE_NULL (c))`,
			data:  "1,,\"\"\n",
			want:  []string{"1 |  | NULL"},
		},
		{
			name:  "csv end marker",
			table: "a int",
			stmt:  "COPY t FROM STDIN CSV",
			data:  "1\n2\n\\.\n3\n",
			want:  []string{"1", "2"},
		},
		{
			name:  "header match",
			table: "a int, b text",
			stmt:  "COPY t FROM STDIN WITH (FORMAT csv, HEADER MATCH)",
			data:  "a,b\n1,x\n",
			want:  []string{"1 | x"},
		},
		{
			name:  "column list and defaults",
			table: "a int, b text DEFAULT 'dflt', c int",
			stmt:  "COPY t (c, a) FROM STDIN",
			data:  "10\t1\n\\N\t2\n",
			want:  []string{"1 | dflt | 10", "2 | dflt | NULL"},
		},
		{
			name:  "type modifiers apply as in INSERT",
			table: "a numeric(5,2), b varchar(3)",
			stmt:  "COPY t FROM STDIN",
			data:  "1.005\tab \n",
			want:  []string{"1.01 | ab "},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, chunks := range splits(c.data) {
				ts := newTestSession(t)
				ts.mustExec("CREATE TABLE t (" + c.table + ")")
				res, err := ts.copyFrom(c.stmt, chunks...)
				if err != nil {
					t.Fatalf("chunks %q: %v", chunks, err)
				}
				if want := "COPY " + strconv.Itoa(len(c.want)); res.Tag != want {
					t.Fatalf("chunks %q: tag %q, want %q", chunks, res.Tag, want)
				}
				got := ts.mustQuery("SELECT * FROM t")
				want := slices.Clone(c.want)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("chunks %q:\ngot  %q\nwant %q", chunks, got, want)
				}
			}
		})
	}
}

// TestCopyFromAtomic checks that a bad row anywhere aborts the whole COPY
// with the right SQLSTATE and line number, and applies nothing — also to a
// materialized view over the table.
func TestCopyFromAtomic(t *testing.T) {
	cases := []struct {
		name, stmt, data string
		code             pgerror.Code
		msg              string
	}{
		{"bad integer", "COPY t FROM STDIN", "1\ta\n2\tb\nx\tc\n4\td\n", pgerror.InvalidTextRepresentation, "COPY t, line 3, column a: invalid input syntax for type integer"},
		{"missing column", "COPY t FROM STDIN", "1\ta\n2\n3\tc\n", pgerror.BadCopyFileFormat, `COPY t, line 2: missing data for column "b"`},
		{"extra column", "COPY t FROM STDIN", "1\ta\n2\tb\n3\tc\tz\n", pgerror.BadCopyFileFormat, "COPY t, line 3: extra data after last expected column"},
		{"unterminated csv quote", "COPY t FROM STDIN CSV HEADER", "a,b\n1,a\n2,\"b\n", pgerror.BadCopyFileFormat, "COPY t, line 3: unterminated CSV quoted field"},
		{"after a quoted newline", "COPY t FROM STDIN CSV", "1,\"a\nb\"\nx,c\n", pgerror.InvalidTextRepresentation, "COPY t, line 3, column a"},
		{"not null", "COPY t FROM STDIN", "1\ta\n\\N\tb\n", pgerror.NotNullViolation, "COPY t, line 2: null value in column \"a\""},
		{"duplicate key in the data", "COPY t FROM STDIN", "1\ta\n2\tb\n1\tc\n", pgerror.UniqueViolation, "duplicate key value"},
		{"duplicate key with the table", "COPY t FROM STDIN", "5\ta\n100\tb\n", pgerror.UniqueViolation, "duplicate key value"},
		{"out of range", "COPY t FROM STDIN", "1\ta\n99999999999\tb\n", pgerror.NumericValueOutOfRange, "COPY t, line 2, column a"},
		{"header mismatch", "COPY t FROM STDIN (HEADER match)", "a\tc\n1\tx\n", pgerror.BadCopyFileFormat, `COPY t, line 1: column name mismatch in header line field 2: got "c", expected "b"`},
		{"invalid utf8", "COPY t FROM STDIN", "1\ta\n2\t\xff\n", pgerror.CharacterNotInRepertoire, "COPY t, line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestSession(t)
			ts.mustExec("CREATE TABLE t (a int PRIMARY KEY, b text)")
			ts.mustExec("INSERT INTO t VALUES (100, 'old')")
			ts.mustExec("CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t")
			_, err := ts.copyFrom(c.stmt, c.data)
			if errCode(err) != c.code {
				t.Fatalf("got %v (%s), want SQLSTATE %s", err, errCode(err), c.code)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("message %q does not contain %q", err.Error(), c.msg)
			}
			if got := ts.mustQuery("SELECT * FROM t"); !slices.Equal(got, []string{"100 | old"}) {
				t.Fatalf("table after a failed COPY: %q", got)
			}
			if got := ts.mustQuery("SELECT n FROM mv"); !slices.Equal(got, []string{"1"}) {
				t.Fatalf("view after a failed COPY: %q", got)
			}
		})
	}
}

func TestCopyFromMaterializedView(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (k text, v int)")
	ts.mustExec("CREATE MATERIALIZED VIEW mv AS SELECT k, sum(v) AS s, count(*) AS n FROM t GROUP BY k")
	if _, err := ts.copyFrom("COPY t FROM STDIN (FORMAT csv)", "a,1\nb,2\na,3\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.copyFrom("COPY t FROM STDIN", "b\t10\nc\t\\N\n"); err != nil {
		t.Fatal(err)
	}
	got := ts.mustQuery("SELECT * FROM mv")
	want := []string{"a | 4 | 2", "b | 12 | 2", "c | NULL | 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCopyFromTransaction(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (a int PRIMARY KEY)")
	ts.mustExec("BEGIN")
	if _, err := ts.copyFrom("COPY t FROM STDIN", "1\n2\n"); err != nil {
		t.Fatal(err)
	}
	if got := ts.mustQuery("SELECT count(*) FROM t"); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("the transaction does not see its COPY: %q", got)
	}
	// A second COPY in the same transaction sees the first one's keys.
	if _, err := ts.copyFrom("COPY t FROM STDIN", "2\n"); errCode(err) != pgerror.UniqueViolation {
		t.Fatalf("got %v, want 23505", err)
	}
	if _, err := ts.exec("SELECT 1"); errCode(err) != pgerror.InFailedSqlTransaction {
		t.Fatalf("after a failed COPY the transaction should be aborted, got %v", err)
	}
	ts.mustExec("ROLLBACK")
	if got := ts.mustQuery("SELECT count(*) FROM t"); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("rolled back COPY is visible: %q", got)
	}
	ts.mustExec("BEGIN")
	if _, err := ts.copyFrom("COPY t FROM STDIN", "1\n2\n"); err != nil {
		t.Fatal(err)
	}
	ts.mustExec("COMMIT")
	if got := ts.mustQuery("SELECT count(*) FROM t"); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("committed COPY: %q", got)
	}
}

func TestCopyFromFail(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (a int)")
	res := ts.mustExec("COPY t FROM STDIN")
	if err := res.CopyIn.Data([]byte("1\n2\n")); err != nil {
		t.Fatal(err)
	}
	res.CopyIn.Fail("client gave up")
	if got := ts.mustQuery("SELECT count(*) FROM t"); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("failed COPY applied rows: %q", got)
	}
}

func TestCopyTo(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (a int, b text, c float8)")
	ts.mustExec(`INSERT INTO t VALUES (1, 'tab	and \ backslash', 1.5), (2, NULL, NULL), (3, 'q"uote,comma', -0.25), (4, '', 2), (5, E'new\nline', 3)`)
	cases := []struct{ stmt, want string }{
		{"COPY (SELECT * FROM t ORDER BY a) TO STDOUT",
			"1\ttab\\tand \\\\ backslash\t1.5\n2\t\\N\t\\N\n3\tq\"uote,comma\t-0.25\n4\t\t2\n5\tnew\\nline\t3\n"},
		{"COPY (SELECT * FROM t ORDER BY a) TO STDOUT WITH (FORMAT csv, HEADER)",
			"a,b,c\n1,tab\tand \\ backslash,1.5\n2,,\n3,\"q\"\"uote,comma\",-0.25\n4,\"\",2\n5,\"new\nline\",3\n"},
		{"COPY (SELECT a, b FROM t WHERE a IN (2, 3) ORDER BY a) TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'NULL', FORCE_QUOTE (a))",
			"\"2\";NULL\n\"3\";\"q\"\"uote,comma\"\n"},
		{"COPY (SELECT a, b FROM t WHERE a < 3 ORDER BY a) TO STDOUT (DELIMITER ',', NULL '')",
			"1,tab\\tand \\\\ backslash\n2,\n"},
	}
	for _, c := range cases {
		res := ts.mustExec(c.stmt)
		if res.CopyOut == nil {
			t.Fatalf("%s: no CopyOut", c.stmt)
		}
		got := string(res.CopyOut.AppendHeader(nil))
		for _, r := range res.CopyOut.Rows {
			got = string(res.CopyOut.AppendRow([]byte(got), r))
		}
		if got != c.want {
			t.Errorf("%s:\ngot  %q\nwant %q", c.stmt, got, c.want)
		}
		if res.Tag != "COPY "+strconv.Itoa(len(res.CopyOut.Rows)) {
			t.Errorf("%s: tag %q", c.stmt, res.Tag)
		}
	}
}

// TestCopyRoundTrip copies a table out and back in, in text and CSV, and
// compares the contents.
func TestCopyRoundTrip(t *testing.T) {
	for _, opts := range []string{"", "WITH (FORMAT csv, HEADER)", "WITH (FORMAT csv, QUOTE '$', ESCAPE '^', DELIMITER '|')", "WITH (DELIMITER ';', HEADER)"} {
		ts := newTestSession(t)
		ts.mustExec("CREATE TABLE t (a int, b text, c date, d numeric)")
		ts.mustExec(`INSERT INTO t VALUES (1, 'a,b;c|d', '2024-02-29', 1.25), (2, NULL, NULL, NULL), (3, E'x\ty\nz\\\r', '1999-01-01', -3), (4, '', '2000-01-01', 0), (5, '$^"\.', '2000-01-02', 7), (6, '\.', '2000-01-03', 8)`)
		ts.mustExec("CREATE TABLE u (a int, b text, c date, d numeric)")
		res := ts.mustExec("COPY t TO STDOUT " + opts)
		data := res.CopyOut.AppendHeader(nil)
		for _, r := range res.CopyOut.Rows {
			data = res.CopyOut.AppendRow(data, r)
		}
		if _, err := ts.copyFrom("COPY u FROM STDIN "+opts, string(data)); err != nil {
			t.Fatalf("%s: %v\n%s", opts, err, data)
		}
		if a, b := ts.mustQuery("SELECT * FROM t"), ts.mustQuery("SELECT * FROM u"); !slices.Equal(a, b) {
			t.Fatalf("%s: round trip changed the rows:\n%q\n%q\ndata %q", opts, a, b, data)
		}
	}
}

func TestCopyErrors(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (a int, b text)")
	ts.mustExec("CREATE VIEW v AS SELECT a FROM t")
	cases := []struct {
		stmt string
		code pgerror.Code
	}{
		{"COPY nope FROM STDIN", pgerror.UndefinedTable},
		{"COPY t (z) FROM STDIN", pgerror.UndefinedColumn},
		{"COPY t (a, a) FROM STDIN", pgerror.DuplicateColumn},
		{"COPY t FROM '/etc/passwd'", pgerror.FeatureNotSupported},
		{"COPY t TO '/tmp/x'", pgerror.FeatureNotSupported},
		{"COPY t FROM STDIN WITH (FORMAT xml)", pgerror.InvalidParameterValue},
		{"COPY t FROM STDIN WITH (DELIMITER ',,')", pgerror.FeatureNotSupported},
		{"COPY t FROM STDIN WITH (QUOTE '\"')", pgerror.FeatureNotSupported},
		{"COPY t FROM STDIN WITH (FORMAT binary, HEADER)", pgerror.SyntaxError},
		{"COPY t FROM STDIN WITH (FORMAT csv, DELIMITER '\"')", pgerror.InvalidParameterValue},
		{"COPY t FROM STDIN WITH (BOGUS 1)", pgerror.SyntaxError},
		{"COPY t FROM STDIN WITH (HEADER, HEADER false)", pgerror.SyntaxError},
		{"COPY t FROM STDIN WITH (FORMAT csv, FORCE_QUOTE *)", pgerror.FeatureNotSupported},
		{"COPY t FROM STDIN WITH (FORMAT csv, FORCE_NULL (z))", pgerror.InvalidColumnReference},
		{"COPY t FROM STDIN WITH (ENCODING 'LATIN1')", pgerror.FeatureNotSupported},
		{"COPY v TO STDOUT", pgerror.WrongObjectType},
		{"COPY nope TO STDOUT", pgerror.UndefinedTable},
		{"COPY t (z) TO STDOUT", pgerror.UndefinedColumn},
		{"COPY v FROM STDIN", pgerror.WrongObjectType},
	}
	for _, c := range cases {
		if _, err := ts.exec(c.stmt); errCode(err) != c.code {
			t.Errorf("%s: got %v (%s), want %s", c.stmt, err, errCode(err), c.code)
		}
	}
}

// FuzzCopyFrom checks that the COPY parser never panics and that how the
// stream is cut into chunks never changes the outcome: the rows applied, or
// the error (SQLSTATE and message).
func FuzzCopyFrom(f *testing.F) {
	seeds := []string{
		"1\tx\n2\t\\N\n", "1\tx\\\ty\r\n\\.\r\n", "1,\"a\nb\"\r\n2,\"\"\"\"\n", "1\n", "x\ty\n", "\\x41\\101\t\\\n",
		"1,\"unterminated\n", "\r\r\n\n", "1\t\xff\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(i*3), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, csv bool) {
		stmt := "COPY t FROM STDIN"
		if csv {
			stmt += " CSV"
		}
		run := func(chunks ...string) string {
			ts := newTestSession(t)
			ts.mustExec("CREATE TABLE t (a int, b text)")
			res, err := ts.copyFrom(stmt, chunks...)
			if err != nil {
				return string(errCode(err)) + " " + err.Error()
			}
			return res.Tag + " " + strings.Join(ts.mustQuery("SELECT * FROM t"), "\n")
		}
		c := int(cut) % (len(data) + 1)
		whole, split := run(string(data)), run(string(data[:c]), string(data[c:]))
		if whole != split {
			t.Fatalf("cut at %d changed the outcome:\nwhole %q\nsplit %q", c, whole, split)
		}
		// Every chunk of two records or more parsed in two halves at once.
		old := parallelMinBytes
		parallelMinBytes = 1
		defer func() { parallelMinBytes = old }()
		if halves := run(string(data[:c]), string(data[c:])); halves != whole {
			t.Fatalf("parsing in halves changed the outcome:\nin order %q\nin halves %q", whole, halves)
		}
	})
}

// TestCopyParseInHalves compares COPYs of generated data parsed in order
// with the same parsed in two halves at once (consumeHalves): the same rows
// in the same order, or the same error at the same line, whatever the
// chunks, for text and CSV, with quoted newlines, CRLF and lone CR line
// ends, escapes, NULLs, an end marker, and a bad value or a missing column
// somewhere.
func TestCopyParseInHalves(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := 0; round < 60; round++ {
		csv := rng.IntN(2) == 0
		var b strings.Builder
		n := 50 + rng.IntN(400)
		// Half the rounds have one bad record somewhere (a value that is
		// not an int, or a missing column), a third of the text ones an
		// end marker.
		bad, end := -1, -1
		if rng.IntN(2) == 0 {
			bad = rng.IntN(n)
		}
		if !csv && rng.IntN(3) == 0 {
			end = rng.IntN(n)
		}
		for i := 0; i < n; i++ {
			a := strconv.Itoa(i)
			if csv && rng.IntN(20) == 0 {
				a = "" // NULL
			}
			if i == bad && rng.IntN(2) == 0 {
				a = "x"
			}
			var text string
			switch {
			case csv && rng.IntN(4) == 0:
				text = "\"line\nbreak, \"\"quoted\"\"\""
			case csv:
				text = "plain " + a
			case rng.IntN(4) == 0:
				text = "tab\\there\\nnewline"
			default:
				text = `\N`
			}
			sep := "\t"
			if csv {
				sep = ","
			}
			rec := a + sep + text
			if i == bad && a != "x" {
				rec = a // missing column
			}
			if i == end {
				rec = `\.`
			}
			b.WriteString(rec)
			b.WriteString([]string{"\n", "\r\n", "\n", "\n"}[rng.IntN(4)])
		}
		data := b.String()
		// id is numbered in row order (a late default, evaluated in Done),
		// so rows out of order would show.
		stmt := "COPY t (a, b) FROM STDIN"
		if csv {
			stmt += " CSV"
		}
		run := func(min int, chunks []string) string {
			old := parallelMinBytes
			parallelMinBytes = min
			defer func() { parallelMinBytes = old }()
			ts := newTestSession(t)
			ts.mustExec("CREATE TABLE t (a int, b text, id serial)")
			res, err := ts.copyFrom(stmt, chunks...)
			if err != nil {
				return string(errCode(err)) + " " + err.Error()
			}
			return res.Tag + "\n" + strings.Join(ts.mustQuery("SELECT id, a, b FROM t ORDER BY id"), "\n")
		}
		var chunks []string
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(len(data)/3+1))
			chunks, rest = append(chunks, rest[:k]), rest[k:]
		}
		inOrder := run(1<<30, []string{data})
		for _, c := range [][]string{{data}, chunks} {
			if got := run(1, c); got != inOrder {
				t.Fatalf("round %d (csv %t, %d chunks): in halves\n%.400s\nin order\n%.400s", round, csv, len(c), got, inOrder)
			}
		}
	}
}
