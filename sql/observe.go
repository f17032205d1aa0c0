package sql

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// Observability: what the engine exposes for monitoring (the metrics
// package turns it into Prometheus metrics). Everything here is cheap to
// keep: counters on the write and statement paths are atomics, touched
// once per commit or statement, never per row; everything else (view
// sizes, watermarks, checkpoint status) is read when asked, under the
// engine's read lock, at a cost bounded by the number of objects.

// Restore phases, in the order a restore passes through them (a restore
// without a checkpoint goes from the first straight to "replaying the log").
const (
	PhaseReplayingCatalog  = "replaying the catalog"
	PhaseLoadingCheckpoint = "loading the checkpoint"
	PhaseRestoringViews    = "restoring materialized views"
	PhaseReplayingLog      = "replaying the log"
	PhaseDone              = "done"
)

// RestorePhases lists the restore phases in order.
var RestorePhases = []string{PhaseReplayingCatalog, PhaseLoadingCheckpoint, PhaseRestoringViews, PhaseReplayingLog, PhaseDone}

// RestoreProgress is the live progress of the engine's restore from its
// log. The engine updates it while NewEngine runs; other goroutines (a
// health endpoint, the metrics scraper, the protocol server refusing
// connections meanwhile) read it with Snapshot at any time. Pass one in
// EngineOptions.Progress to watch a restore that has not returned yet.
type RestoreProgress struct {
	mu sync.Mutex
	s  RestoreSnapshot
}

// RestoreSnapshot is the state of a restore at one moment.
type RestoreSnapshot struct {
	// Phase is one of RestorePhases; empty before the restore started.
	Phase   string
	Started time.Time
	// Elapsed is the time since Started, or the restore's whole duration
	// once Phase is PhaseDone.
	Elapsed time.Duration
	// CheckpointTime is the time the checkpoint restored from is valid
	// at; 0 without one.
	CheckpointTime  uint64
	CatalogRecords  int
	TablesLoaded    int
	RowsLoaded      int64
	ViewsRecomputed int
	// ViewsRestored counts the materialized views loaded from their
	// checkpointed operator state instead of recomputed.
	ViewsRestored int
	// TailBatches and TailUpdates count the write batches (and their
	// updates) replayed from the log.
	TailBatches int
	TailUpdates int64
}

// Done reports whether the restore finished.
func (s RestoreSnapshot) Done() bool { return s.Phase == PhaseDone }

// Snapshot returns the current progress.
func (p *RestoreProgress) Snapshot() RestoreSnapshot {
	p.mu.Lock()
	s := p.s
	p.mu.Unlock()
	if s.Phase != PhaseDone && !s.Started.IsZero() {
		s.Elapsed = time.Since(s.Started)
	}
	return s
}

// publish copies a restore's status for readers.
func (p *RestoreProgress) publish(st *restartStatus) {
	p.mu.Lock()
	p.s = RestoreSnapshot{Phase: st.phase, Started: st.started, Elapsed: st.elapsed, CheckpointTime: st.checkpointTime,
		CatalogRecords: st.catalogRecords, TablesLoaded: st.tablesLoaded, RowsLoaded: st.rowsLoaded,
		ViewsRecomputed: st.viewsRebuilt, ViewsRestored: st.viewsRestored, TailBatches: st.tailBatches, TailUpdates: st.tailUpdates}
	p.mu.Unlock()
}

// enterPhase moves a restore to phase: readers see it at once, and the
// RestorePhaseHook (tests) runs. REQUIRES: mu held for writing.
func (e *Engine) enterPhase(st *restartStatus, phase string) {
	st.phase = phase
	e.progress.publish(st)
	if e.restoreHook != nil {
		e.restoreHook(phase)
	}
}

// Statement kinds counted by Stats.
const (
	StmtSelect = iota
	StmtInsert
	StmtUpdate
	StmtDelete
	StmtCopy
	StmtDDL
	StmtTransaction
	StmtUtility // SET, SHOW, EXPLAIN, cursors, CHECKPOINT, PREPARE ...
	StmtEmpty
	StmtInvalid   // did not parse
	StmtSubscribe // SUBSCRIBE, bare or in COPY or DECLARE
	numStmtKinds
)

// StatementKinds names the statement kinds, indexed by the Stmt constants.
var StatementKinds = [numStmtKinds]string{"select", "insert", "update", "delete", "copy", "ddl", "transaction", "utility", "empty", "invalid", "subscribe"}

// stmtKind classifies a statement for the statement counters.
func stmtKind(st *Statement) int {
	n := st.ast
	switch {
	case st.subscribe != nil:
		return StmtSubscribe
	case st.ext != nil:
		return StmtUtility
	case n == nil:
		return StmtEmpty
	case n.GetSelectStmt() != nil:
		return StmtSelect
	case n.GetInsertStmt() != nil:
		return StmtInsert
	case n.GetUpdateStmt() != nil:
		return StmtUpdate
	case n.GetDeleteStmt() != nil:
		return StmtDelete
	case n.GetCopyStmt() != nil:
		return StmtCopy
	case n.GetTransactionStmt() != nil:
		return StmtTransaction
	case n.GetVariableSetStmt() != nil, n.GetVariableShowStmt() != nil, n.GetExplainStmt() != nil,
		n.GetDeclareCursorStmt() != nil, n.GetFetchStmt() != nil, n.GetClosePortalStmt() != nil,
		n.GetCheckPointStmt() != nil, n.GetDiscardStmt() != nil, n.GetDeallocateStmt() != nil,
		n.GetPrepareStmt() != nil, n.GetExecuteStmt() != nil:
		return StmtUtility
	}
	return StmtDDL // CREATE, DROP, ALTER, TRUNCATE, GRANT ...
}

// sqlstateClasses is the number of two-character SQLSTATE classes
// ([0-9A-Z]{2}).
const sqlstateClasses = 36 * 36

// engineCounters are the engine's monotonic counters.
type engineCounters struct {
	commits     atomic.Uint64 // write batches applied (autocommit statements and COMMITs that wrote)
	rowsWritten atomic.Uint64 // updates (row insertions and deletions) in them
	statements  [numStmtKinds]atomic.Uint64
	// errors counts failed statements by SQLSTATE class (classIndex).
	errors [sqlstateClasses]atomic.Uint64
}

func classDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10, true
	}
	return 0, false
}

func classIndex(code pgerror.Code) int {
	if len(code) == 5 {
		a, ok1 := classDigit(code[0])
		b, ok2 := classDigit(code[1])
		if ok1 && ok2 {
			return a*36 + b
		}
	}
	return classIndex(pgerror.InternalError)
}

func className(i int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return string([]byte{digits[i/36], digits[i%36]})
}

// noteStatement counts a statement and, if it failed, its error's class.
func (c *engineCounters) noteStatement(st *Statement, err *error) {
	c.statements[stmtKind(st)].Add(1)
	if *err != nil {
		c.errors[classIndex(pgerror.CodeOf(*err))].Add(1)
	}
}

// notePrepareError counts a statement that failed to bind: it never
// reaches Execute.
func (c *engineCounters) notePrepareError(st *Statement, err *error) {
	if *err != nil {
		c.noteStatement(st, err)
	}
}

// noteInvalid counts a query string that did not parse.
func (c *engineCounters) noteInvalid(err error) {
	c.statements[StmtInvalid].Add(1)
	c.errors[classIndex(pgerror.CodeOf(err))].Add(1)
}

// EngineStats is a snapshot of the engine's state for monitoring.
type EngineStats struct {
	Commits     uint64
	RowsWritten uint64
	// Statements counts executed statements by kind (StatementKinds).
	Statements map[string]uint64
	// Errors counts failed statements by SQLSTATE class ("23", "42" ...).
	Errors      map[string]uint64
	Views       []ViewStats
	Sources     []SourceStats
	Watermarks  []WatermarkStats
	Checkpoint  CheckpointStats
	LastTime    uint64 // the timestamp of the latest write
	AppliedTime uint64
}

// ViewStats describes one materialized view.
type ViewStats struct {
	Schema, Name string
	Rows         int64 // rows of its output arrangement
	// Steps and StepTime: how often its dataflow was stepped and the
	// total time those steps took.
	Steps    uint64
	StepTime time.Duration
	Failed   bool
	// EmitOnWindowClose views only: rows dropped as late.
	EmitOnWindowClose bool
	LateRows          int64
}

// SourceStats describes one source's runner (tb_catalog.sources).
type SourceStats struct {
	Schema, Name string
	// Status is running, finished, waiting for disk space, failed
	// (retrying), stopped or not running.
	Status string
	// Batches and Rows: what this process committed for the source.
	Batches, Rows uint64
	// Malformed: events the connector skipped since the source was
	// created (its position counts them).
	Malformed int64
}

// WatermarkStats is one table's watermark.
type WatermarkStats struct {
	Schema, Table string
	// Micros is the watermark in microseconds since 2000-01-01 (the
	// timestamp encoding); Set is false before the first row.
	Micros int64
	Set    bool
}

// CheckpointStats describes the latest checkpoint this process wrote (or
// restored from).
type CheckpointStats struct {
	ValidAt  uint64 // 0: none
	Taken    time.Time
	Duration time.Duration
	Tables   int
	Rows     int64
	Written  int // checkpoints written by this process
	Failed   bool
}

// RestoreProgress returns the engine's restore progress (done once
// NewEngine returned).
func (e *Engine) RestoreProgress() *RestoreProgress { return e.progress }

// Stats collects the engine's monitoring snapshot. It takes the read lock
// for a time proportional to the number of objects.
func (e *Engine) Stats() EngineStats {
	s := EngineStats{Commits: e.counters.commits.Load(), RowsWritten: e.counters.rowsWritten.Load(),
		Statements: make(map[string]uint64, numStmtKinds), Errors: map[string]uint64{}}
	for i := range e.counters.statements {
		s.Statements[StatementKinds[i]] = e.counters.statements[i].Load()
	}
	for i := range e.counters.errors {
		if n := e.counters.errors[i].Load(); n > 0 {
			s.Errors[className(i)] = n
		}
	}
	e.mu.RLock()
	s.LastTime, s.AppliedTime = e.mu.lastTime, e.applied.Load()
	for _, o := range e.mu.cat.ids {
		switch {
		case o.Kind == KindMatView:
			v := ViewStats{Schema: o.Schema, Name: o.Name, Rows: o.Data.Len(), Steps: o.steps, StepTime: time.Duration(o.stepNanos),
				Failed: o.Err != nil, EmitOnWindowClose: o.EmitOnWindowClose}
			if o.EmitOnWindowClose && o.Flow != nil {
				v.LateRows = o.Flow.LateRows()
			}
			s.Views = append(s.Views, v)
		case o.Kind == KindTable && o.Watermark != nil:
			w := WatermarkStats{Schema: o.Schema, Table: o.Name}
			w.Micros, w.Set = o.Watermark.Value()
			s.Watermarks = append(s.Watermarks, w)
		}
		if o.Source != nil {
			st := e.sources.statusOf(o)
			s.Sources = append(s.Sources, SourceStats{Schema: o.Schema, Name: o.Name, Status: st.status, Batches: st.batches, Rows: st.rows, Malformed: st.malformed})
		}
	}
	e.mu.RUnlock()
	e.ckpt.status.mu.Lock()
	last := e.ckpt.status.last
	e.ckpt.status.mu.Unlock()
	s.Checkpoint = CheckpointStats{ValidAt: last.time, Taken: last.taken, Duration: last.duration, Tables: last.tables,
		Rows: last.rows, Written: last.count, Failed: last.err != ""}
	return s
}

// Describe says in one sentence where the restore is, for people: the
// DETAIL of the 57P03 error connections get meanwhile, and the logs.
func (s RestoreSnapshot) Describe() string {
	if s.Phase == "" {
		return "The restore from the event log has not started yet."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Restore phase: %s", s.Phase)
	if s.CheckpointTime != 0 {
		fmt.Fprintf(&b, " (from the checkpoint valid at %s)", time.UnixMilli(int64(s.CheckpointTime)).UTC().Format("2006-01-02 15:04:05.000Z"))
	}
	fmt.Fprintf(&b, "; %d catalog records replayed", s.CatalogRecords)
	if s.CheckpointTime != 0 {
		fmt.Fprintf(&b, ", %d rows loaded into %d %s, %d materialized views restored and %d recomputed", s.RowsLoaded, s.TablesLoaded,
			map[bool]string{true: "table", false: "tables"}[s.TablesLoaded == 1], s.ViewsRestored, s.ViewsRecomputed)
	}
	fmt.Fprintf(&b, ", %d write batches (%d updates) replayed; %s elapsed.", s.TailBatches, s.TailUpdates, s.Elapsed.Round(time.Millisecond))
	return b.String()
}
