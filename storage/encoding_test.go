package storage

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/types"
)

func TestEveryTypeHasACode(t *testing.T) {
	seen := map[byte]types.Type{}
	for _, typ := range types.AllTypes() {
		c, ok := typeCodes[typ]
		if !ok {
			t.Errorf("type %s has no on-disk code: add one to typeCodes and format.md", typ)
			continue
		}
		if other, dup := seen[c]; dup {
			t.Errorf("types %s and %s share code %d", typ, other, c)
		}
		if c >= nullBit {
			t.Errorf("type %s: code %d collides with the null bit", typ, c)
		}
		seen[c] = typ
	}
}

func mustDecimal(t *testing.T, s string) types.Datum {
	t.Helper()
	d, _, err := apd.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return types.NewNumeric(d)
}

// sameDatum reports whether two datums are the same value of the same type,
// field by field (stricter than types.Equal, which equates 1.0 and 1.00).
func sameDatum(a, b types.Datum) bool {
	if a.Type() != b.Type() || a.IsNull() != b.IsNull() {
		return false
	}
	if a.IsNull() {
		return true
	}
	switch a.Type() {
	case types.Numeric:
		x, y := a.Decimal(), b.Decimal()
		return x.Form == y.Form && x.Negative == y.Negative && x.Exponent == y.Exponent && x.Coeff.Cmp(&y.Coeff) == 0
	case types.Float4, types.Float8:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case types.Interval:
		return a.Interval() == b.Interval()
	}
	return a.Int() == b.Int() && a.Str() == b.Str() && a.Bool() == b.Bool()
}

func TestRowRoundTrip(t *testing.T) {
	row := types.Row{
		types.NewBool(true), types.NewBool(false),
		types.NewInt(types.Int2, -32768), types.NewInt4(math.MaxInt32), types.NewInt8(math.MinInt64), types.NewInt(types.Oid, 4294967295),
		types.NewFloat(types.Float4, 1.5), types.NewFloat8(math.Inf(-1)), types.NewFloat8(math.NaN()), types.NewFloat8(math.Copysign(0, -1)),
		mustDecimal(t, "1.50"), mustDecimal(t, "-0"), mustDecimal(t, "NaN"), mustDecimal(t, "-Infinity"),
		mustDecimal(t, "123456789012345678901234567890.000000000000000001"), mustDecimal(t, "1E+300"), mustDecimal(t, "-1e-300"),
		types.NewText(""), types.NewText("a\x00b\x00"), types.NewString(types.Varchar, "héllo"), types.NewString(types.Bpchar, "ab  "),
		types.NewString(types.Bytea, "\x00\xff\x00"), types.NewString(types.JSONB, `{"a": [1, null]}`), types.NewString(types.UUID, "0123456789abcdef"),
		types.NewDate(-730120), types.NewTime(86399999999), types.NewTimestamp(types.Timestamp, math.MinInt64), types.NewTimestamp(types.TimestampTZ, 1),
		types.NewInterval(types.IntervalValue{Months: -14, Days: math.MaxInt32, Micros: -1}),
		types.NewInterval(types.IntervalValue{Months: math.MinInt32, Days: math.MinInt32, Micros: math.MaxInt64}),
		types.NewString(types.Unknown, "untyped"),
	}
	for _, typ := range types.AllTypes() {
		row = append(row, types.Null(typ))
	}
	buf := AppendRow([]byte("prefix"), row)
	got, rest, err := DecodeRow(buf[len("prefix"):])
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes", len(rest))
	}
	if len(got) != len(row) {
		t.Fatalf("decoded %d datums, want %d", len(got), len(row))
	}
	for i := range row {
		if !sameDatum(row[i], got[i]) {
			t.Errorf("datum %d: encoded %s %q, decoded %s %q", i, row[i].Type(), types.FormatText(row[i]), got[i].Type(), types.FormatText(got[i]))
		}
	}
	// Every truncation of a valid encoding is an error, never a panic or a
	// silently shorter row.
	for n := 0; n < len(buf)-len("prefix"); n++ {
		if _, _, err := DecodeRow(buf[len("prefix") : len("prefix")+n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		} else if !errors.Is(err, errBadRow) {
			t.Errorf("truncated to %d bytes: error %v is not errBadRow", n, err)
		}
	}
}

func TestRowRandomRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := 0; i < 2000; i++ {
		row := make(types.Row, rng.IntN(6))
		for j := range row {
			switch rng.IntN(6) {
			case 0:
				row[j] = types.Null(types.AllTypes()[rng.IntN(len(types.AllTypes()))])
			case 1:
				row[j] = types.NewInt8(int64(rng.Uint64()))
			case 2:
				row[j] = types.NewFloat8(math.Float64frombits(rng.Uint64()))
			case 3:
				b := make([]byte, rng.IntN(20))
				for k := range b {
					b[k] = byte(rng.IntN(256))
				}
				row[j] = types.NewString(types.Bytea, string(b))
			case 4:
				var d apd.Decimal
				d.SetFinite(int64(rng.Uint64()), int32(rng.IntN(200))-100)
				d.Negative = rng.IntN(2) == 0
				row[j] = types.NewNumeric(&d)
			case 5:
				row[j] = types.NewInterval(types.IntervalValue{Months: int32(rng.Uint32()), Days: int32(rng.Uint32()), Micros: int64(rng.Uint64())})
			}
		}
		got, rest, err := DecodeRow(AppendRow(nil, row))
		if err != nil || len(rest) != 0 || len(got) != len(row) {
			t.Fatalf("row %d: err %v, %d trailing bytes, %d datums", i, err, len(rest), len(got))
		}
		for j := range row {
			if !sameDatum(row[j], got[j]) {
				t.Fatalf("row %d datum %d: encoded %q, decoded %q", i, j, types.FormatText(row[j]), types.FormatText(got[j]))
			}
		}
	}
}

func FuzzDecodeRow(f *testing.F) {
	f.Add(AppendRow(nil, types.Row{types.NewInt8(1), types.NewText("x"), types.Null(types.Numeric)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		row, _, err := DecodeRow(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to bytes that decode to the same row.
		again, _, err := DecodeRow(AppendRow(nil, row))
		if err != nil || len(again) != len(row) {
			t.Fatalf("re-decoding: %v", err)
		}
	})
}

// TestAppendRowsIsAppendRowOfTheConcatenation: the view state writer's
// two-part rows decode as one row.
func TestAppendRowsIsAppendRowOfTheConcatenation(t *testing.T) {
	a := types.Row{types.NewInt8(-3), types.Null(types.Text)}
	b := types.Row{types.NewText("x\x00y"), types.NewBool(true)}
	for _, tc := range [][2]types.Row{{a, b}, {nil, b}, {a, nil}, {nil, nil}} {
		want := AppendRow([]byte{9}, append(append(types.Row(nil), tc[0]...), tc[1]...))
		if got := AppendRows([]byte{9}, tc[0], tc[1]); string(got) != string(want) {
			t.Errorf("AppendRows(%v, %v) = %x, want %x", tc[0], tc[1], got, want)
		}
	}
}
