package expr

import (
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// TestToCharNumber compares with PostgreSQL 15.18's output for the same
// calls (recorded with psql).
func TestToCharNumber(t *testing.T) {
	for _, c := range []struct{ v, format, want string }{
		{"1234.5", "9999.99", " 1234.50"}, {"-1234.5", "9999.99", "-1234.50"}, {"0.5", "9.99", "  .50"}, {"0", "999", "   0"},
		{"1234567", "9,999,999", " 1,234,567"}, {"12", "9,999", "    12"}, {"5", "000", " 005"}, {"-5", "000", "-005"},
		{"1234.567", "FM9999.99", "1234.57"}, {"1.5", "FM999.99", "1.5"}, {"1", "FM999.99", "1."}, {"1.5", "FM999.00", "1.50"},
		{"12345", "999", " ###"}, {"-12.3", "S99.9", "-12.3"}, {"12.3", "S99.9", "+12.3"}, {"12.3", "99.9S", "12.3+"},
		{"-12", "99MI", "12-"}, {"12", "99MI", "12 "}, {"-12", "99PR", "<12>"}, {"12", "99PR", " 12 "}, {"12", "PL99", "+ 12"},
		{"3.14159", "9.999", " 3.142"}, {"42", "99999", "    42"}, {"100", "FM999,999", "100"}, {"0.05", "0.9", " 0.1"},
	} {
		d, _, err := apd.NewFromString(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := toCharNumber(d, c.format); got != c.want {
			t.Errorf("to_char(%s, %q) = %q, PostgreSQL %q", c.v, c.format, got, c.want)
		}
	}
}
