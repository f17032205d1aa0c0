package types

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// PostgresEpoch is 2000-01-01 00:00:00 UTC, the zero of dates and
// timestamps, as in PostgreSQL.
var PostgresEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// postgresEpochUnixMicros is PostgresEpoch in microseconds since the Unix epoch.
const postgresEpochUnixMicros = 946684800 * 1_000_000

// TimeToMicros converts a Go time to microseconds since PostgresEpoch.
func TimeToMicros(t time.Time) int64 { return t.UnixMicro() - postgresEpochUnixMicros }

// MicrosToTime converts microseconds since PostgresEpoch to a UTC Go time.
func MicrosToTime(us int64) time.Time { return time.UnixMicro(us + postgresEpochUnixMicros).UTC() }

// FormatText renders d in PostgreSQL's text output format (DateStyle ISO,
// IntervalStyle postgres, TimeZone UTC). NULL renders as "" (the wire sends
// NULL separately).
func FormatText(d Datum) string { return string(AppendText(nil, d)) }

// AppendText appends FormatText(d) to buf.
func AppendText(buf []byte, d Datum) []byte { return AppendTextIn(buf, d, time.UTC) }

// AppendTextIn appends d's text output with TimeZone loc: a timestamptz
// prints as its wall clock in loc and loc's UTC offset then
// ("2024-03-31 03:00:00+02", "+05:30", "-03:30:52" for offsets with
// seconds). A nil loc is UTC. It allocates nothing beyond growing buf.
func AppendTextIn(buf []byte, d Datum, loc *time.Location) []byte {
	if d.null {
		return buf
	}
	switch d.typ {
	case Bool:
		if d.i != 0 {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case Int2, Int4, Int8, Oid:
		return strconv.AppendInt(buf, d.i, 10)
	case Float4:
		return AppendFloat(buf, d.Float(), 32)
	case Float8:
		return AppendFloat(buf, d.Float(), 64)
	case Numeric:
		return append(buf, d.Decimal().Text('f')...)
	case Bytea:
		buf = append(buf, `\x`...)
		return hex.AppendEncode(buf, []byte(d.Str()))
	case UUID:
		h := hex.EncodeToString([]byte(d.Str()))
		if len(h) != 32 {
			return append(buf, h...)
		}
		return append(buf, h[0:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]...)
	case Date:
		buf, bc := appendDate(buf, d.i)
		return appendBC(buf, bc)
	case Time:
		return appendClock(buf, d.i)
	case Timestamp:
		buf, bc := appendTimestamp(buf, d.i)
		return appendBC(buf, bc)
	case TimestampTZ:
		wall, off := ToWall(d.i, loc)
		buf, bc := appendTimestamp(buf, wall)
		return appendBC(appendOffset(buf, off), bc)
	case Interval:
		return AppendInterval(buf, d.Interval())
	}
	return append(buf, d.Str()...)
}

func appendBC(buf []byte, bc bool) []byte {
	if bc {
		return append(buf, " BC"...)
	}
	return buf
}

// appendOffset appends a UTC offset (seconds east) as PostgreSQL prints
// it: +HH, +HH:MM when minutes are not zero, +HH:MM:SS when seconds are not.
func appendOffset(buf []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	buf = append(buf, sign)
	buf = append2(buf, off/3600)
	if off%3600 != 0 {
		buf = append(buf, ':')
		buf = append2(buf, off/60%60)
		if off%60 != 0 {
			buf = append(buf, ':')
			buf = append2(buf, off%60)
		}
	}
	return buf
}

// AppendOffset appends a UTC offset in seconds east the way timestamptz
// output ends ("+02", "+05:30", "-03:30:52").
func AppendOffset(buf []byte, off int) []byte { return appendOffset(buf, off) }

func append2(buf []byte, n int) []byte {
	if n >= 100 {
		return strconv.AppendInt(buf, int64(n), 10)
	}
	return append(buf, byte('0'+n/10), byte('0'+n%10))
}

// AppendFloat formats a float the way PostgreSQL 12+ does with
// extra_float_digits = 1: the shortest text that reads back exactly.
func AppendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	exp := 0
	if f != 0 {
		exp = int(math.Floor(math.Log10(math.Abs(f))))
	}
	if exp < -4 || exp >= 15+(bits-32)/32*2 {
		s := strconv.FormatFloat(f, 'e', -1, bits)
		// Go writes e+06, PostgreSQL e+06 too; both pad the exponent to two digits.
		return append(buf, s...)
	}
	return strconv.AppendFloat(buf, f, 'f', -1, bits)
}

// appendDate appends YYYY-MM-DD (the year without sign, at least four
// digits) and reports whether the date is BC, for the caller to append " BC"
// after any time and offset, as PostgreSQL prints it.
func appendDate(buf []byte, days int64) ([]byte, bool) {
	y, m, d := civilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	if y < 10000 {
		buf = append(buf, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	} else {
		buf = strconv.AppendInt(buf, y, 10)
	}
	buf = append(buf, '-')
	buf = append2(buf, int(m))
	buf = append(buf, '-')
	return append2(buf, int(d)), bc
}

// civilFromDays converts days since 2000-01-01 to a proleptic Gregorian
// year (0 is 1 BC), month and day (Howard Hinnant's days_from_civil
// inverse), without the time package.
func civilFromDays(days int64) (y, m, d int64) {
	z := days + 10957 + 719468 // days since 0000-03-01
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func appendClock(buf []byte, us int64) []byte {
	h := us / 3600e6
	buf = append2(buf, int(h))
	buf = append(buf, ':')
	buf = append2(buf, int(us/60e6%60))
	buf = append(buf, ':')
	buf = append2(buf, int(us/1e6%60))
	if frac := us % 1e6; frac != 0 {
		buf = append(buf, '.')
		for div := int64(100000); frac != 0; div /= 10 {
			buf = append(buf, byte('0'+frac/div))
			frac %= div
		}
	}
	return buf
}

func appendTimestamp(buf []byte, us int64) ([]byte, bool) {
	day := floorDiv(us, 86400e6)
	buf, bc := appendDate(buf, day)
	buf = append(buf, ' ')
	return appendClock(buf, us-day*86400e6), bc
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// AppendInterval formats an interval in IntervalStyle postgres:
// "1 year 2 mons 3 days 04:05:06.5".
func AppendInterval(buf []byte, iv IntervalValue) []byte {
	start := len(buf)
	sep := func() {
		if len(buf) > start {
			buf = append(buf, ' ')
		}
	}
	years, months := iv.Months/12, iv.Months%12
	plural := func(n int64, unit string) {
		sep()
		buf = strconv.AppendInt(buf, n, 10)
		buf = append(buf, ' ')
		buf = append(buf, unit...)
		if n != 1 { // PostgreSQL writes "-1 days"
			buf = append(buf, 's')
		}
	}
	if years != 0 {
		plural(int64(years), "year")
	}
	if months != 0 {
		plural(int64(months), "mon")
	}
	if iv.Days != 0 {
		plural(int64(iv.Days), "day")
	}
	if iv.Micros != 0 || len(buf) == start {
		sep()
		us := iv.Micros
		if us < 0 {
			buf = append(buf, '-')
			us = -us
		} else if iv.Months < 0 || iv.Days < 0 {
			// After a negative field PostgreSQL signs the time explicitly.
			buf = append(buf, '+')
		}
		buf = appendClock(buf, us)
	}
	return buf
}

// ParseError is returned by ParseText for input that is not a valid value
// of the type. Code is the SQLSTATE PostgreSQL uses (22P02, 22007, 22008,
// 22003).
type ParseError struct {
	Code string
	Msg  string
}

func (e *ParseError) Error() string { return e.Msg }

// SQLState returns the error's SQLSTATE (package pgerror reads it).
func (e *ParseError) SQLState() string { return e.Code }

func invalid(t Type, s string) error {
	code := "22P02"
	if t.Family() == FamDateTime || t == Time || t == Interval {
		code = "22007"
	}
	return &ParseError{Code: code, Msg: fmt.Sprintf("invalid input syntax for type %s: %q", t, s)}
}

func outOfRange(t Type) error {
	return &ParseError{Code: "22003", Msg: fmt.Sprintf("value out of range for type %s", t)}
}

// IntRange returns the bounds of an integer type.
func IntRange(t Type) (lo, hi int64) {
	switch t {
	case Int2:
		return math.MinInt16, math.MaxInt16
	case Int4:
		return math.MinInt32, math.MaxInt32
	case Oid:
		return 0, math.MaxUint32
	}
	return math.MinInt64, math.MaxInt64
}

// ParseText parses PostgreSQL's text input format of type t.
func ParseText(t Type, s string) (Datum, error) {
	switch t {
	case Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "y", "on", "1":
			return NewBool(true), nil
		case "f", "false", "no", "n", "off", "0":
			return NewBool(false), nil
		}
		return Datum{}, invalid(t, s)
	case Int2, Int4, Int8, Oid:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return Datum{}, outOfRange(t)
			}
			return Datum{}, invalid(t, s)
		}
		lo, hi := IntRange(t)
		if v < lo || v > hi {
			return Datum{}, outOfRange(t)
		}
		return NewInt(t, v), nil
	case Float4, Float8:
		v, err := parseFloat(strings.TrimSpace(s), t)
		if err != nil {
			return Datum{}, err
		}
		return NewFloat(t, v), nil
	case Numeric:
		v, _, err := apd.NewFromString(strings.TrimSpace(s))
		if err != nil {
			return Datum{}, invalid(t, s)
		}
		return NewNumeric(v), nil
	case Text, Varchar, Bpchar, Unknown:
		return NewString(t, s), nil
	case Name:
		return NewName(s), nil
	case Bytea:
		if strings.HasPrefix(s, `\x`) {
			b, err := hex.DecodeString(s[2:])
			if err != nil {
				return Datum{}, invalid(t, s)
			}
			return NewString(Bytea, string(b)), nil
		}
		return NewString(Bytea, s), nil
	case UUID:
		h := strings.ReplaceAll(strings.Trim(strings.TrimSpace(s), "{}"), "-", "")
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 16 {
			return Datum{}, invalid(t, s)
		}
		return NewString(UUID, string(b)), nil
	case JSONB:
		return ParseJSONB(s)
	case Date:
		wall, _, err := parseDateTime(s)
		if err != nil {
			return Datum{}, dateTimeErr(t, s, err)
		}
		return NewDate(floorDiv(wall, 86400e6)), nil
	case Timestamp:
		wall, _, err := parseDateTime(s)
		if err != nil {
			return Datum{}, dateTimeErr(t, s, err)
		}
		return NewTimestamp(t, wall), nil
	case TimestampTZ:
		d, _, err := ParseTimestampTZ(s, time.UTC)
		return d, err
	case Time:
		tm, err := time.Parse("15:04:05.999999", strings.TrimSpace(s))
		if err != nil {
			tm, err = time.Parse("15:04", strings.TrimSpace(s))
			if err != nil {
				return Datum{}, invalid(t, s)
			}
		}
		return NewTime(int64(tm.Hour())*3600e6 + int64(tm.Minute())*60e6 + int64(tm.Second())*1e6 + int64(tm.Nanosecond()/1000)), nil
	case Interval:
		iv, err := ParseInterval(s)
		if err != nil {
			return Datum{}, err
		}
		return NewInterval(iv), nil
	}
	return Datum{}, invalid(t, s)
}

func parseFloat(s string, t Type) (float64, error) {
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "inf", "+infinity", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	bits := 64
	if t == Float4 {
		bits = 32
	}
	v, err := strconv.ParseFloat(s, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, outOfRange(t)
		}
		return 0, invalid(t, s)
	}
	return v, nil
}

var dateTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
	"January 2 2006",
	"Jan 2 2006",
	"02 Jan 2006",
}

// ParseTextIn is ParseText with TimeZone loc: a timestamptz without its own
// zone or offset is read as a wall clock in loc.
func ParseTextIn(t Type, s string, loc *time.Location) (Datum, error) {
	if t == TimestampTZ {
		d, _, err := ParseTimestampTZ(s, loc)
		return d, err
	}
	return ParseText(t, s)
}

// ParseTimestampTZ parses timestamptz input. The literal may end in its own
// zone: an offset ("+02", "-03:30", "+0530", "Z"), a zone name
// ("Europe/Berlin") or an abbreviation ("CEST"); without one it is a wall
// clock in loc, and usedLoc reports that loc was needed.
func ParseTimestampTZ(s string, loc *time.Location) (d Datum, usedLoc bool, err error) {
	wall, z, err := parseDateTime(s)
	if err != nil {
		return Datum{}, false, dateTimeErr(TimestampTZ, s, err)
	}
	switch {
	case z.loc != nil:
		return NewTimestamp(TimestampTZ, FromWall(wall, z.loc)), false, nil
	case z.has:
		return NewTimestamp(TimestampTZ, wall-int64(z.off)*1e6), false, nil
	case s == "epoch" || strings.EqualFold(strings.TrimSpace(s), "epoch"):
		return NewTimestamp(TimestampTZ, wall), false, nil
	}
	return NewTimestamp(TimestampTZ, FromWall(wall, loc)), true, nil
}

// errUnknownZone is parseDateTime's error for a zone name it cannot resolve.
type errUnknownZone struct{ name string }

func (e errUnknownZone) Error() string { return "time zone \"" + e.name + "\" not recognized" }

func dateTimeErr(t Type, s string, err error) error {
	if z, ok := err.(errUnknownZone); ok {
		return &ParseError{Code: "22023", Msg: z.Error()}
	}
	return invalid(t, s)
}

// literalZone is the zone a date/time literal names, if any.
type literalZone struct {
	has bool
	off int            // seconds east, when loc is nil
	loc *time.Location // a named zone
}

// parseDateTime reads a date/time literal in the ISO forms clients send and
// returns its wall clock (micros since 2000-01-01) and the zone it names.
// Plain timestamp and date input ignore the zone, as PostgreSQL does.
func parseDateTime(s string) (int64, literalZone, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "epoch":
		return -postgresEpochUnixMicros, literalZone{}, nil
	case "infinity", "-infinity":
		return 0, literalZone{}, fmt.Errorf("infinite timestamps are not supported")
	}
	rest, z, err := splitZone(s)
	if err != nil {
		return 0, z, err
	}
	for _, layout := range dateTimeLayouts {
		if tm, err := time.Parse(layout, rest); err == nil {
			return TimeToMicros(tm), z, nil
		}
	}
	return 0, z, fmt.Errorf("bad datetime")
}

// splitZone separates a trailing zone from a date/time literal: a word
// with letters (a zone name or abbreviation), "Z", or a numeric offset
// after the time.
func splitZone(s string) (string, literalZone, error) {
	if len(s) <= 10 {
		return s, literalZone{}, nil
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		word := s[i+1:]
		if strings.IndexFunc(word, isLetter) >= 0 && !isDateWord(word) {
			rest := strings.TrimSpace(s[:i])
			if off, ok := ZoneAbbrev(word); ok {
				return rest, literalZone{has: true, off: off}, nil
			}
			if loc, _, ok := LoadZone(word); ok {
				return rest, literalZone{has: true, loc: loc}, nil
			}
			return s, literalZone{}, errUnknownZone{strings.ToLower(word)}
		}
	}
	if last := s[len(s)-1]; last == 'Z' || last == 'z' {
		return s[:len(s)-1], literalZone{has: true}, nil
	}
	// A numeric offset starts at the last sign after the date's own dashes.
	i := strings.LastIndexAny(s[10:], "+-")
	if i < 0 {
		return s, literalZone{}, nil
	}
	i += 10
	off, ok := parseOffset(s[i:], false)
	if !ok {
		return s, literalZone{}, fmt.Errorf("bad offset")
	}
	return strings.TrimSpace(s[:i]), literalZone{has: true, off: off}, nil
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// isDateWord reports words of a date literal that are not zones: month
// names and the era.
func isDateWord(w string) bool {
	switch strings.ToLower(w) {
	case "bc", "ad", "am", "pm":
		return true
	}
	for _, m := range []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if strings.HasPrefix(strings.ToLower(w), m) {
			return true
		}
	}
	return false
}

// ParseInterval parses PostgreSQL's interval input: "1 day 2 hours",
// "01:02:03", "3 mons", "1 year 2 mons 3 days 04:05:06.5", "@ 1 minute ago",
// and ISO 8601 "P1DT2H".
func ParseInterval(s string) (IntervalValue, error) {
	var iv IntervalValue
	in := strings.ToLower(strings.TrimSpace(s))
	bad := &ParseError{Code: "22007", Msg: fmt.Sprintf("invalid input syntax for type interval: %q", s)}
	if strings.HasPrefix(in, "p") {
		return parseISOInterval(in, bad)
	}
	in = strings.TrimPrefix(in, "@")
	ago := false
	if strings.HasSuffix(in, " ago") {
		ago = true
		in = strings.TrimSuffix(in, " ago")
	}
	fields := strings.Fields(in)
	if len(fields) == 0 {
		return iv, bad
	}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.Contains(f, ":") {
			us, err := parseClock(f)
			if err != nil {
				return iv, bad
			}
			iv.Micros += us
			continue
		}
		num, err := strconv.ParseFloat(f, 64)
		if err != nil {
			// "5minutes" style: split the number from the unit.
			j := strings.IndexFunc(f, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
			if j <= 0 {
				return iv, bad
			}
			num, err = strconv.ParseFloat(f[:j], 64)
			if err != nil {
				return iv, bad
			}
			fields = append(fields[:i+1], append([]string{f[j:]}, fields[i+1:]...)...)
		}
		unit := "second"
		if i+1 < len(fields) {
			i++
			unit = fields[i]
		}
		if err := addIntervalUnit(&iv, num, unit); err != nil {
			return iv, bad
		}
	}
	if ago {
		iv = IntervalValue{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}
	}
	return iv, nil
}

func parseClock(f string) (int64, error) {
	neg := strings.HasPrefix(f, "-")
	f = strings.TrimLeft(f, "+-")
	parts := strings.Split(f, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("bad clock")
	}
	var us int64
	mult := []float64{3600e6, 60e6, 1e6}
	for k, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, err
		}
		us += int64(math.Round(v * mult[k]))
	}
	if neg {
		us = -us
	}
	return us, nil
}

func addIntervalUnit(iv *IntervalValue, n float64, unit string) error {
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, ","), "s")
	switch unit {
	case "microsecond", "u", "usec", "us":
		iv.Micros += int64(math.Round(n))
	case "millisecond", "m", "msec", "ms":
		iv.Micros += int64(math.Round(n * 1e3))
	case "second", "sec", "":
		iv.Micros += int64(math.Round(n * 1e6))
	case "minute", "min":
		iv.Micros += int64(math.Round(n * 60e6))
	case "hour", "hr", "h":
		iv.Micros += int64(math.Round(n * 3600e6))
	case "day", "d":
		whole := math.Trunc(n)
		iv.Days += int32(whole)
		iv.Micros += int64(math.Round((n - whole) * 86400e6))
	case "week", "w":
		days := n * 7
		whole := math.Trunc(days)
		iv.Days += int32(whole)
		iv.Micros += int64(math.Round((days - whole) * 86400e6))
	case "mon", "month":
		whole := math.Trunc(n)
		iv.Months += int32(whole)
		iv.Days += int32(math.Round((n - whole) * 30))
	case "year", "y", "yr":
		iv.Months += int32(math.Round(n * 12))
	case "decade":
		iv.Months += int32(math.Round(n * 120))
	case "century", "centurie":
		iv.Months += int32(math.Round(n * 1200))
	default:
		return fmt.Errorf("unknown unit %q", unit)
	}
	return nil
}

func parseISOInterval(in string, bad error) (IntervalValue, error) {
	var iv IntervalValue
	inTime := false
	num := ""
	for _, r := range in[1:] {
		switch {
		case r == 't':
			inTime = true
		case (r >= '0' && r <= '9') || r == '.' || r == '-':
			num += string(r)
		default:
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return iv, bad
			}
			num = ""
			unit := map[rune]string{'y': "year", 'w': "week", 'd': "day", 'h': "hour", 's': "second"}[r]
			if r == 'm' {
				unit = "month"
				if inTime {
					unit = "minute"
				}
			}
			if unit == "" || addIntervalUnit(&iv, n, unit) != nil {
				return iv, bad
			}
		}
	}
	if num != "" {
		return iv, bad
	}
	return iv, nil
}
