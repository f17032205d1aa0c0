package dataflow

import (
	"testing"

	"github.com/tributary-db/tributary/sql/types"
)

// TestArrangementKeyIdentity checks that a key is one key whichever map
// holds it: an integer, a float and a numeric of the same integral value
// are equal keys (types.RowKey encodes them alike), keys of other shapes
// stay apart, and counts, lookups, deletion and the checkpoint scan see
// every key once.
func TestArrangementKeyIdentity(t *testing.T) {
	a := NewArrangement()
	row := func(v ...types.Datum) types.Row { return types.Row(v) }
	i5, f5, f55 := types.NewInt(types.Int8, 5), types.NewFloat8(5), types.NewFloat8(5.5)
	i4 := types.NewInt(types.Int4, 5)
	txt := types.NewText("5")
	a.Add(row(i5), row(i5, txt), 1)
	a.Add(row(i5), row(i5, types.NewText("other")), 1) // a second row under 5
	a.Add(row(f5), row(f5, txt), 1)                    // same key as i5, another row
	a.Add(row(i4), row(i5, txt), 1)                    // same key and an equal row: count 2
	a.Add(row(f55), row(f55), 1)                       // a float key that is not an integer
	a.Add(row(txt), row(txt), 1)                       // a text key
	a.Add(row(i5, i5), row(i5, i5), 1)                 // two columns
	a.Add(row(types.Null(types.Int8)), row(types.Null(types.Int8)), 1)

	if got := a.Len(); got != 5 {
		t.Fatalf("Len = %d, want 5", got)
	}
	if got := a.rows(); got != 6 {
		t.Fatalf("rows = %d, want 6", got)
	}
	enc := string(types.RowKey(nil, row(i5)))
	if got := a.CountEncoded(enc); got != 4 {
		t.Fatalf("CountEncoded(5) = %d, want 4", got)
	}
	if got := a.CountEncodedBytes(types.RowKey(nil, row(f55))); got != 1 {
		t.Fatalf("CountEncodedBytes(5.5) = %d, want 1", got)
	}
	n := int64(0)
	a.Lookup(row(types.NewFloat8(5)), func(_ types.Row, c int64) { n += c })
	if n != 4 {
		t.Fatalf("Lookup(5.0) saw %d rows, want 4", n)
	}
	scanned := map[string]int64{}
	a.scan(func(key string, _ types.Row, c int64) { scanned[key] += c })
	if scanned[enc] != 4 || len(scanned) != 5 {
		t.Fatalf("scan = %v, want 5 keys and 4 rows under 5", scanned)
	}
	// Retract down to nothing: the key disappears from both views.
	a.Add(row(i5), row(i5, txt), -2)
	a.Add(row(i5), row(f5, txt), -1)
	a.Add(row(f5), row(i5, types.NewText("other")), -1)
	if got := a.CountEncoded(enc); got != 0 {
		t.Fatalf("CountEncoded(5) after retraction = %d, want 0", got)
	}
	if got := a.Len(); got != 4 {
		t.Fatalf("Len after retraction = %d, want 4", got)
	}
}

// TestArrangementAddCols checks that AddCols files a row under the same key
// as Add with the key built from its columns.
func TestArrangementAddCols(t *testing.T) {
	a := NewArrangement()
	i5, f5, txt := types.NewInt(types.Int4, 5), types.NewFloat8(5), types.NewText("a")
	a.AddCols(types.Row{txt, i5}, []int{1}, 1)                     // the integer fast path
	a.Add(types.Row{f5}, types.Row{txt, f5}, 1)                    // an equal row under an equal key
	a.AddCols(types.Row{txt, i5}, []int{0, 1}, 1)                  // a two-column key
	a.AddCols(types.Row{txt, types.Null(types.Int4)}, []int{1}, 1) // NULL key
	if got := a.CountEncodedBytes(types.RowKey(nil, types.Row{types.NewInt(types.Int8, 5)})); got != 2 {
		t.Fatalf("rows under 5: %d, want 2", got)
	}
	if got := a.CountEncodedBytes(types.RowKey(nil, types.Row{txt, i5})); got != 1 {
		t.Fatalf("rows under ('a', 5): %d, want 1", got)
	}
	if got := a.CountEncodedBytes(types.RowKey(nil, types.Row{types.Null(types.Int8)})); got != 1 {
		t.Fatalf("rows under NULL: %d, want 1", got)
	}
	a.AddCols(types.Row{txt, i5}, []int{1}, -2)
	if got, want := a.Len(), 2; got != want {
		t.Fatalf("Len after retracting 5: %d, want %d", got, want)
	}
}
