package sql

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// Checkpoints bound restart time by the size of the state instead of the
// length of the history: a checkpoint is the contents of every table at
// one time T, written to the log's checkpoint key space (storage/format.md,
// "Checkpoints"). Restart (restore.go) replays the catalog, loads the
// tables from the newest checkpoint, recomputes each materialized view
// once from its restored inputs (as CREATE MATERIALIZED VIEW does) and
// applies the log's tail after T.
//
// Views are recomputed rather than read back: a view's dataflow keeps
// operator state (reduce accumulators, join arrangements, top-k heaps)
// that its output alone does not give back, and one run over the inputs
// rebuilds it exactly, in time proportional to the state
// (docs/performance.md has the figures).
//
// A checkpoint takes Engine.mu for writing only to clone the tables'
// B-trees (copy-on-write, O(1) each); encoding and writing happen outside
// every lock, concurrently with writers.

// CheckpointOptions configure the background checkpointer. With both zero
// it does not run; CHECKPOINT still takes one.
type CheckpointOptions struct {
	// Interval: take a checkpoint this long after the previous one, if
	// anything was written since.
	Interval time.Duration
	// Rows: take a checkpoint once this many updates were written since
	// the previous one.
	Rows int64
}

// checkpointer is the engine's checkpoint state.
type checkpointer struct {
	opts CheckpointOptions
	// rows counts the updates written since the last checkpoint.
	rows    atomic.Int64
	nudge   chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	stopped sync.Once
	// mu makes checkpoints one at a time.
	mu     sync.Mutex
	status durabilityStatus
}

// durabilityStatus is what tb_catalog.restart and tb_catalog.checkpoints
// show.
type durabilityStatus struct {
	mu      sync.Mutex
	restart restartStatus
	last    checkpointStatus
}

// restartStatus describes this process's restore from the log.
type restartStatus struct {
	phase          string
	started        time.Time
	elapsed        time.Duration
	checkpointTime uint64 // 0: restored without a checkpoint
	catalogRecords int
	tablesLoaded   int
	rowsLoaded     int64
	viewsRebuilt   int
	tailBatches    int
	tailUpdates    int64
	loadElapsed    time.Duration // reading the checkpoint into the tables
	viewsElapsed   time.Duration // recomputing the materialized views
}

// checkpointStatus describes the latest checkpoint this process wrote or
// restored from.
type checkpointStatus struct {
	time     uint64 // valid at; 0: none
	taken    time.Time
	duration time.Duration
	locked   time.Duration // how long writers were held off
	tables   int
	rows     int64
	count    int // checkpoints written by this process
	err      string
}

// noteWrite counts a write's updates towards the next checkpoint.
func (c *checkpointer) noteWrite(n int) {
	if c.opts.Rows > 0 && c.rows.Add(int64(n)) >= c.opts.Rows {
		select {
		case c.nudge <- struct{}{}:
		default:
		}
	}
}

// startCheckpoints starts the background checkpointer, if the log keeps
// checkpoints and opts ask for one.
func (e *Engine) startCheckpoints(opts CheckpointOptions) {
	if _, ok := e.log.(storage.Checkpoints); !ok || (opts.Interval <= 0 && opts.Rows <= 0) {
		return
	}
	c := &e.ckpt
	c.opts = opts
	c.nudge = make(chan struct{}, 1)
	c.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		var tick <-chan time.Time
		if opts.Interval > 0 {
			t := time.NewTicker(opts.Interval)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
			case <-c.nudge:
			}
			if _, err := e.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				e.logger.Error("checkpoint failed; the next one will retry", "err", err)
			}
		}
	}()
}

// stopCheckpoints stops the background checkpointer, abandoning a
// checkpoint being written (the previous one stays).
func (e *Engine) stopCheckpoints() {
	e.ckpt.stopped.Do(func() {
		if e.ckpt.cancel != nil {
			e.ckpt.cancel()
			<-e.ckpt.done
		}
	})
}

// Checkpoint writes the contents of every table, valid at the latest
// write, as the log's checkpoint. It returns the checkpoint (the previous
// one if nothing was written since), or nil for a log without checkpoints
// (the in-memory log).
func (e *Engine) Checkpoint(ctx context.Context) (*storage.Checkpoint, error) {
	ck, ok := e.log.(storage.Checkpoints)
	if !ok {
		return nil, nil
	}
	c := &e.ckpt
	c.mu.Lock()
	defer c.mu.Unlock()
	latest, err := ck.LatestCheckpoint()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	e.mu.Lock()
	// Every time in (t, lastTime] was handed out to a write the log
	// refused, so the state at t is the state at lastTime.
	t := max(e.applied.Load(), e.mu.catalogTime)
	catalogTime := e.mu.catalogTime
	// A transaction block's uncommitted DDL is in the catalog (txddl.go):
	// the previous checkpoint stays the latest.
	if t == 0 || (latest != nil && latest.Time >= t) || e.gate.owned() {
		e.mu.Unlock()
		return latest, nil
	}
	written := c.rows.Load()
	var sources []storage.CheckpointSource
	var rows int64
	for _, o := range e.mu.cat.ids {
		if o.Kind != KindTable {
			continue
		}
		snap := o.Data.Clone()
		rows += snap.Len()
		var meta []byte
		if o.Watermark != nil {
			meta = o.Watermark.checkpointState()
		}
		sources = append(sources, storage.CheckpointSource{ID: uint64(o.ID), Meta: meta, Scan: func(emit func(types.Row, int64) bool) {
			snap.Scan(emit)
		}})
	}
	e.mu.Unlock()
	locked := time.Since(start)
	slices.SortFunc(sources, func(a, b storage.CheckpointSource) int { return int(a.ID) - int(b.ID) })

	if err := e.log.WaitDurable(t); err != nil {
		return nil, err
	}
	cp, err := ck.WriteCheckpoint(ctx, t, catalogTime, sources)
	c.status.mu.Lock()
	defer c.status.mu.Unlock()
	if err != nil {
		c.status.last.err = err.Error()
		return nil, err
	}
	c.rows.Add(-written)
	d := time.Since(start)
	c.status.last = checkpointStatus{time: t, taken: start, duration: d, locked: locked, tables: len(sources), rows: rows, count: c.status.last.count + 1}
	e.logger.Info("checkpoint written", "valid_at", t, "tables", len(sources), "rows", rows,
		"elapsed", d.Round(time.Millisecond), "writers_held", locked.Round(time.Microsecond))
	return cp, nil
}

// execCheckpoint runs CHECKPOINT: a checkpoint now, returning once it is
// durable. Without a data directory there is nothing to do, as in
// PostgreSQL the command then simply succeeds.
func (s *Session) execCheckpoint(ctx context.Context) (*Result, error) {
	if _, err := s.e.Checkpoint(ctx); err != nil {
		return nil, err
	}
	return &Result{Tag: "CHECKPOINT"}, nil
}

// loadCheckpointLocked fills the tables from checkpoint cp and recomputes
// every materialized view from its restored inputs. The catalog must have
// been replayed up to cp.Time, and nothing else applied.
// REQUIRES: mu held for writing.
func (e *Engine) loadCheckpointLocked(ctx context.Context, ck storage.Checkpoints, cp *storage.Checkpoint, st *restartStatus, progress func()) error {
	if e.mu.catalogTime != cp.CatalogTime {
		return errCheckpointCatalog(cp, e.mu.catalogTime)
	}
	start := time.Now()
	st.checkpointTime = cp.Time
	e.enterPhase(st, PhaseLoadingCheckpoint)
	var ups []dataflow.Update
	err := ck.ReadCheckpoint(ctx, cp, func(c storage.CollectionID, entries []storage.Entry) error {
		o := e.mu.cat.byID(dataflow.CollectionID(c))
		if o == nil || o.Kind != KindTable {
			return errCheckpointObject(cp, c)
		}
		ups = ups[:0]
		for _, en := range entries {
			ups = append(ups, dataflow.Update{Row: en.Row, Diff: en.Diff})
		}
		o.apply(ups)
		st.rowsLoaded += int64(len(entries))
		progress()
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range cp.Collections {
		o := e.mu.cat.byID(dataflow.CollectionID(c.ID))
		if o == nil || o.Watermark == nil || c.Meta == nil {
			continue
		}
		if err := o.Watermark.restoreCheckpointState(c.Meta); err != nil {
			return pgerror.New(pgerror.DataCorrupted, "the checkpoint valid at %d holds a %v for table %s", cp.Time, err, o.Name)
		}
	}
	if err := e.rebuildExpiryLocked(ctx, cp.Time); err != nil {
		return err
	}
	st.tablesLoaded = len(cp.Collections)
	st.loadElapsed = time.Since(start)
	start = time.Now()
	e.enterPhase(st, PhaseRecomputingViews)
	// Views are recomputed as of the checkpoint's time (temporal filters
	// compare with it).
	if e.mu.lastTime < cp.Time {
		e.mu.lastTime = cp.Time
	}
	ectx := e.viewStepCtxLocked()
	for _, mv := range e.mu.cat.matViews() {
		mv.Err, mv.errInherited = nil, false
		t0 := time.Now()
		e.rebuildLocked(ectx, mv, map[dataflow.CollectionID][]dataflow.Update{})
		e.logger.Debug("materialized view recomputed", "view", mv.Name, "rows", mv.Data.Len(), "elapsed", time.Since(t0))
		st.viewsRebuilt++
		progress()
	}
	st.viewsElapsed = time.Since(start)
	if e.mu.lastTime < cp.Time {
		e.mu.lastTime = cp.Time
	}
	e.ckpt.status.mu.Lock()
	e.ckpt.status.last = checkpointStatus{time: cp.Time, tables: len(cp.Collections), rows: st.rowsLoaded}
	e.ckpt.status.mu.Unlock()
	return nil
}

func errCheckpointCatalog(cp *storage.Checkpoint, replayed uint64) error {
	return pgerror.New(pgerror.DataCorrupted,
		"the checkpoint valid at %d belongs to the catalog ending with the record at %d, but the log's catalog up to %d ends at %d",
		cp.Time, cp.CatalogTime, cp.Time, replayed)
}

func errCheckpointObject(cp *storage.Checkpoint, c storage.CollectionID) error {
	return pgerror.New(pgerror.DataCorrupted, "the checkpoint valid at %d holds collection %d, which is not a table at that time", cp.Time, c)
}
