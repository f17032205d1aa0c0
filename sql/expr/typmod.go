package expr

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Type modifiers (varchar(n), char(n), numeric(p, s)) are applied by these
// length-coercion functions, named after PostgreSQL's own: the binder wraps
// a cast to a modified type, or an assignment to a modified column, in a call.
//
//	varchar(text, n, explicit) → varchar   truncates when explicit, else 22001
//	bpchar(text, n, explicit)  → bpchar    also pads with spaces to n
//	numeric(numeric, p, s)     → numeric   rounds to s decimals, 22003 past p digits
func init() {
	Register("varchar", &Overload{Args: []types.Type{types.Text, types.Int4, types.Bool}, Ret: types.Varchar,
		Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			s, err := limitLength(a[0].Str(), int(a[1].Int()), a[2].Bool(), "character varying")
			return types.NewString(types.Varchar, s), err
		}})
	Register("bpchar", &Overload{Args: []types.Type{types.Text, types.Int4, types.Bool}, Ret: types.Bpchar,
		Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			n := int(a[1].Int())
			s, err := limitLength(strings.TrimRight(a[0].Str(), " "), n, a[2].Bool(), "character")
			if err != nil {
				return types.Datum{}, err
			}
			if pad := n - utf8.RuneCountInString(s); pad > 0 {
				s += strings.Repeat(" ", pad)
			}
			return types.NewString(types.Bpchar, s), nil
		}})
	Register("numeric", &Overload{Args: []types.Type{types.Numeric, types.Int4, types.Int4}, Ret: types.Numeric,
		Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return numericTypmod(a[0].Decimal(), a[1].Int(), a[2].Int())
		}})
}

func limitLength(s string, n int, explicit bool, typeName string) (string, error) {
	if utf8.RuneCountInString(s) <= n {
		return s, nil
	}
	cut := 0
	for i := range s {
		if n == 0 {
			cut = i
			break
		}
		n--
		cut = len(s)
	}
	if n == 0 && cut < len(s) {
		head, tail := s[:cut], s[cut:]
		if explicit || strings.TrimRight(tail, " ") == "" {
			return head, nil
		}
	}
	return "", pgerror.New(pgerror.StringDataRightTruncation, "value too long for type %s(%d)", typeName, utf8.RuneCountInString(s[:cut]))
}

func numericTypmod(x *apd.Decimal, precision, scale int64) (types.Datum, error) {
	d, err := numericRound(x, scale, apd.RoundHalfUp)
	if err != nil {
		return d, err
	}
	r := d.Decimal()
	if r.Form != apd.Finite || r.IsZero() {
		return d, nil
	}
	if intDigits := int64(r.NumDigits()) + int64(r.Exponent); intDigits > precision-scale {
		return types.Datum{}, &pgerror.Error{Code: pgerror.NumericValueOutOfRange, Message: "numeric field overflow",
			Detail: fmt.Sprintf("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", precision, scale, precision-scale)}
	}
	return d, nil
}
