package sql

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Advisory locks (pg_advisory_lock and friends, PostgreSQL's "explicit
// locking" chapter): application-defined locks held per session, which
// migration tools (golang-migrate, goose, Flyway) take so that only one
// process migrates at a time.
//
// The table is the engine's; a session holds session-level locks until it
// unlocks them or disconnects, and transaction-level ones until its
// transaction (or autocommit statement) ends.
//
// Waiting: lock functions are evaluated inside a statement, which holds
// the engine's lock (a reader's or the writer's). Blocking there would
// stall every writer behind it and deadlock with the holder's next write.
// So a blocking call that finds the lock taken fails the statement with a
// lockWait; Session.Execute undoes the lock operations of that attempt,
// waits for the lock with no engine lock held (cancel requests and
// statement_timeout end the wait with 57014, a wait-for cycle with 40P01),
// and runs the statement again. Lock functions are volatile, so they are
// never folded or evaluated at bind time.

// advisoryTable is the engine's advisory locks.
type advisoryTable struct {
	mu struct {
		sync.Mutex
		held map[expr.AdvisoryKey]map[*Session]*advisoryHold
		// waiting is what each blocked session waits for (pg_locks shows
		// it with granted = false; the deadlock check follows it).
		waiting map[*Session]advisoryWaiter
		// released is closed, and replaced, whenever a hold is released.
		released chan struct{}
	}
}

// advisoryHold counts one session's holds of one key.
type advisoryHold struct {
	session, xact [2]int // [0] exclusive, [1] shared
}

func (h *advisoryHold) empty() bool { return h.session == [2]int{} && h.xact == [2]int{} }

type advisoryWaiter struct {
	key    expr.AdvisoryKey
	shared bool
	since  time.Time
}

// lockWait is the error of a blocking lock call that found the lock taken;
// Session.Execute waits and retries. It reaches a client only from a
// context with no retry loop, as 55P03.
type lockWait struct {
	key    expr.AdvisoryKey
	shared bool
}

func (w *lockWait) Error() string { return "could not obtain advisory lock" }

// SQLState makes a stray lockWait a lock_not_available error.
func (w *lockWait) SQLState() string { return string(pgerror.LockNotAvailable) }

func mode(shared bool) int {
	if shared {
		return 1
	}
	return 0
}

// conflictsLocked reports whether another session holds key in a mode that
// conflicts with the wanted one. REQUIRES: mu held.
func (t *advisoryTable) conflictsLocked(s *Session, key expr.AdvisoryKey, shared bool) bool {
	for other, h := range t.mu.held[key] {
		if other == s {
			continue
		}
		if h.session[0]+h.xact[0] > 0 || (!shared && h.session[1]+h.xact[1] > 0) {
			return true
		}
	}
	return false
}

// holdLocked returns s's hold record of key, creating it. REQUIRES: mu held.
func (t *advisoryTable) holdLocked(s *Session, key expr.AdvisoryKey) *advisoryHold {
	if t.mu.held == nil {
		t.mu.held = map[expr.AdvisoryKey]map[*Session]*advisoryHold{}
	}
	bySession := t.mu.held[key]
	if bySession == nil {
		bySession = map[*Session]*advisoryHold{}
		t.mu.held[key] = bySession
	}
	h := bySession[s]
	if h == nil {
		h = &advisoryHold{}
		bySession[s] = h
	}
	return h
}

// dropLocked forgets an empty hold and wakes waiters. REQUIRES: mu held.
func (t *advisoryTable) dropLocked(s *Session, key expr.AdvisoryKey) {
	if h := t.mu.held[key][s]; h != nil && h.empty() {
		delete(t.mu.held[key], s)
		if len(t.mu.held[key]) == 0 {
			delete(t.mu.held, key)
		}
	}
	if t.mu.released != nil {
		close(t.mu.released)
		t.mu.released = nil
	}
}

// lock takes one hold, or reports false (try) or a lockWait when another
// session holds a conflicting lock. A hold taken is recorded in the
// session's undo log, so a statement run again after a wait does not
// count it twice.
func (t *advisoryTable) lock(s *Session, key expr.AdvisoryKey, shared, xact, try bool) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conflictsLocked(s, key, shared) {
		if try {
			return false, nil
		}
		return false, &lockWait{key: key, shared: shared}
	}
	h := t.holdLocked(s, key)
	m := mode(shared)
	if xact {
		h.xact[m]++
	} else {
		h.session[m]++
	}
	s.lockUndo = append(s.lockUndo, func() {
		if xact {
			h.xact[m]--
		} else {
			h.session[m]--
		}
		t.dropLocked(s, key)
	})
	return true, nil
}

// unlock releases one session-level hold.
func (t *advisoryTable) unlock(s *Session, key expr.AdvisoryKey, shared bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.mu.held[key][s]
	m := mode(shared)
	if h == nil || h.session[m] == 0 {
		return false
	}
	h.session[m]--
	t.dropLocked(s, key)
	s.lockUndo = append(s.lockUndo, func() { t.holdLocked(s, key).session[m]++ })
	return true
}

// unlockAll releases s's session-level holds (xact false) or its
// transaction-level ones (xact true).
func (t *advisoryTable) unlockAll(s *Session, xact bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, bySession := range t.mu.held {
		h := bySession[s]
		if h == nil {
			continue
		}
		if xact {
			if h.xact == [2]int{} {
				continue
			}
			h.xact = [2]int{}
		} else {
			if h.session == [2]int{} {
				continue
			}
			prev := h.session
			h.session = [2]int{}
			s.lockUndo = append(s.lockUndo, func() { t.holdLocked(s, key).session = prev })
		}
		t.dropLocked(s, key)
	}
}

// undo reverts the lock operations of a statement attempt that is run
// again, newest first.
func (t *advisoryTable) undo(s *Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(s.lockUndo) - 1; i >= 0; i-- {
		s.lockUndo[i]()
	}
	s.lockUndo = nil
}

// wait blocks until s could take key in the wanted mode (it does not take
// it), ctx ends (57014), or waiting would close a cycle of sessions
// waiting for each other's locks (40P01, as PostgreSQL's deadlock check).
func (t *advisoryTable) wait(ctx context.Context, s *Session, w *lockWait) error {
	t.mu.Lock()
	if t.mu.waiting == nil {
		t.mu.waiting = map[*Session]advisoryWaiter{}
	}
	t.mu.waiting[s] = advisoryWaiter{key: w.key, shared: w.shared, since: time.Now()}
	defer func() {
		t.mu.Lock()
		delete(t.mu.waiting, s)
		t.mu.Unlock()
	}()
	for {
		if !t.conflictsLocked(s, w.key, w.shared) {
			t.mu.Unlock()
			return nil
		}
		if t.deadlockLocked(s) {
			t.mu.Unlock()
			return pgerror.New(pgerror.TRDeadlockDetected, "deadlock detected")
		}
		if t.mu.released == nil {
			t.mu.released = make(chan struct{})
		}
		released := t.mu.released
		t.mu.Unlock()
		select {
		case <-released:
		case <-ctx.Done():
			return (&expr.Ctx{Context: ctx}).Canceled()
		}
		t.mu.Lock()
	}
}

// deadlockLocked reports whether s waits, through the holders of the locks
// waited for, on itself. REQUIRES: mu held.
func (t *advisoryTable) deadlockLocked(s *Session) bool {
	return t.reachesLocked(s, s)
}

// reachesLocked reports whether from waits, through lock holders, on
// target. A session waiting at the DDL gate waits on the transaction that
// owns it (txddl.go). REQUIRES: mu held (the gate's mu is taken inside).
func (t *advisoryTable) reachesLocked(from, target *Session) bool {
	seen := map[*Session]bool{}
	var blocks func(waiter *Session) bool
	blocks = func(waiter *Session) bool {
		if seen[waiter] {
			return false
		}
		seen[waiter] = true
		w, ok := t.mu.waiting[waiter]
		if !ok {
			o := waiter.e.gate.blockerOf(waiter)
			return o != nil && (o == target || blocks(o))
		}
		for holder, h := range t.mu.held[w.key] {
			if holder == waiter || (w.shared && h.session[0]+h.xact[0] == 0) {
				continue
			}
			if holder == target || blocks(holder) {
				return true
			}
		}
		return false
	}
	return blocks(from)
}

// waitsOn reports whether from waits, through lock holders, on target.
func (t *advisoryTable) waitsOn(from, target *Session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reachesLocked(from, target)
}

// pgLocksRows lists the advisory locks as pg_locks does: one row per
// session, key and mode held (granted) or waited for.
func (t *advisoryTable) pgLocksRows() [][]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out [][]any
	row := func(s *Session, key expr.AdvisoryKey, shared, granted bool, since any) []any {
		sub := 1
		if key.Pair {
			sub = 2
		}
		m := "ExclusiveLock"
		if shared {
			m = "ShareLock"
		}
		pid := s.opts.BackendPID
		return []any{"advisory", uint32(dbOID), nil, nil, nil, nil, nil, key.Hi, key.Lo, sub,
			fmt.Sprintf("%d/1", pid), int64(pid), m, granted, false, since}
	}
	for key, bySession := range t.mu.held {
		for s, h := range bySession {
			for m, shared := range []bool{false, true} {
				if h.session[m]+h.xact[m] > 0 {
					out = append(out, row(s, key, shared, true, nil))
				}
			}
		}
	}
	for s, w := range t.mu.waiting {
		out = append(out, row(s, w.key, w.shared, false, types.NewTimestamp(types.TimestampTZ, types.TimeToMicros(w.since))))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		for _, k := range []int{11, 7, 8, 9} {
			x, y := fmt.Sprint(a[k]), fmt.Sprint(b[k])
			if x != y {
				return x < y
			}
		}
		return fmt.Sprint(a[12]) < fmt.Sprint(b[12])
	})
	return out
}

// sessionLocker is a session's expr.AdvisoryLocker.
type sessionLocker struct{ s *Session }

func (l sessionLocker) AdvisoryLock(key expr.AdvisoryKey, shared, xact, try bool) (bool, error) {
	return l.s.e.locks.lock(l.s, key, shared, xact, try)
}

func (l sessionLocker) AdvisoryUnlock(key expr.AdvisoryKey, shared bool) bool {
	return l.s.e.locks.unlock(l.s, key, shared)
}

func (l sessionLocker) AdvisoryUnlockAll() { l.s.e.locks.unlockAll(l.s, false) }

// execWithLockWaits runs a statement, and while it fails because a lock
// function must wait, undoes that attempt's lock operations, waits for
// the lock outside the engine's lock and runs it again.
//
// It also runs a statement again under the engine's write lock when a
// sequence function needs to log (needWriteLock, sequence.go).
func (s *Session) execWithLockWaits(ctx context.Context, run func() (*Result, error)) (*Result, error) {
	defer func() { s.lockUndo, s.wantWriteLock = nil, false }()
	for {
		res, err := run()
		var w *lockWait
		if errors.As(err, &needWriteLock{}) {
			if s.wantWriteLock {
				return nil, pgerror.New(pgerror.FeatureNotSupported, "sequence functions are not supported in this statement")
			}
			s.e.locks.undo(s)
			s.wantWriteLock = true
			continue
		}
		if !errors.As(err, &w) {
			return res, err
		}
		s.e.locks.undo(s)
		if err := s.e.locks.wait(ctx, s, w); err != nil {
			return nil, err
		}
	}
}
