package expr

import (
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/types"
)

// Expected values are PostgreSQL 15's output for SELECT 'in'::from::to.
func TestCastDatum(t *testing.T) {
	tests := []struct {
		from types.Type
		in   string
		to   types.Type
		want string
	}{
		{types.Int4, "40000", types.Int2, "ERROR 22003"},
		{types.Int8, "3000000000", types.Int4, "ERROR 22003"},
		{types.Int4, "-7", types.Int8, "-7"},
		{types.Float8, "2.5", types.Int4, "2"},
		{types.Float8, "3.5", types.Int4, "4"},
		{types.Float8, "-2.5", types.Int4, "-2"},
		{types.Float8, "NaN", types.Int4, "ERROR 22003"},
		{types.Float8, "Infinity", types.Int8, "ERROR 22003"},
		{types.Float8, "1e20", types.Int8, "ERROR 22003"},
		{types.Numeric, "2.5", types.Int4, "3"},
		{types.Numeric, "-2.5", types.Int4, "-3"},
		{types.Numeric, "32767.5", types.Int2, "ERROR 22003"},
		{types.Numeric, "NaN", types.Int4, "ERROR 0A000"},
		{types.Float8, "0.1", types.Numeric, "0.1"},
		{types.Float8, "1e20", types.Numeric, "100000000000000000000"},
		{types.Float4, "0.1", types.Numeric, "0.1"},
		{types.Float8, "1.0000000000000002", types.Numeric, "1"},
		{types.Numeric, "1.50", types.Float8, "1.5"},
		{types.Float8, "1e300", types.Float4, "ERROR 22003"},
		{types.Float8, "1e-300", types.Float4, "ERROR 22003"},
		{types.Int8, "42", types.Numeric, "42"},
		{types.Bool, "true", types.Int4, "1"},
		{types.Int4, "5", types.Bool, "true"},
		{types.Int4, "0", types.Bool, "false"},
		{types.Bool, "t", types.Text, "true"},
		{types.Text, " yes ", types.Bool, "true"},
		{types.Text, "tr", types.Bool, "true"},
		{types.Text, "of", types.Bool, "false"},
		{types.Text, "o", types.Bool, "ERROR 22P02"},
		{types.Float4, "123456789", types.Numeric, "123457000"},
		{types.Text, "off", types.Bool, "false"},
		{types.Text, "maybe", types.Bool, "ERROR 22P02"},
		{types.Text, " 12 ", types.Int4, "12"},
		{types.Text, "12x", types.Int4, "ERROR 22P02"},
		{types.Text, "99999999999", types.Int4, "ERROR 22003"},
		{types.Text, " 1.50 ", types.Numeric, "1.50"},
		{types.Text, "abc", types.Numeric, "ERROR 22P02"},
		{types.Text, "2024-02-30", types.Date, "ERROR 22007"},
		{types.Text, "2024-01-02 10:00", types.Date, "2024-01-02"},
		{types.Numeric, "1.230", types.Text, "1.230"},
		{types.Float8, "0.1", types.Text, "0.1"},
		{types.Date, "2024-03-01", types.Timestamp, "2024-03-01 00:00:00"},
		{types.Timestamp, "2024-03-01 13:14:15.5", types.Date, "2024-03-01"},
		{types.Timestamp, "2024-03-01 13:14:15.5", types.Time, "13:14:15.5"},
		{types.Timestamp, "1999-12-31 23:00:00", types.Date, "1999-12-31"},
		{types.Timestamp, "2024-03-01 13:14:15", types.TimestampTZ, "2024-03-01 13:14:15+00"},
		{types.Interval, "1 day 02:03:04", types.Text, "1 day 02:03:04"},
		{types.Text, "1 day 02:03:04", types.Interval, "1 day 02:03:04"},
		{types.JSONB, `{"b": 1, "a": [1, 2]}`, types.Text, `{"a": [1, 2], "b": 1}`},
		{types.JSONB, `12.5`, types.Numeric, `12.5`},
		{types.JSONB, `"x"`, types.Int4, `ERROR 22023`},
		{types.Bool, "true", types.Date, "ERROR 42846"},
		{types.Bpchar, "ab  ", types.Text, "ab"},
	}
	ctx := testCtx()
	for _, tc := range tests {
		in := lit(t, tc.from, tc.in)
		got, err := CastDatum(ctx, in, tc.to)
		check(t, tc.in+"::"+tc.from.String()+"::"+tc.to.String(), ctx, got, err, tc.want, tc.to)
	}
}

func TestCastTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata")
	}
	ctx := &Ctx{Location: berlin}
	tests := []struct {
		from types.Type
		in   string
		to   types.Type
		want string
	}{
		{types.Text, "2024-07-01 12:00", types.TimestampTZ, "2024-07-01 12:00:00+02"},
		{types.Text, "2024-07-01 12:00:00+00", types.TimestampTZ, "2024-07-01 14:00:00+02"},
		{types.Date, "2024-01-15", types.TimestampTZ, "2024-01-15 00:00:00+01"},
		{types.Timestamp, "2024-01-15 23:30:00", types.TimestampTZ, "2024-01-15 23:30:00+01"},
	}
	for _, tc := range tests {
		in, err := CastDatum(ctx, types.NewString(types.Unknown, tc.in), tc.from)
		if err != nil {
			t.Fatal(err)
		}
		got, err := CastDatum(ctx, in, tc.to)
		check(t, tc.in+"::"+tc.to.String(), ctx, got, err, tc.want, tc.to)
	}
	// timestamptz -> date and timestamp use the session's wall clock.
	ts, _ := CastDatum(ctx, types.NewString(types.Unknown, "2024-01-15 23:30:00+00"), types.TimestampTZ)
	d, _ := CastDatum(ctx, ts, types.Date)
	check(t, "tz::date", ctx, d, nil, "2024-01-16", types.Date)
	w, _ := CastDatum(ctx, ts, types.Timestamp)
	check(t, "tz::timestamp", ctx, w, nil, "2024-01-16 00:30:00", types.Timestamp)
}

func TestCanCast(t *testing.T) {
	for _, c := range []struct {
		from, to types.Type
		ok       bool
	}{
		{types.Bool, types.Date, false},
		{types.Date, types.Int4, false},
		{types.Int8, types.Bool, false},
		{types.Int4, types.Bool, true},
		{types.Interval, types.Text, true},
		{types.Text, types.JSONB, true},
		{types.Timestamp, types.Time, true},
		{types.Date, types.Time, false},
		{types.UUID, types.Int4, false},
	} {
		if got := CanCast(c.from, c.to); got != c.ok {
			t.Errorf("CanCast(%s, %s) = %v", c.from, c.to, got)
		}
	}
}
