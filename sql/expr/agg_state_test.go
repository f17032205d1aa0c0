package expr

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/types"
)

// stateValues are literals of each type that aggregates take, chosen to
// hit every part of a state: NULLs, equal values of different scales,
// NaN and infinities, negative numbers.
var stateValues = map[types.Type][]string{
	types.Int2:        {"NULL", "-3", "0", "1", "7", "32000"},
	types.Int4:        {"NULL", "-3", "0", "1", "7", "2000000000"},
	types.Int8:        {"NULL", "-3", "0", "1", "7", "9223372036854775807"},
	types.Numeric:     {"NULL", "-3", "0", "1.5", "1.50", "7.125", "NaN", "Infinity", "-Infinity", "123456789012345678901234567890.5"},
	types.Float4:      {"NULL", "-3", "0", "1.5", "0.1", "NaN", "Infinity", "-Infinity"},
	types.Float8:      {"NULL", "-3", "0", "1.5", "0.1", "1e300", "NaN", "Infinity", "-Infinity"},
	types.Interval:    {"NULL", "1 day", "-2 hours", "1 mon 3 days", "00:00:00.000001"},
	types.Bool:        {"NULL", "true", "false"},
	types.Text:        {"NULL", "", "a", "b", "ab", "a\x00b", ";"},
	types.Timestamp:   {"NULL", "2024-01-01 00:00:00", "1999-12-31 23:59:59.5"},
	types.TimestampTZ: {"NULL", "2024-01-01 00:00:00+00", "1999-12-31 23:59:59.5+02"},
	types.Date:        {"NULL", "2024-01-01", "1970-01-01"},
}

// anyTypes are the argument types tried for an aggregate that takes any
// type (min, max, count).
var anyTypes = []types.Type{types.Int4, types.Numeric, types.Float8, types.Text, types.Timestamp, types.Interval, types.Bool}

// TestAggregateStatesRoundTrip checks, for every registered aggregate and
// overload, that a state saved at a random point of a random history of
// insertions and retractions and loaded into a fresh state then behaves
// exactly as the original: the same Result after every further change and
// the same saved datums at the end. A new aggregate is covered as soon as
// it is registered; one whose argument type has no stateValues fails here.
func TestAggregateStatesRoundTrip(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := testCtx()
	for _, name := range aggregateNames() {
		for _, a := range aggregates[name] {
			var argSets [][]types.Type
			switch {
			case len(a.Args) == 1 && a.Args[0] == types.Unknown:
				for _, typ := range anyTypes {
					argSets = append(argSets, []types.Type{typ})
				}
			default:
				argSets = append(argSets, a.Args)
			}
			for _, args := range argSets {
				for _, ordered := range []bool{false, true} {
					if _, ok := a.New(args).(Ordered); ordered && !ok {
						continue
					}
					roundTrip(t, rng, ctx, a, args, ordered)
				}
			}
		}
	}
}

func roundTrip(t *testing.T, rng *rand.Rand, ctx *Ctx, a *Aggregate, args []types.Type, ordered bool) {
	t.Helper()
	name := a.Name + "(" + typeList(args) + ")"
	callTypes := args
	if ordered {
		name += " ORDER BY"
		callTypes = append(append([]types.Type(nil), args...), types.Int4)
	}
	pools := make([][]types.Datum, len(callTypes))
	for i, typ := range callTypes {
		lits, ok := stateValues[typ]
		if !ok {
			t.Fatalf("%s: no test values of type %s (add them to stateValues)", name, typ)
		}
		for _, l := range lits {
			pools[i] = append(pools[i], lit(t, typ, l))
		}
	}
	newState := func() AggState {
		s := a.New(args)
		if ordered {
			s.(Ordered).OrderBy(1, []bool{true}, []bool{false})
		}
		return s
	}
	for trial := 0; trial < 20; trial++ {
		orig := newState()
		var live [][]types.Datum // inserted and not yet retracted
		step := func(states ...AggState) bool {
			var row []types.Datum
			diff := int64(1)
			if len(live) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(live))
				row, diff = live[i], -1
				live = append(live[:i], live[i+1:]...)
			} else {
				for _, p := range pools {
					row = append(row, p[rng.IntN(len(p))])
				}
				live = append(live, row)
			}
			for _, s := range states {
				if err := s.Add(row, diff); err != nil {
					return false // an overflow: the history is not worth pursuing
				}
			}
			return true
		}
		ok := true
		for i := rng.IntN(12); i > 0 && ok; i-- {
			ok = step(orig)
		}
		if !ok {
			continue
		}
		saved := orig.AppendState(nil)
		loaded := newState()
		src := slices.Clone(saved)
		if err := loaded.LoadState(src); err != nil {
			t.Fatalf("%s: loading %v: %v", name, saved, err)
		}
		// LoadState must not keep src (a restore decodes the next row
		// into it): what follows sees it overwritten.
		for i := range src {
			src[i] = types.NewString(types.Text, "overwritten")
		}
		for i := 0; i < 10 && ok; i++ {
			want, werr := orig.Result()
			got, gerr := loaded.Result()
			if (werr == nil) != (gerr == nil) || werr == nil && (show(ctx, got) != show(ctx, want) || got.Type() != want.Type()) {
				t.Fatalf("%s: after loading %v and %d more changes: got %s (%v, %s), want %s (%v, %s)",
					name, saved, i, show(ctx, got), gerr, got.Type(), show(ctx, want), werr, want.Type())
			}
			ok = step(orig, loaded)
		}
		if a, b := orig.AppendState(nil), loaded.AppendState(nil); ok && !types.RowsEqual(a, b) {
			t.Fatalf("%s: saved states differ after the same changes: %v and %v", name, a, b)
		}
	}
}

func typeList(ts []types.Type) string {
	s := ""
	for i, typ := range ts {
		if i > 0 {
			s += ", "
		}
		s += typ.String()
	}
	return s
}

// TestAggregateStateRejectsGarbage: LoadState refuses datums that are not
// a state of its aggregate instead of building a wrong one.
func TestAggregateStateRejectsGarbage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []types.Type
		src  types.Row
	}{
		{"count", nil, nil},
		{"count", nil, types.Row{types.NewText("x")}},
		{"sum", []types.Type{types.Int4}, types.Row{types.NewInt8(1)}},
		{"min", []types.Type{types.Int4}, types.Row{types.Null(types.Int4), types.NewInt8(5)}},
		{"bool_and", []types.Type{types.Bool}, types.Row{types.NewInt8(1), types.NewInt8(2), types.NewInt8(3)}},
	} {
		a, _, err := ResolveAggregate(tc.name, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.New(tc.args).LoadState(tc.src); err == nil {
			t.Errorf("%s(%s) loaded %v", tc.name, typeList(tc.args), tc.src)
		}
	}
}

// TestAggStateProbe: the probe is a function of what the states write, so
// that a changed layout changes every dataflow's fingerprint.
func TestAggStateProbe(t *testing.T) {
	before := computeAggStateProbe()
	if string(before) != string(computeAggStateProbe()) {
		t.Fatal("the probe is not deterministic")
	}
	width := 1
	RegisterAggregate("zz_probe_test", &Aggregate{Args: []types.Type{types.Int4}, Ret: types.Int8,
		New: func([]types.Type) AggState { return &probeState{width: &width} }})
	defer delete(aggregates, "zz_probe_test")
	one := computeAggStateProbe()
	width = 2
	if two := computeAggStateProbe(); string(one) == string(before) || string(two) == string(one) {
		t.Fatal("the probe did not change with a state's layout")
	}
}

// probeState writes width datums.
type probeState struct {
	countState
	width *int
}

func (s *probeState) AppendState(dst types.Row) types.Row {
	for i := 0; i < *s.width; i++ {
		dst = append(dst, types.NewInt8(s.n))
	}
	return dst
}
