package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/types"
)

// RowEncodingVersion is the version of the binary row encoding below. It is
// the first byte of every encoded entry value (format.md, "Rows"); a decoder
// refuses a version it does not know.
const RowEncodingVersion = 1

// errBadRow marks a value that does not decode: it is corruption, or written
// by a newer binary.
var errBadRow = errors.New("malformed row encoding")

// nullBit is set in a datum's tag byte for SQL NULL; the low seven bits are
// the type's code.
const nullBit = 0x80

// typeCodes are the on-disk codes of the types. They are part of the format
// (format.md, "Type codes"): a code is never reused or renumbered, whatever
// order types.Type's constants are declared in. A new type takes the next
// free code; TestEveryTypeHasACode fails until it has one.
var typeCodes = map[types.Type]byte{
	types.Unknown:     0,
	types.Bool:        1,
	types.Int2:        2,
	types.Int4:        3,
	types.Int8:        4,
	types.Float4:      5,
	types.Float8:      6,
	types.Numeric:     7,
	types.Text:        8,
	types.Varchar:     9,
	types.Bpchar:      10,
	types.Bytea:       11,
	types.Date:        12,
	types.Time:        13,
	types.Timestamp:   14,
	types.TimestampTZ: 15,
	types.Interval:    16,
	types.JSONB:       17,
	types.UUID:        18,
	types.Oid:         19,
	types.Void:        20,
	types.Name:        21,
}

// codeOf is typeCodes as an array, for AppendDatum: a map lookup per datum
// was a tenth of encoding a COPY's rows. -1: the type has no code.
var codeOf = func() (out [256]int16) {
	for i := range out {
		out[i] = -1
	}
	for t, c := range typeCodes {
		out[t] = int16(c)
	}
	return out
}()

// codeTypes inverts typeCodes.
var codeTypes = func() (out [nullBit]struct {
	t  types.Type
	ok bool
}) {
	for t, c := range typeCodes {
		out[c].t, out[c].ok = t, true
	}
	return out
}()

// AppendRow appends the binary encoding of r to buf (format.md, "Rows"):
// uvarint column count, then per datum a tag byte (type, null bit) and a
// payload that depends on the type. Every value of every type round-trips
// exactly, including NULLs of each type, numeric NaN/±Infinity/-0 and
// trailing zeros, interval fields and strings with NUL bytes.
func AppendRow(buf []byte, r types.Row) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(r)))
	for _, d := range r {
		buf = AppendDatum(buf, d)
	}
	return buf
}

// AppendRows appends the encoding of the one row made of a followed by b,
// as AppendRow of their concatenation would, without building it.
func AppendRows(buf []byte, a, b types.Row) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(a)+len(b)))
	for _, d := range a {
		buf = AppendDatum(buf, d)
	}
	for _, d := range b {
		buf = AppendDatum(buf, d)
	}
	return buf
}

// AppendDatum appends the encoding of one datum.
func AppendDatum(buf []byte, d types.Datum) []byte {
	t := d.Type()
	c := codeOf[t]
	if c < 0 {
		// A type without a code is a programming error caught by
		// TestEveryTypeHasACode; never write bytes we could not read back.
		panic(fmt.Sprintf("storage: type %s has no on-disk code", t))
	}
	code := byte(c)
	if d.IsNull() {
		return append(buf, code|nullBit)
	}
	buf = append(buf, code)
	switch t {
	case types.Bool:
		if d.Bool() {
			return append(buf, 1)
		}
		return append(buf, 0)
	case types.Int2, types.Int4, types.Int8, types.Oid,
		types.Date, types.Time, types.Timestamp, types.TimestampTZ:
		return binary.AppendVarint(buf, d.Int())
	case types.Float4, types.Float8:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(d.Float()))
	case types.Numeric:
		return appendDecimal(buf, d.Decimal())
	case types.Interval:
		iv := d.Interval()
		buf = binary.AppendVarint(buf, int64(iv.Months))
		buf = binary.AppendVarint(buf, int64(iv.Days))
		return binary.AppendVarint(buf, iv.Micros)
	default:
		// Text, Varchar, Bpchar, Bytea, JSONB (canonical text), UUID (16
		// raw bytes), a non-NULL Unknown literal and Void (the empty result of a
		// function called for its effect): length-prefixed bytes.
		s := d.Str()
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		return append(buf, s...)
	}
}

// appendDecimal encodes a numeric as its form, sign, exponent and the
// big-endian magnitude of its coefficient: exactly apd's representation, so
// that 1.50 stays 1.50 and -0 stays -0.
func appendDecimal(buf []byte, x *apd.Decimal) []byte {
	var flags byte
	if x.Negative {
		flags = 1
	}
	buf = append(buf, byte(x.Form), flags)
	buf = binary.AppendVarint(buf, int64(x.Exponent))
	mag := x.Coeff.Bytes() // the absolute value
	buf = binary.AppendUvarint(buf, uint64(len(mag)))
	return append(buf, mag...)
}

// DecodeRow decodes one row encoded by AppendRow and returns the rest of
// buf. Strings are copied: the result does not alias buf.
func DecodeRow(buf []byte) (types.Row, []byte, error) {
	return DecodeRowInto(nil, buf)
}

// DecodeRowInto is DecodeRow decoding into dst's storage when it has room
// (a reader that copies what it keeps decodes every row into one
// buffer); the datums hold no reference to buf.
func DecodeRowInto(dst types.Row, buf []byte) (types.Row, []byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, nil, fmt.Errorf("%w: bad column count", errBadRow)
	}
	buf = buf[k:]
	var row types.Row
	if uint64(cap(dst)) >= n {
		row = dst[:n]
	} else {
		row = make(types.Row, n)
	}
	for i := range row {
		var err error
		if row[i], buf, err = DecodeDatum(buf); err != nil {
			return nil, nil, fmt.Errorf("column %d: %w", i, err)
		}
	}
	return row, buf, nil
}

// DecodeDatum decodes one datum encoded by AppendDatum and returns the rest
// of buf.
func DecodeDatum(buf []byte) (types.Datum, []byte, error) { return decodeDatum(buf, nil) }

// decodeDatum is DecodeDatum taking a string's bytes from arena, when not
// nil.
func decodeDatum(buf []byte, arena *rowArena) (types.Datum, []byte, error) {
	if len(buf) == 0 {
		return types.Datum{}, nil, fmt.Errorf("%w: truncated", errBadRow)
	}
	tag := buf[0]
	buf = buf[1:]
	ct := codeTypes[tag&^nullBit]
	if !ct.ok {
		return types.Datum{}, nil, fmt.Errorf("%w: unknown type code %d", errBadRow, tag&^nullBit)
	}
	t := ct.t
	if tag&nullBit != 0 {
		return types.Null(t), buf, nil
	}
	switch t {
	case types.Bool:
		if len(buf) < 1 || buf[0] > 1 {
			return types.Datum{}, nil, fmt.Errorf("%w: bad boolean", errBadRow)
		}
		return types.NewBool(buf[0] == 1), buf[1:], nil
	case types.Int2, types.Int4, types.Int8, types.Oid,
		types.Date, types.Time, types.Timestamp, types.TimestampTZ:
		v, k := binary.Varint(buf)
		if k <= 0 {
			return types.Datum{}, nil, fmt.Errorf("%w: bad %s", errBadRow, t)
		}
		buf = buf[k:]
		switch t {
		case types.Date:
			return types.NewDate(v), buf, nil
		case types.Time:
			return types.NewTime(v), buf, nil
		case types.Timestamp, types.TimestampTZ:
			return types.NewTimestamp(t, v), buf, nil
		}
		return types.NewInt(t, v), buf, nil
	case types.Float4, types.Float8:
		if len(buf) < 8 {
			return types.Datum{}, nil, fmt.Errorf("%w: bad %s", errBadRow, t)
		}
		return types.NewFloat(t, math.Float64frombits(binary.BigEndian.Uint64(buf))), buf[8:], nil
	case types.Numeric:
		return decodeDecimal(buf)
	case types.Interval:
		var f [3]int64
		for i := range f {
			v, k := binary.Varint(buf)
			if k <= 0 {
				return types.Datum{}, nil, fmt.Errorf("%w: bad interval", errBadRow)
			}
			f[i], buf = v, buf[k:]
		}
		if f[0] != int64(int32(f[0])) || f[1] != int64(int32(f[1])) {
			return types.Datum{}, nil, fmt.Errorf("%w: interval field out of range", errBadRow)
		}
		return types.NewInterval(types.IntervalValue{Months: int32(f[0]), Days: int32(f[1]), Micros: f[2]}), buf, nil
	default:
		s, rest, err := decodeBytes(buf)
		if err != nil {
			return types.Datum{}, nil, err
		}
		if arena != nil {
			return types.NewString(t, arena.str(s)), rest, nil
		}
		return types.NewString(t, string(s)), rest, nil
	}
}

// rowArena hands out the rows a checkpoint load decodes (types.RowBlocks)
// and their strings' bytes from blocks instead of an allocation each (two
// per row of events(id, k, v, note): 20M allocations restoring 10M rows).
// A block lives while any row or string in it does, which is never more
// memory than the block took when the load filled it. Not safe for
// concurrent use.
type rowArena struct {
	rows  types.RowBlocks
	bytes []byte // the free part of the current block
}

// arenaBytes is the size of a block of bytes; a longer string than an
// eighth of it gets its own.
const arenaBytes = 32 << 10

// str returns a string holding b's bytes.
func (a *rowArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaBytes/8 {
		return string(b)
	}
	if len(a.bytes) < len(b) {
		a.bytes = make([]byte, arenaBytes)
	}
	n := copy(a.bytes, b)
	s := unsafe.String(&a.bytes[0], n)
	a.bytes = a.bytes[n:]
	return s
}

// decodeRowArena is DecodeRow with the row and its strings from arena.
func decodeRowArena(buf []byte, arena *rowArena) (types.Row, []byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, nil, fmt.Errorf("%w: bad column count", errBadRow)
	}
	buf = buf[k:]
	row := arena.rows.Row(int(n))
	for i := range row {
		var err error
		if row[i], buf, err = decodeDatum(buf, arena); err != nil {
			return nil, nil, fmt.Errorf("column %d: %w", i, err)
		}
	}
	return row, buf, nil
}

func decodeDecimal(buf []byte) (types.Datum, []byte, error) {
	if len(buf) < 2 || buf[0] > byte(apd.NaN) || buf[1] > 1 {
		return types.Datum{}, nil, fmt.Errorf("%w: bad numeric header", errBadRow)
	}
	x := new(apd.Decimal)
	x.Form, x.Negative = apd.Form(buf[0]), buf[1] == 1
	buf = buf[2:]
	exp, k := binary.Varint(buf)
	if k <= 0 || exp != int64(int32(exp)) {
		return types.Datum{}, nil, fmt.Errorf("%w: bad numeric exponent", errBadRow)
	}
	x.Exponent = int32(exp)
	mag, rest, err := decodeBytes(buf[k:])
	if err != nil {
		return types.Datum{}, nil, err
	}
	x.Coeff.SetBytes(mag)
	return types.NewNumeric(x), rest, nil
}

func decodeBytes(buf []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)-k) {
		return nil, nil, fmt.Errorf("%w: bad length", errBadRow)
	}
	return buf[k : k+int(n)], buf[k+int(n):], nil
}
