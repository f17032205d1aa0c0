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

// restoreProgressEvery is how often restore logs its progress.
const restoreProgressEvery = 2 * time.Second

// restore rebuilds the engine's state from its log, at open. Without a
// checkpoint it replays every batch in time order, as it was first
// applied: a catalog record (the text of a DDL statement) is re-executed
// through an internal session without being appended again; a data batch
// is applied to its tables and steps the materialized views, as
// commitLocked does. Object ids are handed out in creation order, so the
// replayed DDL history gives every object the id its updates were logged
// under.
//
// With a checkpoint at T (checkpoint.go) it replays the catalog records up
// to T (views are created over empty tables, which is cheap), loads the
// tables and the materialized views' outputs from the checkpoint, loads
// each view's operator state into a freshly built dataflow (recomputing
// the views whose state it does not hold from their restored inputs), then
// replays the catalog records and updates after T as above. An EMIT ON
// WINDOW CLOSE view without its state in the checkpoint cannot be
// recomputed: the restore then starts over from the whole log
// (errReplayWholeLog).
//
// The timestamp oracle resumes after the latest time in the log, so that
// times never go backwards across a restart. Progress is logged every few
// seconds and kept for tb_catalog.restart.
func (e *Engine) restore(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.restoreLocked(ctx)
}

// restoreLocked is restore with mu held for writing.
func (e *Engine) restoreLocked(ctx context.Context) (err error) {
	st := &restartStatus{started: time.Now()}
	e.enterPhase(st, PhaseReplayingCatalog)
	lastLog := st.started
	// progress publishes the counters for readers (RestoreProgress: a
	// short uncontended lock, once per batch or chunk) and logs them
	// every few seconds.
	progress := func() {
		e.progress.publish(st)
		if now := time.Now(); now.Sub(lastLog) >= restoreProgressEvery {
			lastLog = now
			e.logger.Info("restoring", "phase", st.phase, "catalog_records", st.catalogRecords, "rows_loaded", st.rowsLoaded,
				"views_restored", st.viewsRestored, "views_recomputed", st.viewsRebuilt, "tail_batches", st.tailBatches, "tail_updates", st.tailUpdates,
				"elapsed", now.Sub(st.started).Round(time.Millisecond))
		}
	}
	s := e.NewSession(SessionOptions{ApplicationName: "restore"})
	s.replaying = true
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

	ck, _ := e.log.(storage.Checkpoints)
	if e.ignoreCheckpoints {
		ck = nil
	}
	var cp *storage.Checkpoint
	if ck != nil {
		if cp, err = ck.LatestCheckpoint(); err != nil {
			return err
		}
	}
	replay := e.log.Replay
	if cp != nil {
		replay = func(ctx context.Context, f func(storage.Batch) error) error { return ck.ReplayAfter(ctx, cp.Time, f) }
	}
	loaded := cp == nil
	if loaded {
		e.enterPhase(st, PhaseReplayingLog)
	}
	err = replay(ctx, func(b storage.Batch) error {
		current = &b
		if !loaded && b.Time > cp.Time {
			if e.windowCloseNeedsLogLocked(cp) {
				return errReplayWholeLog
			}
			if err := e.loadCheckpointLocked(ctx, ck, cp, st, progress); err != nil {
				return err
			}
			loaded = true
			e.enterPhase(st, PhaseReplayingLog)
		}
		if b.Catalog != nil {
			if err := e.replayCatalogLocked(s, string(b.Catalog)); err != nil {
				return fmt.Errorf("restoring the catalog record at time %d (%q): %w", b.Time, b.Catalog, err)
			}
			e.mu.catalogTime = b.Time
			e.mu.cat.stampCreated(b.Time)
			st.catalogRecords++
		}
		// Views step at the batch's time, as they did when it was written
		// (temporal filters release what was due by then).
		if b.Time > e.mu.lastTime {
			e.mu.lastTime = b.Time
		}
		if len(b.Entries) == 0 {
			e.stepViewsLocked(map[dataflow.CollectionID][]dataflow.Update{})
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
				o.applyAt(b.Time, ups)
			}
			e.stepViewsLocked(changes)
			st.tailBatches++
			st.tailUpdates += int64(len(b.Entries))
		}
		progress()
		return nil
	})
	if err != nil {
		return e.nameCorruptionLocked(err)
	}
	if !loaded {
		if e.windowCloseNeedsLogLocked(cp) {
			return errReplayWholeLog
		}
		if err := e.loadCheckpointLocked(ctx, ck, cp, st, progress); err != nil {
			return err
		}
	}
	if l := e.log.LastTime(); l > e.mu.lastTime {
		e.mu.lastTime = l
	}
	if err := e.loadSinceLocked(); err != nil {
		return err
	}
	// Everything up to the log's last time is applied (and durable): a
	// checkpoint taken before the next write is valid there. (Set before
	// the step below, whose time is not in the log.)
	e.applied.Store(e.mu.lastTime)
	// Bring the views from the last logged time to the present.
	e.nextTimeLocked()
	e.stepViewsLocked(map[dataflow.CollectionID][]dataflow.Update{})
	st.elapsed = time.Since(st.started)
	e.enterPhase(st, PhaseDone)
	e.ckpt.status.mu.Lock()
	e.ckpt.status.restart = *st
	e.ckpt.status.mu.Unlock()
	if st.catalogRecords > 0 || st.tailBatches > 0 || cp != nil {
		e.logger.Info("restored from the event log", "catalog_records", st.catalogRecords, "objects", len(e.mu.cat.byName),
			"checkpoint", st.checkpointTime, "tables_loaded", st.tablesLoaded, "rows_loaded", st.rowsLoaded,
			"views_restored", st.viewsRestored, "views_recomputed", st.viewsRebuilt, "write_batches", st.tailBatches, "updates", st.tailUpdates,
			"last_time", e.mu.lastTime, "elapsed", st.elapsed.Round(time.Millisecond))
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
	// A record runs with the default search path unless it sets its own
	// (catalogRecordWithPath).
	s.settings["search_path"] = defaultSettings["search_path"]
	for _, st := range stmts {
		if st.ast == nil {
			continue
		}
		if vs := st.ast.GetVariableSetStmt(); vs != nil {
			if _, err := s.execSet(vs); err != nil {
				return err
			}
			continue
		}
		if _, err := e.execDDLLocked(s, st); err != nil {
			return err
		}
	}
	return nil
}
