package expr

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/types"
)

// Aggregates. Every state is exactly retractable: Add(x, +n) followed by
// Add(x, -n) restores it, and its Result depends only on the multiset of
// surviving inputs, never on their order. That is why sums accumulate
// exactly (decimals, also for float inputs, whose shortest decimal text is
// summed exactly and rounded once at the end) and why min, max and
// string_agg keep ordered multisets instead of a running value.
//
// string_agg concatenates in order of (value, delimiter), not input order:
// a streaming group has no stable input order, so Tributary picks one that
// every replica and every recomputation agrees on.

func init() {
	RegisterAggregate("count",
		&Aggregate{Ret: types.Int8, New: func([]types.Type) AggState { return &countState{star: true} }},
		&Aggregate{Args: []types.Type{types.Unknown}, Ret: types.Int8, New: func([]types.Type) AggState { return &countState{} }})

	sum := func(in, out types.Type) *Aggregate {
		return &Aggregate{Args: []types.Type{in}, Ret: out, New: func([]types.Type) AggState { return &sumState{in: in, out: out} }}
	}
	avg := func(in, out types.Type) *Aggregate {
		return &Aggregate{Args: []types.Type{in}, Ret: out, New: func([]types.Type) AggState { return &sumState{in: in, out: out, avg: true} }}
	}
	RegisterAggregate("sum",
		sum(types.Int2, types.Int8), sum(types.Int4, types.Int8), sum(types.Int8, types.Numeric), sum(types.Numeric, types.Numeric),
		sum(types.Float4, types.Float4), sum(types.Float8, types.Float8), sum(types.Interval, types.Interval))
	RegisterAggregate("avg",
		avg(types.Int2, types.Numeric), avg(types.Int4, types.Numeric), avg(types.Int8, types.Numeric), avg(types.Numeric, types.Numeric),
		avg(types.Float4, types.Float8), avg(types.Float8, types.Float8), avg(types.Interval, types.Interval))

	for _, name := range []string{"min", "max"} {
		isMax := name == "max"
		RegisterAggregate(name, &Aggregate{Args: []types.Type{types.Unknown}, Ret: types.Unknown,
			New: func(args []types.Type) AggState {
				// The result's type is the argument's, also for an empty
				// group (NULL of that type), whatever was added before.
				st := &minMaxState{max: isMax, set: newMultisetCmp(compareFirst)}
				st.set.byDatum = true
				if len(args) == 1 {
					st.typ = args[0]
				}
				return st
			}})
	}
	for _, name := range []string{"bool_and", "every", "bool_or"} {
		or := name == "bool_or"
		RegisterAggregate(name, &Aggregate{Args: []types.Type{types.Bool}, Ret: types.Bool,
			New: func([]types.Type) AggState { return &boolState{or: or} }})
	}
	RegisterAggregate("string_agg", &Aggregate{Args: []types.Type{types.Text, types.Text}, Ret: types.Text,
		New: func([]types.Type) AggState { return &stringAggState{set: newMultiset()} }})

	for _, v := range []struct {
		name         string
		sample, root bool
	}{
		{"stddev", true, true}, {"stddev_samp", true, true}, {"stddev_pop", false, true},
		{"variance", true, false}, {"var_samp", true, false}, {"var_pop", false, false},
	} {
		v := v
		for _, in := range []types.Type{types.Int2, types.Int4, types.Int8, types.Numeric, types.Float4, types.Float8} {
			out := types.Numeric
			if in.IsFloat() {
				out = types.Float8
			}
			in := in
			RegisterAggregate(v.name, &Aggregate{Args: []types.Type{in}, Ret: out, New: func([]types.Type) AggState {
				return &varianceState{out: out, sample: v.sample, root: v.root}
			}})
		}
	}
}

type countState struct {
	star bool
	n    int64
}

func (s *countState) Add(args []types.Datum, diff int64) error {
	if s.star || !args[0].IsNull() {
		s.n += diff
	}
	return nil
}

func (s *countState) Result() (types.Datum, error) { return types.NewInt8(s.n), nil }

// exactSum is a retractable exact sum of numbers: finite values in a
// decimal, NaN and infinities as counts (Inf - Inf is not reversible), and
// the multiset of input scales so the result shows the largest scale among
// the surviving inputs, as PostgreSQL's numeric sum does.
type exactSum struct {
	sum              apd.Decimal
	n                int64 // non-NULL inputs
	nan, pinf, ninf  int64
	scales           map[int32]int64
	floatIn, numeric bool
}

// decimalOf is the exact decimal an input contributes: integers and
// numerics as they are, floats as their shortest round-trip text.
func decimalOf(d types.Datum) (*apd.Decimal, error) {
	switch {
	case d.Type().IsInteger():
		return apd.New(d.Int(), 0), nil
	case d.Type().IsFloat():
		bits := 64
		if d.Type() == types.Float4 {
			bits = 32
		}
		x, _, err := apd.NewFromString(strconv.FormatFloat(d.Float(), 'e', -1, bits))
		return x, err
	}
	return d.Decimal(), nil
}

func (s *exactSum) add(d types.Datum, diff int64) error {
	s.n += diff
	if d.Type().IsInteger() {
		// The common case without the general path's two allocations
		// (apd.New for the value and the diff; 21% of the allocations of
		// an UPDATE under sum views): value × diff in an int64 when it
		// does not overflow, added from the stack.
		if v := d.Int(); v > math.MinInt64 && diff > math.MinInt64 {
			if hi, lo := bits.Mul64(uint64(abs64(v)), uint64(abs64(diff))); hi == 0 && lo <= math.MaxInt64 {
				p := int64(lo)
				if (v < 0) != (diff < 0) {
					p = -p
				}
				var t apd.Decimal
				t.SetInt64(p)
				if _, err := exactCtx.Add(&s.sum, &s.sum, &t); err != nil {
					return numericOverflow()
				}
				return nil
			}
		}
	}
	if d.Type().IsFloat() {
		s.floatIn = true
		f := d.Float()
		switch {
		case math.IsNaN(f):
			s.nan += diff
			return nil
		case math.IsInf(f, 1):
			s.pinf += diff
			return nil
		case math.IsInf(f, -1):
			s.ninf += diff
			return nil
		}
	}
	x, err := decimalOf(d)
	if err != nil {
		return err
	}
	switch x.Form {
	case apd.NaN:
		s.nan += diff
		return nil
	case apd.Infinite:
		if x.Negative {
			s.ninf += diff
		} else {
			s.pinf += diff
		}
		return nil
	}
	if d.Type() == types.Numeric {
		if s.scales == nil {
			s.scales = map[int32]int64{}
		}
		s.scales[x.Exponent] += diff
		if s.scales[x.Exponent] == 0 {
			delete(s.scales, x.Exponent)
		}
	}
	var t apd.Decimal
	if _, err := exactCtx.Mul(&t, x, apd.New(diff, 0)); err != nil {
		return numericOverflow()
	}
	if _, err := exactCtx.Add(&s.sum, &s.sum, &t); err != nil {
		return numericOverflow()
	}
	return nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// special returns the NaN/infinite total, if any.
func (s *exactSum) special() (float64, bool) {
	switch {
	case s.nan > 0 || s.pinf > 0 && s.ninf > 0:
		return math.NaN(), true
	case s.pinf > 0:
		return math.Inf(1), true
	case s.ninf > 0:
		return math.Inf(-1), true
	}
	return 0, false
}

// total is the finite sum, shown at the largest surviving input scale.
func (s *exactSum) total() *apd.Decimal {
	minExp := int32(0)
	for e := range s.scales {
		minExp = min(minExp, e)
	}
	var r apd.Decimal
	var rr apd.Decimal
	rr.Reduce(&s.sum)
	if rr.Exponent >= minExp {
		exactCtx.Quantize(&r, &rr, minExp)
	} else {
		r.Set(&rr) // only while a retraction has not yet met its insert
	}
	return &r
}

type sumState struct {
	in, out types.Type
	avg     bool
	num     exactSum
	// interval sums, field by field
	months, days, micros int64
}

func (s *sumState) Add(args []types.Datum, diff int64) error {
	d := args[0]
	if d.IsNull() {
		return nil
	}
	if s.in == types.Interval {
		iv := d.Interval()
		s.num.n += diff
		s.months += int64(iv.Months) * diff
		s.days += int64(iv.Days) * diff
		s.micros += iv.Micros * diff
		return nil
	}
	return s.num.add(d, diff)
}

func (s *sumState) Result() (types.Datum, error) {
	n := s.num.n
	if n <= 0 {
		return types.Null(s.out), nil
	}
	if s.in == types.Interval {
		if !s.avg {
			return checkInterval(s.months, s.days, float64(s.micros))
		}
		sum, err := checkInterval(s.months, s.days, float64(s.micros))
		if err != nil {
			return sum, err
		}
		return intervalDiv(sum.Interval(), float64(n))
	}
	if s.out.IsFloat() {
		if f, ok := s.num.special(); ok {
			return types.NewFloat(s.out, f), nil
		}
		f := decFloat(&s.num.sum)
		if s.avg {
			var q apd.Decimal
			apd.BaseContext.WithPrecision(40).Quo(&q, &s.num.sum, apd.New(n, 0))
			f = decFloat(&q)
		}
		if math.IsInf(f, 0) || s.out == types.Float4 && math.IsInf(float64(float32(f)), 0) {
			return types.Datum{}, errOverflow()
		}
		return types.NewFloat(s.out, f), nil
	}
	if f, ok := s.num.special(); ok {
		return floatToDecimal(f), nil
	}
	total := s.num.total()
	if s.avg {
		return numericDiv(total, apd.New(n, 0))
	}
	if s.out == types.Int8 {
		v, err := total.Int64()
		if err != nil {
			return types.Datum{}, outOfRange(types.Int8)
		}
		return types.NewInt8(v), nil
	}
	return types.NewNumeric(total), nil
}

type minMaxState struct {
	max bool
	set *multiset
	typ types.Type
}

func (s *minMaxState) Add(args []types.Datum, diff int64) error {
	if s.typ == types.Unknown {
		s.typ = args[0].Type()
	}
	if args[0].IsNull() {
		return nil
	}
	s.set.add(args[:1], diff)
	return nil
}

// IsExtreme reports whether a is min or max: two calls of them over the
// same argument can share one state (ExtremeTwin).
func IsExtreme(a *Aggregate) bool { return a.Name == "min" || a.Name == "max" }

// ExtremeTwin returns a state answering the other extreme of s, a state of
// min or max, from s's own multiset: min(v) and max(v) in one query keep
// one multiset of v instead of two (10M rows under `min(v), max(v)` held
// 320 MB of them). The twin's Add does nothing (the caller adds to s only,
// once per change), and it has no state of its own to save or load. ok is
// false when s is not a state of min or max.
func ExtremeTwin(s AggState) (twin AggState, ok bool) {
	m, ok := s.(*minMaxState)
	if !ok {
		return nil, false
	}
	return &extremeTwin{of: m}, true
}

type extremeTwin struct{ of *minMaxState }

func (t *extremeTwin) Add([]types.Datum, int64) error { return nil }

func (t *extremeTwin) Result() (types.Datum, error) {
	if d, ok := t.of.set.extreme(!t.of.max); ok {
		return d, nil
	}
	return types.Null(t.of.typ), nil
}

func (t *extremeTwin) AppendState(dst types.Row) types.Row { return dst }

func (t *extremeTwin) LoadState(src types.Row) error {
	if len(src) != 0 {
		return fmt.Errorf("%w: %d datums for the twin of a min or max, which has no state", ErrBadAggState, len(src))
	}
	return nil
}

// compareFirst orders min's and max's one-datum keys.
func compareFirst(a, b types.Row) int { return types.CompareRef(&a[0], &b[0]) }

func (s *minMaxState) Result() (types.Datum, error) {
	if d, ok := s.set.extreme(s.max); ok {
		return d, nil
	}
	return types.Null(s.typ), nil
}

type boolState struct {
	or            bool
	trues, falses int64
}

func (s *boolState) Add(args []types.Datum, diff int64) error {
	switch {
	case args[0].IsNull():
	case args[0].Bool():
		s.trues += diff
	default:
		s.falses += diff
	}
	return nil
}

func (s *boolState) Result() (types.Datum, error) {
	if s.trues+s.falses <= 0 {
		return types.Null(types.Bool), nil
	}
	if s.or {
		return types.NewBool(s.trues > 0), nil
	}
	return types.NewBool(s.falses <= 0), nil
}

type stringAggState struct {
	set *multiset
	// keys is the number of ORDER BY values that follow the value and the
	// delimiter in each Add (see OrderBy).
	keys int
}

// OrderBy makes string_agg concatenate in the order of its ORDER BY
// clause: Add then receives (value, delimiter, key1, ... keyN), ordered by
// the keys with the given directions, ties by value.
func (s *stringAggState) OrderBy(keys int, desc, nullsFirst []bool) {
	s.keys = keys
	s.set = newMultisetCmp(func(a, b types.Row) int {
		for i := 0; i < keys; i++ {
			x, y := a[i], b[i]
			if x.IsNull() != y.IsNull() {
				if x.IsNull() == nullsFirst[i] {
					return -1
				}
				return 1
			}
			c := types.Compare(x, y)
			if desc[i] {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return types.CompareRows(a[keys:], b[keys:])
	})
}

func (s *stringAggState) Add(args []types.Datum, diff int64) error {
	if args[0].IsNull() {
		return nil
	}
	delim := args[1]
	if delim.IsNull() {
		delim = types.NewText("")
	}
	key := make(types.Row, 0, s.keys+2)
	key = append(key, args[2:2+s.keys]...)
	key = append(key, args[0].WithType(types.Text), delim.WithType(types.Text))
	s.set.add(key, diff)
	return nil
}

// Result joins the values in order; each value after the first is preceded
// by its own delimiter, as in PostgreSQL.
func (s *stringAggState) Result() (types.Datum, error) {
	var sb strings.Builder
	first := true
	s.set.ascend(func(it *msItem) bool {
		for i := int64(0); i < it.n; i++ {
			if !first {
				sb.WriteString(it.key[s.keys+1].Str())
			}
			sb.WriteString(it.key[s.keys].Str())
			first = false
		}
		return true
	})
	if first {
		return types.Null(types.Text), nil
	}
	return types.NewText(sb.String()), nil
}

// varianceState keeps exact sums of x and x² and the count, so retraction
// is exact; the result follows numeric_stddev_internal.
type varianceState struct {
	out          types.Type
	sample, root bool
	sum, sum2    exactSum
}

func (s *varianceState) Add(args []types.Datum, diff int64) error {
	d := args[0]
	if d.IsNull() {
		return nil
	}
	if err := s.sum.add(d, diff); err != nil {
		return err
	}
	if f, ok := specialFloat(d); ok {
		return s.sum2.add(types.NewFloat8(f*f), diff)
	}
	x, err := decimalOf(d)
	if err != nil {
		return err
	}
	var sq apd.Decimal
	if _, err := exactCtx.Mul(&sq, x, x); err != nil {
		return numericOverflow()
	}
	return s.sum2.add(types.NewNumeric(&sq), diff)
}

// specialFloat reports a NaN or infinite input (float or numeric).
func specialFloat(d types.Datum) (float64, bool) {
	switch {
	case d.Type().IsFloat():
		f := d.Float()
		return f, math.IsNaN(f) || math.IsInf(f, 0)
	case d.Type() == types.Numeric && d.Decimal().Form != apd.Finite:
		return decFloat(d.Decimal()), true
	}
	return 0, false
}

func (s *varianceState) Result() (types.Datum, error) {
	n := s.sum.n
	if n <= 0 || s.sample && n == 1 {
		return types.Null(s.out), nil
	}
	if _, ok := s.sum.special(); ok {
		if s.out == types.Float8 {
			return types.NewFloat8(math.NaN()), nil
		}
		return types.NewNumeric(&apd.Decimal{Form: apd.NaN}), nil
	}
	// numerator = N·Σx² − (Σx)²; denominator = N·(N−1) or N².
	sumX, sumX2 := &s.sum.sum, &s.sum2.sum
	if !s.sum.floatIn {
		sumX, sumX2 = s.sum.total(), s.sum2.total()
	}
	var sq, num apd.Decimal
	exactCtx.Mul(&sq, sumX, sumX)
	exactCtx.Mul(&num, sumX2, apd.New(n, 0))
	exactCtx.Sub(&num, &num, &sq)
	den := n * n
	if s.sample {
		den = n * (n - 1)
	}
	if s.out == types.Float8 {
		if num.Sign() <= 0 {
			return types.NewFloat8(0), nil
		}
		c := apd.BaseContext.WithPrecision(40)
		var q apd.Decimal
		c.Quo(&q, &num, apd.New(den, 0))
		if s.root {
			c.Sqrt(&q, &q)
		}
		return types.NewFloat8(decFloat(&q)), nil
	}
	if num.Sign() <= 0 {
		return types.NewNumeric(apd.New(0, 0)), nil
	}
	// PostgreSQL's scale: select_div_scale of numerator/denominator, with
	// the numerator's scale being twice the sum's.
	var numScaled apd.Decimal
	scale2 := 2 * dscale(sumX)
	exactCtx.Quantize(&numScaled, &num, int32(-max(scale2, dscale(&num))))
	den0 := apd.New(den, 0)
	w1, f1 := nbaseLead(&numScaled)
	w2, f2 := nbaseLead(den0)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	scale := clampScale(minSigDigits-qweight*4, &numScaled, den0)
	if !s.root {
		return divToScale(&numScaled, den0, scale)
	}
	c := apd.BaseContext.WithPrecision(precisionFor(adjExp(&numScaled)-adjExp(den0)+1, scale+10))
	var q, r apd.Decimal
	c.Quo(&q, &numScaled, den0)
	c.Sqrt(&r, &q)
	return roundTo(&r, scale)
}
