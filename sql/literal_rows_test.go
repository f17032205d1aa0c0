package sql

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// TestLiteralValuesRows runs INSERTs of random literals into columns of
// many types with literalRows checking each row it binds against the
// general way (binding each value to an expression, assigning it to its
// column's type, evaluating): a difference in a value, its type or an error
// panics, which the session reports as an internal error.
func TestLiteralValuesRows(t *testing.T) {
	if !checkLiteralRows.Load() {
		checkLiteralRows.Store(true)
		defer checkLiteralRows.Store(false)
	}
	ts := newTestSession(t)
	ts.mustExec("SET TimeZone = 'Europe/Berlin'")
	ts.mustExec(`CREATE TABLE lit (i2 int2, i4 int4, i8 int8, n numeric, f4 real, f8 double precision,
		t text, vc varchar, b boolean, d date, ts timestamp, tz timestamptz, iv interval, by bytea,
		v3 varchar(3), c2 char(2), n52 numeric(5, 2), dc int8 DEFAULT 7, dt text DEFAULT 'x' || 'y')`)
	cols := []string{"i2", "i4", "i8", "n", "f4", "f8", "t", "vc", "b", "d", "ts", "tz", "iv", "by", "v3", "c2", "n52"}
	lits := []string{
		"0", "-1", "32767", "32768", "-32769", "2147483647", "2147483648", "-2147483649",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "007",
		"1.5", "-0.5", "2.5", "1e10", "1.5e308", "1e309", ".5", "1.", "123456789012345678901234567890.5",
		"'1'", "' 12 '", "'abc'", "''", "'1.5'", "'true'", "'t'", "'yes'", "'off'", "'2024-01-02'",
		"'2024-01-02 03:04:05+02'", "'2024-03-31 02:30:00'", "'1 day 2 hours'", "'\\x41'", "'NaN'",
		"'Infinity'", "'-infinity'", "'1e5'", "'-0'", "'it''s'", "E'a\\tb'", "'99999'", "'ab '", "'abcd'", "'abc   '", "999.995", "-999.99", "'12.345'",
		"NULL", "true", "false",
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	ok, failed := 0, 0
	for i := 0; i < 2000; i++ {
		perm := rng.Perm(len(cols))[:1+rng.Intn(3)]
		var names []string
		for _, c := range perm {
			names = append(names, cols[c])
		}
		var rows []string
		for r, n := 0, 1+rng.Intn(2); r < n; r++ {
			var vals []string
			for range names {
				vals = append(vals, lits[rng.Intn(len(lits))])
			}
			rows = append(rows, "("+strings.Join(vals, ", ")+")")
		}
		q := fmt.Sprintf("INSERT INTO lit (%s) VALUES %s", strings.Join(names, ", "), strings.Join(rows, ", "))
		_, err := ts.exec(q)
		if err == nil {
			ok++
			continue
		}
		failed++
		if code := pgerror.CodeOf(err); code == pgerror.InternalError {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Logf("%d statements inserted, %d failed", ok, failed)
	if ok < 50 || failed < 50 {
		t.Fatalf("%d statements inserted, %d failed: the literals should give both", ok, failed)
	}
}
