package expr

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/types"
)

func aggOver(t *testing.T, name string, argTypes []types.Type, rows [][]types.Datum) (types.Datum, error) {
	t.Helper()
	a, _, err := ResolveAggregate(name, argTypes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s := a.New(argTypes)
	for _, r := range rows {
		if err := s.Add(r, 1); err != nil {
			return types.Datum{}, err
		}
	}
	return s.Result()
}

// Expected values are PostgreSQL 15's.
func TestAggregatesAgainstPostgres(t *testing.T) {
	ctx := testCtx()
	col := func(typ types.Type, vals ...string) [][]types.Datum {
		var rows [][]types.Datum
		for _, v := range vals {
			rows = append(rows, []types.Datum{lit(t, typ, v)})
		}
		return rows
	}
	ints := col(types.Int4, "1", "2", "4")
	nums := col(types.Numeric, "1.5", "2.25", "4")
	floats := col(types.Float8, "1", "2", "4")
	tests := []struct {
		name string
		typ  types.Type
		rows [][]types.Datum
		want string
	}{
		{"avg", types.Int4, ints, "2.3333333333333333"},
		{"sum", types.Int4, ints, "7"},
		{"var_samp", types.Int4, ints, "2.3333333333333333"},
		{"stddev", types.Int4, ints, "1.5275252316519467"},
		{"var_pop", types.Int4, ints, "1.5555555555555556"},
		{"stddev_pop", types.Int4, ints, "1.2472191289246471"},
		{"avg", types.Numeric, nums, "2.5833333333333333"},
		{"sum", types.Numeric, nums, "7.75"},
		{"var_samp", types.Numeric, nums, "1.6458333333333333"},
		{"stddev_samp", types.Numeric, nums, "1.2829003598617210"},
		{"variance", types.Float8, floats, "2.3333333333333335"},
		{"stddev", types.Float8, floats, "1.5275252316519468"},
		{"avg", types.Float8, floats, "2.3333333333333335"},
		{"variance", types.Int4, col(types.Int4, "5", "5"), "0"},
		{"avg", types.Int4, col(types.Int4, "1", "2"), "1.5000000000000000"},
		{"sum", types.Int8, col(types.Int8, "9223372036854775807", "1"), "9223372036854775808"},
		{"sum", types.Interval, col(types.Interval, "1 day", "2 hours"), "1 day 02:00:00"},
		{"avg", types.Interval, col(types.Interval, "1 day", "2 hours"), "13:00:00"},
		{"min", types.Text, col(types.Text, "b", "a", "c"), "a"},
		{"max", types.Text, col(types.Text, "b", "a", "c"), "c"},
		{"sum", types.Int4, col(types.Int4, "NULL"), "NULL"},
		{"count", types.Int4, col(types.Int4, "NULL", "1"), "1"},
		{"stddev", types.Int4, col(types.Int4, "1"), "NULL"},
		{"stddev_pop", types.Int4, col(types.Int4, "1"), "0"},
	}
	for _, tc := range tests {
		got, err := aggOver(t, tc.name, []types.Type{tc.typ}, tc.rows)
		check(t, tc.name+"("+tc.typ.String()+")", ctx, got, err, tc.want, types.Unknown)
	}
	pairs := [][]types.Datum{
		{types.NewText("b"), types.NewText(",")}, {types.NewText("a"), types.NewText(";")}, {types.NewText("c"), types.NewText(",")},
	}
	got, err := aggOver(t, "string_agg", []types.Type{types.Text, types.Text}, pairs)
	// PostgreSQL gives b,a,c (input order); Tributary orders by value.
	check(t, "string_agg", ctx, got, err, "a,b,c", types.Text)
	b := col(types.Bool, "true", "false", "NULL")
	got, err = aggOver(t, "bool_and", []types.Type{types.Bool}, b)
	check(t, "bool_and", ctx, got, err, "false", types.Bool)
	got, err = aggOver(t, "bool_or", []types.Type{types.Bool}, b)
	check(t, "bool_or", ctx, got, err, "true", types.Bool)
	got, err = aggOver(t, "count", nil, col(types.Int4, "NULL", "NULL"))
	check(t, "count(*)", ctx, got, err, "2", types.Int8)
}

// TestAggregateRetraction applies random insertions and retractions to each
// aggregate and compares its result with a fresh state fed only the
// surviving multiset, in a shuffled order.
func TestAggregateRetraction(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := testCtx()
	pools := map[types.Type][]string{
		types.Int2:     {"1", "-3", "7", "32767", "NULL"},
		types.Int4:     {"1", "2", "-5", "2147483647", "NULL"},
		types.Int8:     {"9223372036854775807", "-1", "3", "NULL"},
		types.Numeric:  {"1.5", "2.250", "-3", "0.001", "1e20", "NaN", "NULL"},
		types.Float4:   {"0.1", "2.5", "-1e10", "NULL"},
		types.Float8:   {"0.1", "0.2", "1e300", "-Infinity", "NaN", "NULL"},
		types.Interval: {"1 day", "-2 hours", "1 mon 3 days", "NULL"},
		types.Text:     {"a", "bb", "", "z", "NULL"},
		types.Bool:     {"true", "false", "NULL"},
		types.Date:     {"2024-01-01", "1999-12-31", "NULL"},
	}
	type aggCase struct {
		name string
		args []types.Type
	}
	var cases []aggCase
	for name, ovs := range aggregates {
		for _, a := range ovs {
			switch {
			case len(a.Args) == 0:
				cases = append(cases, aggCase{name, nil})
			case a.Args[0] == types.Unknown:
				for _, t := range []types.Type{types.Int4, types.Numeric, types.Float8, types.Text, types.Interval, types.Date} {
					cases = append(cases, aggCase{name, []types.Type{t}})
				}
			default:
				cases = append(cases, aggCase{name, a.Args})
			}
		}
	}
	for _, c := range cases {
		pick := func() []types.Datum {
			row := make([]types.Datum, len(c.args))
			for i, typ := range c.args {
				p := pools[typ]
				row[i] = lit(t, typ, p[rng.IntN(len(p))])
				if c.name == "string_agg" && i == 1 {
					row[i] = types.NewText([]string{",", ";", ""}[rng.IntN(3)])
				}
			}
			return row
		}
		for iter := 0; iter < 30; iter++ {
			a, _, err := ResolveAggregate(c.name, c.args)
			if err != nil {
				t.Fatal(err)
			}
			inc := a.New(c.args)
			var live [][]types.Datum
			var counts []int64
			for step := 0; step < 40; step++ {
				if len(live) > 0 && rng.IntN(3) == 0 {
					i := rng.IntN(len(live))
					n := 1 + rng.Int64N(counts[i])
					if err := inc.Add(live[i], -n); err != nil {
						t.Fatal(err)
					}
					counts[i] -= n
					if counts[i] == 0 {
						live = append(live[:i], live[i+1:]...)
						counts = append(counts[:i], counts[i+1:]...)
					}
					continue
				}
				row, n := pick(), 1+rng.Int64N(3)
				if err := inc.Add(row, n); err != nil {
					t.Fatal(err)
				}
				live, counts = append(live, row), append(counts, n)
			}
			fresh := a.New(c.args)
			for _, i := range rng.Perm(len(live)) {
				if err := fresh.Add(live[i], counts[i]); err != nil {
					t.Fatal(err)
				}
			}
			got, gerr := inc.Result()
			want, werr := fresh.Result()
			label := fmt.Sprintf("%s%v (seed %d, iter %d)", c.name, c.args, seed, iter)
			if (gerr != nil) != (werr != nil) {
				t.Fatalf("%s: errors differ: %v vs %v", label, gerr, werr)
			}
			if gerr == nil && (show(ctx, got) != show(ctx, want) || got.Type() != want.Type()) {
				t.Fatalf("%s: incremental %s (%s), recomputed %s (%s)", label, show(ctx, got), got.Type(), show(ctx, want), want.Type())
			}
			// Retracting everything must give the empty group's value.
			for i := range live {
				inc.Add(live[i], -counts[i])
			}
			empty, _ := a.New(c.args).Result()
			got, _ = inc.Result()
			if show(ctx, got) != show(ctx, empty) {
				t.Fatalf("%s: emptied state gives %s, want %s", label, show(ctx, got), show(ctx, empty))
			}
		}
	}
}
