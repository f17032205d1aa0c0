package dataflow

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

var flagSessionSeed = flag.Uint64("session-seed", 0, "seed for TestSessionMatchesRecomputation (0: from the clock)")

// bruteSessions assigns session windows to a multiset of (key, time, id)
// rows by sorting each key's rows by time and cutting where consecutive
// times are more than gap apart: the definition, independent of the
// operator's chains and cuts.
func bruteSessions(rows map[[3]int64]int64, gap int64) map[string]int64 {
	byKey := map[int64][][3]int64{}
	for r, n := range rows {
		for i := int64(0); i < n; i++ {
			byKey[r[0]] = append(byKey[r[0]], r)
		}
	}
	out := map[string]int64{}
	for _, rs := range byKey {
		slices.SortFunc(rs, func(a, b [3]int64) int { return int(a[1] - b[1]) })
		for i := 0; i < len(rs); {
			j := i + 1
			for j < len(rs) && rs[j][1]-rs[j-1][1] <= gap {
				j++
			}
			for _, r := range rs[i:j] {
				out[fmt.Sprintf("%d %d %d [%d,%d)", r[0], r[1], r[2], rs[i][1], rs[j-1][1]+gap)]++
			}
			i = j
		}
	}
	return out
}

// TestSessionMatchesRecomputation steps a Session operator with random
// insertions and deletions (duplicates, ties, late rows, bridging and
// splitting rows) and checks after every step that the accumulated output
// equals a recomputation of every session from scratch.
func TestSessionMatchesRecomputation(t *testing.T) {
	seed := *flagSessionSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -session-seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	for round := 0; round < 20; round++ {
		gap := int64(1 + rng.IntN(6))
		plan := &Session{
			Input: &Get{ID: 1, Typs: []types.Type{types.Int8, types.Timestamp, types.Int8}},
			Time:  1, Keys: []int{0}, Gap: gap,
		}
		df, err := Build(plan, nil)
		if err != nil {
			t.Fatal(err)
		}
		state := map[[3]int64]int64{}
		view := map[string]int64{}
		for step := 0; step < 60; step++ {
			var batch []Update
			for n := rng.IntN(8); n >= 0; n-- {
				if len(state) > 0 && rng.IntN(3) == 0 {
					// Delete one copy of an existing row.
					var keys [][3]int64
					for r := range state {
						keys = append(keys, r)
					}
					slices.SortFunc(keys, func(a, b [3]int64) int { return slices.Compare(a[:], b[:]) })
					r := keys[rng.IntN(len(keys))]
					if state[r]--; state[r] == 0 {
						delete(state, r)
					}
					batch = append(batch, Update{Row: types.Row{types.NewInt8(r[0]), types.NewTimestamp(types.Timestamp, r[1]), types.NewInt8(r[2])}, Diff: -1})
					continue
				}
				r := [3]int64{int64(rng.IntN(2)), int64(rng.IntN(40)), int64(rng.IntN(3))}
				state[r]++
				batch = append(batch, Update{Row: types.Row{types.NewInt8(r[0]), types.NewTimestamp(types.Timestamp, r[1]), types.NewInt8(r[2])}, Diff: 1})
			}
			out, err := df.Step(&expr.Ctx{}, map[CollectionID][]Update{1: Consolidate(batch)})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range out {
				k := fmt.Sprintf("%d %d %d [%d,%d)", u.Row[0].Int(), u.Row[1].Int(), u.Row[2].Int(), u.Row[3].Int(), u.Row[4].Int())
				if view[k] += u.Diff; view[k] == 0 {
					delete(view, k)
				}
			}
			want := bruteSessions(state, gap)
			if !mapsEqual(view, want) {
				t.Fatalf("seed %d round %d step %d gap %d:\ngot  %s\nwant %s", seed, round, step, gap, render(view), render(want))
			}
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
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

func render(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s x%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// TestSessionLateRowInsideSession checks the operator's incremental
// promise: a row whose arrival or removal leaves its session's bounds where
// they were changes only that row's output, however long the session; one
// that moves the bounds re-emits the session's rows.
func TestSessionLateRowInsideSession(t *testing.T) {
	plan := &Session{Input: &Get{ID: 1, Typs: []types.Type{types.Timestamp, types.Int8}}, Time: 0, Gap: 5}
	df, err := Build(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := func(ts, id int64) types.Row {
		return types.Row{types.NewTimestamp(types.Timestamp, ts), types.NewInt8(id)}
	}
	step := func(us ...Update) []Update {
		t.Helper()
		out, err := df.Step(&expr.Ctx{}, map[CollectionID][]Update{1: Consolidate(us)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var batch []Update
	for i := int64(0); i < 100; i++ {
		batch = append(batch, Update{Row: row(i*2, i), Diff: 1}) // one session [0, 203)
	}
	if out := step(batch...); len(out) != 100 {
		t.Fatalf("first step: %d updates, want 100", len(out))
	}
	// A late row inside the session, and the deletion of a non-bridging row.
	out := step(Update{Row: row(51, 1000), Diff: 1}, Update{Row: row(100, 50), Diff: -1})
	if len(out) != 2 || out[0].Row[3].Int() != 203 || out[1].Row[3].Int() != 203 {
		t.Fatalf("late row inside the session: got %v, want the two changed rows with window [0, 203)", out)
	}
	// A row gap after the last extends the session: all 100 rows move.
	if out := step(Update{Row: row(203, 2000), Diff: 1}); len(out) != 2*100+1 {
		t.Fatalf("extending the session: %d updates, want 201", len(out))
	}
}
