package pgwire

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestIdleInTransactionTimeout: a session that holds a transaction block
// open (here one that ran DDL, which holds the engine's DDL gate) and then
// sends nothing is ended with FATAL 25P03 once its
// idle_in_transaction_session_timeout passes; its transaction rolls back,
// and the session that waited at the gate goes on.
func TestIdleInTransactionTimeout(t *testing.T) {
	addr := startEngineServer(t)
	a, b := connectEngine(t, addr), connectEngine(t, addr)
	ctx := testCtx(t)
	mustExec(t, a, "SET idle_in_transaction_session_timeout = '100ms'")
	mustExec(t, a, "BEGIN")
	mustExec(t, a, "CREATE TABLE held (x int)")
	// b waits at the gate a holds until a's connection is ended.
	var gone bool
	if err := b.QueryRow(ctx, "SELECT to_regclass('held') IS NULL").Scan(&gone); err != nil || !gone {
		t.Fatalf("after a's timeout: held gone = %v, %v", gone, err)
	}
	err := a.PgConn().WaitForNotification(ctx) // reads what the server sent a
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25P03" || pe.Severity != "FATAL" {
		t.Fatalf("a's connection: %v, want FATAL 25P03", err)
	}
	if !a.PgConn().IsClosed() {
		t.Fatal("a's connection is still open")
	}
}
