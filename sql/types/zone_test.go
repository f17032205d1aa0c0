package types

import (
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, _, ok := LoadZone(name)
	if !ok {
		t.Fatalf("zone %q not found", name)
	}
	return loc
}

func micros(s string) int64 {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return TimeToMicros(tm)
}

// TestFromWall checks PostgreSQL's resolution of wall clocks that a DST
// transition makes impossible (the offset before it) or ambiguous (the
// offset after it), and ordinary times on both sides.
func TestFromWall(t *testing.T) {
	for _, c := range []struct {
		zone, wall, want string
	}{
		{"Europe/Berlin", "2024-03-31T01:59:59Z", "2024-03-31T00:59:59Z"},
		{"Europe/Berlin", "2024-03-31T02:30:00Z", "2024-03-31T01:30:00Z"}, // gap: +01 applies
		{"Europe/Berlin", "2024-03-31T03:00:00Z", "2024-03-31T01:00:00Z"},
		{"Europe/Berlin", "2024-10-27T02:30:00Z", "2024-10-27T01:30:00Z"}, // overlap: +01 (after)
		{"Europe/Berlin", "2024-10-27T01:59:59Z", "2024-10-26T23:59:59Z"},
		{"America/New_York", "2024-03-10T02:30:00Z", "2024-03-10T07:30:00Z"}, // gap: -05 applies
		{"America/New_York", "2024-11-03T01:30:00Z", "2024-11-03T06:30:00Z"}, // overlap: -05 (after)
		{"Asia/Kolkata", "2024-01-01T05:30:00Z", "2024-01-01T00:00:00Z"},
		{"UTC", "2024-01-01T05:30:00Z", "2024-01-01T05:30:00Z"},
		{"XYZ-3", "2024-01-01T03:00:00Z", "2024-01-01T00:00:00Z"},
	} {
		got := FromWall(micros(c.wall), mustZone(t, c.zone))
		if got != micros(c.want) {
			t.Errorf("FromWall(%s in %s) = %v, want %s", c.wall, c.zone, MicrosToTime(got), c.want)
		}
	}
}

func TestLoadZone(t *testing.T) {
	for _, c := range []struct{ in, canonical string }{
		{"europe/berlin", "Europe/Berlin"},
		{"UTC", "UTC"},
		{"utc", "UTC"},
		{"EST5EDT", "EST5EDT"},
		{"XYZ-3", "XYZ-3"},
		{"-03:30", "-03:30"},
		{"<+05>-05", "<+05>-05"},
	} {
		if _, got, ok := LoadZone(c.in); !ok || got != c.canonical {
			t.Errorf("LoadZone(%q) = %q, %v; want %q", c.in, got, ok, c.canonical)
		}
	}
	for _, bad := range []string{"Mars/Olympus_Mons", "CEST", "AB-3", "XYZ-3ABC", "", "+99"} {
		if _, _, ok := LoadZone(bad); ok {
			t.Errorf("LoadZone(%q) succeeded", bad)
		}
	}
	if got := FixedZoneName(5 * 3600); got != "<+05>-05" {
		t.Errorf("FixedZoneName(+5h) = %q", got)
	}
	if got := FixedZoneName(-12600); got != "<-03:30>+03:30" {
		t.Errorf("FixedZoneName(-3.5h) = %q", got)
	}
}

func TestTimestampTZText(t *testing.T) {
	for _, c := range []struct {
		zone, in, out string
	}{
		{"Europe/Berlin", "2024-03-31 01:00:00+00", "2024-03-31 03:00:00+02"},
		{"Asia/Kolkata", "2024-01-01 00:00:00.5+00", "2024-01-01 05:30:00.5+05:30"},
		{"America/St_Johns", "1900-01-01 10:00:00", "1900-01-01 10:00:00-03:30:52"},
		{"Europe/Berlin", "2024-06-15 12:00:00 America/New_York", "2024-06-15 18:00:00+02"},
		{"Europe/Berlin", "2024-06-15 12:00:00 PST", "2024-06-15 22:00:00+02"},
		{"Europe/Berlin", "2024-06-15T12:00:00Z", "2024-06-15 14:00:00+02"},
		{"UTC", "2024-06-15 12:00:00-0330", "2024-06-15 15:30:00+00"},
		{"UTC", "0044-03-15 12:00:00+00 BC", ""},
	} {
		loc := mustZone(t, c.zone)
		d, err := ParseTextIn(TimestampTZ, c.in, loc)
		if c.out == "" {
			if err == nil {
				t.Errorf("%q parsed; BC timestamps are not supported", c.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTextIn(%q): %v", c.in, err)
			continue
		}
		if got := string(AppendTextIn(nil, d, loc)); got != c.out {
			t.Errorf("%q in %s prints %q, want %q", c.in, c.zone, got, c.out)
		}
	}
	if _, err := ParseText(TimestampTZ, "2024-01-01 10:00 Nowhere/Land"); err == nil || err.(*ParseError).Code != "22023" {
		t.Errorf("unknown zone: %v, want 22023", err)
	}
}

// TestAppendTextTimestampTZAllocs: formatting a timestamptz in a named zone
// into a reused buffer does not allocate (the pgwire DataRow path).
func TestAppendTextTimestampTZAllocs(t *testing.T) {
	loc := mustZone(t, "Europe/Berlin")
	d := NewTimestamp(TimestampTZ, micros("2024-03-31T01:00:00Z"))
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendTextIn(buf[:0], d, loc) }); n != 0 {
		t.Fatalf("AppendTextIn allocates %v times per value", n)
	}
}

func BenchmarkAppendTextTimestampTZ(b *testing.B) {
	for _, zone := range []string{"UTC", "Europe/Berlin"} {
		b.Run(zone, func(b *testing.B) {
			loc := mustZone(b, zone)
			buf := make([]byte, 0, 64)
			start := micros("2024-01-01T00:00:00Z")
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				d := NewTimestamp(TimestampTZ, start+int64(i%100000)*600e6)
				buf = AppendTextIn(buf[:0], d, loc)
			}
		})
	}
}

func BenchmarkFromWall(b *testing.B) {
	loc := mustZone(b, "Europe/Berlin")
	start := micros("2024-01-01T00:00:00Z")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		FromWall(start+int64(i%100000)*600e6, loc)
	}
}
