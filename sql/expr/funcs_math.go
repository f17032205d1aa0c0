package expr

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// exactCtx computes exact results for +, -, * and quantization: its
// precision is far beyond any value Tributary stores, so it never rounds in
// practice. Division and transcendental functions pick their own precision
// and then round to the scale PostgreSQL would choose.
var exactCtx = apd.BaseContext.WithPrecision(4000)

// PostgreSQL's numeric scale rules aim for at least this many significant
// digits (NUMERIC_MIN_SIG_DIGITS) and never more than 1000 decimals.
const (
	minSigDigits = 16
	maxScale     = 1000
)

func fnum(name string, args []types.Type, ret types.Type, f fn) *Overload {
	return &Overload{Name: name, Args: args, Ret: ret, Fn: f}
}

func float1(name string, f func(float64) (types.Datum, error)) {
	Register(name, fnum(name, []types.Type{types.Float8}, types.Float8, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return f(a[0].Float())
	}))
}

func num1(name string, f func(*apd.Decimal) (types.Datum, error)) {
	Register(name, fnum(name, []types.Type{types.Numeric}, types.Numeric, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return f(a[0].Decimal())
	}))
}

func init() {
	n, f8, i4 := types.Numeric, types.Float8, types.Int4
	for _, t := range []types.Type{types.Int2, types.Int4, types.Int8} {
		t := t
		Register("abs", fnum("abs", []types.Type{t}, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intAbs(t, a[0].Int()) }))
		Register("mod", fnum("mod", []types.Type{t, t}, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intMod(t, a[0].Int(), a[1].Int()) }))
	}
	for _, t := range []types.Type{types.Float4, types.Float8} {
		t := t
		Register("abs", fnum("abs", []types.Type{t}, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewFloat(t, math.Abs(a[0].Float())), nil
		}))
	}
	num1("abs", func(x *apd.Decimal) (types.Datum, error) { return types.NewNumeric(new(apd.Decimal).Abs(x)), nil })
	Register("mod", fnum("mod", []types.Type{n, n}, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return numericMod(a[0].Decimal(), a[1].Decimal())
	}))
	for _, name := range []string{"gcd", "lcm"} {
		lcm := name == "lcm"
		for _, t := range []types.Type{types.Int4, types.Int8} {
			t := t
			Register(name, fnum(name, []types.Type{t, t}, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
				return intGCD(t, a[0].Int(), a[1].Int(), lcm)
			}))
		}
	}

	// Rounding. float8 rounds half to even (rint); numeric half away from zero.
	float1("round", func(x float64) (types.Datum, error) { return types.NewFloat8(math.RoundToEven(x)), nil })
	float1("trunc", func(x float64) (types.Datum, error) { return types.NewFloat8(math.Trunc(x)), nil })
	for _, name := range []string{"ceil", "ceiling"} {
		float1(name, func(x float64) (types.Datum, error) { return types.NewFloat8(math.Ceil(x)), nil })
		num1(name, func(x *apd.Decimal) (types.Datum, error) { return numericRound(x, 0, apd.RoundCeiling) })
	}
	float1("floor", func(x float64) (types.Datum, error) { return types.NewFloat8(math.Floor(x)), nil })
	num1("floor", func(x *apd.Decimal) (types.Datum, error) { return numericRound(x, 0, apd.RoundFloor) })
	num1("round", func(x *apd.Decimal) (types.Datum, error) { return numericRound(x, 0, apd.RoundHalfUp) })
	num1("trunc", func(x *apd.Decimal) (types.Datum, error) { return numericRound(x, 0, apd.RoundDown) })
	Register("round", fnum("round", []types.Type{n, i4}, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return numericRound(a[0].Decimal(), a[1].Int(), apd.RoundHalfUp)
	}))
	Register("trunc", fnum("trunc", []types.Type{n, i4}, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return numericRound(a[0].Decimal(), a[1].Int(), apd.RoundDown)
	}))
	float1("sign", func(x float64) (types.Datum, error) {
		switch {
		case x > 0:
			return types.NewFloat8(1), nil
		case x < 0:
			return types.NewFloat8(-1), nil
		}
		return types.NewFloat8(x), nil // 0 or NaN
	})
	num1("sign", func(x *apd.Decimal) (types.Datum, error) {
		if x.Form == apd.NaN {
			return types.NewNumeric(x), nil
		}
		return types.NewNumeric(apd.New(int64(x.Sign()), 0)), nil
	})
	Register("div", fnum("div", []types.Type{n, n}, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		x, y := a[0].Decimal(), a[1].Decimal()
		if y.IsZero() {
			return types.Datum{}, errDivByZero()
		}
		var r apd.Decimal
		if _, err := exactCtx.QuoInteger(&r, x, y); err != nil {
			return types.Datum{}, numericOverflow()
		}
		return numericRound(&r, 0, apd.RoundDown)
	}))

	// Powers, roots and logarithms.
	for _, name := range []string{"power", "pow"} {
		Register(name,
			fnum(name, []types.Type{f8, f8}, f8, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return floatPow(a[0].Float(), a[1].Float()) }),
			fnum(name, []types.Type{n, n}, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return numericPow(a[0].Decimal(), a[1].Decimal()) }))
	}
	float1("sqrt", floatSqrt)
	num1("sqrt", numericSqrt)
	float1("cbrt", func(x float64) (types.Datum, error) { return types.NewFloat8(math.Cbrt(x)), nil })
	float1("exp", func(x float64) (types.Datum, error) {
		r := math.Exp(x)
		if math.IsInf(r, 0) && !math.IsInf(x, 0) {
			return types.Datum{}, errOverflow()
		}
		if r == 0 && !math.IsInf(x, 0) {
			return types.Datum{}, errUnderflow()
		}
		return types.NewFloat8(r), nil
	})
	num1("exp", numericExp)
	float1("ln", func(x float64) (types.Datum, error) { return floatLog(x, math.Log) })
	num1("ln", numericLn)
	for _, name := range []string{"log", "log10"} {
		float1(name, func(x float64) (types.Datum, error) { return floatLog(x, math.Log10) })
		num1(name, func(x *apd.Decimal) (types.Datum, error) { return numericLog(apd.New(10, 0), x) })
	}
	Register("log", fnum("log", []types.Type{n, n}, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return numericLog(a[0].Decimal(), a[1].Decimal())
	}))

	// Trigonometry and constants (float8 only, as in PostgreSQL).
	for name, g := range map[string]func(float64) float64{
		"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "asin": math.Asin, "acos": math.Acos, "atan": math.Atan,
		"degrees": func(x float64) float64 { return x * 180 / math.Pi },
		"radians": func(x float64) float64 { return x * math.Pi / 180 },
	} {
		g := g
		float1(name, func(x float64) (types.Datum, error) {
			r := g(x)
			if math.IsNaN(r) && !math.IsNaN(x) {
				return types.Datum{}, pgerror.New(pgerror.NumericValueOutOfRange, "input is out of range")
			}
			return types.NewFloat8(r), nil
		})
	}
	Register("atan2", fnum("atan2", []types.Type{f8, f8}, f8, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewFloat8(math.Atan2(a[0].Float(), a[1].Float())), nil
	}))
	Register("pi", fnum("pi", nil, f8, func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewFloat8(math.Pi), nil }))
	Register("random", &Overload{Ret: f8, Volatile: true, Fn: func(*Ctx, []types.Datum) (types.Datum, error) {
		return types.NewFloat8(rand.Float64()), nil
	}})
	Register("width_bucket",
		fnum("width_bucket", []types.Type{f8, f8, f8, i4}, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return widthBucket(a[0].Float(), a[1].Float(), a[2].Float(), a[3].Int())
		}),
		fnum("width_bucket", []types.Type{n, n, n, i4}, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return widthBucket(a[0].AsFloat(), a[1].AsFloat(), a[2].AsFloat(), a[3].Int())
		}))
}

func numericOverflow() error {
	return pgerror.New(pgerror.NumericValueOutOfRange, "value overflows numeric format")
}

// dscale is a numeric's display scale: its number of decimal places.
func dscale(d *apd.Decimal) int64 {
	if d.Form != apd.Finite || d.Exponent >= 0 {
		return 0
	}
	return int64(-d.Exponent)
}

// nbaseLead returns PostgreSQL's base-10000 weight of d's leading digit
// group and that group's value: 12345.6 is 1|2345.6000, weight 1, lead 1.
func nbaseLead(d *apd.Decimal) (weight, lead int64) {
	if d.IsZero() || d.Form != apd.Finite {
		return 0, 0
	}
	c := d.Coeff.String()
	e10 := int64(len(c)) - 1 + int64(d.Exponent)
	weight = floorDiv(e10, 4)
	k := int(e10 - weight*4 + 1)
	for len(c) < k {
		c += "0"
	}
	lead, _ = strconv.ParseInt(c[:k], 10, 64)
	return weight, lead
}

// adjExp is the decimal exponent of d's leading digit (0 for 1..9).
func adjExp(d *apd.Decimal) int64 {
	if d.IsZero() {
		return 0
	}
	return d.NumDigits() - 1 + int64(d.Exponent)
}

func clampScale(s int64, ins ...*apd.Decimal) int64 {
	for _, d := range ins {
		s = max(s, dscale(d))
	}
	return min(max(s, 0), maxScale)
}

// roundTo rounds x (computed with guard digits) to scale decimals, half
// away from zero.
func roundTo(x *apd.Decimal, scale int64) (types.Datum, error) {
	return numericRound(x, scale, apd.RoundHalfUp)
}

// numericRound rounds to scale decimal places (negative: to tens, hundreds)
// with the given mode. The result's display scale is max(scale, 0).
func numericRound(x *apd.Decimal, scale int64, mode apd.Rounder) (types.Datum, error) {
	if x.Form != apd.Finite {
		return types.NewNumeric(x), nil
	}
	scale = min(scale, maxScale)
	c := *exactCtx
	c.Rounding = mode
	var r apd.Decimal
	if scale < 0 {
		// Round at 10^-scale, then show no decimals.
		if _, err := c.Quantize(&r, x, int32(-scale)); err != nil {
			if adjExp(x) < -scale {
				return types.NewNumeric(apd.New(0, 0)), nil
			}
			return types.Datum{}, numericOverflow()
		}
		if _, err := exactCtx.Quantize(&r, &r, 0); err != nil {
			return types.Datum{}, numericOverflow()
		}
	} else if _, err := c.Quantize(&r, x, int32(-scale)); err != nil {
		return types.Datum{}, numericOverflow()
	}
	if r.IsZero() {
		r.Negative = false
	}
	return types.NewNumeric(&r), nil
}

// precisionFor is how many significant digits to compute a result of
// leading decimal exponent e to get scale decimals right, with guard digits.
func precisionFor(e, scale int64) uint32 {
	return uint32(max(e+scale+8, 8))
}

func nonFinite(ds ...*apd.Decimal) bool {
	for _, d := range ds {
		if d.Form != apd.Finite {
			return true
		}
	}
	return false
}

// floatToDecimal maps a float result back to numeric for operations on
// NaN and ±Infinity, whose rules PostgreSQL 14+ shares with float8.
func floatToDecimal(f float64) types.Datum {
	switch {
	case math.IsNaN(f):
		return types.NewNumeric(&apd.Decimal{Form: apd.NaN})
	case math.IsInf(f, 0):
		return types.NewNumeric(&apd.Decimal{Form: apd.Infinite, Negative: f < 0})
	}
	var d apd.Decimal
	d.SetFloat64(f)
	return types.NewNumeric(&d)
}

func decFloat(d *apd.Decimal) float64 {
	f, _ := strconv.ParseFloat(d.Text('e'), 64)
	if d.Form == apd.NaN {
		return math.NaN()
	}
	return f
}

func numericOp(a, b types.Datum, ff func(x, y float64) float64, op func(d, x, y *apd.Decimal) (apd.Condition, error)) (types.Datum, error) {
	x, y := a.Decimal(), b.Decimal()
	if nonFinite(x, y) {
		return floatToDecimal(ff(decFloat(x), decFloat(y))), nil
	}
	var r apd.Decimal
	if _, err := op(&r, x, y); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return types.NewNumeric(&r), nil
}

// numericDiv divides with PostgreSQL's select_div_scale: enough decimals for
// about 16 significant digits of quotient, and never fewer than either
// input's scale. 1/3 = 0.33333333333333333333, 10/4 = 2.5000000000000000.
func numericDiv(x, y *apd.Decimal) (types.Datum, error) {
	if y.IsZero() && y.Form == apd.Finite && x.Form != apd.NaN {
		return types.Datum{}, errDivByZero()
	}
	if nonFinite(x, y) {
		return floatToDecimal(decFloat(x) / decFloat(y)), nil
	}
	w1, f1 := nbaseLead(x)
	w2, f2 := nbaseLead(y)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	scale := clampScale(minSigDigits-qweight*4, x, y)
	return divToScale(x, y, scale)
}

// divToScale computes x/y rounded half away from zero to scale decimals. The
// quotient is first truncated with spare digits, which keeps the final
// rounding exact.
func divToScale(x, y *apd.Decimal, scale int64) (types.Datum, error) {
	c := apd.BaseContext.WithPrecision(precisionFor(adjExp(x)-adjExp(y)+1, scale))
	c.Rounding = apd.RoundDown
	var q apd.Decimal
	if _, err := c.Quo(&q, x, y); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return roundTo(&q, scale)
}

func numericMod(x, y *apd.Decimal) (types.Datum, error) {
	if y.IsZero() && y.Form == apd.Finite && x.Form != apd.NaN {
		return types.Datum{}, errDivByZero()
	}
	if nonFinite(x, y) {
		if x.Form == apd.Finite && y.Form == apd.Infinite {
			return types.NewNumeric(x), nil // x mod ±Inf = x
		}
		return types.NewNumeric(&apd.Decimal{Form: apd.NaN}), nil
	}
	var r apd.Decimal
	if _, err := exactCtx.Rem(&r, x, y); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return types.NewNumeric(&r), nil
}

func isInteger(d *apd.Decimal) bool {
	if d.Form != apd.Finite {
		return false
	}
	var r apd.Decimal
	r.Reduce(d)
	return r.Exponent >= 0
}

// numericPow follows power_var: an integral exponent gives at least 16
// decimals (2^10 = 1024.0000000000000000); otherwise the scale aims at 16
// significant digits of the estimated result.
func numericPow(x, y *apd.Decimal) (types.Datum, error) {
	if x.IsZero() && y.Sign() < 0 {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForPowerFunction, "zero raised to a negative power is undefined")
	}
	if x.Sign() < 0 && !isInteger(y) && y.Form == apd.Finite {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForPowerFunction, "a negative number raised to a non-integer power yields a complex result")
	}
	if nonFinite(x, y) {
		d, err := floatPow(decFloat(x), decFloat(y))
		if err != nil {
			return d, err
		}
		return floatToDecimal(d.Float()), nil
	}
	est := decFloat(y) * math.Log10(math.Abs(decFloat(x)))
	if x.IsZero() {
		est = 0
	}
	var scale int64
	if isInteger(y) {
		scale = clampScale(minSigDigits, x, y)
	} else {
		scale = clampScale(minSigDigits-int64(est), x, y)
	}
	if est > 131072 {
		return types.Datum{}, numericOverflow()
	}
	c := apd.BaseContext.WithPrecision(precisionFor(int64(math.Ceil(est))+1, scale))
	var r apd.Decimal
	if _, err := c.Pow(&r, x, y); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return roundTo(&r, scale)
}

func numericSqrt(x *apd.Decimal) (types.Datum, error) {
	if x.Sign() < 0 {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForPowerFunction, "cannot take square root of a negative number")
	}
	if x.Form != apd.Finite {
		return types.NewNumeric(x), nil
	}
	w, _ := nbaseLead(x)
	sweight := (w+1)*4/2 - 1
	scale := clampScale(minSigDigits-sweight, x)
	c := apd.BaseContext.WithPrecision(precisionFor(adjExp(x)/2+1, scale))
	var r apd.Decimal
	if _, err := c.Sqrt(&r, x); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return roundTo(&r, scale)
}

func numericExp(x *apd.Decimal) (types.Datum, error) {
	if x.Form != apd.Finite {
		return floatToDecimal(math.Exp(decFloat(x))), nil
	}
	est := decFloat(x) * 0.434294481903252
	if est > 131072 {
		return types.Datum{}, numericOverflow()
	}
	scale := clampScale(minSigDigits-int64(est), x)
	c := apd.BaseContext.WithPrecision(precisionFor(int64(math.Ceil(est))+1, scale))
	var r apd.Decimal
	if _, err := c.Exp(&r, x); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return roundTo(&r, scale)
}

// lnWeight estimates the decimal weight of ln(x), as estimate_ln_dweight.
func lnWeight(x *apd.Decimal) int64 {
	if x.Sign() <= 0 {
		return 0
	}
	if x.Cmp(apd.New(9, -1)) >= 0 && x.Cmp(apd.New(11, -1)) <= 0 {
		var d apd.Decimal
		exactCtx.Sub(&d, x, apd.New(1, 0))
		if d.IsZero() {
			return 0
		}
		return adjExp(&d)
	}
	ln := math.Log(decFloat(x))
	if math.IsInf(ln, 0) { // beyond float range: ln via the exponent
		ln = float64(adjExp(x)) * math.Ln10
	}
	return int64(math.Log10(math.Abs(ln)))
}

func checkLogArg(x *apd.Decimal) error {
	switch {
	case x.IsZero():
		return pgerror.New(pgerror.InvalidArgumentForLog, "cannot take logarithm of zero")
	case x.Sign() < 0:
		return pgerror.New(pgerror.InvalidArgumentForLog, "cannot take logarithm of a negative number")
	}
	return nil
}

func numericLn(x *apd.Decimal) (types.Datum, error) {
	if err := checkLogArg(x); err != nil {
		return types.Datum{}, err
	}
	if x.Form != apd.Finite {
		return types.NewNumeric(x), nil
	}
	w := lnWeight(x)
	scale := clampScale(minSigDigits-w, x)
	c := apd.BaseContext.WithPrecision(precisionFor(w+1, scale))
	var r apd.Decimal
	if _, err := c.Ln(&r, x); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return roundTo(&r, scale)
}

// numericLog is log(base, x), with log_var's scale.
func numericLog(base, x *apd.Decimal) (types.Datum, error) {
	if err := checkLogArg(base); err != nil {
		return types.Datum{}, err
	}
	if err := checkLogArg(x); err != nil {
		return types.Datum{}, err
	}
	if nonFinite(base, x) {
		return floatToDecimal(math.Log(decFloat(x)) / math.Log(decFloat(base))), nil
	}
	if base.Cmp(apd.New(1, 0)) == 0 {
		return types.Datum{}, errDivByZero()
	}
	w := lnWeight(x) - lnWeight(base)
	scale := clampScale(minSigDigits-w, base, x)
	p := precisionFor(max(w, 0)+1, scale) + 10
	c := apd.BaseContext.WithPrecision(p)
	var lx, lb, r apd.Decimal
	if _, err := c.Ln(&lx, x); err != nil {
		return types.Datum{}, numericOverflow()
	}
	if _, err := c.Ln(&lb, base); err != nil {
		return types.Datum{}, numericOverflow()
	}
	if _, err := c.Quo(&r, &lx, &lb); err != nil {
		return types.Datum{}, numericOverflow()
	}
	return roundTo(&r, scale)
}

func floatLog(x float64, f func(float64) float64) (types.Datum, error) {
	switch {
	case x == 0:
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForLog, "cannot take logarithm of zero")
	case x < 0:
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForLog, "cannot take logarithm of a negative number")
	}
	return types.NewFloat8(f(x)), nil
}

func intGCD(t types.Type, x, y int64, lcm bool) (types.Datum, error) {
	gcd := func(a, b int64) int64 {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	if lcm {
		if x == 0 || y == 0 {
			return types.NewInt(t, 0), nil
		}
		g := gcd(x, y)
		d, err := intMul(t, x/g, y)
		if err != nil {
			return d, err
		}
		return intAbs(t, d.Int())
	}
	g := gcd(x, y)
	if g < 0 {
		return intSub(t, 0, g) // gcd(MinInt, 0) is out of range
	}
	return checkInt(t, g)
}

// widthBucket is width_bucket(operand, low, high, count): bucket 0 below
// the range, count+1 above it; low > high counts downwards.
func widthBucket(x, lo, hi float64, count int64) (types.Datum, error) {
	if count <= 0 {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForWidthBucketFunction, "count must be greater than zero")
	}
	if math.IsNaN(x) || math.IsNaN(lo) || math.IsNaN(hi) {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForWidthBucketFunction, "operand, lower bound, and upper bound cannot be NaN")
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForWidthBucketFunction, "lower and upper bounds must be finite")
	}
	if lo == hi {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForWidthBucketFunction, "lower bound cannot equal upper bound")
	}
	var b int64
	if lo < hi {
		switch {
		case x < lo:
			b = 0
		case x >= hi:
			b = count + 1
		default:
			b = int64(float64(count)*((x-lo)/(hi-lo))) + 1
		}
	} else {
		switch {
		case x > lo:
			b = 0
		case x <= hi:
			b = count + 1
		default:
			b = int64(float64(count)*((lo-x)/(lo-hi))) + 1
		}
	}
	return checkInt(types.Int4, b)
}
