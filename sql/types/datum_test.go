package types

import (
	"bytes"
	"hash/maphash"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// TestHashRowFollowsRowKey checks HashRow's contract on rows of datums
// drawn so that many pairs encode equal across types (an int4 and an int8,
// an integral float or numeric and an integer, bpchar with trailing spaces
// and text): rows whose RowKey encodings are equal hash equal, and rows
// whose encodings differ almost never do.
func TestHashRowFollowsRowKey(t *testing.T) {
	seed := maphash.MakeSeed()
	key := maphash.String(seed, "test")
	rng := rand.New(rand.NewPCG(1, 2))
	datum := func() Datum {
		v := rng.Int64N(4) - 1
		switch rng.IntN(11) {
		case 0:
			return Null(Int4)
		case 1:
			return NewInt4(int32(v))
		case 2:
			return NewInt8(v)
		case 3:
			return NewFloat8(float64(v))
		case 4:
			return NewFloat8(float64(v) + 0.5)
		case 5:
			return NewNumeric(apd.New(v*10, -1))
		case 6:
			return NewNumeric(apd.New(v*10+3, -1))
		case 7:
			return NewText(string(rune('a' + v + 1)))
		case 8:
			return NewString(Bpchar, string(rune('a'+v+1))+"  ")
		case 9:
			return NewTimestamp(TimestampTZ, v)
		default:
			return NewInterval(IntervalValue{Days: int32(v)})
		}
	}
	// twin returns a datum of another type that encodes as d does, when
	// there is one.
	twin := func(d Datum) Datum {
		switch {
		case d.IsNull() || d.Type() == Interval || d.Type() == TimestampTZ:
			return d
		case d.Type().IsInteger():
			return NewNumeric(apd.New(d.Int()*100, -2))
		case d.Type() == Float8:
			return NewFloat8(d.Float())
		case d.Type() == Numeric:
			if f, err := d.Decimal().Float64(); err == nil && f == float64(int64(f)) {
				return NewInt8(int64(f))
			}
			return d
		case d.Type() == Text:
			return NewString(Bpchar, d.Str()+" ")
		}
		return NewText(d.Str()[:1])
	}
	var buf []byte
	same, differ, collide := 0, 0, 0
	for range 20000 {
		n := 1 + rng.IntN(3)
		a, b := make(Row, n), make(Row, n)
		for i := range n {
			a[i], b[i] = datum(), datum()
			if rng.IntN(4) > 0 {
				b[i] = twin(a[i])
			}
		}
		var ha, hb uint64
		ha, buf = HashRow(seed, key, a, buf)
		hb, buf = HashRow(seed, key, b, buf)
		if bytes.Equal(RowKey(nil, a), RowKey(nil, b)) {
			same++
			if ha != hb {
				t.Fatalf("rows %v and %v encode equal but hash %x and %x", a, b, ha, hb)
			}
			continue
		}
		differ++
		if ha == hb {
			collide++
		}
	}
	if same < 500 || differ < 500 {
		t.Fatalf("the draw gave %d equal and %d different pairs: too few to test", same, differ)
	}
	if collide > 0 {
		t.Fatalf("%d of %d pairs of different rows hashed equal", collide, differ)
	}
}

// TestRowBlocksRowsApart: rows from one block are apart, and appending to
// one reallocates it instead of writing over the next.
func TestRowBlocksRowsApart(t *testing.T) {
	var b RowBlocks
	a, c := b.Row(2), b.Row(3)
	a[0], a[1] = NewInt8(1), NewInt8(2)
	c[0] = NewInt8(3)
	if cap(a) != 2 || len(c) != 3 {
		t.Fatalf("rows of cap %d and len %d, want 2 and 3", cap(a), len(c))
	}
	_ = append(a, NewInt8(9))
	if c[0].Int() != 3 {
		t.Fatalf("appending to a row wrote over the next: %d", c[0].Int())
	}
	if big := b.Row(2 * rowBlockDatums); len(big) != 2*rowBlockDatums {
		t.Fatalf("a row longer than a block has %d datums", len(big))
	}
}
