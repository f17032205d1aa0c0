package sql

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
)

// Transactional DDL. A transaction block that runs a DDL statement takes
// the DDL gate exclusively at that statement and keeps it until COMMIT or
// ROLLBACK (PostgreSQL takes an ACCESS EXCLUSIVE lock on what DDL touches;
// Tributary's one timeline makes the gate engine-wide). While a session
// owns the gate:
//
//   - Its DDL changes the in-memory catalog at once (its own statements see
//     the new objects) but its catalog records are kept in the transaction,
//     not appended to the log, and its writes stay buffered as in any
//     transaction block.
//   - Every other session's statement waits at the gate before it touches
//     the engine, honoring statement_timeout and cancel (57014): nobody
//     sees uncommitted DDL. The background checkpointer and maintenance
//     skip their round; they would persist or compact uncommitted state.
//   - COMMIT appends one batch carrying the transaction's catalog records
//     (one record of several statements, each with its search path) and
//     its data, at one timestamp: after a crash all of it is in the log or
//     none of it.
//   - ROLLBACK (or COMMIT of a failed block, or a closed connection)
//     rebuilds the engine's state from the log (resyncLocked): whatever the
//     DDL did in memory — objects made or dropped, indexes taken on other
//     tables — is gone, because none of it is in the log. This costs a
//     restart's work (the latest checkpoint and the log after it) and runs
//     only for rolled-back DDL.
//
// Statements that do not touch the engine's state (SET, SHOW of a setting,
// FETCH, CLOSE, DEALLOCATE, transaction control) do not wait at the gate.

// ddlGate lets many statements in, or one DDL transaction. Lock order:
// Engine.mu, then advisoryTable.mu, then ddlGate.mu; never the reverse.
type ddlGate struct {
	mu struct {
		sync.Mutex
		owner *Session
		// active counts the statements of other sessions inside the gate.
		active int
		// pending counts the sessions waiting to own the gate: new
		// statements wait behind them, so a steady stream of statements
		// cannot keep a DDL transaction out (as PostgreSQL's lock queue).
		pending int
		// changed is closed (and replaced) whenever owner or active drops,
		// waking whoever waits.
		changed chan struct{}
		// waiting are the sessions waiting at the gate (the advisory
		// locks' deadlock check follows them to the owner).
		waiting map[*Session]bool
	}
}

// wait blocks s until ready (evaluated under g.mu) holds, then runs take
// under g.mu. ctx ending returns 57014; waiting for an owner that waits,
// through advisory locks, on s returns 40P01 (deadlock detected).
func (g *ddlGate) wait(ctx context.Context, s *Session, ready func() bool, take func()) error {
	g.mu.Lock()
	counted := false
	defer func() {
		if counted {
			g.mu.Lock()
			delete(g.mu.waiting, s)
			g.mu.Unlock()
		}
	}()
	for {
		if ready() {
			take()
			g.mu.Unlock()
			return nil
		}
		if !counted {
			counted = true
			if g.mu.waiting == nil {
				g.mu.waiting = map[*Session]bool{}
			}
			g.mu.waiting[s] = true
		}
		if g.mu.changed == nil {
			g.mu.changed = make(chan struct{})
		}
		ch, owner := g.mu.changed, g.mu.owner
		g.mu.Unlock()
		// Checked after s is registered as waiting, without g.mu (the
		// advisory table's mu comes first): of two sessions closing a
		// cycle at once, one sees the other's wait.
		if owner != nil && s.e.locks.waitsOn(owner, s) {
			return pgerror.New(pgerror.TRDeadlockDetected, "deadlock detected")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return (&expr.Ctx{Context: ctx}).Canceled()
		}
		g.mu.Lock()
	}
}

// wakeLocked wakes every waiter. REQUIRES: g.mu held.
func (g *ddlGate) wakeLocked() {
	if g.mu.changed != nil {
		close(g.mu.changed)
		g.mu.changed = nil
	}
}

// owned reports whether a transaction holds the gate.
func (g *ddlGate) owned() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.owner != nil
}

// waiters is how many sessions wait at the gate.
func (g *ddlGate) waiters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.mu.waiting)
}

// blockerOf returns the transaction s waits for at the gate, or nil.
func (g *ddlGate) blockerOf(s *Session) *Session {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.waiting[s] {
		return g.mu.owner
	}
	return nil
}

// ownsGate reports whether s's transaction holds the DDL gate.
func (s *Session) ownsGate() bool { return s.tx != nil && s.tx.ddl != nil }

// txDDL is what a transaction block that ran DDL keeps until it ends.
type txDDL struct {
	// records are the catalog records of its DDL, in order, each with
	// the search path it ran with.
	records []string
	// firstID is the first object id the transaction could hand out:
	// objects from it on were created by the transaction.
	firstID dataflow.CollectionID
	// droppedTables is the engine's list before the transaction, restored
	// on rollback (the rebuild resets it).
	droppedTables []dataflow.CollectionID
	// addsOnly holds while every DDL statement of the block only added
	// objects of its own (addsOnlyLocked): a rollback then removes what
	// the block added instead of rebuilding the engine from the log.
	addsOnly bool
}

// enterGate lets one statement of s into the engine: it waits while
// another session's transaction holds the gate or waits to take it. The
// owner passes through.
// leaveGate must follow.
func (s *Session) enterGate(ctx context.Context) error {
	if s.ownsGate() || s.inGate {
		return nil
	}
	g := &s.e.gate
	err := g.wait(ctx, s, func() bool { return g.mu.owner == nil && g.mu.pending == 0 }, func() { g.mu.active++ })
	if err == nil {
		s.inGate = true
	}
	return err
}

// leaveGate ends what enterGate began.
func (s *Session) leaveGate() {
	if !s.inGate {
		return
	}
	s.inGate = false
	g := &s.e.gate
	g.mu.Lock()
	g.mu.active--
	if g.mu.active == 0 {
		g.wakeLocked()
	}
	g.mu.Unlock()
}

// takeGate makes s's transaction block the gate's owner, at its first DDL
// statement: it leaves the gate (nothing of the statement ran yet), then
// waits until no other session's statement is inside and no other
// transaction owns it. Two sessions that both want the gate never wait for
// each other while inside it, so they cannot deadlock.
func (s *Session) takeGate(ctx context.Context) error {
	if s.ownsGate() {
		return nil
	}
	s.leaveGate()
	g := &s.e.gate
	g.mu.Lock()
	g.mu.pending++
	g.mu.Unlock()
	if err := g.wait(ctx, s, func() bool { return g.mu.owner == nil && g.mu.active == 0 }, func() { g.mu.owner, g.mu.pending = s, g.mu.pending-1 }); err != nil {
		g.mu.Lock()
		g.mu.pending--
		g.wakeLocked()
		g.mu.Unlock()
		return err
	}
	s.e.mu.Lock()
	s.tx.ddl = &txDDL{firstID: s.e.mu.cat.nextID, droppedTables: append([]dataflow.CollectionID(nil), s.e.mu.droppedTables...), addsOnly: true}
	s.e.mu.Unlock()
	return nil
}

// releaseGate gives the gate up at the end of s's transaction.
func (s *Session) releaseGate() {
	g := &s.e.gate
	g.mu.Lock()
	if g.mu.owner == s {
		g.mu.owner = nil
		g.wakeLocked()
	}
	g.mu.Unlock()
}

// gateFree reports whether a statement may run without the gate: one that
// touches no engine state.
func gateFree(st *Statement) bool {
	n := st.ast
	if n == nil {
		return st.ext == nil && st.subscribe == nil
	}
	return n.GetVariableSetStmt() != nil || n.GetVariableShowStmt() != nil || n.GetFetchStmt() != nil ||
		n.GetClosePortalStmt() != nil || n.GetDeallocateStmt() != nil || n.GetTransactionStmt() != nil ||
		n.GetDiscardStmt() != nil
}

// recordDDL keeps a DDL statement's catalog record in s's transaction
// (the caller owns the gate) instead of appending it to the log.
func (s *Session) recordDDL(rec string) {
	path := s.settings["search_path"]
	if !strings.HasPrefix(rec, "SET search_path") {
		// Each statement of the joined record sets its own path: replay
		// resets the path only at the start of a record.
		rec = "SET search_path = " + path + ";\n" + rec
	}
	s.tx.ddl.records = append(s.tx.ddl.records, rec)
}

// appendSequenceRecordLocked logs a sequence's reservation: in the
// transaction's records when the transaction created the sequence (the log
// must not name an object that may never be committed), in the log at
// once otherwise (a sequence is not transactional: values handed out stay
// handed out after a rollback). REQUIRES: e.mu held for writing.
func (s *Session) appendSequenceRecordLocked(o *Object, rec string) error {
	if s.ownsGate() && o.ID >= s.tx.ddl.firstID {
		s.recordDDL(rec)
		return nil
	}
	return s.e.appendCatalogLocked(rec)
}

// commitDDL commits a transaction block that ran DDL: its catalog records
// and its writes in one log batch at one timestamp. On any failure the
// transaction's DDL is undone as by ROLLBACK and the error returned.
// The gate is released either way.
func (s *Session) commitDDL(tx *txn) error {
	defer s.releaseGate()
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	fail := func(err error) error {
		if rerr := s.undoDDLLocked(tx); rerr != nil {
			return rerr
		}
		return err
	}
	// Writes to tables the transaction dropped go with the tables.
	writes := map[dataflow.CollectionID][]dataflow.Update{}
	for id, ups := range tx.writes {
		if o := e.mu.cat.byID(id); o != nil && o.Kind == KindTable {
			writes[id] = ups
		}
	}
	if err := e.validateLocked(writes); err != nil {
		return fail(err)
	}
	if c, ok := e.log.(interface{ CheckSpace() error }); ok {
		if err := c.CheckSpace(); err != nil {
			return fail(err)
		}
	}
	t := e.nextTimeLocked()
	batch := storage.Batch{Time: t, Catalog: []byte(strings.Join(tx.ddl.records, "\n;\n"))}
	changes := map[dataflow.CollectionID][]dataflow.Update{}
	for id, ups := range writes {
		ups = dataflow.Consolidate(append([]dataflow.Update(nil), ups...))
		if len(ups) == 0 {
			continue
		}
		changes[id] = ups
		for _, u := range ups {
			batch.Entries = append(batch.Entries, storage.Entry{Collection: uint64(id), Row: u.Row, Diff: u.Diff})
		}
	}
	// Appended and synced under mu, as a DDL statement's record is: if the
	// log refuses it, the rebuild runs before anyone sees the new catalog.
	if err := e.log.Append(nilCtx, batch); err != nil {
		return fail(err)
	}
	e.mu.catalogTime = t
	e.mu.cat.stampCreated(t)
	e.applied.Store(t)
	e.ckpt.noteWrite(len(batch.Entries))
	for id, ups := range changes {
		e.mu.cat.byID(id).applyAt(t, ups)
	}
	e.stepViewsLocked(changes)
	return nil
}

// rollbackDDL undoes a transaction block's DDL and releases the gate.
func (s *Session) rollbackDDL(tx *txn) error {
	defer s.releaseGate()
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.undoDDLLocked(tx)
}

// undoDDLLocked puts the engine back to what the log holds, which has none
// of the transaction's DDL: by removing what the block added when it only
// added objects (removeAddedLocked), else by rebuilding the engine from the
// log. REQUIRES: e.mu held for writing, s owns the gate.
func (s *Session) undoDDLLocked(tx *txn) error {
	var err error
	if tx.ddl.addsOnly {
		s.e.removeAddedLocked(tx.ddl.firstID)
	} else {
		err = s.e.resyncLocked("rolling back a transaction's DDL")
	}
	s.e.mu.droppedTables = tx.ddl.droppedTables
	// currval and lastval keep their answers for the sequences that still
	// exist (the rebuilt catalog has new objects).
	seqLast := map[*Object]int64{}
	for o, v := range s.seqLast {
		if n, ok := s.e.mu.cat.byName[o.key()]; ok && n.Kind == KindSequence {
			seqLast[n] = v
		}
	}
	s.seqLast = seqLast
	if s.lastSeq != nil {
		if n, ok := s.e.mu.cat.byName[s.lastSeq.key()]; ok && n.Kind == KindSequence {
			s.lastSeq = n
		} else {
			s.lastSeq = nil
		}
	}
	return err
}

// addsOnlyLocked reports whether a DDL statement of s's block can only
// add objects of its own: CREATE TABLE, VIEW, MATERIALIZED VIEW, SEQUENCE
// or SCHEMA, or CREATE INDEX on an object the block created. What such a
// statement does to objects that existed before is to take shared
// arrangements of them (a materialized view's joins), which removing the
// view gives back, also when the statement failed halfway. Everything
// else (DROP, ALTER, CREATE OR REPLACE, an index on an existing table,
// roles) may change what existed. REQUIRES: e.mu held, s owns the gate.
func (s *Session) addsOnlyLocked(st *Statement) bool {
	n := st.ast
	switch {
	case n.GetCreateStmt() != nil, n.GetCreateTableAsStmt() != nil, n.GetCreateSeqStmt() != nil, n.GetCreateSchemaStmt() != nil:
		return true
	case n.GetViewStmt() != nil:
		return !n.GetViewStmt().Replace
	case n.GetIndexStmt() != nil:
		rv := n.GetIndexStmt().Relation
		on, ok := s.resolve(rv.Schemaname, rv.Relname)
		return ok && on.ID >= s.tx.ddl.firstID
	}
	return false
}

// removeAddedLocked undoes a block that only added objects (addsOnlyLocked):
// it removes every object and schema with an id from firstID on, newest
// first, giving back the shared arrangements they took, and hands out
// firstID next, so that ids stay those a replay of the log assigns.
// Subscriptions to a removed object end, as at a DROP. REQUIRES: e.mu held
// for writing.
func (e *Engine) removeAddedLocked(firstID dataflow.CollectionID) {
	subs := e.detachSubscriptionsLocked()
	defer e.reattachSubscriptionsLocked(subs)
	c := e.mu.cat
	var added []*Object
	for id, o := range c.ids {
		if id >= firstID {
			added = append(added, o)
		}
	}
	slices.SortFunc(added, func(a, b *Object) int { return cmp.Compare(b.ID, a.ID) })
	for _, o := range added {
		releaseShares(o.shares)
		c.remove(o)
	}
	for name, sc := range c.schemas {
		if sc.oid >= userOIDBase+uint32(firstID) {
			delete(c.schemas, name)
		}
	}
	c.fresh = slices.DeleteFunc(c.fresh, func(o *Object) bool { return o.ID >= firstID })
	c.nextID = firstID
}

// detachSubscriptionsLocked takes the running subscriptions out of the
// engine while resyncLocked replays the log: they must not see the replay
// as new changes. REQUIRES: e.mu held for writing.
func (e *Engine) detachSubscriptionsLocked() []*Subscription {
	e.subs.mu.Lock()
	defer e.subs.mu.Unlock()
	subs := e.subs.list
	e.subs.list = nil
	return subs
}

// reattachSubscriptionsLocked puts them back after the rebuild. A replay
// gives every object its id again, so a subscription to a table or view
// follows the rebuilt object of its id (one whose object did not survive
// ends, as at a DROP); a query's subscription reads its inputs by id and
// runs its own dataflow, so it goes on as it was. What the log holds did
// not change, so nothing is emitted twice. REQUIRES: e.mu held for writing.
func (e *Engine) reattachSubscriptionsLocked(subs []*Subscription) {
	keep := subs[:0]
	for _, sub := range subs {
		if sub.target != nil {
			n := e.mu.cat.byID(sub.target.ID)
			if n == nil || n.key() != sub.target.key() {
				sub.fail(pgerror.New(pgerror.UndefinedTable, "SUBSCRIBE ended: %s %q was dropped", sub.target.Kind, sub.target.Name))
				continue
			}
			sub.target = n
		}
		keep = append(keep, sub)
	}
	e.subs.mu.Lock()
	e.subs.list = append(keep, e.subs.list...)
	e.subs.mu.Unlock()
}
