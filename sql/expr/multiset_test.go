package expr

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/types"
)

// TestMultisetAgainstReference drives multisets with random batches of
// changes — single changes, which take the binary-search path, and batches
// as large as the set, which take the merge path — across chunk splits and
// emptied chunks, and after every flush compares the items with a
// reference: the counts of every key folded in arrival order, the last
// arriving key of an equal class kept. Keys are numerics with several
// spellings of one value (1, 1.0, 1.00), or integers of two types as min
// and max keep them (sorted by value when a batch has one type), so the
// kept key is checked too.
func TestMultisetAgainstReference(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for iter := 0; iter < 40; iter++ {
		values := 10 + rng.IntN(3000) // distinct values drawn from
		// Numeric keys, or min/max's integer keys (sorted by value when a
		// batch is all of one type).
		ints := iter%2 == 1
		scale := int64(1)
		if iter%4 == 3 {
			scale = 1 << 40
		}
		m := newMultiset()
		if ints {
			m = newMultisetCmp(compareFirst)
			m.byDatum = true
		}
		type ref struct {
			key string // the last key added, rendered
			n   int64
		}
		want := map[int]*ref{}
		var intType types.Type // of this step's keys; Unknown: mixed
		key := func(v int) types.Row {
			if ints {
				t := intType
				if t == types.Unknown {
					t = []types.Type{types.Int4, types.Int8}[rng.IntN(2)]
				}
				// Centred on 0, and spread over 50 bits in some rounds:
				// the radix sort's passes over negative and wide values.
				return types.Row{types.NewInt(t, (int64(v)-int64(values/2))*scale)}
			}
			d := apd.New(int64(v)*100, -2) // v.00
			switch rng.IntN(3) {
			case 1:
				d = apd.New(int64(v)*10, -1) // v.0
			case 2:
				d = apd.New(int64(v), 0)
			}
			return types.Row{types.NewNumeric(d)}
		}
		render := func(d types.Datum) string {
			if ints {
				return fmt.Sprintf("%s:%d", d.Type(), d.Int()/scale)
			}
			return d.Decimal().String()
		}
		for step := 0; step < 30; step++ {
			intType = []types.Type{types.Int4, types.Int8, types.Unknown}[rng.IntN(3)]
			var batch int
			switch rng.IntN(4) {
			case 0:
				batch = 1
			case 1:
				batch = 1 + rng.IntN(10)
			default:
				batch = rng.IntN(2 * values)
			}
			for i := 0; i < batch; i++ {
				v := rng.IntN(values)
				r := want[v]
				if r == nil {
					r = &ref{}
					want[v] = r
				}
				diff := int64(1 + rng.IntN(3))
				if r.n > 0 && rng.IntN(2) == 0 {
					diff = -1 - rng.Int64N(r.n) // a retraction of what is there
				}
				k := key(v)
				m.add(k, diff)
				r.n += diff
				r.key = render(k[0])
			}
			var wantItems, gotItems []string
			for _, v := range slices.Sorted(maps.Keys(want)) {
				if r := want[v]; r.n != 0 {
					wantItems = append(wantItems, fmt.Sprintf("%s×%d", r.key, r.n))
				}
			}
			m.ascend(func(it *msItem) bool {
				gotItems = append(gotItems, fmt.Sprintf("%s×%d", render(it.key[0]), it.n))
				return true
			})
			if !slices.Equal(gotItems, wantItems) {
				t.Fatalf("seed %d, iter %d, step %d (batch %d): items differ\ngot  %v\nwant %v", seed, iter, step, batch, gotItems, wantItems)
			}
			var back []string
			m.descend(func(it *msItem) bool {
				back = append(back, fmt.Sprintf("%s×%d", render(it.key[0]), it.n))
				return true
			})
			slices.Reverse(back)
			if !slices.Equal(back, wantItems) {
				t.Fatalf("seed %d, iter %d, step %d: descend differs from ascend", seed, iter, step)
			}
			count := 0
			for _, c := range m.chunks {
				if len(c) == 0 || len(c) > msChunkMax {
					t.Fatalf("seed %d, iter %d, step %d: chunk of %d items", seed, iter, step, len(c))
				}
				count += len(c)
			}
			for _, c := range m.ichunks {
				if len(c) == 0 || len(c) > msChunkMax {
					t.Fatalf("seed %d, iter %d, step %d: integer chunk of %d items", seed, iter, step, len(c))
				}
				for i := 1; i < len(c); i++ {
					if c[i-1].v >= c[i].v {
						t.Fatalf("seed %d, iter %d, step %d: integer chunk out of order", seed, iter, step)
					}
				}
				count += len(c)
			}
			if len(m.chunks) > 0 && len(m.ichunks) > 0 {
				t.Fatalf("seed %d, iter %d, step %d: items in both kinds of chunks", seed, iter, step)
			}
			if ints && intType != types.Unknown && step == 0 && batch > 0 && len(m.ichunks) == 0 && len(wantItems) > 0 {
				t.Fatalf("seed %d, iter %d: integer keys of one type in generic chunks", seed, iter)
			}
			for _, last := range []bool{false, true} {
				d, ok := m.extreme(last)
				want := ""
				for i, it := range wantItems {
					if last {
						it = wantItems[len(wantItems)-1-i]
					}
					var n int64
					if _, err := fmt.Sscanf(it[strings.LastIndex(it, "×")+len("×"):], "%d", &n); err != nil {
						t.Fatal(err)
					}
					if n > 0 {
						want = it[:strings.LastIndex(it, "×")]
						break
					}
				}
				if got := ""; ok != (want != "") || ok && render(d) != want {
					if ok {
						got = render(d)
					}
					t.Fatalf("seed %d, iter %d, step %d: extreme(%t) %q, want %q", seed, iter, step, last, got, want)
				}
			}
			if count != m.items || count != len(wantItems) {
				t.Fatalf("seed %d, iter %d, step %d: %d items counted, %d recorded, want %d", seed, iter, step, count, m.items, len(wantItems))
			}
		}
	}
}
