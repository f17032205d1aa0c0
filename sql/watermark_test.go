package sql

import (
	"slices"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
)

func TestWatermarkClause(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE TABLE bids (id int, ts timestamp, price int,
		WATERMARK FOR ts AS ts - INTERVAL '5 seconds')`)
	ts.mustExec(`CREATE TABLE marks (WATERMARK FOR "At" AS "At", "At" timestamptz /* , WATERMARK FOR x */)`)
	const q = `SELECT object, "column", expression, delay, max_event_time, watermark FROM tb_catalog.watermarks ORDER BY object`
	check := func(when string, want ...string) {
		t.Helper()
		if got := ts.restoredRows(q); !slices.Equal(got, want) {
			t.Fatalf("%s: got %q, want %q", when, got, want)
		}
	}
	check("empty", "bids | ts | ts - INTERVAL '5 seconds' | 00:00:05 | NULL | NULL", "marks | At | \"At\" | 00:00:00 | NULL | NULL")
	ts.mustExec(`INSERT INTO bids VALUES (1, '2026-01-01 10:00:00', 5), (2, '2026-01-01 10:00:07', 6), (3, NULL, 7)`)
	ts.mustExec(`INSERT INTO marks VALUES ('2026-01-01 09:00:00+00')`)
	want := []string{"bids | ts | ts - INTERVAL '5 seconds' | 00:00:05 | 2026-01-01 10:00:07+00 | 2026-01-01 10:00:02+00",
		"marks | At | \"At\" | 00:00:00 | 2026-01-01 09:00:00+00 | 2026-01-01 09:00:00+00"}
	check("after inserts", want...)
	// Late rows, deletes and updates to earlier times never move it back.
	ts.mustExec(`INSERT INTO bids VALUES (4, '2026-01-01 09:00:00', 1)`)
	ts.mustExec(`DELETE FROM bids WHERE id = 2`)
	ts.mustExec(`UPDATE bids SET ts = ts - INTERVAL '1 hour'`)
	check("after late rows and deletes", want...)
	if got := ts.restoredRows(`SELECT column_name FROM information_schema.columns WHERE table_name = 'bids' ORDER BY ordinal_position`); !slices.Equal(got, []string{"id", "price", "ts"}) {
		t.Fatalf("columns of bids: %v", got)
	}
	// Restart: replaying the log recomputes it.
	if err := ts.e.Close(); err != nil {
		t.Fatal(err)
	}
	ts = openTestEngine(t, dir)
	check("after restart", want...)
	// From a checkpoint, whose rows no longer hold the greatest event
	// time seen (row 2 was deleted, the others moved back an hour): the
	// checkpoint keeps the watermark's state.
	ts.mustExec("CHECKPOINT")
	if err := ts.e.Close(); err != nil {
		t.Fatal(err)
	}
	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	if got := ts.restoredRows("SELECT checkpoint_valid_at IS NOT NULL FROM tb_catalog.restart"); !slices.Equal(got, []string{"t"}) {
		t.Fatalf("the restart did not load the checkpoint: %v", got)
	}
	check("after restart from a checkpoint", want...)
	ts.mustExec(`INSERT INTO bids VALUES (5, '2026-01-01 11:00:00', 1)`)
	if got := ts.restoredRows(`SELECT watermark FROM tb_catalog.watermarks WHERE object = 'bids'`); !slices.Equal(got, []string{"2026-01-01 10:59:55+00"}) {
		t.Fatalf("advanced watermark: %v", got)
	}
}

func TestWatermarkErrors(t *testing.T) {
	ts := newTestSession(t)
	for _, c := range []struct {
		sql  string
		code pgerror.Code
	}{
		{`CREATE TABLE t (ts timestamp, WATERMARK FOR nope AS nope)`, pgerror.UndefinedColumn},
		{`CREATE TABLE t (ts int, WATERMARK FOR ts AS ts)`, pgerror.DatatypeMismatch},
		{`CREATE TABLE t (ts timestamp, WATERMARK FOR ts AS ts + INTERVAL '1 second')`, pgerror.FeatureNotSupported},
		{`CREATE TABLE t (ts timestamp, u timestamp, WATERMARK FOR ts AS u - INTERVAL '1 second')`, pgerror.FeatureNotSupported},
		{`CREATE TABLE t (ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '-1 second')`, pgerror.InvalidParameterValue},
		{`CREATE TABLE t (ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '1 month')`, pgerror.InvalidParameterValue},
		{`CREATE TABLE t (ts timestamp, WATERMARK FOR ts AS ts, WATERMARK FOR ts AS ts)`, pgerror.SyntaxError},
		{`CREATE TABLE t (ts timestamp, WATERMARK FOR ts)`, pgerror.SyntaxError},
		{`CREATE TABLE t (ts timestamp, WATERMARK FOR ts AS ts - )`, pgerror.SyntaxError},
	} {
		if _, err := ts.exec(c.sql); errCode(err) != c.code {
			t.Errorf("%s: got %v (SQLSTATE %s), want %s", c.sql, err, errCode(err), c.code)
		}
	}
	// A column may still be called watermark.
	ts.mustExec(`CREATE TABLE w (watermark int, "for" int)`)
}
