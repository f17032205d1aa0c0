package expr

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// CastDatum converts d to type to, as CAST(d AS to) does in PostgreSQL 15.
// NULL casts to the NULL of the target type. Untyped literals (Unknown) parse
// like text. Errors carry PostgreSQL's SQLSTATE: 22003 for out-of-range
// numbers, 22P02/22007 for text that does not parse, 42846 for a cast that
// does not exist.
func CastDatum(ctx *Ctx, d types.Datum, to types.Type) (types.Datum, error) {
	from := d.Type()
	if from == to {
		return d, nil
	}
	if d.IsNull() {
		return types.Null(to), nil
	}
	if !CanCast(from, to) {
		return types.Datum{}, cannotCast(from, to)
	}
	switch {
	case from == types.Unknown || from.Family() == types.FamString:
		return castFromText(ctx, d, to)
	case to.Family() == types.FamString:
		return types.NewString(to, textOut(ctx, d)), nil
	case from.Family() == types.FamNumeric && to.Family() == types.FamNumeric:
		return castNumber(d, to)
	case from == types.Bool && to == types.Int4:
		return types.NewInt(types.Int4, d.Int()), nil
	case from == types.Int4 && to == types.Bool:
		return types.NewBool(d.Int() != 0), nil
	case from == types.JSONB:
		return castFromJSONB(d, to)
	}
	return castTime(ctx, d, to)
}

// CanCast reports whether an explicit cast from from to to exists.
func CanCast(from, to types.Type) bool {
	if from == to || from == types.Unknown {
		return true
	}
	ff, tf := from.Family(), to.Family()
	switch {
	case ff == types.FamString || tf == types.FamString:
		// Every type has text I/O, and PostgreSQL allows explicit I/O casts.
		return to != types.Unknown
	case ff == types.FamNumeric && tf == types.FamNumeric:
		return true
	case from == types.Bool && to == types.Int4, from == types.Int4 && to == types.Bool:
		return true
	case from == types.JSONB:
		return to == types.Bool || tf == types.FamNumeric && to != types.Oid
	case ff == types.FamDateTime && tf == types.FamDateTime:
		return true
	case (from == types.Timestamp || from == types.TimestampTZ) && to == types.Time:
		return true
	case from == types.Time && to == types.Interval, from == types.Interval && to == types.Time:
		return true
	}
	return false
}

func cannotCast(from, to types.Type) error {
	return pgerror.New(pgerror.CannotCoerce, "cannot cast type %s to %s", from, to)
}

// parseErr turns a types.ParseError into a pgerror with the same SQLSTATE.
func parseErr(err error) error {
	var pe *types.ParseError
	if errors.As(err, &pe) {
		return &pgerror.Error{Code: pgerror.Code(pe.Code), Message: pe.Msg}
	}
	return err
}

func outOfRange(t types.Type) error {
	return pgerror.New(pgerror.NumericValueOutOfRange, "%s out of range", t)
}

func errOverflow() error {
	return pgerror.New(pgerror.NumericValueOutOfRange, "value out of range: overflow")
}

func errUnderflow() error {
	return pgerror.New(pgerror.NumericValueOutOfRange, "value out of range: underflow")
}

func errDivByZero() error { return pgerror.New(pgerror.DivisionByZero, "division by zero") }

// location is the session's TimeZone for an evaluation that needs it
// (UTC without a context), noting the use for a binder that folds
// constants (Ctx.ZoneUsed).
func location(ctx *Ctx) *time.Location {
	if ctx == nil {
		return time.UTC
	}
	if ctx.ZoneUsed != nil {
		*ctx.ZoneUsed = true
	}
	if ctx.Location == nil {
		return time.UTC
	}
	return ctx.Location
}

// textOut renders d as the text output function of its type does under the
// session's settings. It differs from types.FormatText in two places:
// booleans cast to text as 'true'/'false', and timestamptz renders in the
// session time zone.
func textOut(ctx *Ctx, d types.Datum) string {
	switch d.Type() {
	case types.Bool:
		if d.Bool() {
			return "true"
		}
		return "false"
	case types.TimestampTZ:
		var buf [40]byte
		return string(types.AppendTextIn(buf[:0], d, location(ctx)))
	case types.Bpchar:
		return strings.TrimRight(d.Str(), " ")
	}
	return types.FormatText(d)
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func castFromText(ctx *Ctx, d types.Datum, to types.Type) (types.Datum, error) {
	s := d.Str()
	if d.Type() == types.Bpchar && to != types.Bpchar {
		s = strings.TrimRight(s, " ")
	}
	switch to {
	case types.Text, types.Varchar, types.Bpchar, types.Unknown:
		return types.NewString(to, s), nil
	case types.Name:
		return types.NewName(s), nil
	case types.Bool:
		return parseBool(s)
	case types.Numeric:
		return parseNumeric(s)
	case types.TimestampTZ:
		loc := time.UTC
		if ctx != nil && ctx.Location != nil {
			loc = ctx.Location
		}
		v, usedLoc, err := types.ParseTimestampTZ(s, loc)
		if usedLoc {
			location(ctx) // a literal without a zone depends on TimeZone
		}
		return v, parseErr(err)
	case types.Date:
		// A date literal may carry a time ('2024-01-02 10:00'): PostgreSQL
		// ignores it.
		if v, err := types.ParseText(types.Date, s); err == nil {
			return v, nil
		}
		ts, err := types.ParseText(types.Timestamp, s)
		if err != nil {
			return types.Datum{}, parseErr(err)
		}
		return types.NewDate(floorDiv(ts.Int(), usPerDay)), nil
	}
	v, err := types.ParseText(to, s)
	return v, parseErr(err)
}

// parseBool accepts PostgreSQL's boolean input: any unique prefix of
// true/false/yes/no, on/off, 1/0, case-insensitive, surrounding space ignored.
func parseBool(s string) (types.Datum, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t != "" {
		switch {
		case strings.HasPrefix("true", t), strings.HasPrefix("yes", t), t == "on", t == "1":
			return types.NewBool(true), nil
		case strings.HasPrefix("false", t), strings.HasPrefix("no", t), t == "of" || t == "off", t == "0":
			return types.NewBool(false), nil
		}
	}
	return types.Datum{}, pgerror.New(pgerror.InvalidTextRepresentation, "invalid input syntax for type boolean: %q", s)
}

func parseNumeric(s string) (types.Datum, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "nan":
		return types.NewNumeric(&apd.Decimal{Form: apd.NaN}), nil
	case "infinity", "+infinity", "inf", "+inf":
		return types.NewNumeric(&apd.Decimal{Form: apd.Infinite}), nil
	case "-infinity", "-inf":
		return types.NewNumeric(&apd.Decimal{Form: apd.Infinite, Negative: true}), nil
	}
	v, _, err := apd.NewFromString(t)
	if err != nil || v.Form != apd.Finite || strings.ContainsAny(t, "xX_") {
		return types.Datum{}, pgerror.New(pgerror.InvalidTextRepresentation, "invalid input syntax for type numeric: %q", s)
	}
	return types.NewNumeric(v), nil
}

func castNumber(d types.Datum, to types.Type) (types.Datum, error) {
	from := d.Type()
	switch {
	case to.IsInteger():
		switch {
		case from.IsInteger():
			return checkInt(to, d.Int())
		case from.IsFloat():
			f := d.Float()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return types.Datum{}, outOfRange(to)
			}
			// PostgreSQL rounds with rint(): half to even.
			r := math.RoundToEven(f)
			if r < -9.223372036854775808e18 || r >= 9.223372036854775808e18 {
				return types.Datum{}, outOfRange(to)
			}
			return checkInt(to, int64(r))
		default:
			return decimalToInt(d.Decimal(), to)
		}
	case to.IsFloat():
		var f float64
		if from == types.Numeric {
			dec := d.Decimal()
			switch {
			case dec.Form == apd.NaN:
				f = math.NaN()
			case dec.Form == apd.Infinite:
				f = math.Inf(1)
				if dec.Negative {
					f = math.Inf(-1)
				}
			default:
				var err error
				f, err = strconv.ParseFloat(dec.Text('e'), 64)
				if err != nil && !math.IsInf(f, 0) {
					return types.Datum{}, err
				}
				if math.IsInf(f, 0) {
					return types.Datum{}, pgerror.New(pgerror.NumericValueOutOfRange, "%q is out of range for type %s", dec.Text('f'), to)
				}
			}
		} else {
			f = d.AsFloat()
		}
		return checkFloat(to, f, from == types.Float4 || to == types.Float8)
	}
	// to numeric
	switch {
	case from.IsInteger():
		return types.NewNumeric(apd.New(d.Int(), 0)), nil
	case from.IsFloat():
		return floatToNumeric(d.Float(), from)
	}
	return d.WithType(to), nil
}

// checkFloat builds a float of type t, reporting overflow (a finite input
// that became infinite) and underflow (a non-zero input that became zero) as
// PostgreSQL does. exactInput skips the float4 narrowing checks.
func checkFloat(t types.Type, f float64, exactInput bool) (types.Datum, error) {
	if t == types.Float4 && !exactInput {
		g := float32(f)
		if math.IsInf(float64(g), 0) && !math.IsInf(f, 0) {
			return types.Datum{}, errOverflow()
		}
		if g == 0 && f != 0 {
			return types.Datum{}, errUnderflow()
		}
	}
	return types.NewFloat(t, f), nil
}

// floatToNumeric converts as PostgreSQL does: through the float's text with
// DBL_DIG (15) or FLT_DIG (6) significant digits, so 0.1::float8::numeric is
// exactly 0.1.
func floatToNumeric(f float64, from types.Type) (types.Datum, error) {
	switch {
	case math.IsNaN(f):
		return types.NewNumeric(&apd.Decimal{Form: apd.NaN}), nil
	case math.IsInf(f, 0):
		return types.NewNumeric(&apd.Decimal{Form: apd.Infinite, Negative: f < 0}), nil
	}
	digits := 15
	if from == types.Float4 {
		digits = 6
	}
	s := strconv.FormatFloat(f, 'g', digits, 64)
	v, _, err := apd.NewFromString(s)
	if err != nil {
		return types.Datum{}, err
	}
	// %g drops trailing zeros; PostgreSQL's numeric_in keeps the scale of
	// what it reads, which for %g output is the same.
	var r apd.Decimal
	r.Reduce(v)
	if r.Exponent > 0 {
		exactCtx.Quantize(&r, &r, 0)
	}
	return types.NewNumeric(&r), nil
}

func checkInt(t types.Type, v int64) (types.Datum, error) {
	lo, hi := types.IntRange(t)
	if v < lo || v > hi {
		return types.Datum{}, outOfRange(t)
	}
	return types.NewInt(t, v), nil
}

// decimalToInt rounds half away from zero, as numeric_int4 does.
func decimalToInt(dec *apd.Decimal, t types.Type) (types.Datum, error) {
	if dec.Form == apd.NaN {
		return types.Datum{}, pgerror.New(pgerror.FeatureNotSupported, "cannot convert NaN to %s", t)
	}
	if dec.Form == apd.Infinite {
		return types.Datum{}, pgerror.New(pgerror.FeatureNotSupported, "cannot convert infinity to %s", t)
	}
	var r apd.Decimal
	if _, err := exactCtx.RoundToIntegralValue(&r, dec); err != nil {
		return types.Datum{}, outOfRange(t)
	}
	v, err := r.Int64()
	if err != nil {
		return types.Datum{}, outOfRange(t)
	}
	return checkInt(t, v)
}

func castFromJSONB(d types.Datum, to types.Type) (types.Datum, error) {
	s := d.Str()
	kind := jsonKind(s)
	switch {
	case to == types.Bool && kind == "boolean":
		return types.NewBool(s == "true"), nil
	case to.Family() == types.FamNumeric && kind == "number":
		n, err := parseNumeric(s)
		if err != nil {
			return types.Datum{}, err
		}
		return castNumber(n, to)
	}
	return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "cannot cast jsonb %s to type %s", kind, to)
}

// castTime converts among date, timestamp, timestamptz, time and interval.
// Wall-clock types meet timestamptz in the session's time zone.
func castTime(ctx *Ctx, d types.Datum, to types.Type) (types.Datum, error) {
	v := d.Int()
	switch d.Type() {
	case types.Date:
		switch to {
		case types.Timestamp:
			return types.NewTimestamp(to, v*usPerDay), nil
		case types.TimestampTZ:
			return types.NewTimestamp(to, fromWall(v*usPerDay, location(ctx))), nil
		}
	case types.Timestamp:
		switch to {
		case types.Date:
			return types.NewDate(floorDiv(v, usPerDay)), nil
		case types.TimestampTZ:
			return types.NewTimestamp(to, fromWall(v, location(ctx))), nil
		case types.Time:
			return types.NewTime(v - floorDiv(v, usPerDay)*usPerDay), nil
		}
	case types.TimestampTZ:
		wall, _ := toWall(v, location(ctx))
		switch to {
		case types.Date:
			return types.NewDate(floorDiv(wall, usPerDay)), nil
		case types.Timestamp:
			return types.NewTimestamp(to, wall), nil
		case types.Time:
			return types.NewTime(wall - floorDiv(wall, usPerDay)*usPerDay), nil
		}
	case types.Time:
		if to == types.Interval {
			return types.NewInterval(types.IntervalValue{Micros: v}), nil
		}
	case types.Interval:
		if to == types.Time {
			us := d.Interval().Micros % usPerDay
			if us < 0 {
				us += usPerDay
			}
			return types.NewTime(us), nil
		}
	}
	return types.Datum{}, cannotCast(d.Type(), to)
}
