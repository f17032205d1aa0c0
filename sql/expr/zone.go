package expr

import (
	"strings"
	"sync"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Time zones in expressions: AT TIME ZONE / timezone(zone, ts), the
// three-argument date_trunc, and the question whether an expression's value
// depends on the session's TimeZone (DependsOnZone), which decides whether
// a materialized view may use it.

// DependsOnZone reports whether e's value may depend on the session's
// TimeZone: a call of a ZoneDependent overload, or a cast between
// timestamptz and a wall-clock type (date, timestamp, time) or text. A
// timestamptz plus or minus a constant interval without days or months
// does not (it adds a fixed number of microseconds). Constants folded at
// bind time are not seen here: the binder tracks them (Ctx.ZoneUsed).
func DependsOnZone(e Expr) bool {
	dep := false
	Walk(e, func(x Expr) bool {
		switch c := x.(type) {
		case *Call:
			if c.Fn.ZoneDependent && !fixedIntervalArith(c) || formatsTimestampTZ(c) {
				dep = true
			}
		case *Cast:
			if CastDependsOnZone(c.Arg.Type(), c.To) {
				dep = true
			}
		}
		return !dep
	})
	return dep
}

// CastDependsOnZone reports whether a cast from one type to another reads
// the session's TimeZone.
func CastDependsOnZone(from, to types.Type) bool {
	wallOrText := func(t types.Type) bool {
		return t == types.Date || t == types.Timestamp || t == types.Time || t == types.Unknown || t.Family() == types.FamString
	}
	return to == types.TimestampTZ && from != types.TimestampTZ && wallOrText(from) ||
		from == types.TimestampTZ && to != types.TimestampTZ && wallOrText(to)
}

// formatsTimestampTZ reports a call that takes a timestamptz for an
// argument of any type (concat, format, to_json, json_build_object): such
// functions render it as text, in the session's zone.
func formatsTimestampTZ(c *Call) bool {
	n := len(c.Fn.Args)
	for i, a := range c.Args {
		if n > 0 && c.Fn.Args[min(i, n-1)] == types.Unknown && a.Type() == types.TimestampTZ {
			return true
		}
	}
	return false
}

// fixedIntervalArith is timestamptz ± a constant interval of only hours,
// minutes and seconds.
func fixedIntervalArith(c *Call) bool {
	if c.Fn.Op != "+" && c.Fn.Op != "-" {
		return false
	}
	for _, a := range c.Args {
		if k, ok := a.(*Const); ok && k.Val.Type() == types.Interval && !k.Val.IsNull() {
			iv := k.Val.Interval()
			return iv.Months == 0 && iv.Days == 0
		}
	}
	return false
}

// abbrevZones holds a fixed zone per abbreviation, built on first use.
var abbrevZones sync.Map // upper-case abbreviation → *time.Location

// ResolveZone finds the zone named by AT TIME ZONE or date_trunc's third
// argument as PostgreSQL does: a time zone abbreviation ("EST", "CEST",
// a fixed offset), else a zone name or POSIX specification (types.LoadZone:
// note '+5' there is POSIX, five hours west). Anything else is 22023.
func ResolveZone(name string) (*time.Location, error) {
	if off, ok := types.ZoneAbbrev(name); ok {
		if off == 0 {
			return time.UTC, nil
		}
		key := strings.ToUpper(name)
		if l, hit := abbrevZones.Load(key); hit {
			return l.(*time.Location), nil
		}
		l, _ := abbrevZones.LoadOrStore(key, time.FixedZone(key, off))
		return l.(*time.Location), nil
	}
	if loc, _, ok := types.LoadZone(name); ok {
		return loc, nil
	}
	return nil, pgerror.New(pgerror.InvalidParameterValue, "time zone %q not recognized", name)
}

// intervalZone is the fixed zone of AT TIME ZONE INTERVAL '+02:00' (east
// of UTC by the interval).
func intervalZone(iv types.IntervalValue) (*time.Location, error) {
	if iv.Months != 0 || iv.Days != 0 {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "interval time zone %q must not include months or days", types.FormatText(types.NewInterval(iv)))
	}
	off := int(iv.Micros / 1e6)
	return time.FixedZone(string(types.AppendOffset(nil, off)), off), nil
}

func init() {
	text, ts, tstz, iv := types.Text, types.Timestamp, types.TimestampTZ, types.Interval
	zoneArg := func(d types.Datum) (*time.Location, error) {
		if d.Type() == iv {
			return intervalZone(d.Interval())
		}
		return ResolveZone(d.Str())
	}
	for _, zt := range []types.Type{text, iv} {
		Register("timezone",
			// timestamptz AT TIME ZONE z: the wall clock in z.
			&Overload{Args: []types.Type{zt, tstz}, Ret: ts, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
				loc, err := zoneArg(a[0])
				if err != nil {
					return types.Datum{}, err
				}
				wall, _ := toWall(a[1].Int(), loc)
				return types.NewTimestamp(ts, wall), nil
			}},
			// timestamp AT TIME ZONE z: that wall clock in z, as an instant.
			&Overload{Args: []types.Type{zt, ts}, Ret: tstz, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
				loc, err := zoneArg(a[0])
				if err != nil {
					return types.Datum{}, err
				}
				return types.NewTimestamp(tstz, fromWall(a[1].Int(), loc)), nil
			}})
	}
	// make_timestamptz(y, m, d, h, mi, s, zone) reads the fields in the
	// named zone.
	i4, f8 := types.Int4, types.Float8
	Register("make_timestamptz", &Overload{Args: []types.Type{i4, i4, i4, i4, i4, f8, text}, Ret: tstz, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		loc, err := ResolveZone(a[6].Str())
		if err != nil {
			return types.Datum{}, err
		}
		d, err := makeDate(a[0].Int(), a[1].Int(), a[2].Int())
		if err != nil {
			return types.Datum{}, err
		}
		us, err := makeClock(a[3].Int(), a[4].Int(), a[5].Float())
		return types.NewTimestamp(tstz, fromWall(d*usPerDay+us, loc)), err
	}})
	// date_trunc(field, timestamptz, zone) truncates in the named zone.
	Register("date_trunc", &Overload{Args: []types.Type{text, tstz, text}, Ret: tstz, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		loc, err := ResolveZone(a[2].Str())
		if err != nil {
			return types.Datum{}, err
		}
		r, err := truncTZ(a[0].Str(), a[1].Int(), loc)
		return types.NewTimestamp(tstz, r), err
	}})
}

// truncTZ is date_trunc of a timestamptz in loc. Truncating to a day or
// more reads the truncated wall clock in loc again (midnight may have
// another offset); to an hour or less it keeps the instant's own offset,
// as PostgreSQL does, so 01:30 EDT in the fall-back overlap truncates to
// 01:00 EDT, not to the later 01:00 EST.
func truncTZ(unit string, us int64, loc *time.Location) (int64, error) {
	wall, off := toWall(us, loc)
	r, err := truncWall(unit, wall, types.TimestampTZ)
	if err != nil {
		return 0, err
	}
	switch unitOf(unit) {
	case "microseconds", "milliseconds", "second", "minute", "hour":
		return r - int64(off)*1e6, nil
	}
	return fromWall(r, loc), nil
}
