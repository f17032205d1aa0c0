package dataflow

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/types"
)

// TestIndexApply applies random batches to an Index — runs of rows after
// every row there (which Apply appends without comparing them with the
// tree), rows anywhere, retractions, rows equal under types.RowsEqual but
// typed differently — and after each batch compares its rows, in order and
// with their counts, with a reference, and looks rows up. A clone
// taken before each batch is scanned on another goroutine while the batch
// is applied (run with -race) and must still hold what it held.
func TestIndexApply(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	x := NewIndex()
	want := map[int64]int64{}
	top := int64(0)
	render := func(scan func(func(types.Row, int64) bool)) string {
		var out []string
		scan(func(row types.Row, n int64) bool {
			out = append(out, fmt.Sprintf("%d×%d", row[0].Int(), n))
			return true
		})
		return fmt.Sprint(out)
	}
	reference := func() string {
		var out []string
		for _, v := range slices.Sorted(func(yield func(int64) bool) {
			for v := range want {
				if !yield(v) {
					return
				}
			}
		}) {
			out = append(out, fmt.Sprintf("%d×%d", v, want[v]))
		}
		return fmt.Sprint(out)
	}
	for batch := 0; batch < 120; batch++ {
		clone, before := x.Clone(), reference()
		var ups []Update
		for i := rng.IntN(200); i > 0; i-- {
			var v int64
			switch {
			case rng.IntN(3) > 0: // after every row so far
				top += 1 + rng.Int64N(3)
				v = top
			default:
				v = rng.Int64N(top + 2)
			}
			typ := []types.Type{types.Int4, types.Int8}[rng.IntN(2)]
			diff := int64(1 + rng.IntN(2))
			if want[v] > 0 && rng.IntN(3) == 0 {
				diff = -want[v]
			}
			ups = append(ups, Update{Row: types.Row{types.NewInt(typ, v), types.NewText(fmt.Sprint(v % 5))}, Diff: diff})
			if want[v] += diff; want[v] == 0 {
				delete(want, v)
			}
		}
		var wg sync.WaitGroup
		var fromClone string
		wg.Go(func() { fromClone = render(clone.Scan) })
		x.Apply(ups)
		wg.Wait()
		if fromClone != before {
			t.Fatalf("seed %d, batch %d: the clone changed while the index did", seed, batch)
		}
		if got, w := render(x.Scan), reference(); got != w {
			t.Fatalf("seed %d, batch %d: index\n%s\nwant\n%s", seed, batch, got, w)
		}
		total, looked := int64(0), 0
		for v, n := range want {
			total += n
			if looked++; looked > 300 {
				continue
			}
			if got := x.Count(types.Row{types.NewInt8(v), types.NewText(fmt.Sprint(v % 5))}); got != n {
				t.Fatalf("seed %d, batch %d: Count(%d) = %d, want %d", seed, batch, v, got, n)
			}
		}
		if x.Len() != total {
			t.Fatalf("seed %d, batch %d: Len %d, want %d", seed, batch, x.Len(), total)
		}
	}
}

// TestIndexAppendAllocatesForItsRows: appending rows in batches of one (a
// single-row INSERT with a rising key) allocates about one entry a row,
// not a block of entries for each.
func TestIndexAppendAllocatesForItsRows(t *testing.T) {
	const n = 20000
	x := NewIndex()
	batches := make([][]Update, n)
	for i := range batches {
		batches[i] = []Update{{Row: types.Row{types.NewInt8(int64(i))}, Diff: 1}}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, b := range batches {
		x.Apply(b)
	}
	runtime.ReadMemStats(&after)
	// An entry is 32 bytes; the B-tree's nodes add about 16 a row.
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 96 {
		t.Fatalf("%d bytes allocated a row appended alone, want at most 96", per)
	}
	if x.Len() != n {
		t.Fatalf("%d rows, want %d", x.Len(), n)
	}
}
