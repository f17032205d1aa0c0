package dataflow

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

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

// TestArrangementAddColsDistinct loads random batches with AddColsDistinct
// and the same batches row by row with AddCols, and compares the two
// arrangements (every key's rows and counts, Len, and lookups) after each
// batch. Batches are mostly new rows, under integer and text keys, some
// keys holding one row and some many; now and then a batch holds rows
// that are there already or twice, which must be folded, down to zero.
func TestArrangementAddColsDistinct(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := 0; round < 20; round++ {
		fast, slow := NewArrangement(), NewArrangement()
		cols := []int{1}
		if round%2 == 1 {
			cols = []int{2} // text keys
		}
		keys := 1 + rng.IntN(200)
		next := 0
		var seen []types.Row
		for batch := 0; batch < 8; batch++ {
			var ups []Update
			for i := rng.IntN(2000); i > 0; i-- {
				var row types.Row
				if len(seen) > 0 && round%4 >= 2 && rng.IntN(8) == 0 {
					row = seen[rng.IntN(len(seen))] // there already, or twice
				} else {
					k := rng.IntN(keys)
					row = types.Row{types.NewInt8(int64(next)), types.NewInt4(int32(k)), types.NewText(fmt.Sprint("k", k))}
					next++
					seen = append(seen, row)
				}
				diff := int64(1 + rng.IntN(2))
				if rng.IntN(10) == 0 {
					diff = -diff
				}
				ups = append(ups, Update{Row: row, Diff: diff})
			}
			fast.AddColsDistinct(ups, cols)
			for _, u := range ups {
				slow.AddCols(u.Row, cols, u.Diff)
			}
			// dump lists every key's rows with their counts, summed: a bag
			// that AddColsDistinct gave a row twice holds it twice until
			// its first change folds it, which is the same Z-set.
			dump := func(a *Arrangement) string {
				sums := map[string]int64{}
				a.scan(func(key string, row types.Row, c int64) { sums[fmt.Sprintf("%x %v", key, row)] += c })
				var out []string
				for k, c := range sums {
					if c != 0 {
						out = append(out, fmt.Sprintf("%s ×%d", k, c))
					}
				}
				slices.Sort(out)
				return fmt.Sprint(out)
			}
			if got, want := dump(fast), dump(slow); got != want {
				t.Fatalf("seed %d, round %d, batch %d: AddColsDistinct\n%s\nAddCols\n%s", seed, round, batch, got, want)
			}
			if round%4 < 2 && fast.Len() != slow.Len() {
				t.Fatalf("seed %d, round %d, batch %d: AddColsDistinct made %d keys, AddCols %d", seed, round, batch, fast.Len(), slow.Len())
			}
			for k := 0; k < keys; k++ {
				key := types.Row{types.NewInt4(int32(k))}
				if cols[0] == 2 {
					key = types.Row{types.NewText(fmt.Sprint("k", k))}
				}
				var got, want int64
				fast.Lookup(key, func(_ types.Row, c int64) { got += c })
				slow.Lookup(key, func(_ types.Row, c int64) { want += c })
				if got != want {
					t.Fatalf("seed %d, round %d, batch %d: key %v holds %d rows, want %d", seed, round, batch, key, got, want)
				}
			}
		}
		// A change to every key folds what its bag was given twice: then
		// the rows are listed once each and the keys left empty are gone.
		for k := 0; k < keys; k++ {
			row := types.Row{types.NewInt8(int64(next)), types.NewInt4(int32(k)), types.NewText(fmt.Sprint("k", k))}
			next++
			for _, a := range []*Arrangement{fast, slow} {
				a.AddCols(row, cols, 1)
				a.AddCols(row, cols, -1)
			}
		}
		dump := func(a *Arrangement) string {
			var out []string
			a.scan(func(key string, row types.Row, c int64) { out = append(out, fmt.Sprintf("%x %v ×%d", key, row, c)) })
			slices.Sort(out)
			return fmt.Sprint(a.Len(), out)
		}
		if got, want := dump(fast), dump(slow); got != want {
			t.Fatalf("seed %d, round %d, after a change to every key: AddColsDistinct\n%s\nAddCols\n%s", seed, round, got, want)
		}
	}
}
