package sql

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
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
// length of the history: a checkpoint is, at one time T, the contents of
// every table and, for every materialized view, its output and its
// dataflow's operator state (reduce accumulators, join arrangements, top-k
// rows, windows, pending temporal changes: dataflow/checkpoint.go), written
// to the log's checkpoint key space (storage/format.md, "Checkpoints").
// Restart (restore.go) replays the catalog, loads the tables and the views'
// outputs from the newest checkpoint, builds each view's dataflow afresh
// and loads its state, and applies the log's tail after T. A view whose
// state the checkpoint does not hold in a form this binary builds (the
// fingerprint differs: another planner or state format), or that had
// failed, is recomputed once from its restored inputs instead, as CREATE
// MATERIALIZED VIEW does: loading state costs time proportional to the
// state, recomputing time proportional to the view's work over its inputs
// (docs/performance.md has both).
//
// A checkpoint is consistent at T because everything is taken under
// Engine.mu held for writing, where writes apply and views step: the
// tables' and views' output B-trees are cloned (copy-on-write, O(1) each)
// and the views' operator state, kept in hash maps that cannot be cloned,
// is encoded into memory, the views on as many goroutines as there are
// processors. Writers wait for that encoding (the pause grows
// with the views' state; tb_catalog.checkpoints shows it as
// writers_held_ms); writing to the log happens outside every lock,
// concurrently with writers.

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
	viewsRebuilt   int // recomputed from their inputs
	viewsRestored  int // loaded from their checkpointed state
	tailBatches    int
	tailUpdates    int64
	loadElapsed    time.Duration // reading the checkpoint into the tables
	viewsElapsed   time.Duration // restoring or recomputing the materialized views
}

// checkpointStatus describes the latest checkpoint this process wrote or
// restored from.
type checkpointStatus struct {
	time     uint64 // valid at; 0: none
	taken    time.Time
	duration time.Duration
	locked   time.Duration // how long writers were held off
	tables   int
	rows     int64 // the tables' rows
	// views counts the materialized views whose output and operator state
	// the checkpoint holds; stateBytes is the size of their state.
	views      int
	stateBytes int64
	count      int // checkpoints written by this process
	err        string
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
	var rows, stateBytes int64
	tables := 0
	var viewObjs []*Object
	for _, o := range e.mu.cat.ids {
		var src storage.CheckpointSource
		switch {
		case o.Kind == KindTable:
			tables++
			rows += o.Data.Len()
			if o.Watermark != nil {
				src.Meta = o.Watermark.checkpointState()
			}
		case o.Kind == KindMatView && o.Err == nil && o.Flow != nil:
			// A failed view has no state worth keeping: restart
			// recomputes it (and it fails again, or recovers).
			viewObjs = append(viewObjs, o)
			src.Meta = []byte(o.Flow.Fingerprint())
		default:
			continue
		}
		snap := o.Data.Clone()
		src.ID, src.Scan = uint64(o.ID), snap.Scan
		sources = append(sources, src)
	}
	states, err := encodeViewStates(viewObjs)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	e.mu.Unlock()
	views := len(viewObjs)
	for i := range sources {
		if st, ok := states[dataflow.CollectionID(sources[i].ID)]; ok {
			stateBytes += st.bytes
			sources[i].State = st.done()
		}
	}
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
	c.status.last = checkpointStatus{time: t, taken: start, duration: d, locked: locked, tables: tables, rows: rows,
		views: views, stateBytes: stateBytes, count: c.status.last.count + 1}
	e.logger.Info("checkpoint written", "valid_at", t, "tables", tables, "rows", rows, "views", views, "view_state_bytes", stateBytes,
		"elapsed", d.Round(time.Millisecond), "writers_held", locked.Round(time.Microsecond))
	return cp, nil
}

// checkpointEncoders, when set, is how many goroutines encode views' state
// (a benchmark compares 1 with the default, GOMAXPROCS).
var checkpointEncoders int

// encodeViewStates encodes the operator state of views, on as many
// goroutines as there are processors: a view's state is its own (shared
// arrangements are not written), and encoding is mostly waiting for memory
// (rows scattered over the heap), so two cores halve the writers' pause
// when the state is spread over several views. REQUIRES: Engine.mu held
// for writing (nothing steps the views meanwhile).
func encodeViewStates(views []*Object) (map[dataflow.CollectionID]*stateChunks, error) {
	out := make(map[dataflow.CollectionID]*stateChunks, len(views))
	states := make([]stateChunks, len(views))
	errs := make([]error, len(views))
	// Largest first, so that the last view to start is a small one.
	order := make([]int, len(views))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(views[b].Flow.StateRows(), views[a].Flow.StateRows()) })
	eachParallel(len(order), checkpointEncoders, func(j int) {
		i := order[j]
		errs[i] = views[i].Flow.Checkpoint(&states[i])
	})
	for i, v := range views {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out[v.ID] = &states[i]
	}
	return out, nil
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

// loadCheckpointLocked fills the tables and the materialized views'
// outputs from checkpoint cp, loads the operator state of every view whose
// state it holds for the dataflow this binary builds (restorableViewsLocked)
// and recomputes the others from their restored inputs. The catalog must
// have been replayed up to cp.Time, and nothing else applied.
//
// The views' states load while the tables load: a view's state goes into a
// dataflow of its own (the arrangements it shares with a table are not in
// it), so the two touch nothing in common. One after the other, a restart
// of 10M rows under five views left a core idle for much of each phase.
// REQUIRES: mu held for writing.
func (e *Engine) loadCheckpointLocked(ctx context.Context, ck storage.Checkpoints, cp *storage.Checkpoint, st *restartStatus, progress func()) error {
	if e.mu.catalogTime != cp.CatalogTime {
		return errCheckpointCatalog(cp, e.mu.catalogTime)
	}
	start := time.Now()
	st.checkpointTime = cp.Time
	e.enterPhase(st, PhaseLoadingCheckpoint)
	restorable := e.restorableViewsLocked(cp)
	for id := range restorable {
		// The output the view computed over the empty tables of the
		// catalog's replay makes way for the checkpoint's.
		mv := e.mu.cat.byID(id)
		old := mv.Data.Snapshot()
		for i := range old {
			old[i].Diff = -old[i].Diff
		}
		mv.apply(old)
	}
	views := e.mu.cat.matViews()
	restores := e.buildViewRestoresLocked(views, restorable)
	// A panic loading a view's state comes back here, to be raised on the
	// restore's goroutine, whose recovery names it instead of letting it
	// end the process; one loading the tables waits for the views first.
	viewsLoaded := make(chan any, 1)
	go func() {
		defer func() { viewsLoaded <- recover() }()
		loadViewStates(ctx, ck, cp, views, restores)
	}()
	var viewsPanic any
	waited := false
	waitViews := func() {
		if !waited {
			waited, viewsPanic = true, <-viewsLoaded
		}
	}
	defer waitViews()
	err := e.loadTablesLocked(ctx, ck, cp, st, restorable, progress)
	st.loadElapsed = time.Since(start)
	// The views phase is what the views take past the tables' load.
	start = time.Now()
	e.enterPhase(st, PhaseRestoringViews)
	waitViews()
	if viewsPanic != nil {
		releaseRestores(restores)
		panic(viewsPanic)
	}
	if err != nil {
		releaseRestores(restores)
		return err
	}
	// Views are recomputed as of the checkpoint's time (temporal filters
	// compare with it).
	if e.mu.lastTime < cp.Time {
		e.mu.lastTime = cp.Time
	}
	ectx := e.viewStepCtxLocked()
	for i, mv := range views {
		t0 := time.Now()
		if r := restores[i]; r != nil {
			err := e.finishViewRestoreLocked(cp, mv, r)
			if err == nil {
				e.logger.Debug("materialized view restored", "view", mv.Name, "rows", mv.Data.Len(), "state_rows", mv.Flow.StateRows(), "elapsed", r.elapsed)
				st.viewsRestored++
				progress()
				continue
			}
			if !errors.Is(err, dataflow.ErrStateMismatch) {
				releaseRestores(restores[i+1:])
				return err
			}
			e.logger.Warn("materialized view's checkpointed state does not fit; recomputing it", "view", mv.Name, "err", err)
		}
		mv.Err, mv.errInherited = nil, false
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
	e.ckpt.status.last = checkpointStatus{time: cp.Time, tables: st.tablesLoaded, rows: st.rowsLoaded, views: len(restorable)}
	e.ckpt.status.mu.Unlock()
	return nil
}

// loadTablesLocked fills the tables and the restorable views' outputs from
// checkpoint cp, with the tables' watermarks and retention expiry.
// REQUIRES: mu held for writing.
func (e *Engine) loadTablesLocked(ctx context.Context, ck storage.Checkpoints, cp *storage.Checkpoint, st *restartStatus, restorable map[dataflow.CollectionID]bool, progress func()) error {
	var ups []dataflow.Update
	err := ck.ReadCheckpoint(ctx, cp, func(c storage.CollectionID, entries []storage.Entry) error {
		o := e.mu.cat.byID(dataflow.CollectionID(c))
		switch {
		case o == nil || (o.Kind != KindTable && o.Kind != KindMatView):
			return errCheckpointObject(cp, c)
		case o.Kind == KindMatView && !restorable[o.ID]:
			return nil // recomputed below
		}
		ups = ups[:0]
		for _, en := range entries {
			ups = append(ups, dataflow.Update{Row: en.Row, Diff: en.Diff})
		}
		// A checkpoint holds each row of a collection once, and the
		// tables and restored views are empty before it is loaded (a
		// row there after all would be folded in, only slower).
		o.applyNew(ups)
		if o.Kind == KindTable {
			st.rowsLoaded += int64(len(entries))
		}
		progress()
		return nil
	})
	if err != nil {
		return err
	}
	tables := 0
	for _, c := range cp.Collections {
		o := e.mu.cat.byID(dataflow.CollectionID(c.ID))
		if o == nil || o.Kind != KindTable {
			continue
		}
		tables++
		if o.Watermark == nil || c.Meta == nil {
			continue
		}
		if err := o.Watermark.restoreCheckpointState(c.Meta); err != nil {
			return pgerror.New(pgerror.DataCorrupted, "the checkpoint valid at %d holds a %v for table %s", cp.Time, err, o.Name)
		}
	}
	st.tablesLoaded = tables
	return e.rebuildExpiryLocked(ctx, cp.Time)
}

// restorableViewsLocked returns the materialized views whose output and
// operator state checkpoint cp holds for the dataflow this binary builds
// for them: the fingerprint kept with the state (the collection's Meta)
// equals the view's dataflow's. A binary with another planner or state
// format recomputes the view instead.
// REQUIRES: mu held.
func (e *Engine) restorableViewsLocked(cp *storage.Checkpoint) map[dataflow.CollectionID]bool {
	out := map[dataflow.CollectionID]bool{}
	for _, c := range cp.Collections {
		mv := e.mu.cat.byID(dataflow.CollectionID(c.ID))
		if mv != nil && mv.Kind == KindMatView && mv.Flow != nil && c.Meta != nil && string(c.Meta) == mv.Flow.Fingerprint() {
			out[mv.ID] = true
		}
	}
	return out
}

// viewRestore is the restore of one view's dataflow from its checkpointed
// state (buildViewRestoresLocked, loadViewStates), until
// finishViewRestoreLocked installs it.
type viewRestore struct {
	shares  *viewArrangements
	flow    *dataflow.Dataflow
	err     error
	elapsed time.Duration // reading the state and loading it
}

// buildViewRestoresLocked builds a fresh dataflow for each view of views
// that restorable names, for loadViewStates to load; the result's i-th
// entry is views[i]'s, nil for a view not restorable. The dataflows are
// built one after another: building takes shared arrangements from the
// catalog.
// REQUIRES: mu held for writing.
func (e *Engine) buildViewRestoresLocked(views []*Object, restorable map[dataflow.CollectionID]bool) []*viewRestore {
	out := make([]*viewRestore, len(views))
	for i, mv := range views {
		if !restorable[mv.ID] {
			continue
		}
		r := &viewRestore{shares: &viewArrangements{cat: e.mu.cat}}
		r.flow, r.err = dataflow.Build(mv.Flow.Plan(), r.shares)
		out[i] = r
	}
	return out
}

// loadViewStates loads into each dataflow restores built the operator
// state checkpoint cp holds for its view, on up to GOMAXPROCS goroutines:
// a load touches only its own dataflow, and one view's state (top10's 1M
// rows) took as long as all the others', with the second core idle. Each
// worker reads a view's state (one at a time, under readMu) just before
// loading it, so that at most a worker's worth of encoded states is in
// memory at once. It touches nothing of the engine's but the log, and
// runs beside the tables' load.
func loadViewStates(ctx context.Context, ck storage.Checkpoints, cp *storage.Checkpoint, views []*Object, restores []*viewRestore) {
	var todo []int
	for i, r := range restores {
		if r != nil && r.err == nil {
			todo = append(todo, i)
		}
	}
	var readMu sync.Mutex
	eachParallel(len(todo), 0, func(k int) {
		r, id := restores[todo[k]], views[todo[k]].ID
		t0 := time.Now()
		var chunks [][]byte
		readMu.Lock()
		r.err = ck.ReadCheckpointState(ctx, cp, storage.CollectionID(id), func(c []byte) error {
			chunks = append(chunks, c)
			return nil
		})
		readMu.Unlock()
		if r.err == nil {
			r.err = r.flow.Restore(&stateRows{chunks: chunks})
		}
		r.elapsed = time.Since(t0)
	})
}

// releaseRestores gives back the shared arrangements of restores that
// will not be installed.
func releaseRestores(restores []*viewRestore) {
	for _, r := range restores {
		if r != nil && r.shares != nil {
			releaseShares(r.shares.used)
		}
	}
}

// finishViewRestoreLocked gives mv the dataflow r restored, or returns r's
// error: a state that does not decode is corruption (XX001, naming the
// view); one that does not fit the dataflow is an error wrapping
// dataflow.ErrStateMismatch, and mv is left as it was.
// REQUIRES: mu held for writing.
func (e *Engine) finishViewRestoreLocked(cp *storage.Checkpoint, mv *Object, r *viewRestore) error {
	if err := r.err; err != nil {
		releaseShares(r.shares.used)
		var ce *storage.CorruptionError
		if errors.As(err, &ce) || errors.Is(err, dataflow.ErrBadState) {
			return pgerror.New(pgerror.DataCorrupted, "the checkpoint valid at %d holds an unreadable state of materialized view %s: %v", cp.Time, mv.Name, err)
		}
		return err
	}
	releaseShares(mv.shares)
	mv.shares = r.shares.used
	mv.Flow, mv.Err, mv.errInherited = r.flow, nil, false
	return nil
}

// viewStateChunkBytes is the size past which a view's encoded state
// starts a new chunk (one value in the log's checkpoint).
const viewStateChunkBytes = 1 << 20

// stateChunks is the dataflow.StateWriter of a checkpoint: it encodes a
// view's state rows with storage's row encoding into chunks of about
// viewStateChunkBytes; a row never spans two chunks.
type stateChunks struct {
	chunks [][]byte
	cur    []byte
	bytes  int64
}

func (s *stateChunks) WriteRow(prefix, r types.Row) error {
	if s.cur == nil && len(s.chunks) > 0 {
		// A state that filled a chunk fills the next ones: allocate them
		// at their size instead of growing them by copying. (The first
		// grows: most views' states are far smaller.)
		s.cur = make([]byte, 0, viewStateChunkBytes+viewStateChunkBytes/4)
	}
	n := len(s.cur)
	s.cur = storage.AppendRows(s.cur, prefix, r)
	s.bytes += int64(len(s.cur) - n)
	if len(s.cur) >= viewStateChunkBytes {
		s.chunks = append(s.chunks, s.cur)
		s.cur = nil
	}
	return nil
}

// done returns the chunks.
func (s *stateChunks) done() [][]byte {
	if len(s.cur) > 0 {
		s.chunks = append(s.chunks, s.cur)
		s.cur = nil
	}
	return s.chunks
}

// stateRows is the dataflow.StateReader of a restore: it decodes the rows
// of a view's state chunks in order, each into the same buffer (the
// dataflow copies what it keeps).
type stateRows struct {
	chunks [][]byte
	rest   []byte
	row    types.Row
}

func (s *stateRows) ReadRow() (types.Row, error) {
	for len(s.rest) == 0 {
		if len(s.chunks) == 0 {
			return nil, io.EOF
		}
		s.rest, s.chunks = s.chunks[0], s.chunks[1:]
	}
	row, rest, err := storage.DecodeRowInto(s.row, s.rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", dataflow.ErrBadState, err)
	}
	s.rest, s.row = rest, row
	return row, nil
}

func errCheckpointCatalog(cp *storage.Checkpoint, replayed uint64) error {
	return pgerror.New(pgerror.DataCorrupted,
		"the checkpoint valid at %d belongs to the catalog ending with the record at %d, but the log's catalog up to %d ends at %d",
		cp.Time, cp.CatalogTime, cp.Time, replayed)
}

func errCheckpointObject(cp *storage.Checkpoint, c storage.CollectionID) error {
	return pgerror.New(pgerror.DataCorrupted, "the checkpoint valid at %d holds collection %d, which is not a table or materialized view at that time", cp.Time, c)
}
