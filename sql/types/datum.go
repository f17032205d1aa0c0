package types

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
)

// Datum is one SQL value. It is a small value type: integers, floats, dates
// and times are stored inline, so building and copying rows of them does not
// allocate. A Datum is immutable once built; the *apd.Decimal of a numeric is
// never modified after construction and may be shared.
//
// A Datum is 24 bytes, because rows of them are most of a large state's
// memory (a 56-byte layout with a field per representation cost a restart
// of 10M rows a third of its heap in page faults). Representation by type:
//
//	Bool                 i (0 or 1)
//	Int2/Int4/Int8/Oid   i
//	Float4/Float8        i (math.Float64bits)
//	Numeric              p (*apd.Decimal)
//	Text/Varchar/Bpchar  p, n (the string's bytes and length)
//	Bytea                p, n (raw bytes)
//	JSONB                p, n (canonical text, as jsonb prints it)
//	UUID                 p, n (16 raw bytes)
//	Date                 i (days since 2000-01-01, PostgreSQL's epoch)
//	Time                 i (microseconds since midnight)
//	Timestamp(TZ)        i (microseconds since 2000-01-01 00:00:00 UTC)
//	Interval             i (microseconds), p (*IntervalValue: rare in a large
//	                     state, and its three fields fit no other way)
//
// A string's length is 32 bits: PostgreSQL's largest value is 1 GB.
//
// Datums are compared with Compare, never with ==: p makes == compare
// where two strings are stored rather than what they hold, so the
// zero-length func array makes == a compile error.
type Datum struct {
	_    [0]func()
	typ  Type
	null bool
	n    uint32
	i    int64
	p    unsafe.Pointer
}

// Row is one tuple. Rows handed across a package boundary are owned by the
// receiver unless the contract says otherwise.
type Row []Datum

// Null returns the NULL of type t.
func Null(t Type) Datum { return Datum{typ: t, null: true} }

// NullUnknown is an untyped NULL literal.
var NullUnknown = Datum{typ: Unknown, null: true}

// NewBool returns a boolean.
func NewBool(b bool) Datum {
	if b {
		return Datum{typ: Bool, i: 1}
	}
	return Datum{typ: Bool}
}

// NewInt returns an integer of type t (Int2, Int4, Int8 or Oid). The caller
// has checked the range.
func NewInt(t Type, v int64) Datum { return Datum{typ: t, i: v} }

// NewInt8 returns a bigint.
func NewInt8(v int64) Datum { return Datum{typ: Int8, i: v} }

// NewInt4 returns an integer.
func NewInt4(v int32) Datum { return Datum{typ: Int4, i: int64(v)} }

// NewFloat returns a float of type t (Float4 or Float8).
func NewFloat(t Type, v float64) Datum {
	if t == Float4 {
		v = float64(float32(v))
	}
	return Datum{typ: t, i: int64(math.Float64bits(v))}
}

// NewFloat8 returns a double precision value.
func NewFloat8(v float64) Datum { return Datum{typ: Float8, i: int64(math.Float64bits(v))} }

// NewNumeric returns a numeric. d must not be modified afterwards. A
// negative zero becomes zero: numeric has no signed zero in PostgreSQL.
func NewNumeric(d *apd.Decimal) Datum {
	if d.Negative && d.IsZero() {
		z := *d
		z.Negative = false
		d = &z
	}
	return Datum{typ: Numeric, p: unsafe.Pointer(d)}
}

// NewString returns a value of a string type (Text, Varchar, Bpchar) or of
// Bytea, JSONB (canonical text) or UUID (16 raw bytes).
func NewString(t Type, s string) Datum {
	if len(s) > math.MaxUint32 {
		panic("types: a string value of more than 4 GB")
	}
	return Datum{typ: t, p: unsafe.Pointer(unsafe.StringData(s)), n: uint32(len(s))}
}

// NameDataLen is PostgreSQL's NAMEDATALEN: a name holds at most
// NameDataLen-1 bytes.
const NameDataLen = 64

// NewName returns a name value: s truncated to NameDataLen-1 bytes at a
// character boundary, as PostgreSQL truncates identifiers.
func NewName(s string) Datum {
	if len(s) >= NameDataLen {
		n := NameDataLen - 1
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return NewString(Name, s)
}

// NewText returns a text value.
func NewText(s string) Datum { return NewString(Text, s) }

// NewDate returns a date, in days since 2000-01-01.
func NewDate(days int64) Datum { return Datum{typ: Date, i: days} }

// NewTime returns a time of day, in microseconds since midnight.
func NewTime(us int64) Datum { return Datum{typ: Time, i: us} }

// NewTimestamp returns a timestamp of type t (Timestamp or TimestampTZ) in
// microseconds since 2000-01-01 00:00:00 (UTC for TimestampTZ).
func NewTimestamp(t Type, us int64) Datum { return Datum{typ: t, i: us} }

// IntervalValue is an interval's three fields, kept apart as PostgreSQL does:
// a month is not a fixed number of days, nor a day of hours.
type IntervalValue struct {
	Months int32
	Days   int32
	Micros int64
}

// Duration is the interval as a fixed length of time, counting a month as
// 30 days and a day as 24 hours (PostgreSQL's justify_interval convention;
// what options such as retention = '1 month' mean).
func (v IntervalValue) Duration() time.Duration {
	return time.Duration(v.Months)*30*24*time.Hour + time.Duration(v.Days)*24*time.Hour + time.Duration(v.Micros)*time.Microsecond
}

// NewInterval returns an interval.
func NewInterval(v IntervalValue) Datum {
	return Datum{typ: Interval, i: v.Micros, p: unsafe.Pointer(&v)}
}

// Type returns the datum's type.
func (d Datum) Type() Type { return d.typ }

// IsNull reports whether the datum is SQL NULL.
func (d Datum) IsNull() bool { return d.null }

// Bool returns a boolean's value.
func (d Datum) Bool() bool { return d.i != 0 }

// Int returns the value of an integer, date, time or timestamp.
func (d Datum) Int() int64 { return d.i }

// Float returns a float's value.
func (d Datum) Float() float64 { return math.Float64frombits(uint64(d.i)) }

// Decimal returns a numeric's value. The caller must not modify it.
func (d Datum) Decimal() *apd.Decimal {
	if d.typ != Numeric { // p may hold a string's bytes
		return nil
	}
	return (*apd.Decimal)(d.p)
}

// Str returns the bytes of a string, bytea, jsonb or uuid value.
func (d Datum) Str() string {
	if d.typ == Numeric || d.typ == Interval { // p is not a string's
		return ""
	}
	return unsafe.String((*byte)(d.p), int(d.n))
}

// Interval returns an interval's fields.
func (d Datum) Interval() IntervalValue {
	if d.typ != Interval || d.p == nil {
		return IntervalValue{}
	}
	return *(*IntervalValue)(d.p)
}

// WithType returns the same value relabelled as type t, for conversions that
// keep the representation (varchar to text, int4 to int8).
func (d Datum) WithType(t Type) Datum { d.typ = t; return d }

// AsFloat converts any numeric-family datum to float64.
func (d Datum) AsFloat() float64 {
	switch {
	case d.typ.IsInteger():
		return float64(d.i)
	case d.typ.IsFloat():
		return d.Float()
	case d.typ == Numeric:
		f, _ := d.Decimal().Float64()
		return f
	}
	return 0
}

// AsDecimal converts any numeric-family datum to a decimal.
func (d Datum) AsDecimal() *apd.Decimal {
	switch {
	case d.typ.IsInteger():
		return apd.New(d.i, 0)
	case d.typ.IsFloat():
		var x apd.Decimal
		x.SetFloat64(d.Float())
		return &x
	case d.typ == Numeric:
		return d.Decimal()
	}
	return apd.New(0, 0)
}

// intervalKey orders intervals as PostgreSQL does: by their length with a
// month counted as 30 days and a day as 24 hours.
func intervalKey(d Datum) float64 {
	iv := d.Interval()
	return float64(iv.Months)*30*86400e6 + float64(iv.Days)*86400e6 + float64(iv.Micros)
}

// Compare orders two datums: negative, zero or positive. NULL sorts after
// every value and equals NULL (the order PostgreSQL uses for ASC, and the
// equality arrangements use for keys). Values of one family compare by value
// (an int4 equals the same int8 or float); values of different families
// compare by family, so Compare is a total order over all datums.
func Compare(a, b Datum) int { return CompareRef(&a, &b) }

// CompareRef is Compare of two datums in place: a datum is eight words, and
// comparisons — every B-tree descent, sort and merge of rows — were copying
// two of them per call.
func CompareRef(a, b *Datum) int {
	if a.typ == b.typ && !a.null && !b.null {
		return compareSame(a, b)
	}
	if a.null || b.null {
		switch {
		case a.null && b.null:
			return 0
		case a.null:
			return 1
		default:
			return -1
		}
	}
	fa, fb := a.typ.Family(), b.typ.Family()
	if fa != fb {
		return cmp.Compare(fa, fb)
	}
	switch fa {
	case FamNumeric:
		switch {
		case a.typ.IsInteger() && b.typ.IsInteger():
			return cmp.Compare(a.i, b.i)
		case a.typ == Numeric || b.typ == Numeric:
			if a.typ.IsFloat() || b.typ.IsFloat() {
				return compareFloat(a.AsFloat(), b.AsFloat())
			}
			return a.AsDecimal().Cmp(b.AsDecimal())
		default:
			return compareFloat(a.AsFloat(), b.AsFloat())
		}
	case FamDateTime:
		return cmp.Compare(a.asMicros(), b.asMicros())
	}
	return compareSame(a, b)
}

// asMicros puts a date on the timestamp scale.
func (d Datum) asMicros() int64 {
	if d.typ == Date {
		return d.i * 86400e6
	}
	return d.i
}

func compareSame(a, b *Datum) int {
	switch a.typ {
	case Float4, Float8:
		return compareFloat(a.Float(), b.Float())
	case Numeric:
		return a.Decimal().Cmp(b.Decimal())
	case Text, Varchar, Bpchar, Name, Bytea, JSONB, UUID, Unknown:
		if a.typ == Bpchar {
			return strings.Compare(strings.TrimRight(a.Str(), " "), strings.TrimRight(b.Str(), " "))
		}
		return strings.Compare(a.Str(), b.Str())
	case Interval:
		return compareFloat(intervalKey(*a), intervalKey(*b))
	}
	return cmp.Compare(a.i, b.i)
}

// compareFloat orders floats as PostgreSQL does: NaN equals NaN and is
// greater than every other value.
func compareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

// CompareRows orders rows column by column with Compare; a shorter row that
// is a prefix of a longer one sorts first.
func CompareRows(a, b Row) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if c := CompareRef(&a[i], &b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// Equal reports whether two datums are equal under Compare (NULL equals
// NULL here; SQL's = is in package expr).
func Equal(a, b Datum) bool { return Compare(a, b) == 0 }

// RowsEqual reports whether two rows are equal under Compare.
func RowsEqual(a, b Row) bool { return CompareRows(a, b) == 0 }

// Copy returns a copy of the row's slice (datums are immutable values).
func (r Row) Copy() Row { return append(Row(nil), r...) }

// AppendKey appends an order-preserving-insensitive identity encoding of d
// to buf: two datums that Compare equal of the same family produce the same
// bytes. It is used for hashing keys (DISTINCT sets, hash joins), never for
// ordering.
func AppendKey(buf []byte, d Datum) []byte {
	if d.null {
		return append(buf, 0)
	}
	buf = append(buf, 1, byte(d.typ.Family()))
	switch d.typ.Family() {
	case FamNumeric:
		if d.typ.IsInteger() {
			return appendUint(buf, uint64(d.i))
		}
		if d.typ.IsFloat() && d.Float() == math.Trunc(d.Float()) && math.Abs(d.Float()) < 1<<62 {
			return appendUint(buf, uint64(int64(d.Float())))
		}
		if d.typ == Numeric {
			var r apd.Decimal
			r.Reduce(d.Decimal())
			if r.Exponent >= 0 && r.NumDigits()+int64(r.Exponent) < 18 {
				i, err := r.Int64()
				if err == nil {
					return appendUint(buf, uint64(i))
				}
			}
			return append(buf, r.String()...)
		}
		return appendUint(append(buf, 'f'), math.Float64bits(d.Float()))
	case FamDateTime:
		return appendUint(buf, uint64(d.asMicros()))
	case FamString:
		s := d.Str()
		if d.typ == Bpchar {
			s = strings.TrimRight(s, " ")
		}
		buf = appendUint(buf, uint64(len(s)))
		return append(buf, s...)
	case FamInterval:
		return appendUint(buf, math.Float64bits(intervalKey(d)))
	}
	buf = appendUint(buf, uint64(d.i))
	buf = appendUint(buf, uint64(len(d.Str())))
	return append(buf, d.Str()...)
}

func appendUint(buf []byte, v uint64) []byte {
	return append(buf, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// HashRow hashes r's identity encoding (RowKey) without building it: rows
// whose encodings are equal hash equal. Integers and strings, most columns,
// are mixed in directly; another datum's own encoding is hashed, in buf,
// which HashRow returns (grown) for the next call. seed and key are the
// caller's, fixed per process: key is mixed into integers, seed hashes the
// bytes. Encoding rows to hash them was a tenth of the CPU of a restart of
// 10M rows under an index on k and a top-k view.
func HashRow(seed maphash.Seed, key uint64, r Row, buf []byte) (uint64, []byte) {
	h := key
	for i := range r {
		d := &r[i]
		var c uint64
		switch {
		case d.null:
			c = 0x5bd1e995
		case d.typ.IsInteger():
			c = mixKey(uint64(d.i), key)
		case d.typ.Family() == FamString:
			s := d.Str()
			if d.typ == Bpchar {
				s = strings.TrimRight(s, " ")
			}
			c = maphash.String(seed, s)
		default:
			buf = AppendKey(buf[:0], *d)
			if len(buf) == 10 && buf[1] == byte(FamNumeric) {
				// The form of an integer: a float or numeric equal to one.
				c = mixKey(binary.BigEndian.Uint64(buf[2:]), key)
			} else {
				c = maphash.Bytes(seed, buf)
			}
		}
		h = mixKey(h^c, key)
	}
	return h, buf
}

// mixKey is a 64-bit finalizer (murmur3's fmix64) of x xor key.
func mixKey(x, key uint64) uint64 {
	x ^= key
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// RowKey appends the identity encoding of every datum of r.
func RowKey(buf []byte, r Row) []byte {
	for _, d := range r {
		buf = AppendKey(buf, d)
	}
	return buf
}

var _ = bytes.Compare
