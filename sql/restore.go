package sql

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
)

// restore rebuilds the engine's state from its log, at open: every batch in
// time order, as it was first applied. A catalog record (the text of a DDL
// statement) is re-executed through an internal session without being
// appended again; a data batch is applied to its tables and steps the
// materialized views, as commitLocked does, without being appended again.
// Object ids are handed out in creation order, so the replayed DDL history
// gives every object the id its updates were logged under.
//
// The timestamp oracle resumes after the latest time in the log, so that
// times never go backwards across a restart.
func (e *Engine) restore(ctx context.Context) (err error) {
	start := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.NewSession(SessionOptions{ApplicationName: "restore"})
	var records, batches, rows int
	var current *storage.Batch
	defer func() {
		// A statement that panics on replay would panic at every start;
		// name it instead of crashing the server.
		if r := recover(); r != nil {
			e.logger.Error("panic while restoring", "panic", r, "stack", string(debug.Stack()))
			at := uint64(0)
			if current != nil {
				at = current.Time
			}
			err = pgerror.New(pgerror.InternalError, "internal error restoring the batch at time %d: %v", at, r)
		}
	}()
	err = e.log.Replay(ctx, func(b storage.Batch) error {
		current = &b
		if b.Catalog != nil {
			if err := e.replayCatalogLocked(s, string(b.Catalog)); err != nil {
				return fmt.Errorf("restoring the catalog record at time %d (%q): %w", b.Time, b.Catalog, err)
			}
			records++
		}
		if len(b.Entries) > 0 {
			changes := map[dataflow.CollectionID][]dataflow.Update{}
			for _, en := range b.Entries {
				id := dataflow.CollectionID(en.Collection)
				changes[id] = append(changes[id], dataflow.Update{Row: en.Row, Diff: en.Diff})
			}
			for id, ups := range changes {
				o := e.mu.cat.byID(id)
				if o == nil || o.Kind != KindTable {
					return pgerror.New(pgerror.DataCorrupted, "the log has updates at time %d for collection %d, which is not a table at that time", b.Time, id)
				}
				o.apply(ups)
			}
			e.stepViewsLocked(changes)
			batches++
			rows += len(b.Entries)
		}
		if b.Time > e.mu.lastTime {
			e.mu.lastTime = b.Time
		}
		return nil
	})
	if err != nil {
		return err
	}
	if l, ok := e.log.(interface{ LastTime() uint64 }); ok && l.LastTime() > e.mu.lastTime {
		e.mu.lastTime = l.LastTime()
	}
	if records > 0 || batches > 0 {
		e.logger.Info("restored from the event log", "catalog_records", records, "objects", len(e.mu.cat.byName),
			"write_batches", batches, "updates", rows, "last_time", e.mu.lastTime, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// replayCatalogLocked re-executes one catalog record.
// REQUIRES: mu held for writing.
func (e *Engine) replayCatalogLocked(s *Session, sql string) error {
	stmts, err := s.ParseStatements(sql)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if st.ast == nil {
			continue
		}
		if _, err := e.execDDLLocked(s, st); err != nil {
			return err
		}
	}
	return nil
}
