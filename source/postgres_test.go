package source

import (
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/tributary-db/tributary/sql/types"
)

// TestPostgresPosition: the position's encoding round-trips, refuses what
// is not one, and prints as an LSN.
func TestPostgresPosition(t *testing.T) {
	p := &postgres{schema: "public", table: "t"}
	for _, want := range []postgresPosition{{lsn: 0, snapshotDone: true}, {lsn: 0x16B3748, snapshotDone: true}, {lsn: 1<<63 + 5}} {
		got, err := decodePostgresPosition(want.encode())
		if err != nil || got != want {
			t.Fatalf("%+v: decoded %+v, %v", want, got, err)
		}
	}
	if got := p.Describe(postgresPosition{lsn: 0x16B3748, snapshotDone: true}.encode()); got != "lsn 0/16B3748" {
		t.Fatalf("Describe: %q", got)
	}
	if got := p.Describe(nil); got != "postgres public.t (nothing read)" {
		t.Fatalf("Describe(nil): %q", got)
	}
	for _, bad := range [][]byte{{2, 0, 1}, {1}, {1, 0x80}, {1, 5, 1, 0}} {
		if _, err := decodePostgresPosition(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}

// TestPostgresTuples: pgoutput tuples become source rows by column name;
// a key tuple carries only the key; an unchanged TOASTed value comes from
// the old tuple or is an error.
func TestPostgresTuples(t *testing.T) {
	p := &postgres{schema: "public", table: "t", columns: []Column{{Name: "id", Type: types.Int8, NotNull: true}, {Name: "v", Type: types.Text}}, key: []int{0}}
	rel, err := p.relation(&pglogrepl.RelationMessage{Namespace: "public", RelationName: "t", ReplicaIdentity: 'd', Columns: []*pglogrepl.RelationMessageColumn{
		{Name: "v"}, {Name: "other"}, {Name: "id", Flags: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	text := func(s string) *pglogrepl.TupleDataColumn {
		return &pglogrepl.TupleDataColumn{DataType: pglogrepl.TupleDataTypeText, Data: []byte(s)}
	}
	null := &pglogrepl.TupleDataColumn{DataType: pglogrepl.TupleDataTypeNull}
	toast := &pglogrepl.TupleDataColumn{DataType: pglogrepl.TupleDataTypeToast}
	tuple := func(cols ...*pglogrepl.TupleDataColumn) *pglogrepl.TupleData {
		return &pglogrepl.TupleData{Columns: cols}
	}
	row, err := p.tuple(rel, tuple(text("hello"), text("x"), text("42")), nil)
	if err != nil || rowString(row) != "42 hello" {
		t.Fatalf("tuple: %v %v", row, err)
	}
	key, err := p.keyTuple(rel, tuple(null, null, text("7")))
	if err != nil || rowString(key) != "7 NULL" {
		t.Fatalf("key tuple: %v %v", key, err)
	}
	if _, err := p.tuple(rel, tuple(toast, null, text("1")), nil); err == nil {
		t.Fatal("an unchanged TOASTed value without an old tuple made a row")
	}
	if row, err := p.tuple(rel, tuple(toast, null, text("1")), tuple(text("big"), null, text("1"))); err != nil || rowString(row) != "1 big" {
		t.Fatalf("TOASTed value from the old tuple: %v %v", row, err)
	}
	if _, err := p.tuple(rel, tuple(text("v"), null, null), nil); err == nil {
		t.Fatal("a NULL key made a row")
	}
	if _, err := p.tuple(rel, tuple(text("v"), null, text("x")), nil); err == nil {
		t.Fatal("'x' converted to int8")
	}
	if _, err := p.relation(&pglogrepl.RelationMessage{ReplicaIdentity: 'd', Columns: []*pglogrepl.RelationMessageColumn{{Name: "v"}, {Name: "id"}}}); err == nil {
		t.Fatal("a key column outside the replica identity was accepted")
	}
	if _, err := p.relation(&pglogrepl.RelationMessage{ReplicaIdentity: 'd', Columns: []*pglogrepl.RelationMessageColumn{{Name: "id", Flags: 1}}}); err == nil {
		t.Fatal("a missing column was accepted")
	}
}

func rowString(r types.Row) string {
	s := ""
	for i, d := range r {
		if i > 0 {
			s += " "
		}
		if d.IsNull() {
			s += "NULL"
		} else {
			s += types.FormatText(d)
		}
	}
	return s
}

// FuzzPostgresPosition: any bytes decode without panicking, and what
// decodes encodes to a position that decodes the same.
func FuzzPostgresPosition(f *testing.F) {
	f.Add(postgresPosition{lsn: 0x16B3748, snapshotDone: true}.encode())
	f.Add([]byte{1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePostgresPosition(b)
		if err != nil || len(b) == 0 {
			return
		}
		if got, err := decodePostgresPosition(p.encode()); err != nil || got != p {
			t.Fatalf("%x: decoded %+v, re-decoded %+v (%v)", b, p, got, err)
		}
	})
}
