package pgwire

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDiscardAll checks what a connection pool relies on when it hands a
// connection to its next client after DISCARD ALL: settings are back to
// their values at connection start (startup parameters included, with
// ParameterStatus for those reported), named prepared statements and
// cursors are gone, advisory locks are released; and DEALLOCATE removes a
// protocol-level statement by name, with 26000 for an unknown one.
func TestDiscardAll(t *testing.T) {
	addr := startEngineServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("postgres://tributary@" + addr + "/postgres?sslmode=disable&application_name=pool")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["timezone"] = "Europe/Berlin"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	other, err := pgx.Connect(ctx, "postgres://tributary@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	pc := conn.PgConn()
	exec := func(c *pgconn.PgConn, sql string) error {
		_, err := c.Exec(ctx, sql).ReadAll()
		return err
	}
	show := func(name string) string {
		t.Helper()
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name, pgx.QueryExecModeSimpleProtocol).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, q := range []string{"SET application_name = 'client-a'", "SET TIME ZONE 'Asia/Kolkata'", "SET statement_timeout = '5s'", "SET extra_float_digits = 3",
		"BEGIN", "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "COMMIT", "SELECT pg_advisory_lock(42)"} {
		if err := exec(pc, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := pc.Prepare(ctx, "named", "SELECT $1::int + 1", nil); err != nil {
		t.Fatal(err)
	}
	// RESET of one setting returns to its startup value, not the server's default.
	if err := exec(pc, "RESET TimeZone"); err != nil {
		t.Fatal(err)
	}
	if got := show("TimeZone"); got != "Europe/Berlin" {
		t.Fatalf("RESET TimeZone gave %q, want the startup value Europe/Berlin", got)
	}
	if err := exec(pc, "SET TIME ZONE 'Asia/Kolkata'"); err != nil {
		t.Fatal(err)
	}
	// Not inside a transaction block.
	if err := exec(pc, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var pgErr *pgconn.PgError
	if err := exec(pc, "DISCARD ALL"); !errors.As(err, &pgErr) || pgErr.Code != "25001" {
		t.Fatalf("DISCARD ALL in a transaction block: %v, want 25001", err)
	}
	if err := exec(pc, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}

	if err := exec(pc, "DISCARD ALL"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"application_name": "pool", "TimeZone": "Europe/Berlin", "statement_timeout": "0", "extra_float_digits": "1"} {
		if got := show(name); got != want {
			t.Errorf("after DISCARD ALL %s = %q, want %q", name, got, want)
		}
		if name == "application_name" || name == "TimeZone" {
			if got := pc.ParameterStatus(name); got != want {
				t.Errorf("after DISCARD ALL the client was told %s = %q, want %q", name, got, want)
			}
		}
	}
	if err := exec(pc, "FETCH c"); !errors.As(err, &pgErr) || pgErr.Code != "34000" {
		t.Fatalf("FETCH from a cursor after DISCARD ALL: %v, want 34000", err)
	}
	if rr := pc.ExecPrepared(ctx, "named", [][]byte{[]byte("1")}, nil, nil).Read(); !errors.As(rr.Err, &pgErr) || pgErr.Code != "26000" {
		t.Fatalf("executing a statement after DISCARD ALL: %v, want 26000", rr.Err)
	}
	var got bool
	if err := other.QueryRow(ctx, "SELECT pg_try_advisory_lock(42)").Scan(&got); err != nil || !got {
		t.Fatalf("another session taking the lock after DISCARD ALL: %v %v, want true", got, err)
	}

	// DEALLOCATE by name, and of a name that does not exist.
	if _, err := pc.Prepare(ctx, "again", "SELECT 2", nil); err != nil {
		t.Fatal(err)
	}
	if err := exec(pc, "DEALLOCATE again"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Prepare(ctx, "again", "SELECT 3", nil); err != nil {
		t.Fatalf("preparing a deallocated name again: %v", err)
	}
	if err := exec(pc, "DEALLOCATE PREPARE ALL"); err != nil {
		t.Fatal(err)
	}
	if err := exec(pc, "DEALLOCATE again"); !errors.As(err, &pgErr) || pgErr.Code != "26000" {
		t.Fatalf("DEALLOCATE of a deallocated statement: %v, want 26000", err)
	}
	for _, q := range []string{"DISCARD PLANS", "DISCARD SEQUENCES", "DISCARD TEMP"} {
		if err := exec(pc, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
