package expr

import (
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/types"
)

// to_char for numbers: PostgreSQL's numeric formatting patterns 9, 0, . (D),
// , (G), FM, S, MI, PL, SG and PR. A value with more integer digits than
// the pattern has places prints as '#' in every digit place.
func init() {
	text := types.Text
	num := func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(toCharNumber(a[0].AsDecimal(), a[1].Str())), nil
	}
	Register("to_char",
		&Overload{Args: []types.Type{types.Int8, text}, Ret: text, Fn: num},
		&Overload{Args: []types.Type{types.Numeric, text}, Ret: text, Fn: num},
		&Overload{Args: []types.Type{types.Float8, text}, Ret: text, Fn: num})
}

// numberFormat is a parsed numeric pattern.
type numberFormat struct {
	intPart  []byte // '9', '0' and ',' before the decimal point
	fracPart []byte // '9' and '0' after it
	point    bool
	fm       bool
	sign     string // "", "S" (leading or trailing), "MI", "PL", "SG", "PR"
	trailing bool   // the sign pattern follows the digits
}

func parseNumberFormat(f string) numberFormat {
	var nf numberFormat
	up := strings.ToUpper(f)
	for i := 0; i < len(up); i++ {
		rest := up[i:]
		switch {
		case strings.HasPrefix(rest, "FM"):
			nf.fm = true
			i++
		case strings.HasPrefix(rest, "MI"), strings.HasPrefix(rest, "PL"), strings.HasPrefix(rest, "SG"), strings.HasPrefix(rest, "PR"):
			nf.sign, nf.trailing = rest[:2], len(nf.intPart) > 0 || nf.point
			i++
		case rest[0] == 'S':
			nf.sign, nf.trailing = "S", len(nf.intPart) > 0 || nf.point
		case rest[0] == '9' || rest[0] == '0':
			if nf.point {
				nf.fracPart = append(nf.fracPart, rest[0])
			} else {
				nf.intPart = append(nf.intPart, rest[0])
			}
		case rest[0] == '.' || rest[0] == 'D':
			nf.point = true
		case rest[0] == ',' || rest[0] == 'G':
			if !nf.point {
				nf.intPart = append(nf.intPart, ',')
			}
		}
	}
	return nf
}

func toCharNumber(v *apd.Decimal, format string) string {
	nf := parseNumberFormat(format)
	places := 0
	for _, c := range nf.intPart {
		if c != ',' {
			places++
		}
	}
	// Round to the pattern's decimals, half away from zero.
	var r apd.Decimal
	c := apd.BaseContext.WithPrecision(1000)
	c.Rounding = apd.RoundHalfUp
	c.Quantize(&r, v, -int32(len(nf.fracPart)))
	neg := r.Negative && !r.IsZero()
	r.Negative = false
	digits := r.Text('f')
	intDigits, fracDigits, _ := strings.Cut(digits, ".")
	intDigits = strings.TrimLeft(intDigits, "0")
	for len(fracDigits) < len(nf.fracPart) {
		fracDigits += "0"
	}

	overflow := len(intDigits) > places
	// Integer part, right to left.
	out := make([]byte, len(nf.intPart))
	firstZero := len(nf.intPart) // leftmost '0' place forces digits from there on
	for i, c := range nf.intPart {
		if c == '0' {
			firstZero = i
			break
		}
	}
	d := len(intDigits) - 1
	leftmost := len(nf.intPart) // index of the leftmost printed character
	for i := len(nf.intPart) - 1; i >= 0; i-- {
		switch {
		case nf.intPart[i] == ',':
			out[i] = ','
		case overflow:
			out[i] = '#'
			leftmost = i
		case d >= 0:
			out[i] = intDigits[d]
			d--
			leftmost = i
		case i >= firstZero:
			out[i] = '0'
			leftmost = i
		default:
			out[i] = ' '
		}
	}
	// A value below 1 with no fraction places still shows its 0.
	if !overflow && len(intDigits) == 0 && len(nf.fracPart) == 0 && places > 0 && leftmost == len(nf.intPart) {
		for i := len(nf.intPart) - 1; i >= 0; i-- {
			if nf.intPart[i] != ',' {
				out[i] = '0'
				leftmost = i
				break
			}
		}
	}
	// Group separators left of the first printed digit are blanks.
	for i := 0; i < leftmost && i < len(out); i++ {
		if out[i] == ',' {
			out[i] = ' '
		}
	}
	var frac string
	if nf.point {
		if overflow {
			frac = "." + strings.Repeat("#", len(nf.fracPart))
		} else {
			fd := fracDigits[:len(nf.fracPart)]
			if nf.fm {
				// Fill mode drops the trailing zeros of 9 places.
				n := len(fd)
				for n > 0 && fd[n-1] == '0' && nf.fracPart[n-1] == '9' {
					n--
				}
				fd = fd[:n]
			}
			frac = "." + fd
		}
	}
	intStr := string(out)
	if nf.fm {
		intStr = strings.TrimLeft(intStr, " ")
	}

	// withDefaultSign puts the sign right before the first digit; a
	// positive number gets a space there, unless in fill mode.
	withDefaultSign := func() string {
		sign := " "
		if neg {
			sign = "-"
		} else if nf.fm {
			sign = ""
		}
		pad := len(intStr) - len(strings.TrimLeft(intStr, " "))
		return intStr[:pad] + sign + intStr[pad:] + frac
	}
	var sign string
	switch nf.sign {
	case "":
		return withDefaultSign()
	case "S":
		sign = "+"
		if neg {
			sign = "-"
		}
	case "MI":
		sign = " "
		if neg {
			sign = "-"
		} else if nf.fm {
			sign = ""
		}
	case "PL":
		// PL adds a plus sign; the usual sign place stays.
		if neg {
			return " " + withDefaultSign()
		}
		return "+" + withDefaultSign()
	case "SG":
		sign = "+"
		if neg {
			sign = "-"
		}
	case "PR":
		if neg {
			return "<" + strings.TrimLeft(intStr, " ") + frac + ">"
		}
		return " " + intStr + frac + " "
	}
	if nf.trailing {
		return intStr + frac + sign
	}
	pad := len(intStr) - len(strings.TrimLeft(intStr, " "))
	return intStr[:pad] + sign + intStr[pad:] + frac
}
