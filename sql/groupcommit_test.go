package sql

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tributary-db/tributary/storage"
)

// gatedLog is a MemLog whose batches become durable only when the test
// opens the gate (or fails it), and which reports every WaitDurable call:
// it lets a test hold a write between "applied" and "durable".
type gatedLog struct {
	*storage.MemLog
	waits chan uint64 // the t of every WaitDurable call that has to block
	mu    sync.Mutex
	open  bool
	err   error
	gate  chan struct{} // closed when the gate opens or fails
}

func newGatedLog() *gatedLog {
	return &gatedLog{MemLog: storage.NewMemLog(), waits: make(chan uint64, 16), gate: make(chan struct{})}
}

func (l *gatedLog) WaitDurable(t uint64) error {
	l.mu.Lock()
	open, err := l.open, l.err
	l.mu.Unlock()
	if !open && err == nil {
		l.waits <- t
		<-l.gate
		l.mu.Lock()
		err = l.err
		l.mu.Unlock()
	}
	return err
}

func (l *gatedLog) release(err error) {
	l.mu.Lock()
	l.open, l.err = err == nil, err
	l.mu.Unlock()
	close(l.gate)
}

type stmtResult struct {
	res *Result
	err error
}

func execAsync(e *Engine, q string) chan stmtResult {
	out := make(chan stmtResult, 1)
	go func() {
		ts := &testSession{e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
		res, err := ts.exec(q)
		out <- stmtResult{res, err}
	}()
	return out
}

// TestReadWaitsForDurability: a write applied but not yet durable is
// visible to a concurrent reader only once it is durable: the reader's
// statement waits for the log to reach at least the write's time before
// it returns (strict serializability across a crash).
func TestReadWaitsForDurability(t *testing.T) {
	l := newGatedLog()
	l.open = true
	e, err := NewEngine(EngineOptions{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	ts.mustExec("CREATE TABLE t (a int)")
	ts.mustExec("CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM t")
	l.mu.Lock()
	l.open = false
	l.mu.Unlock()

	write := execAsync(e, "INSERT INTO t VALUES (1)")
	wt := <-l.waits // the INSERT is applied and waits for its sync
	read := execAsync(e, "SELECT n FROM n")
	if rt := <-l.waits; rt < wt {
		t.Fatalf("the read waited for time %d, before the unsynced write at %d", rt, wt)
	}
	select {
	case r := <-read:
		t.Fatalf("the read returned %v before the write it saw was durable", r)
	case r := <-write:
		t.Fatalf("the write was acknowledged (%v) before it was durable", r)
	default:
	}
	l.release(nil)
	if r := <-write; r.err != nil {
		t.Fatal(r.err)
	}
	r := <-read
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := r.res.Rows[0][0].Int(); got != 1 {
		t.Fatalf("read %d rows, want 1", got)
	}
}

// TestLogFailureFailsObservers: if the sync of a write fails, the write
// and every statement that may have seen it fail with the log's error
// rather than return data that a restart would not have.
func TestLogFailureFailsObservers(t *testing.T) {
	l := newGatedLog()
	l.open = true
	e, err := NewEngine(EngineOptions{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	ts.mustExec("CREATE TABLE t (a int PRIMARY KEY)")
	l.mu.Lock()
	l.open = false
	l.mu.Unlock()

	write := execAsync(e, "INSERT INTO t VALUES (1)")
	<-l.waits
	// A duplicate-key error is an observation of the unsynced row too.
	dup := execAsync(e, "INSERT INTO t VALUES (1)")
	<-l.waits
	read := execAsync(e, "SELECT count(*) FROM t")
	<-l.waits
	diskErr := errors.New("disk on fire")
	l.release(diskErr)
	for name, ch := range map[string]chan stmtResult{"write": write, "read": read} {
		if r := <-ch; !errors.Is(r.err, diskErr) {
			t.Errorf("%s: got %v, %v; want the log's error", name, r.res, r.err)
		}
	}
	if r := <-dup; r.err == nil {
		t.Errorf("the duplicate INSERT succeeded")
	}
}
