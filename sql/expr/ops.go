package expr

import (
	"math"
	"math/bits"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Operators. Binary operators take (left, right); unary prefix operators
// take one argument. Mixed int2/int4 operands reach the same-type overloads
// through implicit casts (Resolve), as do varchar and unknown operands of
// the text operators.
//
// LIKE ... ESCAPE e is bound as `x ~~ like_escape(pattern, e)` (as
// PostgreSQL does): like_escape rewrites the pattern to use backslash as the
// escape character.

type fn = func(ctx *Ctx, args []types.Datum) (types.Datum, error)

func binop(sym string, l, r, ret types.Type, f fn) {
	Register(sym, &Overload{Op: sym, Args: []types.Type{l, r}, Ret: ret, Fn: f})
}

func unop(sym string, a, ret types.Type, f fn) {
	Register(sym, &Overload{Op: sym, Args: []types.Type{a}, Ret: ret, Fn: f})
}

func init() {
	for _, t := range []types.Type{types.Int2, types.Int4, types.Int8} {
		t := t
		binop("+", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intAdd(t, a[0].Int(), a[1].Int()) })
		binop("-", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intSub(t, a[0].Int(), a[1].Int()) })
		binop("*", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intMul(t, a[0].Int(), a[1].Int()) })
		binop("/", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intDiv(t, a[0].Int(), a[1].Int()) })
		binop("%", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intMod(t, a[0].Int(), a[1].Int()) })
		unop("-", t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intSub(t, 0, a[0].Int()) })
		unop("+", t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return a[0], nil })
		unop("@", t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intAbs(t, a[0].Int()) })
		// Bitwise operators; shifts wrap to the type's width as PostgreSQL's do.
		binop("&", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return types.NewInt(t, a[0].Int()&a[1].Int()), nil })
		binop("|", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return types.NewInt(t, a[0].Int()|a[1].Int()), nil })
		binop("#", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return types.NewInt(t, a[0].Int()^a[1].Int()), nil })
		unop("~", t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return types.NewInt(t, ^a[0].Int()), nil })
		binop("<<", t, types.Int4, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewInt(t, wrapInt(t, a[0].Int()<<(uint64(a[1].Int())&63))), nil
		})
		binop(">>", t, types.Int4, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewInt(t, a[0].Int()>>(uint64(a[1].Int())&63)), nil
		})
	}
	for _, t := range []types.Type{types.Float4, types.Float8} {
		t := t
		binop("+", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return floatResult(t, a[0].Float()+a[1].Float(), a[0].Float(), a[1].Float(), false)
		})
		binop("-", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return floatResult(t, a[0].Float()-a[1].Float(), a[0].Float(), a[1].Float(), false)
		})
		binop("*", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return floatResult(t, a[0].Float()*a[1].Float(), a[0].Float(), a[1].Float(), true)
		})
		binop("/", t, t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			x, y := a[0].Float(), a[1].Float()
			if y == 0 && !math.IsNaN(x) {
				return types.Datum{}, errDivByZero()
			}
			return floatResult(t, x/y, x, y, true)
		})
		unop("-", t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return types.NewFloat(t, -a[0].Float()), nil })
		unop("+", t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return a[0], nil })
		unop("@", t, t, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewFloat(t, math.Abs(a[0].Float())), nil
		})
	}
	n := types.Numeric
	binop("+", n, n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return numericOp(a[0], a[1], func(x, y float64) float64 { return x + y }, exactCtx.Add)
	})
	binop("-", n, n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return numericOp(a[0], a[1], func(x, y float64) float64 { return x - y }, exactCtx.Sub)
	})
	binop("*", n, n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return numericOp(a[0], a[1], func(x, y float64) float64 { return x * y }, exactCtx.Mul)
	})
	binop("/", n, n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return numericDiv(a[0].Decimal(), a[1].Decimal()) })
	binop("%", n, n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return numericMod(a[0].Decimal(), a[1].Decimal()) })
	unop("-", n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		var r apd.Decimal
		r.Neg(a[0].Decimal())
		return types.NewNumeric(&r), nil
	})
	unop("+", n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return a[0], nil })
	unop("@", n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		var r apd.Decimal
		r.Abs(a[0].Decimal())
		return types.NewNumeric(&r), nil
	})
	f8 := types.Float8
	binop("^", f8, f8, f8, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return floatPow(a[0].Float(), a[1].Float()) })
	binop("^", n, n, n, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return numericPow(a[0].Decimal(), a[1].Decimal()) })
	unop("|/", f8, f8, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return floatSqrt(a[0].Float()) })
	unop("||/", f8, f8, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewFloat8(math.Cbrt(a[0].Float())), nil
	})

	text := types.Text
	binop("||", text, text, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(a[0].Str() + a[1].Str()), nil
	})
	likeOp := func(sym string, fold, negate bool) {
		binop(sym, text, text, types.Bool, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			s, p := a[0].Str(), a[1].Str()
			if fold {
				s, p = strings.ToLower(s), strings.ToLower(p)
			}
			ok, err := likeMatch(s, p)
			return types.NewBool(ok != negate), err
		})
	}
	likeOp("~~", false, false)
	likeOp("!~~", false, true)
	likeOp("~~*", true, false)
	likeOp("!~~*", true, true)
	Register("like_escape", &Overload{Args: []types.Type{text, text}, Ret: text, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		p, err := likeEscape(a[0].Str(), a[1].Str())
		return types.NewText(p), err
	}})
	Register("like", &Overload{Args: []types.Type{text, text}, Ret: types.Bool, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		ok, err := likeMatch(a[0].Str(), a[1].Str())
		return types.NewBool(ok), err
	}})
	regexOp := func(sym string, fold, negate bool) {
		binop(sym, text, text, types.Bool, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			re, err := compileRegex(a[1].Str(), fold)
			if err != nil {
				return types.Datum{}, err
			}
			return types.NewBool(re.MatchString(a[0].Str()) != negate), nil
		})
	}
	regexOp("~", false, false)
	regexOp("!~", false, true)
	regexOp("~*", true, false)
	regexOp("!~*", true, true)

	registerDateTimeOps()
	registerJSONOps()
}

// wrapInt truncates v to t's width, as a C shift on the type would.
func wrapInt(t types.Type, v int64) int64 {
	switch t {
	case types.Int2:
		return int64(int16(v))
	case types.Int4:
		return int64(int32(v))
	}
	return v
}

func intAdd(t types.Type, x, y int64) (types.Datum, error) {
	r := x + y
	if (x >= 0) == (y >= 0) && (r >= 0) != (x >= 0) {
		return types.Datum{}, outOfRange(t)
	}
	return checkInt(t, r)
}

func intSub(t types.Type, x, y int64) (types.Datum, error) {
	r := x - y
	if (x >= 0) != (y >= 0) && (r >= 0) != (x >= 0) {
		return types.Datum{}, outOfRange(t)
	}
	return checkInt(t, r)
}

func intMul(t types.Type, x, y int64) (types.Datum, error) {
	hi, lo := bits.Mul64(uint64(absInt(x)), uint64(absInt(y)))
	neg := (x < 0) != (y < 0)
	if hi != 0 || lo > math.MaxInt64 && !(neg && lo == 1<<63) {
		return types.Datum{}, outOfRange(t)
	}
	return checkInt(t, x*y)
}

func absInt(x int64) int64 {
	if x < 0 {
		return -x // MinInt64 stays negative; as uint64 it is 1<<63, which is right
	}
	return x
}

func intDiv(t types.Type, x, y int64) (types.Datum, error) {
	if y == 0 {
		return types.Datum{}, errDivByZero()
	}
	if y == -1 {
		return intSub(t, 0, x)
	}
	return types.NewInt(t, x/y), nil
}

func intMod(t types.Type, x, y int64) (types.Datum, error) {
	if y == 0 {
		return types.Datum{}, errDivByZero()
	}
	if y == -1 {
		return types.NewInt(t, 0), nil
	}
	return types.NewInt(t, x%y), nil
}

func intAbs(t types.Type, x int64) (types.Datum, error) {
	if x < 0 {
		return intSub(t, 0, x)
	}
	return types.NewInt(t, x), nil
}

// floatResult checks a float operation's result as PostgreSQL's
// float_overflow_error/float_underflow_error do: an infinite result from
// finite inputs overflows; a zero result from non-zero inputs of * or /
// underflows.
func floatResult(t types.Type, r, x, y float64, zeroCheck bool) (types.Datum, error) {
	if t == types.Float4 {
		r = float64(float32(r))
	}
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return types.Datum{}, errOverflow()
	}
	if zeroCheck && r == 0 && x != 0 && !math.IsInf(y, 0) {
		return types.Datum{}, errUnderflow()
	}
	return types.NewFloat(t, r), nil
}

func floatPow(x, y float64) (types.Datum, error) {
	if x == 0 && y < 0 {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForPowerFunction, "zero raised to a negative power is undefined")
	}
	if x < 0 && y != math.Floor(y) && !math.IsInf(y, 0) {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForPowerFunction, "a negative number raised to a non-integer power yields a complex result")
	}
	if math.IsNaN(x) && y == 0 || x == 1 && math.IsNaN(y) {
		return types.NewFloat8(1), nil
	}
	r := math.Pow(x, y)
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return types.Datum{}, errOverflow()
	}
	if r == 0 && x != 0 && !math.IsInf(y, 0) && !math.IsInf(x, 0) {
		return types.Datum{}, errUnderflow()
	}
	return types.NewFloat8(r), nil
}

func floatSqrt(x float64) (types.Datum, error) {
	if x < 0 {
		return types.Datum{}, pgerror.New(pgerror.InvalidArgumentForPowerFunction, "cannot take square root of a negative number")
	}
	return types.NewFloat8(math.Sqrt(x)), nil
}

// likeMatch implements LIKE: % matches any run of characters, _ one
// character, and backslash escapes the next character. The caller folds
// case for ILIKE.
func likeMatch(s, p string) (bool, error) {
	if strings.HasSuffix(p, `\`) {
		// Only an unescaped trailing backslash is an error.
		n := len(p) - len(strings.TrimRight(p, `\`))
		if n%2 == 1 {
			return false, pgerror.New(pgerror.InvalidEscapeSequence, "LIKE pattern must not end with escape character")
		}
	}
	return likeRunes([]rune(s), []rune(p)), nil
}

func likeRunes(s, p []rune) bool {
	for len(p) > 0 {
		switch p[0] {
		case '%':
			for len(p) > 0 && (p[0] == '%' || p[0] == '_') {
				if p[0] == '_' {
					if len(s) == 0 {
						return false
					}
					s = s[1:]
				}
				p = p[1:]
			}
			if len(p) == 0 {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if likeRunes(s[i:], p) {
					return true
				}
			}
			return false
		case '_':
			if len(s) == 0 {
				return false
			}
		case '\\':
			p = p[1:]
			fallthrough
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		s, p = s[1:], p[1:]
	}
	return len(s) == 0
}

// likeEscape rewrites a LIKE pattern written with escape character esc into
// one that uses backslash, as PostgreSQL's like_escape does. An empty esc
// disables escaping.
func likeEscape(p, esc string) (string, error) {
	e := []rune(esc)
	if len(e) > 1 {
		return "", &pgerror.Error{Code: pgerror.InvalidEscapeSequence, Message: "invalid escape string",
			Hint: "Escape string must be empty or one character."}
	}
	if len(e) == 1 && e[0] == '\\' {
		return p, nil
	}
	var b strings.Builder
	after := false
	for _, c := range p {
		switch {
		case len(e) == 1 && c == e[0] && !after:
			b.WriteRune('\\')
			after = true
		case c == '\\':
			b.WriteRune('\\')
			if !after {
				b.WriteRune('\\')
			}
			after = false
		default:
			b.WriteRune(c)
			after = false
		}
	}
	return b.String(), nil
}
