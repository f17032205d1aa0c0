package sql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// copyRows returns the text-format rows id\tnote for ids in [from, to).
func copyRows(from, to int) string {
	var sb strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&sb, "%d\tnote %d\n", i, i)
	}
	return sb.String()
}

// TestCopyPrimaryKeyCheck covers the primary-key check of large COPYs in
// key order (keysAscendPastTable: one comparison per row) and not: the
// same answers either way — the first failing row fails with its key, and
// nothing is applied.
func TestCopyPrimaryKeyCheck(t *testing.T) {
	const n = 10_000
	cases := []struct {
		name   string
		data   string
		code   pgerror.Code
		detail string
	}{
		{name: "in key order", data: copyRows(0, n)},
		{name: "out of order", data: copyRows(n/2, n) + copyRows(0, n/2)},
		{name: "taken by the table, in order", data: copyRows(n, 2*n+1),
			code: pgerror.UniqueViolation, detail: fmt.Sprintf("Key (id)=(%d) already exists.", 2*n)},
		{name: "the table's greatest key first", data: copyRows(2*n, 2*n+5),
			code: pgerror.UniqueViolation, detail: fmt.Sprintf("Key (id)=(%d) already exists.", 2*n)},
		{name: "taken by the table, out of order", data: copyRows(0, n) + "-1\tx\n",
			code: pgerror.UniqueViolation, detail: "Key (id)=(-1) already exists."},
		{name: "twice in the data", data: copyRows(0, n) + "5\tagain\n",
			code: pgerror.UniqueViolation, detail: "Key (id)=(5) already exists."},
		{name: "twice in a row", data: copyRows(0, n) + fmt.Sprintf("%d\tagain\n", n-1),
			code: pgerror.UniqueViolation, detail: fmt.Sprintf("Key (id)=(%d) already exists.", n-1)},
		{name: "first failure wins", data: copyRows(0, 10) + "3\tagain\n" + copyRows(10, n) + "-1\tx\n",
			code: pgerror.UniqueViolation, detail: "Key (id)=(3) already exists."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestSession(t)
			ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, note text)")
			ts.mustExec(fmt.Sprintf("INSERT INTO t VALUES (-1, 'old'), (%d, 'old')", 2*n))
			ts.mustExec("CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t")
			_, err := ts.copyFrom("COPY t FROM STDIN", c.data)
			if errCode(err) != c.code {
				t.Fatalf("got %v (SQLSTATE %s), want SQLSTATE %q", err, errCode(err), c.code)
			}
			want := "2"
			if c.code == "" {
				want = fmt.Sprint(n + 2)
			} else {
				var pe *pgerror.Error
				if !errors.As(err, &pe) || pe.Detail != c.detail {
					t.Fatalf("error %v: detail %q, want %q", err, pe.Detail, c.detail)
				}
			}
			if got := ts.mustQuery("SELECT n FROM mv"); !slices.Equal(got, []string{want}) {
				t.Fatalf("count after the COPY: %q, want %s", got, want)
			}
		})
	}
}

// TestKeysAscendPastTable checks when the one-comparison key check
// applies: it must never pass a batch whose keys could be taken.
func TestKeysAscendPastTable(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, note text)")
	ts.mustExec("CREATE TABLE s (note text, id int8 PRIMARY KEY)")
	ts.mustExec("CREATE TABLE c (id char(3) PRIMARY KEY)")
	ts.mustExec("INSERT INTO t VALUES (10, 'x')")
	obj := func(name string) *Object {
		o, ok := ts.e.mu.cat.lookup("public", name)
		if !ok {
			t.Fatalf("no table %s", name)
		}
		return o
	}
	ins := func(diff int64, ids ...int64) []dataflow.Update {
		var out []dataflow.Update
		for _, id := range ids {
			out = append(out, dataflow.Update{Row: types.Row{types.NewInt(types.Int8, id), types.NewText("n")}, Diff: diff})
		}
		return out
	}
	for _, c := range []struct {
		name  string
		table string
		ups   []dataflow.Update
		want  bool
	}{
		{"ascending past the table", "t", ins(1, 11, 12, 20), true},
		{"starts at the table's greatest key", "t", ins(1, 10, 12), false},
		{"starts below it", "t", ins(1, 5, 12), false},
		{"not ascending", "t", ins(1, 11, 13, 12), false},
		{"a repeat", "t", ins(1, 11, 11), false},
		{"a row twice", "t", ins(2, 11), false},
		{"NULL key", "t", []dataflow.Update{{Row: types.Row{types.Null(types.Int8), types.NewText("n")}, Diff: 1}}, false},
		{"key not the leading column", "s", ins(1, 1, 2), false},
		{"char key (trailing blanks)", "c", []dataflow.Update{{Row: types.Row{types.NewText("a")}, Diff: 1}}, false},
	} {
		if got := obj(c.table).keysAscendPastTable(c.ups); got != c.want {
			t.Errorf("%s: got %t, want %t", c.name, got, c.want)
		}
	}
}

// TestPrimaryKeyByContents covers primary keys on the leading columns,
// which the contents' B-tree answers for (no arrangement until a join
// needs one): lookups by key of the column's type and of others, the key
// checks of INSERT, UPDATE and COMMIT, and a join that builds the
// arrangement, which then stays current.
func TestPrimaryKeyByContents(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (id int8 PRIMARY KEY, note text)")
	ts.mustExec("CREATE TABLE c (a text, b int, v int, PRIMARY KEY (a, b))")
	ts.mustExec("CREATE TABLE late (v int, id int PRIMARY KEY)")
	ts.mustExec("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	ts.mustExec("INSERT INTO c VALUES ('x', 1, 10), ('x', 2, 20), ('y', 1, 30)")
	ts.mustExec("INSERT INTO late VALUES (10, 1), (20, 2)")
	obj := func(name string) *Object {
		o, _ := ts.e.mu.cat.lookup("public", name)
		return o
	}
	if obj("t").pk.arr != nil || obj("c").pk.arr != nil || obj("late").pk.arr == nil {
		t.Fatal("the key on the leading columns should be answered by the contents, the other by an arrangement")
	}
	check := func(q string, want ...string) {
		t.Helper()
		if got := ts.mustQuery(q); !slices.Equal(got, want) {
			t.Fatalf("%s: %q, want %q", q, got, want)
		}
	}
	check("SELECT note FROM t WHERE id = 2", "two")
	check("SELECT note FROM t WHERE id = 2::int2", "two")
	check("SELECT note FROM t WHERE id = 2.0", "two")
	check("SELECT note FROM t WHERE id = 2.5")
	check("SELECT v FROM c WHERE a = 'x' AND b = 2", "20")
	check("SELECT v FROM c WHERE a = 'x'::varchar AND b = 1", "10")
	check("SELECT v FROM late WHERE id = 2", "20")
	for _, q := range []string{"INSERT INTO t VALUES (2, 'again')", "INSERT INTO c VALUES ('y', 1, 0)", "UPDATE t SET id = 3 WHERE id = 1"} {
		if _, err := ts.exec(q); errCode(err) != pgerror.UniqueViolation {
			t.Fatalf("%s: %v, want a unique violation", q, err)
		}
	}
	ts.mustExec("BEGIN")
	ts.mustExec("INSERT INTO t VALUES (4, 'four')")
	other := &testSession{t: t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: ts.ctx}
	other.mustExec("INSERT INTO t VALUES (4, 'first')")
	if _, err := ts.exec("COMMIT"); errCode(err) != pgerror.UniqueViolation {
		t.Fatalf("COMMIT of a key another session took: %v, want a unique violation", err)
	}
	ts.mustExec("UPDATE t SET note = 'TWO' WHERE id = 2")
	ts.mustExec("DELETE FROM t WHERE id = 3")
	check("SELECT id, note FROM t", "1 | one", "2 | TWO", "4 | first")
	// A join on the key builds the arrangement from the contents; it
	// follows later writes.
	ts.mustExec("CREATE TABLE r (id int8, x int)")
	ts.mustExec("INSERT INTO r VALUES (1, 100), (2, 200), (5, 500)")
	ts.mustExec("CREATE MATERIALIZED VIEW j AS SELECT t.note, r.x FROM r JOIN t ON r.id = t.id")
	if obj("t").pk.arr == nil {
		t.Fatal("the join did not build the key's arrangement")
	}
	ts.mustExec("INSERT INTO t VALUES (5, 'five')")
	ts.mustExec("DELETE FROM t WHERE id = 1")
	check("SELECT note, x FROM j", "TWO | 200", "five | 500")
	check("SELECT note FROM t WHERE id = 5", "five")
	if _, err := ts.exec("INSERT INTO t VALUES (5, 'again')"); errCode(err) != pgerror.UniqueViolation {
		t.Fatalf("duplicate after the join: %v, want a unique violation", err)
	}
}
