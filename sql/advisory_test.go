package sql

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// otherSession opens a second session on ts's engine.
func (ts *testSession) otherSession(pid int32) *testSession {
	return &testSession{t: ts.t, e: ts.e, s: ts.e.NewSession(SessionOptions{BackendPID: pid}), ctx: context.Background()}
}

// one runs q and returns its single value.
func (ts *testSession) one(q string) string {
	ts.t.Helper()
	rows, err := ts.query(q)
	if err != nil || len(rows) != 1 {
		ts.t.Fatalf("%s: %v, %v", q, rows, err)
	}
	return rows[0]
}

// waitFor polls q until it returns want, failing after a deadline.
func (ts *testSession) waitFor(q string, want ...string) {
	ts.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := ts.query(q)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("%s: got %v (%v), want %v", q, got, err, want)
		}
		time.Sleep(time.Millisecond)
	}
}

type execResult struct {
	res *Result
	err error
}

// start runs q in the background.
func (ts *testSession) start(q string) chan execResult {
	done := make(chan execResult, 1)
	go func() {
		res, err := ts.exec(q)
		done <- execResult{res, err}
	}()
	return done
}

const waitersQuery = "SELECT pid, objid, mode, granted FROM pg_locks WHERE locktype = 'advisory'"

func TestAdvisoryLockBlocksUntilReleased(t *testing.T) {
	a := newTestSession(t)
	a.s.opts.BackendPID = 1
	b := a.otherSession(2)
	a.mustExec("SELECT pg_advisory_lock(1)")
	if got := b.one("SELECT pg_try_advisory_lock(1)"); got != "f" {
		t.Fatalf("try while held by another session = %s", got)
	}
	done := b.start("SELECT pg_advisory_lock(1)")
	a.waitFor(waitersQuery, "1 | 1 | ExclusiveLock | t", "2 | 1 | ExclusiveLock | f")
	select {
	case r := <-done:
		t.Fatalf("lock granted while held: %v", r.err)
	default:
	}
	if got := a.one("SELECT pg_advisory_unlock(1)"); got != "t" {
		t.Fatalf("unlock = %s", got)
	}
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	a.waitFor(waitersQuery, "2 | 1 | ExclusiveLock | t")
	// Only the holder can unlock; PostgreSQL answers false.
	if got := a.one("SELECT pg_advisory_unlock(1)"); got != "f" {
		t.Fatalf("unlock of a lock held by another session = %s", got)
	}
}

func TestAdvisoryLockReentrantAndShared(t *testing.T) {
	a := newTestSession(t)
	b := a.otherSession(2)
	c := a.otherSession(3)
	a.mustExec("SELECT pg_advisory_lock(5)")
	a.mustExec("SELECT pg_advisory_lock(5)")
	a.mustExec("SELECT pg_advisory_unlock(5)")
	if got := b.one("SELECT pg_try_advisory_lock(5)"); got != "f" {
		t.Fatal("one of two holds released, yet another session got the lock")
	}
	a.mustExec("SELECT pg_advisory_unlock(5)")
	if got := b.one("SELECT pg_try_advisory_lock(5)"); got != "t" {
		t.Fatal("both holds released, yet the lock is taken")
	}
	// Shared locks share; an exclusive one waits for all of them.
	a.mustExec("SELECT pg_advisory_lock_shared(9)")
	if got := b.one("SELECT pg_try_advisory_lock_shared(9)"); got != "t" {
		t.Fatal("two shared locks conflict")
	}
	if got := c.one("SELECT pg_try_advisory_lock(9)"); got != "f" {
		t.Fatal("an exclusive lock was granted over shared ones")
	}
	// The bigint key 1 and the integer pair (0, 1) are different locks.
	a.mustExec("SELECT pg_advisory_lock(1)")
	if got := b.one("SELECT pg_try_advisory_lock(0, 1)"); got != "t" {
		t.Fatal("key 1 and key (0, 1) conflict")
	}
}

func TestAdvisoryLockWaitCancelled(t *testing.T) {
	a := newTestSession(t)
	b := a.otherSession(2)
	a.mustExec("SELECT pg_advisory_lock(3)")
	b.mustExec("SET statement_timeout = 20")
	if _, err := b.exec("SELECT pg_advisory_lock(3)"); errCode(err) != pgerror.QueryCanceled {
		t.Fatalf("statement_timeout: %v, want 57014", err)
	}
	b.mustExec("SET statement_timeout = 0")
	ctx, cancel := context.WithCancel(context.Background())
	b.ctx = ctx
	done := b.start("SELECT pg_advisory_lock(3)")
	a.waitFor("SELECT count(*) FROM pg_locks WHERE NOT granted", "1")
	cancel() // a cancel request
	if r := <-done; errCode(r.err) != pgerror.QueryCanceled {
		t.Fatalf("cancel: %v, want 57014", r.err)
	}
	b.ctx = context.Background()
	a.waitFor("SELECT count(*) FROM pg_locks WHERE NOT granted", "0")
	// The session works afterwards and holds nothing.
	if got := b.one("SELECT count(*) FROM pg_locks WHERE pid = 2"); got != "0" {
		t.Fatalf("a cancelled waiter holds %s locks", got)
	}
}

func TestAdvisoryLocksReleasedOnDisconnect(t *testing.T) {
	a := newTestSession(t)
	b := a.otherSession(2)
	a.mustExec("SELECT pg_advisory_lock(4)")
	a.mustExec("BEGIN")
	a.mustExec("SELECT pg_advisory_xact_lock(8)")
	done := b.start("SELECT pg_advisory_lock(4)")
	b2 := a.otherSession(3)
	b2.waitFor("SELECT count(*) FROM pg_locks WHERE NOT granted", "1")
	a.s.Close()
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	if got := b2.one("SELECT pg_try_advisory_lock(8)"); got != "t" {
		t.Fatal("a disconnected session's transaction lock is still held")
	}
}

func TestAdvisoryTransactionLocks(t *testing.T) {
	a := newTestSession(t)
	b := a.otherSession(2)
	a.mustExec("BEGIN")
	a.mustExec("SELECT pg_advisory_xact_lock(6)")
	if got := a.one("SELECT pg_try_advisory_xact_lock(7)"); got != "t" {
		t.Fatal("try xact lock failed")
	}
	if got := b.one("SELECT pg_try_advisory_lock(6)"); got != "f" {
		t.Fatal("a transaction lock did not block another session")
	}
	// pg_advisory_unlock does not release transaction locks.
	if got := a.one("SELECT pg_advisory_unlock(6)"); got != "f" {
		t.Fatal("unlock released a transaction lock")
	}
	a.mustExec("COMMIT")
	if got := b.one("SELECT pg_try_advisory_lock(6) AND pg_try_advisory_lock(7)"); got != "t" {
		t.Fatal("transaction locks outlived COMMIT")
	}
	b.mustExec("SELECT pg_advisory_unlock_all()")
	a.mustExec("BEGIN")
	a.mustExec("SELECT pg_advisory_xact_lock(6)")
	a.mustExec("ROLLBACK")
	// An autocommit statement's transaction lock ends with the statement.
	a.mustExec("SELECT pg_advisory_xact_lock(6)")
	if got := b.one("SELECT pg_try_advisory_lock(6)"); got != "t" {
		t.Fatal("transaction locks outlived ROLLBACK or an autocommit statement")
	}
}

// A statement that waits for its second lock keeps the first one only once
// when it runs again.
func TestAdvisoryLockRetryDoesNotCountTwice(t *testing.T) {
	a := newTestSession(t)
	b := a.otherSession(2)
	a.mustExec("SELECT pg_advisory_lock(11)")
	done := b.start("SELECT pg_advisory_lock(10), pg_advisory_lock(11)")
	a.waitFor("SELECT count(*) FROM pg_locks WHERE NOT granted", "1")
	a.mustExec("SELECT pg_advisory_unlock(11)")
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	if got := b.one("SELECT pg_advisory_unlock(10)::text || pg_advisory_unlock(10)::text"); got != "truefalse" {
		t.Fatalf("unlocking twice = %s, want one hold", got)
	}
}

func TestAdvisoryLockDeadlockDetected(t *testing.T) {
	a := newTestSession(t)
	b := a.otherSession(2)
	a.mustExec("SELECT pg_advisory_lock(1)")
	b.mustExec("SELECT pg_advisory_lock(2)")
	done := b.start("SELECT pg_advisory_lock(1)")
	a.waitFor("SELECT count(*) FROM pg_locks WHERE NOT granted", "1")
	if _, err := a.exec("SELECT pg_advisory_lock(2)"); errCode(err) != pgerror.TRDeadlockDetected {
		t.Fatalf("deadlock: %v, want 40P01", err)
	}
	a.mustExec("SELECT pg_advisory_unlock(1)")
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
}

func TestAdvisoryLockNotInMaterializedView(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec("CREATE TABLE t (x int)")
	if _, err := ts.exec("CREATE MATERIALIZED VIEW v AS SELECT pg_try_advisory_lock(x) FROM t"); err == nil {
		t.Fatal("a materialized view may take advisory locks")
	}
}
