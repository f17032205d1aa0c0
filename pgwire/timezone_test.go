package pgwire

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestTimeZoneClient checks the session TimeZone through pgx: the startup
// parameter is the session's zone and reported back, SET reports the new
// value with ParameterStatus, timestamptz reads the same instant in the
// text format (which carries the zone's offset) and the binary one (UTC
// microseconds), a text parameter without an offset is read in the session
// zone, and an invalid startup zone is refused with 22023.
func TestTimeZoneClient(t *testing.T) {
	addr := startEngineServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(zone string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig("postgres://tributary@" + addr + "/postgres?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["timezone"] = zone
		return pgx.ConnectConfig(ctx, cfg)
	}
	conn, err := connect("america/new_york")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if got := conn.PgConn().ParameterStatus("TimeZone"); got != "America/New_York" {
		t.Fatalf("TimeZone reported at startup = %q, want the canonical America/New_York", got)
	}
	want := time.Date(2024, 11, 3, 6, 30, 0, 0, time.UTC) // 01:30 EST, in the fall-back overlap
	var text string
	if err := conn.QueryRow(ctx, "SELECT '2024-11-03 06:30:00+00'::timestamptz::text").Scan(&text); err != nil {
		t.Fatal(err)
	}
	if text != "2024-11-03 01:30:00-05" {
		t.Fatalf("text output = %q, want 2024-11-03 01:30:00-05", text)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement} {
		var got time.Time
		if err := conn.QueryRow(ctx, "SELECT '2024-11-03 06:30:00+00'::timestamptz", mode).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("mode %v: read %v, want %v", mode, got, want)
		}
	}
	// A text parameter without an offset is a wall clock in the session's zone.
	var epoch float64
	if err := conn.QueryRow(ctx, "SELECT extract(epoch FROM $1::timestamptz)::float8", pgx.QueryExecModeExec, "2024-07-01 12:00:00").Scan(&epoch); err != nil {
		t.Fatal(err)
	}
	if epoch != float64(time.Date(2024, 7, 1, 16, 0, 0, 0, time.UTC).Unix()) {
		t.Fatalf("parameter read as epoch %v, want 12:00 EDT", epoch)
	}
	if _, err := conn.Exec(ctx, "SET TIME ZONE 'Asia/Kolkata'"); err != nil {
		t.Fatal(err)
	}
	if got := conn.PgConn().ParameterStatus("TimeZone"); got != "Asia/Kolkata" {
		t.Fatalf("TimeZone after SET = %q, want Asia/Kolkata", got)
	}
	if err := conn.QueryRow(ctx, "SELECT '2024-11-03 06:30:00+00'::timestamptz::text").Scan(&text); err != nil {
		t.Fatal(err)
	}
	if text != "2024-11-03 12:00:00+05:30" {
		t.Fatalf("text output after SET = %q", text)
	}

	_, err = connect("Mars/Olympus_Mons")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22023" || pgErr.Message != `invalid value for parameter "TimeZone": "Mars/Olympus_Mons"` {
		t.Fatalf("invalid startup TimeZone: %v, want 22023", err)
	}
}

// TestTimeZonePgJDBC runs pgjdbc in a JVM whose default zone is not UTC:
// pgjdbc sends that zone as the TimeZone startup parameter, and
// java.time and java.sql values written and read through it must be the
// right instants (testdata/clients/jdbc/TimeZoneCheck.java).
func TestTimeZonePgJDBC(t *testing.T) {
	runJDBCCheck(t, "testdata/clients/jdbc/TimeZoneCheck.java", "-Duser.timezone=Asia/Kolkata")
}
