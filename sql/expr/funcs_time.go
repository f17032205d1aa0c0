package expr

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Date and time functions and operators. Timestamps are wall-clock micros
// since 2000-01-01; timestamptz values are UTC micros and every calendar
// operation on them (month arithmetic, date_trunc, extract, to_char) happens
// on the wall clock of the session's time zone (Ctx.Location, UTC if nil).
//
// now(), current_timestamp, transaction_timestamp() and statement_timestamp()
// all return Ctx.Now, the statement's logical time. mz_now() returns the
// system timestamp the statement reads at (Ctx.MzNow) as timestamptz
// (Materialize's mz_timestamp type does not exist here); in a materialized
// view's WHERE it makes a temporal filter (dataflow.TemporalFilter).
// They are registered Volatile so a view never folds them into a constant.

const usPerDay = 86400_000_000

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// toWall converts a timestamptz (UTC micros) to the wall-clock micros of
// loc, also returning loc's UTC offset in seconds at that instant.
func toWall(us int64, loc *time.Location) (int64, int) { return types.ToWall(us, loc) }

// fromWall reads wall-clock micros as a time in loc and returns UTC micros,
// resolving DST gaps and overlaps as PostgreSQL does (types.FromWall).
func fromWall(wall int64, loc *time.Location) int64 { return types.FromWall(wall, loc) }

// civil splits wall micros into a calendar date and the micros of the day.
func civil(wall int64) (y int, m time.Month, d int, tod int64) {
	day := floorDiv(wall, usPerDay)
	t := types.PostgresEpoch.AddDate(0, 0, int(day))
	return t.Year(), t.Month(), t.Day(), wall - day*usPerDay
}

// daysOf is the day number (since 2000-01-01) of a calendar date; Go
// normalizes out-of-range months and days.
func daysOf(y int, m time.Month, d int) int64 {
	return floorDiv(types.TimeToMicros(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)), usPerDay)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// addMonthsDays adds months (clamping the day to the end of the target
// month, so Jan 31 + 1 month is Feb 28/29) and then days to a wall clock.
func addMonthsDays(wall int64, months, days int32) int64 {
	y, m, d, tod := civil(wall)
	if months != 0 {
		total := y*12 + int(m) - 1 + int(months)
		y, m = total/12, time.Month(total%12+1)
		if total%12 < 0 {
			y, m = (total-11)/12, time.Month(total%12+13)
		}
		d = min(d, daysIn(y, m))
	}
	return (daysOf(y, m, d)+int64(days))*usPerDay + tod
}

func tsAddInterval(wall int64, iv types.IntervalValue) int64 {
	return addMonthsDays(wall, iv.Months, iv.Days) + iv.Micros
}

// tstzAddInterval adds months and days on the wall clock of the session's
// zone (so '1 day' across a DST change keeps the time of day), then the
// time part as elapsed microseconds. Only the first step reads the zone.
func tstzAddInterval(us int64, iv types.IntervalValue, ctx *Ctx) int64 {
	if iv.Months != 0 || iv.Days != 0 {
		loc := location(ctx)
		wall, _ := toWall(us, loc)
		us = fromWall(addMonthsDays(wall, iv.Months, iv.Days), loc)
	}
	return us + iv.Micros
}

func negInterval(iv types.IntervalValue) types.IntervalValue {
	return types.IntervalValue{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}
}

func intervalOverflow() error {
	return pgerror.New(pgerror.DatetimeValueOutOfRange, "interval out of range")
}

func checkInterval(months, days int64, micros float64) (types.Datum, error) {
	if months != int64(int32(months)) || days != int64(int32(days)) || math.IsNaN(micros) || math.Abs(micros) > 9.2e18 {
		return types.Datum{}, intervalOverflow()
	}
	return types.NewInterval(types.IntervalValue{Months: int32(months), Days: int32(days), Micros: int64(micros)}), nil
}

// justifyHours moves whole days out of the time part, giving both the same
// sign: this is how timestamp - timestamp reports '1 day 02:00:00'.
func justifyHours(iv types.IntervalValue) types.IntervalValue {
	iv.Days += int32(iv.Micros / usPerDay)
	iv.Micros %= usPerDay
	if iv.Days > 0 && iv.Micros < 0 {
		iv.Micros += usPerDay
		iv.Days--
	} else if iv.Days < 0 && iv.Micros > 0 {
		iv.Micros -= usPerDay
		iv.Days++
	}
	return iv
}

func justifyDays(iv types.IntervalValue) types.IntervalValue {
	iv.Months += iv.Days / 30
	iv.Days %= 30
	if iv.Months > 0 && iv.Days < 0 {
		iv.Days += 30
		iv.Months--
	} else if iv.Months < 0 && iv.Days > 0 {
		iv.Days -= 30
		iv.Months++
	}
	return iv
}

func justifyInterval(iv types.IntervalValue) types.IntervalValue {
	iv.Days += int32(iv.Micros / usPerDay)
	iv.Micros %= usPerDay
	iv.Months += iv.Days / 30
	iv.Days %= 30
	if iv.Months > 0 && (iv.Days < 0 || iv.Days == 0 && iv.Micros < 0) {
		iv.Days += 30
		iv.Months--
	} else if iv.Months < 0 && (iv.Days > 0 || iv.Days == 0 && iv.Micros > 0) {
		iv.Days -= 30
		iv.Months++
	}
	if iv.Days > 0 && iv.Micros < 0 {
		iv.Micros += usPerDay
		iv.Days--
	} else if iv.Days < 0 && iv.Micros > 0 {
		iv.Micros -= usPerDay
		iv.Days++
	}
	return iv
}

// tsround is PostgreSQL's TSROUND: round to microsecond precision to hide
// float noise in interval arithmetic.
func tsround(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }

// intervalScale multiplies an interval by factor as interval_mul does:
// fractional months cascade into days (30 per month) and fractional days
// into seconds, never upwards.
func intervalScale(iv types.IntervalValue, factor float64) (types.Datum, error) {
	if math.IsNaN(factor) || math.IsInf(factor, 0) {
		return types.Datum{}, intervalOverflow()
	}
	mf := float64(iv.Months) * factor
	df := float64(iv.Days) * factor
	if math.Abs(mf) > math.MaxInt32 || math.Abs(df) > math.MaxInt32 {
		return types.Datum{}, intervalOverflow()
	}
	return scaledInterval(mf, df, float64(iv.Micros)*factor)
}

func intervalDiv(iv types.IntervalValue, factor float64) (types.Datum, error) {
	if factor == 0 {
		return types.Datum{}, errDivByZero()
	}
	mf := float64(iv.Months) / factor
	df := float64(iv.Days) / factor
	if math.Abs(mf) > math.MaxInt32 || math.Abs(df) > math.MaxInt32 || math.IsNaN(factor) {
		return types.Datum{}, intervalOverflow()
	}
	return scaledInterval(mf, df, float64(iv.Micros)/factor)
}

// scaledInterval builds the interval of fractional months mf, days df and
// microseconds us, cascading fractions down as PostgreSQL's interval_mul
// and interval_div do (a month's fraction to days at 30 a month, a day's to
// seconds).
func scaledInterval(mf, df, us float64) (types.Datum, error) {
	months, days := int64(mf), int64(df)
	monthRem := tsround((mf - float64(months)) * 30)
	secRem := tsround((df - float64(days) + monthRem - math.Trunc(monthRem)) * 86400)
	if math.Abs(secRem) >= 86400 {
		days += int64(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	days += int64(monthRem)
	return checkInterval(months, days, math.RoundToEven(us+secRem*1e6))
}

func intervalAdd(a, b types.IntervalValue) (types.Datum, error) {
	return checkInterval(int64(a.Months)+int64(b.Months), int64(a.Days)+int64(b.Days), float64(a.Micros)+float64(b.Micros))
}

func registerDateTimeOps() {
	date, ts, tstz, iv, tm, i4, f8 := types.Date, types.Timestamp, types.TimestampTZ, types.Interval, types.Time, types.Int4, types.Float8
	dateAdd := func(d, n int64) (types.Datum, error) {
		r := d + n
		if r < -2451545 || r > 2147483647-2451545 {
			return types.Datum{}, pgerror.New(pgerror.DatetimeValueOutOfRange, "date out of range")
		}
		return types.NewDate(r), nil
	}
	binop("+", date, i4, date, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return dateAdd(a[0].Int(), a[1].Int()) })
	binop("+", i4, date, date, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return dateAdd(a[1].Int(), a[0].Int()) })
	binop("-", date, i4, date, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return dateAdd(a[0].Int(), -a[1].Int()) })
	binop("-", date, date, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewInt(types.Int4, a[0].Int()-a[1].Int()), nil
	})
	binop("+", date, tm, ts, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(ts, a[0].Int()*usPerDay+a[1].Int()), nil
	})
	binop("+", date, iv, ts, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(ts, tsAddInterval(a[0].Int()*usPerDay, a[1].Interval())), nil
	})
	binop("-", date, iv, ts, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(ts, tsAddInterval(a[0].Int()*usPerDay, negInterval(a[1].Interval()))), nil
	})
	binop("+", ts, iv, ts, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(ts, tsAddInterval(a[0].Int(), a[1].Interval())), nil
	})
	binop("+", iv, ts, ts, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(ts, tsAddInterval(a[1].Int(), a[0].Interval())), nil
	})
	binop("-", ts, iv, ts, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(ts, tsAddInterval(a[0].Int(), negInterval(a[1].Interval()))), nil
	})
	binop("+", tstz, iv, tstz, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(tstz, tstzAddInterval(a[0].Int(), a[1].Interval(), ctx)), nil
	})
	binop("+", iv, tstz, tstz, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(tstz, tstzAddInterval(a[1].Int(), a[0].Interval(), ctx)), nil
	})
	binop("-", tstz, iv, tstz, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(tstz, tstzAddInterval(a[0].Int(), negInterval(a[1].Interval()), ctx)), nil
	})
	// Adding days or months to a timestamptz keeps the wall-clock time in
	// the session's zone across a DST change, as PostgreSQL does.
	for _, op := range []string{"+", "-"} {
		for _, o := range functions[op] {
			if len(o.Args) == 2 && (o.Args[0] == tstz || o.Args[1] == tstz) && (o.Args[0] == iv || o.Args[1] == iv) {
				o.ZoneDependent = true
			}
		}
	}
	for _, t := range []types.Type{ts, tstz} {
		binop("-", t, t, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewInterval(justifyHours(types.IntervalValue{Micros: a[0].Int() - a[1].Int()})), nil
		})
	}
	wrapTime := func(us int64) types.Datum {
		us %= usPerDay
		if us < 0 {
			us += usPerDay
		}
		return types.NewTime(us)
	}
	binop("+", tm, iv, tm, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return wrapTime(a[0].Int() + a[1].Interval().Micros), nil
	})
	binop("-", tm, iv, tm, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return wrapTime(a[0].Int() - a[1].Interval().Micros), nil
	})
	binop("-", tm, tm, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewInterval(types.IntervalValue{Micros: a[0].Int() - a[1].Int()}), nil
	})
	binop("+", iv, iv, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return intervalAdd(a[0].Interval(), a[1].Interval())
	})
	binop("-", iv, iv, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return intervalAdd(a[0].Interval(), negInterval(a[1].Interval()))
	})
	unop("-", iv, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewInterval(negInterval(a[0].Interval())), nil
	})
	unop("+", iv, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return a[0], nil })
	binop("*", iv, f8, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return intervalScale(a[0].Interval(), a[1].Float())
	})
	binop("*", f8, iv, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return intervalScale(a[1].Interval(), a[0].Float())
	})
	binop("/", iv, f8, iv, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return intervalDiv(a[0].Interval(), a[1].Float()) })
}

func init() {
	date, ts, tstz, iv, tm, text, f8, i4, n := types.Date, types.Timestamp, types.TimestampTZ, types.Interval, types.Time, types.Text, types.Float8, types.Int4, types.Numeric
	now := func(ctx *Ctx, _ []types.Datum) (types.Datum, error) { return types.NewTimestamp(tstz, ctx.Now), nil }
	for _, name := range []string{"now", "current_timestamp", "transaction_timestamp", "statement_timestamp"} {
		Register(name, &Overload{Ret: tstz, Volatile: true, Fn: now})
	}
	Register("mz_now", &Overload{Ret: tstz, Volatile: true, Fn: func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(tstz, ctx.MzNow()), nil
	}})
	Register("clock_timestamp", &Overload{Ret: tstz, Volatile: true, Fn: func(*Ctx, []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(tstz, types.TimeToMicros(time.Now())), nil
	}})
	Register("current_date", &Overload{Ret: date, Volatile: true, Fn: func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		wall, _ := toWall(ctx.Now, location(ctx))
		return types.NewDate(floorDiv(wall, usPerDay)), nil
	}})
	Register("localtimestamp", &Overload{Ret: ts, Volatile: true, Fn: func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		wall, _ := toWall(ctx.Now, location(ctx))
		return types.NewTimestamp(ts, wall), nil
	}})
	Register("localtime", &Overload{Ret: tm, Volatile: true, Fn: func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		wall, _ := toWall(ctx.Now, location(ctx))
		return types.NewTime(wall - floorDiv(wall, usPerDay)*usPerDay), nil
	}})

	Register("date_trunc",
		&Overload{Args: []types.Type{text, ts}, Ret: ts, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			r, err := truncWall(a[0].Str(), a[1].Int(), ts)
			return types.NewTimestamp(ts, r), err
		}},
		&Overload{Args: []types.Type{text, tstz}, Ret: tstz, ZoneDependent: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			r, err := truncTZ(a[0].Str(), a[1].Int(), location(ctx))
			return types.NewTimestamp(tstz, r), err
		}},
		&Overload{Args: []types.Type{text, iv}, Ret: iv, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return truncInterval(a[0].Str(), a[1].Interval())
		}})
	Register("date_bin",
		&Overload{Args: []types.Type{iv, ts, ts}, Ret: ts, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			r, err := dateBin(a[0].Interval(), a[1].Int(), a[2].Int())
			return types.NewTimestamp(ts, r), err
		}},
		&Overload{Args: []types.Type{iv, tstz, tstz}, Ret: tstz, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			r, err := dateBin(a[0].Interval(), a[1].Int(), a[2].Int())
			return types.NewTimestamp(tstz, r), err
		}})

	// extract returns numeric (PostgreSQL 14+), date_part float8.
	extractOv := func(name string, arg types.Type, ret types.Type) *Overload {
		return &Overload{Args: []types.Type{text, arg}, Ret: ret, ZoneDependent: arg == tstz, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			v, scale, err := extractField(ctx, a[0].Str(), a[1])
			if err != nil {
				return types.Datum{}, err
			}
			if ret == types.Numeric {
				return types.NewNumeric(apd.New(v, -int32(scale))), nil
			}
			return types.NewFloat8(float64(v) / math.Pow10(scale)), nil
		}}
	}
	for _, t := range []types.Type{tstz, ts, date, iv, tm} {
		Register("extract", extractOv("extract", t, n))
		if t != date { // date_part(text, date) goes through timestamp, as in PostgreSQL
			Register("date_part", extractOv("date_part", t, f8))
		}
	}

	Register("age",
		&Overload{Args: []types.Type{ts, ts}, Ret: iv, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewInterval(age(a[0].Int(), a[1].Int())), nil
		}},
		&Overload{Args: []types.Type{tstz, tstz}, Ret: iv, ZoneDependent: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			w1, _ := toWall(a[0].Int(), location(ctx))
			w2, _ := toWall(a[1].Int(), location(ctx))
			return types.NewInterval(age(w1, w2)), nil
		}},
		// age(ts) is measured from midnight of the current date.
		&Overload{Args: []types.Type{ts}, Ret: iv, Volatile: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			wall, _ := toWall(ctx.Now, location(ctx))
			return types.NewInterval(age(floorDiv(wall, usPerDay)*usPerDay, a[0].Int())), nil
		}})
	for name, f := range map[string]func(types.IntervalValue) types.IntervalValue{
		"justify_days": justifyDays, "justify_hours": justifyHours, "justify_interval": justifyInterval,
	} {
		f := f
		Register(name, &Overload{Args: []types.Type{iv}, Ret: iv, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewInterval(f(a[0].Interval())), nil
		}})
	}
	Register("make_date", &Overload{Args: []types.Type{i4, i4, i4}, Ret: date, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		d, err := makeDate(a[0].Int(), a[1].Int(), a[2].Int())
		return types.NewDate(d), err
	}})
	Register("make_time", &Overload{Args: []types.Type{i4, i4, f8}, Ret: tm, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		us, err := makeClock(a[0].Int(), a[1].Int(), a[2].Float())
		return types.NewTime(us), err
	}})
	Register("make_timestamp", &Overload{Args: []types.Type{i4, i4, i4, i4, i4, f8}, Ret: ts, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		d, err := makeDate(a[0].Int(), a[1].Int(), a[2].Int())
		if err != nil {
			return types.Datum{}, err
		}
		us, err := makeClock(a[3].Int(), a[4].Int(), a[5].Float())
		return types.NewTimestamp(ts, d*usPerDay+us), err
	}})
	Register("make_timestamptz", &Overload{Args: []types.Type{i4, i4, i4, i4, i4, f8}, Ret: tstz, ZoneDependent: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		d, err := makeDate(a[0].Int(), a[1].Int(), a[2].Int())
		if err != nil {
			return types.Datum{}, err
		}
		us, err := makeClock(a[3].Int(), a[4].Int(), a[5].Float())
		return types.NewTimestamp(tstz, fromWall(d*usPerDay+us, location(ctx))), err
	}})
	// make_interval(years, months, weeks, days, hours, mins, secs): positional
	// only (named arguments are not supported); omitted trailing ones are 0.
	mi := []types.Type{i4, i4, i4, i4, i4, i4, f8}
	for k := 0; k <= len(mi); k++ {
		Register("make_interval", &Overload{Args: mi[:k], Ret: iv, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			var v [7]float64
			for i, d := range a {
				v[i] = d.AsFloat()
			}
			return checkInterval(int64(v[0])*12+int64(v[1]), int64(v[2])*7+int64(v[3]),
				math.RoundToEven(v[4]*3600e6+v[5]*60e6+v[6]*1e6))
		}})
	}
	Register("to_timestamp",
		&Overload{Args: []types.Type{f8}, Ret: tstz, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			s := a[0].Float()
			if math.IsNaN(s) || math.IsInf(s, 0) || math.Abs(s) > 9.2e12 {
				return types.Datum{}, pgerror.New(pgerror.DatetimeValueOutOfRange, "timestamp out of range: \"%s\"", types.FormatText(a[0]))
			}
			return types.NewTimestamp(tstz, int64(math.RoundToEven(s*1e6))-946684800_000000), nil
		}},
		&Overload{Args: []types.Type{text, text}, Ret: tstz, ZoneDependent: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			wall, zoned, err := parseFormatted(a[0].Str(), a[1].Str())
			if err != nil || zoned {
				return types.NewTimestamp(tstz, wall), err
			}
			return types.NewTimestamp(tstz, fromWall(wall, location(ctx))), nil
		}})
	Register("to_date", &Overload{Args: []types.Type{text, text}, Ret: date, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		wall, _, err := parseFormatted(a[0].Str(), a[1].Str())
		return types.NewDate(floorDiv(wall, usPerDay)), err
	}})
	Register("isfinite",
		&Overload{Args: []types.Type{date}, Ret: types.Bool, Fn: func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewBool(true), nil }},
		&Overload{Args: []types.Type{ts}, Ret: types.Bool, Fn: func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewBool(true), nil }},
		&Overload{Args: []types.Type{iv}, Ret: types.Bool, Fn: func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewBool(true), nil }})
}

func makeDate(y, m, d int64) (int64, error) {
	if y == 0 {
		return 0, pgerror.New(pgerror.DatetimeValueOutOfRange, "date field value out of range: %d-%02d-%02d", y, m, d)
	}
	if y < 0 {
		y++ // 1 BC is year 0 in the proleptic calendar
	}
	if m < 1 || m > 12 || d < 1 || d > int64(daysIn(int(y), time.Month(m))) {
		return 0, pgerror.New(pgerror.DatetimeValueOutOfRange, "date field value out of range: %d-%02d-%02d", y, m, d)
	}
	return daysOf(int(y), time.Month(m), int(d)), nil
}

func makeClock(h, m int64, s float64) (int64, error) {
	if h < 0 || h > 24 || m < 0 || m > 59 || s < 0 || s > 60 || h == 24 && (m > 0 || s > 0) {
		return 0, pgerror.New(pgerror.DatetimeValueOutOfRange, "time field value out of range: %d:%02d:%02g", h, m, s)
	}
	return h*3600e6 + m*60e6 + int64(math.RoundToEven(s*1e6)), nil
}

// unitAliases maps the spellings PostgreSQL accepts for date_trunc and
// extract units to one canonical name.
var unitAliases = map[string]string{
	"microsecond": "microseconds", "microseconds": "microseconds", "us": "microseconds", "usec": "microseconds", "usecs": "microseconds", "useconds": "microseconds",
	"millisecond": "milliseconds", "milliseconds": "milliseconds", "ms": "milliseconds", "msec": "milliseconds", "msecs": "milliseconds", "mseconds": "milliseconds",
	"second": "second", "seconds": "second", "s": "second", "sec": "second", "secs": "second",
	"minute": "minute", "minutes": "minute", "m": "minute", "min": "minute", "mins": "minute",
	"hour": "hour", "hours": "hour", "h": "hour", "hr": "hour", "hrs": "hour",
	"day": "day", "days": "day", "d": "day",
	"week": "week", "weeks": "week", "w": "week",
	"month": "month", "months": "month", "mon": "month", "mons": "month",
	"quarter": "quarter", "qtr": "quarter",
	"year": "year", "years": "year", "y": "year", "yr": "year", "yrs": "year",
	"decade": "decade", "decades": "decade", "dec": "decade", "decs": "decade",
	"century": "century", "centuries": "century", "c": "century", "cent": "century",
	"millennium": "millennium", "millennia": "millennium", "mil": "millennium", "mils": "millennium", "millenniums": "millennium",
	"epoch": "epoch", "dow": "dow", "isodow": "isodow", "doy": "doy", "isoyear": "isoyear",
	"timezone": "timezone", "timezone_hour": "timezone_hour", "timezone_minute": "timezone_minute", "julian": "julian",
}

func unitOf(s string) string { return unitAliases[strings.ToLower(strings.TrimSpace(s))] }

func unitError(unit string, t types.Type, known bool) error {
	if known {
		return pgerror.New(pgerror.FeatureNotSupported, "unit %q not supported for type %s", unit, t)
	}
	return pgerror.New(pgerror.InvalidParameterValue, "unit %q not recognized for type %s", unit, t)
}

// truncWall truncates wall-clock micros to a unit.
func truncWall(unit string, wall int64, t types.Type) (int64, error) {
	u := unitOf(unit)
	y, m, d, tod := civil(wall)
	day := floorDiv(wall, usPerDay)
	switch u {
	case "microseconds":
		return wall, nil
	case "milliseconds":
		return floorDiv(wall, 1000) * 1000, nil
	case "second":
		return floorDiv(wall, 1e6) * 1e6, nil
	case "minute":
		return floorDiv(wall, 60e6) * 60e6, nil
	case "hour":
		return floorDiv(wall, 3600e6) * 3600e6, nil
	case "day":
		return day * usPerDay, nil
	case "week":
		// ISO weeks start on Monday; 2000-01-01 was a Saturday.
		dow := ((day+5)%7 + 7) % 7
		return (day - dow) * usPerDay, nil
	case "month":
		return daysOf(y, m, 1) * usPerDay, nil
	case "quarter":
		return daysOf(y, (m-1)/3*3+1, 1) * usPerDay, nil
	case "year":
		return daysOf(y, 1, 1) * usPerDay, nil
	case "decade":
		return daysOf(int(floorDiv(int64(y), 10)*10), 1, 1) * usPerDay, nil
	case "century":
		return daysOf(int(floorDiv(int64(y)-1, 100)*100+1), 1, 1) * usPerDay, nil
	case "millennium":
		return daysOf(int(floorDiv(int64(y)-1, 1000)*1000+1), 1, 1) * usPerDay, nil
	}
	_, _ = d, tod
	return 0, unitError(unit, t, u != "")
}

func truncInterval(unit string, iv types.IntervalValue) (types.Datum, error) {
	r := types.IntervalValue{}
	switch unitOf(unit) {
	case "microseconds":
		r = iv
	case "milliseconds":
		r = types.IntervalValue{Months: iv.Months, Days: iv.Days, Micros: iv.Micros / 1000 * 1000}
	case "second":
		r = types.IntervalValue{Months: iv.Months, Days: iv.Days, Micros: iv.Micros / 1e6 * 1e6}
	case "minute":
		r = types.IntervalValue{Months: iv.Months, Days: iv.Days, Micros: iv.Micros / 60e6 * 60e6}
	case "hour":
		r = types.IntervalValue{Months: iv.Months, Days: iv.Days, Micros: iv.Micros / 3600e6 * 3600e6}
	case "day":
		r = types.IntervalValue{Months: iv.Months, Days: iv.Days}
	case "month":
		r = types.IntervalValue{Months: iv.Months}
	case "quarter":
		r = types.IntervalValue{Months: iv.Months / 3 * 3}
	case "year":
		r = types.IntervalValue{Months: iv.Months / 12 * 12}
	case "decade":
		r = types.IntervalValue{Months: iv.Months / 120 * 120}
	case "century":
		r = types.IntervalValue{Months: iv.Months / 1200 * 1200}
	case "millennium":
		r = types.IntervalValue{Months: iv.Months / 12000 * 12000}
	default:
		return types.Datum{}, unitError(unit, types.Interval, unitOf(unit) != "")
	}
	return types.NewInterval(r), nil
}

// dateBin is date_bin(stride, source, origin): the start of the
// stride-sized bin, aligned at origin, that contains source.
func dateBin(stride types.IntervalValue, src, origin int64) (int64, error) {
	if stride.Months != 0 {
		return 0, pgerror.New(pgerror.FeatureNotSupported, "timestamps cannot be binned into intervals containing months or years")
	}
	s := int64(stride.Days)*usPerDay + stride.Micros
	if s <= 0 {
		return 0, pgerror.New(pgerror.DatetimeValueOutOfRange, "stride must be greater than zero")
	}
	diff := src - origin
	delta := diff - diff%s
	if diff < 0 && diff%s != 0 {
		delta -= s
	}
	return origin + delta, nil
}

// extractField returns the value of a field as v / 10^scale, with the scale
// PostgreSQL's extract() gives it (6 for seconds and epoch, 3 for
// milliseconds, 0 for the integral fields).
func extractField(ctx *Ctx, unit string, d types.Datum) (int64, int, error) {
	u := unitOf(unit)
	t := d.Type()
	if t == types.Interval {
		return extractInterval(u, unit, d.Interval())
	}
	var wall, utc int64
	off := 0
	switch t {
	case types.Date:
		wall = d.Int() * usPerDay
		switch u {
		case "microseconds", "milliseconds", "second", "minute", "hour", "timezone", "timezone_hour", "timezone_minute":
			return 0, 0, unitError(unit, t, true)
		case "epoch":
			return (wall + 946684800_000000) / 1e6, 0, nil
		}
	case types.Time:
		us := d.Int()
		if v, scale, ok := clockField(u, us); ok {
			return v, scale, nil
		}
		if u == "epoch" {
			return us, 6, nil
		}
		return 0, 0, unitError(unit, t, u != "")
	case types.TimestampTZ:
		utc = d.Int()
		wall, off = toWall(utc, location(ctx))
	default:
		wall = d.Int()
		utc = wall
	}
	y, m, dd, tod := civil(wall)
	day := floorDiv(wall, usPerDay)
	if v, scale, ok := clockField(u, tod); ok && t != types.Date {
		return v, scale, nil
	}
	switch u {
	case "day":
		return int64(dd), 0, nil
	case "month":
		return int64(m), 0, nil
	case "quarter":
		return int64(m-1)/3 + 1, 0, nil
	case "year":
		if y <= 0 {
			return int64(y) - 1, 0, nil
		}
		return int64(y), 0, nil
	case "decade":
		return floorDiv(int64(y), 10), 0, nil
	case "century":
		if y > 0 {
			return (int64(y) + 99) / 100, 0, nil
		}
		return -((99 - int64(y-1)) / 100), 0, nil
	case "millennium":
		if y > 0 {
			return (int64(y) + 999) / 1000, 0, nil
		}
		return -((999 - int64(y-1)) / 1000), 0, nil
	case "dow":
		return ((day+6)%7 + 7) % 7, 0, nil
	case "isodow":
		return ((day+5)%7+7)%7 + 1, 0, nil
	case "doy":
		return day - daysOf(y, 1, 1) + 1, 0, nil
	case "week":
		_, w := types.MicrosToTime(day * usPerDay).ISOWeek()
		return int64(w), 0, nil
	case "isoyear":
		iy, _ := types.MicrosToTime(day * usPerDay).ISOWeek()
		return int64(iy), 0, nil
	case "epoch":
		if t == types.Date {
			break
		}
		return utc + 946684800_000000, 6, nil
	case "timezone":
		if t == types.TimestampTZ {
			return int64(off), 0, nil
		}
	case "timezone_hour":
		if t == types.TimestampTZ {
			return int64(off / 3600), 0, nil
		}
	case "timezone_minute":
		if t == types.TimestampTZ {
			return int64(off / 60 % 60), 0, nil
		}
	}
	return 0, 0, unitError(unit, t, u != "")
}

func extractInterval(u, unit string, iv types.IntervalValue) (int64, int, error) {
	switch u {
	case "microseconds":
		return iv.Micros % 60e6, 0, nil
	case "milliseconds":
		return iv.Micros % 60e6, 3, nil
	case "second":
		return iv.Micros % 60e6, 6, nil
	case "minute":
		return iv.Micros / 60e6 % 60, 0, nil
	case "hour":
		return iv.Micros / 3600e6, 0, nil
	case "day":
		return int64(iv.Days), 0, nil
	case "month":
		return int64(iv.Months % 12), 0, nil
	case "quarter":
		return int64(iv.Months%12)/3 + 1, 0, nil
	case "year":
		return int64(iv.Months / 12), 0, nil
	case "decade":
		return int64(iv.Months / 120), 0, nil
	case "century":
		return int64(iv.Months / 1200), 0, nil
	case "millennium":
		return int64(iv.Months / 12000), 0, nil
	case "epoch":
		// A year counts 365.25 days, a month 30 days.
		years, months := int64(iv.Months/12), int64(iv.Months%12)
		secs := years*36525*864 + months*30*86400 + int64(iv.Days)*86400
		return secs*1e6 + iv.Micros, 6, nil
	}
	return 0, 0, unitError(unit, types.Interval, u != "")
}

// age subtracts field by field (years, months, days, time), borrowing
// from the next larger field as PostgreSQL's age() does, so
// age('2024-03-01', '2024-01-31') is '1 mon 1 day'.
func age(a, b int64) types.IntervalValue {
	neg := a < b
	if neg {
		a, b = b, a
	}
	y1, m1, d1, t1 := civil(a)
	y2, m2, d2, t2 := civil(b)
	us := t1 - t2
	days := d1 - d2
	months := int(m1) - int(m2)
	years := y1 - y2
	if us < 0 {
		us += usPerDay
		days--
	}
	if days < 0 {
		// Borrow the length of the earlier timestamp's month.
		days += daysIn(y2, m2)
		months--
	}
	if months < 0 {
		months += 12
		years--
	}
	r := types.IntervalValue{Months: int32(years*12 + months), Days: int32(days), Micros: us}
	if neg {
		r = negInterval(r)
	}
	return r
}

// dtFields are the calendar fields to_char formats and to_date parses.
type dtFields struct {
	year, month, day, hour, min, sec, us int
	doy, dow, isoWeek, isoYear           int
	zone                                 string
	offset                               int // seconds east of UTC
	isInterval                           bool
}

func fieldsOfWall(wall int64) dtFields {
	y, m, d, tod := civil(wall)
	day := floorDiv(wall, usPerDay)
	iy, iw := types.MicrosToTime(day * usPerDay).ISOWeek()
	return dtFields{year: y, month: int(m), day: d, hour: int(tod / 3600e6), min: int(tod / 60e6 % 60),
		sec: int(tod / 1e6 % 60), us: int(tod % 1e6), doy: int(day - daysOf(y, 1, 1) + 1),
		dow: int(((day+6)%7 + 7) % 7), isoWeek: iw, isoYear: iy}
}

// dtPatterns are to_char's template patterns, longest first so that
// "HH24" wins over "HH" and "MONTH" over "MON".
var dtPatterns = []string{
	"HH24", "HH12", "HH", "MI", "SSSS", "SS", "MS", "US", "A.M.", "P.M.", "a.m.", "p.m.", "AM", "PM", "am", "pm",
	"YYYY", "IYYY", "YYY", "YY", "Y", "MONTH", "Month", "month", "MON", "Mon", "mon", "MM",
	"DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "DD", "ID", "D", "IW", "WW", "Q", "CC", "TZ", "tz", "OF",
}

var monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// toChar formats fields with a to_char template. FM suppresses padding;
// "quoted text" and \-escaped characters are copied.
func toChar(f dtFields, tmpl string) string {
	var b strings.Builder
	num := func(v, width int, fm bool) {
		s := strconv.Itoa(v)
		if v < 0 {
			s = strconv.Itoa(-v)
		}
		if !fm {
			for len(s) < width {
				s = "0" + s
			}
		}
		if v < 0 {
			s = "-" + s
		}
		b.WriteString(s)
	}
	name := func(s, pat string, width int, fm bool) {
		switch {
		case pat == strings.ToUpper(pat):
			s = strings.ToUpper(s)
		case pat == strings.ToLower(pat):
			s = strings.ToLower(s)
		}
		b.WriteString(s)
		if !fm {
			b.WriteString(strings.Repeat(" ", max(width-len(s), 0)))
		}
	}
	for i := 0; i < len(tmpl); {
		fm := false
		if strings.HasPrefix(tmpl[i:], "FM") || strings.HasPrefix(tmpl[i:], "fm") {
			fm = true
			i += 2
		}
		switch {
		case i >= len(tmpl):
			continue
		case tmpl[i] == '"':
			j := strings.IndexByte(tmpl[i+1:], '"')
			if j < 0 {
				j = len(tmpl) - i - 1
			}
			b.WriteString(tmpl[i+1 : i+1+j])
			i += j + 2
			continue
		case tmpl[i] == '\\' && i+1 < len(tmpl):
			b.WriteByte(tmpl[i+1])
			i += 2
			continue
		}
		pat := ""
		for _, p := range dtPatterns {
			if strings.HasPrefix(tmpl[i:], p) || len(p) > 1 && p == strings.ToUpper(p) && strings.HasPrefix(strings.ToUpper(tmpl[i:]), p) && !isNamePattern(p) {
				pat = p
				break
			}
		}
		if pat == "" {
			b.WriteByte(tmpl[i])
			i++
			continue
		}
		i += len(pat)
		h12 := f.hour % 12
		if h12 == 0 && !f.isInterval {
			h12 = 12
		}
		switch strings.ToUpper(pat) {
		case "HH24":
			num(f.hour, 2, fm)
		case "HH12", "HH":
			num(h12, 2, fm)
		case "MI":
			num(f.min, 2, fm)
		case "SS":
			num(f.sec, 2, fm)
		case "SSSS":
			num(f.hour*3600+f.min*60+f.sec, 0, fm)
		case "MS":
			num(f.us/1000, 3, fm)
		case "US":
			num(f.us, 6, fm)
		case "AM", "PM", "A.M.", "P.M.":
			v := "AM"
			if f.hour >= 12 {
				v = "PM"
			}
			if strings.Contains(pat, ".") {
				v = v[:1] + "." + v[1:] + "."
			}
			if pat == strings.ToLower(pat) {
				v = strings.ToLower(v)
			}
			b.WriteString(v)
		case "YYYY":
			num(f.year, 4, fm)
		case "IYYY":
			num(f.isoYear, 4, fm)
		case "YYY":
			num(f.year%1000, 3, fm)
		case "YY":
			num(f.year%100, 2, fm)
		case "Y":
			num(f.year%10, 1, fm)
		case "MONTH":
			name(monthNames[max(f.month-1, 0)%12], pat, 9, fm)
		case "MON":
			name(monthNames[max(f.month-1, 0)%12][:3], pat, 3, fm)
		case "MM":
			num(f.month, 2, fm)
		case "DAY":
			name(dayNames[f.dow], pat, 9, fm)
		case "DY":
			name(dayNames[f.dow][:3], pat, 3, fm)
		case "DDD":
			num(f.doy, 3, fm)
		case "DD":
			num(f.day, 2, fm)
		case "D":
			num(f.dow+1, 1, fm)
		case "ID":
			num((f.dow+6)%7+1, 1, fm)
		case "IW":
			num(f.isoWeek, 2, fm)
		case "WW":
			num((f.doy-1)/7+1, 2, fm)
		case "Q":
			num((f.month-1)/3+1, 1, fm)
		case "CC":
			num((f.year+99)/100, 2, fm)
		case "TZ":
			if pat == "tz" {
				b.WriteString(strings.ToLower(f.zone))
			} else {
				b.WriteString(f.zone)
			}
		case "OF":
			off := f.offset
			sign := "+"
			if off < 0 {
				sign, off = "-", -off
			}
			b.WriteString(sign + pad2(off/3600))
			if off%3600 != 0 {
				b.WriteString(":" + pad2(off/60%60))
			}
		}
	}
	return b.String()
}

// isNamePattern reports patterns whose case selects the output's case, so
// they must match exactly.
func isNamePattern(p string) bool {
	switch strings.ToUpper(p) {
	case "MONTH", "MON", "DAY", "DY", "AM", "PM", "A.M.", "P.M.", "TZ":
		return true
	}
	return false
}

// parseFormatted is to_date/to_timestamp(text, template): it reads the
// numeric fields YYYY MM DD HH24 HH12 HH MI SS MS US, month names (Mon,
// Month) and AM/PM; other template characters skip one input character.
// zoned reports whether the result is already UTC (never, for now).
func parseFormatted(s, tmpl string) (int64, bool, error) {
	year, month, day, hour, minute, sec, us := 1, 1, 1, 0, 0, 0, 0
	pm, hasAMPM := false, false
	bad := func() (int64, bool, error) {
		return 0, false, pgerror.New(pgerror.InvalidDatetimeFormat, "invalid value %q for template %q", s, tmpl)
	}
	readInt := func(max int) (int, bool) {
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		j := 0
		if len(s) > 0 && s[0] == '-' {
			j = 1
		}
		for j < len(s) && j < max && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		v, err := strconv.Atoi(s[:j])
		if err != nil {
			return 0, false
		}
		s = s[j:]
		return v, true
	}
	for i := 0; i < len(tmpl); {
		if strings.HasPrefix(strings.ToUpper(tmpl[i:]), "FM") {
			i += 2
			continue
		}
		pat := ""
		for _, p := range dtPatterns {
			if strings.HasPrefix(strings.ToUpper(tmpl[i:]), strings.ToUpper(p)) {
				pat = strings.ToUpper(p)
				break
			}
		}
		if pat == "" {
			i++
			if len(s) > 0 {
				s = s[1:]
			}
			continue
		}
		i += len(pat)
		var ok bool
		switch pat {
		case "YYYY", "IYYY":
			year, ok = readInt(len(s))
		case "YY":
			year, ok = readInt(2)
			year += 2000
			if year >= 2070 {
				year -= 100
			}
		case "MM":
			month, ok = readInt(2)
		case "DD":
			day, ok = readInt(2)
		case "HH24", "HH12", "HH":
			hour, ok = readInt(2)
		case "MI":
			minute, ok = readInt(2)
		case "SS":
			sec, ok = readInt(2)
		case "MS":
			var ms int
			ms, ok = readInt(3)
			us += ms * 1000
		case "US":
			var u int
			u, ok = readInt(6)
			us += u
		case "AM", "PM", "A.M.", "P.M.":
			up := strings.ToUpper(s)
			hasAMPM = true
			pm = strings.HasPrefix(up, "P")
			ok = strings.HasPrefix(up, "AM") || strings.HasPrefix(up, "PM") || strings.HasPrefix(up, "A.M.") || strings.HasPrefix(up, "P.M.")
			if ok {
				s = s[len(pat):]
			}
		case "MONTH", "MON":
			up := strings.ToUpper(s)
			for k, m := range monthNames {
				full, short := strings.ToUpper(m), strings.ToUpper(m[:3])
				if pat == "MONTH" && strings.HasPrefix(up, full) {
					month, ok, s = k+1, true, s[len(full):]
					break
				}
				if pat == "MON" && strings.HasPrefix(up, short) {
					month, ok, s = k+1, true, s[3:]
					break
				}
			}
		default:
			ok = true
		}
		if !ok {
			return bad()
		}
	}
	if hasAMPM {
		if hour < 1 || hour > 12 {
			return 0, false, pgerror.New(pgerror.InvalidDatetimeFormat, "hour \"%d\" is invalid for the 12-hour clock", hour)
		}
		hour %= 12
		if pm {
			hour += 12
		}
	}
	d, err := makeDate(int64(year), int64(month), int64(day))
	if err != nil {
		return 0, false, err
	}
	clock, err := makeClock(int64(hour), int64(minute), float64(sec))
	if err != nil {
		return 0, false, err
	}
	return d*usPerDay + clock + int64(us), false, nil
}

func init() {
	text := types.Text
	Register("to_char",
		&Overload{Args: []types.Type{types.Timestamp, text}, Ret: text, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewText(toChar(fieldsOfWall(a[0].Int()), a[1].Str())), nil
		}},
		&Overload{Args: []types.Type{types.TimestampTZ, text}, Ret: text, ZoneDependent: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			loc := location(ctx)
			wall, off := toWall(a[0].Int(), loc)
			f := fieldsOfWall(wall)
			f.offset = off
			f.zone = types.ZoneAbbrevAt(a[0].Int(), loc)
			return types.NewText(toChar(f, a[1].Str())), nil
		}},
		&Overload{Args: []types.Type{types.Interval, text}, Ret: text, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			iv := a[0].Interval()
			us := iv.Micros
			f := dtFields{year: int(iv.Months / 12), month: int(iv.Months % 12), day: int(iv.Days),
				hour: int(us / 3600e6), min: int(us / 60e6 % 60), sec: int(us / 1e6 % 60), us: int(us % 1e6), isInterval: true}
			return types.NewText(toChar(f, a[1].Str())), nil
		}})
}

// clockField extracts a time-of-day field from microseconds since
// midnight: the value, in units of 10^-scale (second 12.5 is 12500000, 6).
func clockField(u string, tod int64) (int64, int, bool) {
	switch u {
	case "microseconds":
		return tod % 60e6, 0, true
	case "milliseconds":
		return tod % 60e6, 3, true
	case "second":
		return tod % 60e6, 6, true
	case "minute":
		return tod / 60e6 % 60, 0, true
	case "hour":
		return tod / 3600e6, 0, true
	}
	return 0, 0, false
}
