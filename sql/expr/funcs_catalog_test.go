package expr

import (
	"slices"
	"testing"

	"github.com/tributary-db/tributary/sql/types"
)

func TestTextArrayRoundTrip(t *testing.T) {
	for _, elems := range [][]string{nil, {"a"}, {"a", "b c", `q"uote`, `back\slash`, "", "null", "{x}"}} {
		s := FormatTextArray(elems)
		got, nulls, err := ParseTextArray(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if !slices.Equal(got, elems) || slices.Contains(nulls, true) {
			t.Errorf("%q: parsed %q (nulls %v), want %q", s, got, nulls, elems)
		}
	}
	got, nulls, err := ParseTextArray("{1, NULL ,\"NULL\"}")
	if err != nil || !slices.Equal(got, []string{"1", "NULL", "NULL"}) || !slices.Equal(nulls, []bool{false, true, false}) {
		t.Errorf("got %q %v %v", got, nulls, err)
	}
	if _, _, err := ParseTextArray("not an array"); err == nil {
		t.Error("malformed literal accepted")
	}
}

func TestSizePretty(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{{0, "0 bytes"}, {10239, "10239 bytes"}, {10240, "10 kB"}, {1 << 20, "1024 kB"}, {20 << 20, "20 MB"}, {-10240, "-10 kB"}, {30 << 40, "30 TB"}} {
		if got := SizePretty(c.in); got != c.want {
			t.Errorf("SizePretty(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFormatType(t *testing.T) {
	for _, c := range []struct {
		oid    uint32
		typmod int64
		want   string
	}{
		{types.Varchar.OID(), int64(Typmod(types.Varchar, []int32{40})), "character varying(40)"},
		{types.Numeric.OID(), int64(Typmod(types.Numeric, []int32{12, 2})), "numeric(12,2)"},
		{types.Int4.OID(), -1, "integer"},
		{types.Text.ArrayOID(), -1, "text[]"},
		{1, -1, "???"},
	} {
		if got := FormatType(c.oid, c.typmod, true); got != c.want {
			t.Errorf("FormatType(%d, %d) = %q, want %q", c.oid, c.typmod, got, c.want)
		}
	}
}
