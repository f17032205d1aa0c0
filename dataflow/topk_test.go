package dataflow

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

var flagTopKSeed = flag.Uint64("topk-seed", 0, "seed for TestTopKMatchesRecomputation (0: from the clock)")

// bruteTopK is the definition: each group's rows (with multiplicity)
// sorted by v descending (NULLs first, as DESC puts them), then by the
// whole row, ranks offset+1 … offset+limit, each rendered with its rank.
func bruteTopK(rows map[[3]int64]int64, limit, offset int64) map[string]int64 {
	byGroup := map[int64][][3]int64{}
	for r, n := range rows {
		for i := int64(0); i < n; i++ {
			byGroup[r[0]] = append(byGroup[r[0]], r)
		}
	}
	out := map[string]int64{}
	for _, rs := range byGroup {
		slices.SortFunc(rs, topKOrder)
		for i, r := range rs {
			rank := int64(i + 1)
			if rank > offset && (limit < 0 || rank <= offset+limit) {
				out[renderTopK(r, rank)]++
			}
		}
	}
	return out
}

const nullV = -1 // v's stand-in for NULL in the test's rows

// topKOrder is the test's ORDER BY v DESC NULLS FIRST, then the whole row.
func topKOrder(a, b [3]int64) int {
	if a[1] != b[1] {
		if a[1] == nullV || b[1] == nullV {
			return map[bool]int{true: -1, false: 1}[a[1] == nullV]
		}
		return -int(a[1] - b[1])
	}
	return slices.Compare(a[:], b[:])
}

func renderTopK(r [3]int64, rank int64) string {
	v := fmt.Sprint(r[1])
	if r[1] == nullV {
		v = "NULL"
	}
	return fmt.Sprintf("%d %s %d #%d", r[0], v, r[2], rank)
}

// TestTopKMatchesRecomputation steps TopK operators (ORDER BY v DESC, LIMIT
// and OFFSET, ROW_NUMBER, per group) with random batches — single rows,
// batches as large as the groups, which split heads into tails,
// retractions of nearly every row and of the first-ranked rows, which
// empty heads to refill them — of
// insertions and retractions (duplicates, ties, NULLs), and checks after
// every step that the accumulated output equals a recomputation from the
// surviving rows.
func TestTopKMatchesRecomputation(t *testing.T) {
	seed := *flagTopKSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -topk-seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	typs := []types.Type{types.Int8, types.Int8, types.Int8}
	for round := 0; round < 30; round++ {
		limit := []int64{1, 3, 10, 40, -1}[rng.IntN(5)]
		offset := []int64{0, 0, 2}[rng.IntN(3)]
		groups := 1 + rng.IntN(3)
		values := 1 + rng.IntN(500)
		plan := &TopK{Input: &Get{ID: 1, Typs: typs}, Group: []int{0},
			Order: []SortKey{{Col: 1, Desc: true, NullsFirst: true}}, Limit: limit, Offset: offset, RowNumber: true}
		df, err := Build(plan, nil)
		if err != nil {
			t.Fatal(err)
		}
		state := map[[3]int64]int64{}
		var live [][3]int64 // rows of state, for picking retractions
		view := map[string]int64{}
		for step := 0; step < 40; step++ {
			var batch []Update
			if rng.IntN(5) == 0 {
				// Retract nearly everything: heads run short and refill
				// from their tails.
				for _, r := range live {
					for c := state[r]; c > 0; c-- {
						if rng.IntN(10) > 0 {
							state[r]--
							batch = append(batch, Update{Row: topKRow(r), Diff: -1})
						}
					}
					if state[r] == 0 {
						delete(state, r)
					}
				}
				live = slices.DeleteFunc(live, func(r [3]int64) bool { return state[r] == 0 })
			}
			if rng.IntN(4) == 0 {
				// Retract the first-ranked rows, as retention does to a
				// window of the oldest: the heads empty step after step.
				slices.SortFunc(live, topKOrder)
				for i := 0; i < len(live) && i < 1+rng.IntN(60); i++ {
					r := live[i]
					state[r]--
					batch = append(batch, Update{Row: topKRow(r), Diff: -1})
				}
				for _, r := range live {
					if state[r] == 0 {
						delete(state, r)
					}
				}
				live = slices.DeleteFunc(live, func(r [3]int64) bool { return state[r] == 0 })
			}
			n := rng.IntN(3)
			if rng.IntN(3) == 0 {
				n = rng.IntN(2000)
			}
			for ; n >= 0; n-- {
				if len(live) > 0 && rng.IntN(2) == 0 {
					i := rng.IntN(len(live))
					r := live[i]
					if state[r]--; state[r] == 0 {
						delete(state, r)
						live[i] = live[len(live)-1]
						live = live[:len(live)-1]
					}
					batch = append(batch, Update{Row: topKRow(r), Diff: -1})
					continue
				}
				r := [3]int64{int64(rng.IntN(groups)), int64(rng.IntN(values)) - 1, int64(rng.IntN(3))}
				if state[r] == 0 {
					live = append(live, r)
				}
				state[r]++
				batch = append(batch, Update{Row: topKRow(r), Diff: 1})
			}
			out, err := df.Step(&expr.Ctx{}, map[CollectionID][]Update{1: batch})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range out {
				r := [3]int64{u.Row[0].Int(), nullV, u.Row[2].Int()}
				if !u.Row[1].IsNull() {
					r[1] = u.Row[1].Int()
				}
				k := renderTopK(r, u.Row[3].Int())
				if view[k] += u.Diff; view[k] == 0 {
					delete(view, k)
				}
			}
			if want := bruteTopK(state, limit, offset); !mapsEqualTopK(view, want) {
				t.Fatalf("seed %d round %d step %d (limit %d offset %d, %d rows): view\n%v\nwant\n%v", seed, round, step, limit, offset, len(state), view, want)
			}
		}
	}
}

func topKRow(r [3]int64) types.Row {
	v := types.NewInt8(r[1])
	if r[1] == nullV {
		v = types.Null(types.Int8)
	}
	return types.Row{types.NewInt8(r[0]), v, types.NewInt8(r[2])}
}

func mapsEqualTopK(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRowBag adds and retracts random rows, duplicates and rows equal under
// types.RowsEqual but typed differently, in bags whose hashes are cut to
// two or eight bits (so that most rows collide, and removals shift long
// runs of slots) or not, small and growing to thousands of rows, and
// compares each with a reference keyed by the rows' text, checking that
// every row is found from its hash.
func TestRowBag(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, tc := range []struct {
		mask          uint64
		values, steps int
	}{{3, 40, 3000}, {^uint64(0), 40, 3000}, {0xff, 3000, 30000}, {^uint64(0), 3000, 30000}} {
		mask := tc.mask
		b := newRowBag(0)
		b.mask = mask
		want := map[string]int64{}
		kept := map[string]types.Type{} // the type of the row the bag keeps
		for i := 0; i < tc.steps; i++ {
			v := int64(rng.IntN(tc.values))
			typ := []types.Type{types.Int4, types.Int8}[rng.IntN(2)]
			row := types.Row{types.NewInt(typ, v), types.NewText(fmt.Sprint(v % 3))}
			k := fmt.Sprint(v)
			diff := int64(1 + rng.IntN(2))
			if want[k] > 0 && rng.IntN(2) == 0 {
				diff = -1 - rng.Int64N(want[k])
			}
			if want[k] == 0 {
				kept[k] = typ
			}
			b.add(row, diff)
			if want[k] += diff; want[k] == 0 {
				delete(want, k)
			}
			if tc.values > 100 && i%100 != 0 {
				continue // the large rounds check the whole bag now and then
			}
			got := map[string]int64{}
			b.each(func(e indexEntry) bool {
				k := fmt.Sprint(e.row[0].Int())
				if e.row[0].Type() != kept[k] {
					t.Fatalf("seed %d: row %v kept as %s, the first added was %s", seed, e.row, e.row[0].Type(), kept[k])
				}
				got[k] += e.count
				return true
			})
			if fmt.Sprint(got) != fmt.Sprint(want) || b.n != len(want) {
				t.Fatalf("seed %d, mask %x, change %d: bag %v (%d rows), want %v", seed, mask, i, got, b.n, want)
			}
			// Every row is found from its hash, and only rows fill slots.
			used := 0
			for _, sl := range b.slots {
				if sl != 0 {
					used++
				}
			}
			for j, e := range b.entries {
				s, ok := b.find(e.row, b.hash(e.row))
				if !ok || int(uint32(b.slots[s]))-1 != j || b.hashes[j] != b.hash(e.row) {
					t.Fatalf("seed %d, mask %x, change %d: row %v at %d not found from its hash", seed, mask, i, e.row, j)
				}
			}
			if used != b.n || len(b.entries) != b.n || 2*b.n > len(b.slots) {
				t.Fatalf("seed %d, mask %x, change %d: %d slots used of %d for %d rows", seed, mask, i, used, len(b.slots), b.n)
			}
		}
	}
}

// TestRowBagPlace appends rows to bags without looking them up (appendRow,
// as a top-k's restore does) and places them in one pass, with hashes cut
// to collide or not, with and without rows that are equal after all (which
// place must fold, a zero sum removing the row), and checks the bag against
// a reference, every row found from its hash, before and after more
// changes.
func TestRowBagPlace(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := 0; round < 24; round++ {
		mask := []uint64{3, 0xff, ^uint64(0)}[round%3]
		dups := round%2 == 1
		rows := 1 + rng.IntN(5000)
		b := newRowBag([]int{0, rows}[rng.IntN(2)])
		b.mask = mask
		want := map[int64]int64{}
		row := func(v int64) types.Row { return types.Row{types.NewInt8(v), types.NewText(fmt.Sprint(v % 7))} }
		for i := 0; i < rows; i++ {
			v := int64(i)
			if dups && rng.IntN(10) == 0 {
				v = rng.Int64N(int64(i + 1)) // maybe one appended before
			}
			diff := int64(1 + rng.IntN(3))
			if dups && want[v] > 0 && rng.IntN(2) == 0 {
				diff = -want[v] // folds to zero
			}
			b.appendRow(row(v), diff)
			if want[v] += diff; want[v] == 0 {
				delete(want, v)
			}
		}
		b.place()
		check := func(when string) {
			got := map[int64]int64{}
			b.each(func(e indexEntry) bool {
				if _, dup := got[e.row[0].Int()]; dup {
					t.Fatalf("seed %d, round %d, %s: row %v twice", seed, round, when, e.row)
				}
				got[e.row[0].Int()] = e.count
				return true
			})
			if fmt.Sprint(got) != fmt.Sprint(want) || b.n != len(want) || b.placed != b.n {
				t.Fatalf("seed %d, round %d, %s: bag of %d rows (%d placed) differs from the %d wanted", seed, round, when, b.n, b.placed, len(want))
			}
			for j, e := range b.entries {
				if s, ok := b.find(e.row, b.hash(e.row)); !ok || int(uint32(b.slots[s]))-1 != j {
					t.Fatalf("seed %d, round %d, %s: row %v not found from its hash", seed, round, when, e.row)
				}
			}
		}
		check("placed")
		for i := 0; i < 1000; i++ {
			v := rng.Int64N(int64(rows + 100))
			diff := int64(1)
			if want[v] > 0 && rng.IntN(2) == 0 {
				diff = -want[v]
			}
			b.add(row(v), diff)
			if want[v] += diff; want[v] == 0 {
				delete(want, v)
			}
		}
		check("after changes")
		// More rows appended to the placed bag: a few (placed one by
		// one) or many (the table rebuilt), some of them there already
		// when dups is set.
		more := []int{1 + rng.IntN(b.n/4+1), 1 + rng.IntN(4*b.n+1)}[rng.IntN(2)]
		for i := 0; i < more; i++ {
			v := int64(rows + 100 + i)
			if dups && rng.IntN(10) == 0 {
				v = rng.Int64N(int64(rows + 100))
			}
			diff := int64(1 + rng.IntN(3))
			b.appendRow(row(v), diff)
			if want[v] += diff; want[v] == 0 {
				delete(want, v)
			}
		}
		b.place()
		check("appended to")
	}
}
