package pgwire

import (
	"encoding/hex"
	"math"
	"math/big"
	mrand "math/rand"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tributary-db/tributary/sql/types"
)

func dec(s string) *apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestBinaryRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    types.Datum
		hex  string // expected wire bytes, when pinned
	}{
		{"bool true", types.NewBool(true), "01"},
		{"bool false", types.NewBool(false), "00"},
		{"int2", types.NewInt(types.Int2, -2), "fffe"},
		{"int4", types.NewInt4(math.MinInt32), "80000000"},
		{"int8", types.NewInt8(math.MaxInt64), "7fffffffffffffff"},
		{"oid", types.NewInt(types.Oid, math.MaxUint32), "ffffffff"},
		{"float4", types.NewFloat(types.Float4, -1.5), "bfc00000"},
		{"float8", types.NewFloat8(0.1), "3fb999999999999a"},
		{"float8 nan", types.NewFloat8(math.NaN()), ""},
		{"float8 inf", types.NewFloat8(math.Inf(-1)), "fff0000000000000"},
		// 12345.678: digits 1 2345 6780, weight 1, dscale 3.
		{"numeric", types.NewNumeric(dec("12345.678")), "0003000100000003000109291a7c"},
		// -0.00012: digits 1 2000 after the point, weight -1, dscale 5.
		{"numeric negative fraction", types.NewNumeric(dec("-0.00012")), "0002ffff40000005000107d0"},
		{"numeric zero scale 2", types.NewNumeric(dec("0.00")), "0000000000000002"},
		{"numeric big integer", types.NewNumeric(dec("1E+12")), "00010003000000000001"},
		{"numeric 10000", types.NewNumeric(dec("10000")), "00010001000000000001"},
		{"numeric nan", types.NewNumeric(dec("NaN")), "00000000c0000000"},
		{"numeric inf", types.NewNumeric(dec("-Infinity")), "00000000f0000000"},
		{"text", types.NewText("héllo"), hex.EncodeToString([]byte("héllo"))},
		{"varchar", types.NewString(types.Varchar, ""), ""},
		{"bpchar", types.NewString(types.Bpchar, "ab  "), "61622020"},
		{"bytea", types.NewString(types.Bytea, "\x00\xff"), "00ff"},
		{"date", types.NewDate(-1), "ffffffff"},
		{"time", types.NewTime(86400e6), "000000141dd76000"},
		{"timestamp", types.NewTimestamp(types.Timestamp, 1), "0000000000000001"},
		{"timestamptz", types.NewTimestamp(types.TimestampTZ, -86400e6), "ffffffebe228a000"},
		{"interval", types.NewInterval(types.IntervalValue{Months: -1, Days: 2, Micros: 3}), "000000000000000300000002ffffffff"},
		{"jsonb", types.NewString(types.JSONB, `{"a": [1, 2]}`), "01" + hex.EncodeToString([]byte(`{"a": [1, 2]}`))},
		{"uuid", types.NewString(types.UUID, "0123456789abcdef"), hex.EncodeToString([]byte("0123456789abcdef"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ := tc.d.Type()
			b, err := AppendBinary(nil, typ, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if tc.hex != "" && hex.EncodeToString(b) != tc.hex {
				t.Errorf("encoded %x, want %s", b, tc.hex)
			}
			got, err := DecodeBinary(typ, b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type() != typ || !types.Equal(got, tc.d) {
				t.Errorf("round trip: %s (%s), want %s (%s)", types.FormatText(got), got.Type(), types.FormatText(tc.d), typ)
			}
			// Text output must match too: numeric keeps its scale.
			if g, w := types.FormatText(got), types.FormatText(tc.d); g != w {
				t.Errorf("text after round trip %q, want %q", g, w)
			}
		})
	}
}

// TestNumericAgainstPgx checks our NUMERIC encoding against pgx's
// independent implementation, both ways, on random values (seed logged).
func TestNumericAgainstPgx(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	bigRng := mrand.New(mrand.NewSource(int64(seed)))
	m := pgtype.NewMap()
	for i := 0; i < 2000; i++ {
		coeff := new(big.Int).Rand(bigRng, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(1+rng.IntN(40))), nil))
		if rng.IntN(2) == 0 {
			coeff.Neg(coeff)
		}
		exp := int32(rng.IntN(30) - 20)
		var d apd.Decimal
		d.Coeff.SetMathBigInt(coeff)
		d.Negative = coeff.Sign() < 0
		d.Coeff.Abs(&d.Coeff)
		d.Exponent = exp

		b, err := appendNumeric(nil, &d)
		if err != nil {
			t.Fatal(err)
		}
		var n pgtype.Numeric
		if err := m.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, b, &n); err != nil {
			t.Fatalf("pgx cannot decode our %s: %v", d.String(), err)
		}
		if !sameValue(n, &d) {
			t.Fatalf("we sent %s, pgx read %se%d", d.String(), n.Int, n.Exp)
		}
		pb, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, pgtype.Numeric{Int: coeff, Exp: exp, Valid: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeNumeric(pb)
		if err != nil {
			t.Fatalf("decoding pgx's %x: %v", pb, err)
		}
		if back.Cmp(&d) != 0 {
			t.Fatalf("pgx sent %s, we read %s", d.String(), back.String())
		}
	}
}

func sameValue(n pgtype.Numeric, d *apd.Decimal) bool {
	var x apd.Decimal
	x.Coeff.SetMathBigInt(n.Int)
	x.Negative = n.Int.Sign() < 0
	x.Coeff.Abs(&x.Coeff)
	x.Exponent = n.Exp
	return x.Cmp(d) == 0
}

func TestDecodeBinaryRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    types.Type
		hex  string
	}{
		{"short int4", types.Int4, "0001"},
		{"long bool", types.Bool, "0001"},
		{"numeric short", types.Numeric, "0001"},
		{"numeric digit count", types.Numeric, "0002000000000000" + "0001"},
		{"numeric digit range", types.Numeric, "0001000000000000" + "2710"},
		{"numeric sign", types.Numeric, "0000000012340000"},
		{"numeric dscale", types.Numeric, "000000000000ffff"},
		{"jsonb version", types.JSONB, "027b7d"},
		{"jsonb empty", types.JSONB, ""},
		{"text invalid utf8", types.Text, "ff"},
		{"uuid short", types.UUID, "00"},
		{"time range", types.Time, "ffffffffffffffff"},
		{"interval short", types.Interval, "00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tc.hex)
			if d, err := DecodeBinary(tc.t, b); err == nil {
				t.Fatalf("decoded %s, want an error", types.FormatText(d))
			}
		})
	}
}
