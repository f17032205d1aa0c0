package pgwire

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// The binary wire format of each supported type is PostgreSQL's own
// (the typsend/typrecv functions): big-endian integers, IEEE floats,
// base-10000 numerics, dates and timestamps counted from 2000-01-01 (which
// is also the in-memory representation of types.Datum), jsonb as a version
// byte 1 followed by its text.

// NUMERIC sign words (src/backend/utils/adt/numeric.c).
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000

	numericMaxDscale = 0x3FFF
)

func binaryError(t types.Type) error {
	return pgerror.New(pgerror.InvalidBinaryRepresentation, "incorrect binary data format for type %s", t)
}

// AppendBinary appends the binary format of d, encoded as type t (the
// column's type; d may be of a type that converts without loss, such as an
// int4 in a bigint column).
func AppendBinary(b []byte, t types.Type, d types.Datum) ([]byte, error) {
	switch t {
	case types.Bool:
		if d.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case types.Int2, types.Int4, types.Int8, types.Oid:
		if !d.Type().IsInteger() {
			return nil, pgerror.New(pgerror.InternalError, "cannot send %s as %s", d.Type(), t)
		}
		v := d.Int()
		lo, hi := types.IntRange(t)
		if v < lo || v > hi {
			return nil, pgerror.New(pgerror.NumericValueOutOfRange, "value out of range for type %s", t)
		}
		switch t {
		case types.Int2:
			return binary.BigEndian.AppendUint16(b, uint16(v)), nil
		case types.Int8:
			return binary.BigEndian.AppendUint64(b, uint64(v)), nil
		}
		return binary.BigEndian.AppendUint32(b, uint32(v)), nil
	case types.Float4:
		return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(d.AsFloat()))), nil
	case types.Float8:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(d.AsFloat())), nil
	case types.Numeric:
		return appendNumeric(b, d.AsDecimal())
	case types.Text, types.Varchar, types.Bpchar, types.Name, types.Unknown:
		if d.Type().Family() == types.FamString || d.Type() == types.Unknown {
			return append(b, d.Str()...), nil
		}
		return types.AppendText(b, d), nil
	case types.Bytea:
		return append(b, d.Str()...), nil
	case types.Void:
		return b, nil // void_send: no bytes
	case types.UUID:
		if len(d.Str()) != 16 {
			return nil, pgerror.New(pgerror.InternalError, "uuid value has %d bytes", len(d.Str()))
		}
		return append(b, d.Str()...), nil
	case types.JSONB:
		return append(append(b, 1), d.Str()...), nil
	case types.Date:
		return binary.BigEndian.AppendUint32(b, uint32(int32(d.Int()))), nil
	case types.Time:
		return binary.BigEndian.AppendUint64(b, uint64(d.Int())), nil
	case types.Timestamp, types.TimestampTZ:
		us := d.Int()
		if d.Type() == types.Date {
			us *= 86400e6
		}
		return binary.BigEndian.AppendUint64(b, uint64(us)), nil
	case types.Interval:
		iv := d.Interval()
		b = binary.BigEndian.AppendUint64(b, uint64(iv.Micros))
		b = binary.BigEndian.AppendUint32(b, uint32(iv.Days))
		return binary.BigEndian.AppendUint32(b, uint32(iv.Months)), nil
	}
	return nil, pgerror.New(pgerror.FeatureNotSupported, "binary format is not supported for type %s", t)
}

// DecodeBinary decodes a value of type t in binary format. Malformed input
// is a 22P03 error; it never panics.
func DecodeBinary(t types.Type, b []byte) (types.Datum, error) {
	fixed := func(n int) error {
		if len(b) != n {
			return binaryError(t)
		}
		return nil
	}
	switch t {
	case types.Bool:
		if err := fixed(1); err != nil {
			return types.Datum{}, err
		}
		return types.NewBool(b[0] != 0), nil
	case types.Int2:
		if err := fixed(2); err != nil {
			return types.Datum{}, err
		}
		return types.NewInt(t, int64(int16(binary.BigEndian.Uint16(b)))), nil
	case types.Int4:
		if err := fixed(4); err != nil {
			return types.Datum{}, err
		}
		return types.NewInt(t, int64(int32(binary.BigEndian.Uint32(b)))), nil
	case types.Oid:
		if err := fixed(4); err != nil {
			return types.Datum{}, err
		}
		return types.NewInt(t, int64(binary.BigEndian.Uint32(b))), nil
	case types.Int8:
		if err := fixed(8); err != nil {
			return types.Datum{}, err
		}
		return types.NewInt(t, int64(binary.BigEndian.Uint64(b))), nil
	case types.Float4:
		if err := fixed(4); err != nil {
			return types.Datum{}, err
		}
		return types.NewFloat(t, float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
	case types.Float8:
		if err := fixed(8); err != nil {
			return types.Datum{}, err
		}
		return types.NewFloat(t, math.Float64frombits(binary.BigEndian.Uint64(b))), nil
	case types.Numeric:
		d, err := decodeNumeric(b)
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewNumeric(d), nil
	case types.Text, types.Varchar, types.Bpchar, types.Name, types.Unknown:
		if !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
			return types.Datum{}, pgerror.New(pgerror.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		if t == types.Name {
			return types.NewName(string(b)), nil
		}
		return types.NewString(t, string(b)), nil
	case types.Bytea:
		return types.NewString(t, string(b)), nil
	case types.UUID:
		if err := fixed(16); err != nil {
			return types.Datum{}, err
		}
		return types.NewString(t, string(b)), nil
	case types.JSONB:
		if len(b) < 1 || b[0] != 1 {
			return types.Datum{}, pgerror.New(pgerror.InvalidBinaryRepresentation, "unsupported jsonb version number %d", firstByte(b))
		}
		d, err := types.ParseJSONB(string(b[1:]))
		if err != nil {
			return types.Datum{}, withParseCode(err)
		}
		return d, nil
	case types.Date:
		if err := fixed(4); err != nil {
			return types.Datum{}, err
		}
		return types.NewDate(int64(int32(binary.BigEndian.Uint32(b)))), nil
	case types.Time:
		if err := fixed(8); err != nil {
			return types.Datum{}, err
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us < 0 || us > 86400e6 {
			return types.Datum{}, pgerror.New(pgerror.InvalidBinaryRepresentation, "time out of range")
		}
		return types.NewTime(us), nil
	case types.Timestamp, types.TimestampTZ:
		if err := fixed(8); err != nil {
			return types.Datum{}, err
		}
		return types.NewTimestamp(t, int64(binary.BigEndian.Uint64(b))), nil
	case types.Interval:
		if err := fixed(16); err != nil {
			return types.Datum{}, err
		}
		return types.NewInterval(types.IntervalValue{
			Micros: int64(binary.BigEndian.Uint64(b)),
			Days:   int32(binary.BigEndian.Uint32(b[8:])),
			Months: int32(binary.BigEndian.Uint32(b[12:])),
		}), nil
	}
	return types.Datum{}, pgerror.New(pgerror.FeatureNotSupported, "binary format is not supported for type %s", t)
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// appendNumeric encodes d as PostgreSQL's NUMERIC: ndigits, weight, sign,
// dscale (uint16/int16 each), then ndigits base-10000 digits, most
// significant first; the value is sum(digit[i] * 10000^(weight-i)) and dscale
// is the number of decimal digits after the point (here: -Exponent).
func appendNumeric(b []byte, d *apd.Decimal) ([]byte, error) {
	header := func(ndigits int, weight int, sign, dscale uint16) []byte {
		b = binary.BigEndian.AppendUint16(b, uint16(ndigits))
		b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
		b = binary.BigEndian.AppendUint16(b, sign)
		return binary.BigEndian.AppendUint16(b, dscale)
	}
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return header(0, 0, numericNaN, 0), nil
	case apd.Infinite:
		if d.Negative {
			return header(0, 0, numericNInf, 0), nil
		}
		return header(0, 0, numericPInf, 0), nil
	}
	overflow := pgerror.New(pgerror.NumericValueOutOfRange, "value overflows numeric format")
	digits := d.Coeff.String()
	exp := int(d.Exponent)
	dscale := max(0, -exp)
	if dscale > numericMaxDscale {
		return nil, overflow
	}
	if exp > 0 {
		if len(digits)+exp > 4*math.MaxInt16 {
			return nil, overflow
		}
		digits += strings.Repeat("0", exp)
		exp = 0
	}
	frac := -exp
	if r := frac % 4; r != 0 {
		digits += strings.Repeat("0", 4-r)
		frac += 4 - r
	}
	intLen := len(digits) - frac
	if intLen < 0 {
		digits = strings.Repeat("0", -intLen) + digits
		intLen = 0
	}
	if r := intLen % 4; r != 0 {
		digits = strings.Repeat("0", 4-r) + digits
		intLen += 4 - r
	}
	groups := make([]uint16, len(digits)/4)
	for i := range groups {
		v, _ := strconv.Atoi(digits[4*i : 4*i+4])
		groups[i] = uint16(v)
	}
	weight := intLen/4 - 1
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(numericPos)
	if len(groups) == 0 {
		weight = 0
	} else if d.Negative {
		sign = numericNeg
	}
	if weight > math.MaxInt16 || weight < math.MinInt16 || len(groups) > math.MaxUint16 {
		return nil, overflow
	}
	b = header(len(groups), weight, sign, uint16(dscale))
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b, nil
}

// decodeNumeric is the inverse of appendNumeric. As PostgreSQL's
// numeric_recv does, digits beyond dscale are truncated away.
func decodeNumeric(b []byte) (*apd.Decimal, error) {
	bad := binaryError(types.Numeric)
	if len(b) < 8 {
		return nil, bad
	}
	ndigits := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*ndigits {
		return nil, bad
	}
	d := new(apd.Decimal)
	switch sign {
	case numericNaN:
		d.Form = apd.NaN
		return d, nil
	case numericPInf, numericNInf:
		d.Form = apd.Infinite
		d.Negative = sign == numericNInf
		return d, nil
	case numericPos, numericNeg:
	default:
		return nil, pgerror.New(pgerror.InvalidBinaryRepresentation, "invalid sign in external \"numeric\" value")
	}
	if dscale > numericMaxDscale {
		return nil, pgerror.New(pgerror.InvalidBinaryRepresentation, "invalid scale in external \"numeric\" value")
	}
	var sb strings.Builder
	sb.Grow(4*ndigits + 1)
	for i := 0; i < ndigits; i++ {
		g := binary.BigEndian.Uint16(b[8+2*i:])
		if g > 9999 {
			return nil, pgerror.New(pgerror.InvalidBinaryRepresentation, "invalid digit in external \"numeric\" value")
		}
		s := strconv.Itoa(int(g))
		sb.WriteString("000"[:4-len(s)])
		sb.WriteString(s)
	}
	cs := sb.String()
	exp := 4 * (weight - ndigits + 1)
	if ndigits == 0 {
		cs, exp = "0", 0
	}
	target := -dscale
	switch {
	case exp > target:
		cs += strings.Repeat("0", exp-target)
	case exp < target:
		if k := target - exp; k >= len(cs) {
			cs = "0"
		} else {
			cs = cs[:len(cs)-k]
		}
	}
	if _, ok := d.Coeff.SetString(cs, 10); !ok {
		return nil, bad
	}
	d.Exponent = int32(target)
	d.Negative = sign == numericNeg && d.Coeff.Sign() != 0
	return d, nil
}
