package sql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/parser"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// EngineOptions configure an Engine.
type EngineOptions struct {
	// Log is the event log; nil means a fresh in-memory log.
	Log    storage.Log
	Logger *slog.Logger
	// Checkpoints: how often the background checkpointer runs
	// (sql/checkpoint.go); zero values mean none in the background.
	Checkpoints CheckpointOptions
	// Clock is the timestamp oracle's wall clock; nil means time.Now.
	// Tests inject one to drive temporal filters deterministically.
	Clock func() time.Time
	// TickInterval is how often the timeline advances with no writes, so
	// that temporal filters release their due changes (sql/temporal.go):
	// 0 means every second, a negative value no ticker (call Tick).
	TickInterval time.Duration
	// MaintenanceInterval is how often expired rows are retracted and the
	// log compacted (sql/history.go); 0 means DefaultMaintenanceInterval,
	// a negative value none in the background (call Maintain).
	MaintenanceInterval time.Duration
	// SubscribeBufferRows bounds the rows a SUBSCRIBE may have waiting for
	// its client before it is ended (53200); 0 means
	// DefaultSubscribeBufferRows.
	SubscribeBufferRows int
	// Progress, when set, receives the restore's progress while NewEngine
	// runs (observe.go), so that a caller can report it meanwhile.
	Progress *RestoreProgress
	// IdleInTransactionSessionTimeout is every session's initial
	// idle_in_transaction_session_timeout (0: none, PostgreSQL's default);
	// a client may change its own.
	IdleInTransactionSessionTimeout time.Duration
	// RestorePhaseHook, when set, is called as the restore enters each
	// phase (RestorePhases), with the engine's lock held; tests use it to
	// hold a restore at a phase, tributary serve to set the collector
	// (CollectorWhileLoading).
	RestorePhaseHook func(phase string)
}

// Engine is one Tributary database: the catalog and the coordinator that
// orders every write on one timeline and keeps materialized views current.
//
// Concurrency: mu serializes writers and lets readers share. A write
// queues its batch in the log, applies it to the tables and steps every
// materialized view under mu, then releases mu and waits for the log's
// group commit before it is acknowledged, so concurrent writers share one
// sync. A reader may therefore see a write that is applied but not yet
// durable; so every statement, before it returns anything (rows, a tag or
// an error), waits until the log is durable up to the latest write applied
// when it finished (waitDurable). Nothing a client sees can be lost by a
// crash, a read always sees every acknowledged write and never part of
// one: reads are strictly serializable. The wait is short: it is the group
// commit already in flight, and none at all when nothing is pending.
type Engine struct {
	log    storage.Log
	logger *slog.Logger
	locks  advisoryTable // advisory locks (advisory.go)
	gate   ddlGate       // transactional DDL's exclusion (txddl.go)
	// applied is the time of the latest write queued in the log and
	// applied in memory (set under mu, read without it).
	applied atomic.Uint64
	ckpt    checkpointer // sql/checkpoint.go
	clock   func() time.Time
	hist    history // AS OF leases, compaction frontiers, maintenance (history.go)
	// stopTicker and tickerDone stop the ticker goroutine (nil: none).
	stopTicker, tickerDone chan struct{}
	// ignoreCheckpoints makes restore replay the whole log (windowclose.go).
	ignoreCheckpoints bool
	subs              subscriptions // running SUBSCRIBEs (subscribe.go)
	sources           sourceRunners // running sources (source.go)
	// progress is the restore's progress, counters the monitoring
	// counters (observe.go); restoreHook is EngineOptions.RestorePhaseHook.
	progress    *RestoreProgress
	counters    engineCounters
	restoreHook func(phase string)
	// idleInTxTimeout is EngineOptions.IdleInTransactionSessionTimeout.
	idleInTxTimeout time.Duration
	mu              struct {
		sync.RWMutex
		cat      *catalog
		lastTime uint64 // the timestamp of the latest write
		// catalogTime is the time of the latest catalog record.
		catalogTime uint64
		// droppedTables await the deletion of their updates (Maintain).
		droppedTables []dataflow.CollectionID
		// sourcePositions are each source's latest position queued in
		// the log (source.go).
		sourcePositions map[dataflow.CollectionID][]byte
	}
}

// NewEngine opens an engine. It restores the catalog and every committed
// write from the log (sql/restore.go) before it returns; on error the
// caller still owns opts.Log.
func NewEngine(opts EngineOptions) (*Engine, error) {
	if opts.Log == nil {
		opts.Log = storage.NewMemLog()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.TickInterval == 0 {
		opts.TickInterval = time.Second
	}
	if opts.Progress == nil {
		opts.Progress = &RestoreProgress{}
	}
	e := &Engine{log: opts.Log, logger: opts.Logger, clock: opts.Clock, progress: opts.Progress, restoreHook: opts.RestorePhaseHook,
		idleInTxTimeout: opts.IdleInTransactionSessionTimeout}
	e.hist.init()
	e.subs.bound = opts.SubscribeBufferRows
	e.mu.cat = newCatalog()
	e.mu.cat.status, e.mu.cat.hist, e.mu.cat.sourceRunners = &e.ckpt.status, &e.hist, &e.sources
	err := e.restore(context.Background())
	if errors.Is(err, errReplayWholeLog) {
		// EMIT ON WINDOW CLOSE views cannot be rebuilt from a checkpoint
		// (windowclose.go): start over from the beginning of the log.
		e.mu.cat = newCatalog()
		e.mu.cat.status, e.mu.cat.hist, e.mu.cat.sourceRunners = &e.ckpt.status, &e.hist, &e.sources
		e.mu.lastTime, e.mu.catalogTime = 0, 0
		e.ignoreCheckpoints = true
		err = e.restore(context.Background())
	}
	if err != nil {
		return nil, err
	}
	positions, err := e.log.Positions()
	if err != nil {
		return nil, fmt.Errorf("reading the sources' positions: %w", err)
	}
	e.mu.Lock()
	e.mu.sourcePositions = map[dataflow.CollectionID][]byte{}
	for id, p := range positions {
		e.mu.sourcePositions[dataflow.CollectionID(id)] = p
	}
	e.startSourcesLocked()
	e.mu.Unlock()
	e.startCheckpoints(opts.Checkpoints)
	e.startMaintenance(opts.MaintenanceInterval)
	if opts.TickInterval > 0 {
		e.stopTicker, e.tickerDone = make(chan struct{}), make(chan struct{})
		go e.runTicker(opts.TickInterval, e.stopTicker, e.tickerDone)
	}
	return e, nil
}

// Close stops the sources, the background checkpointer and the ticker, and
// closes the engine's storage.
func (e *Engine) Close() error {
	e.stopSources()
	e.stopMaintenance()
	e.stopCheckpoints()
	if e.stopTicker != nil {
		close(e.stopTicker)
		<-e.tickerDone
		e.stopTicker = nil
	}
	return e.log.Close()
}

// nextTimeLocked hands out the next write timestamp: the wall clock in
// milliseconds, never moving backwards. REQUIRES: mu held for writing.
func (e *Engine) nextTimeLocked() uint64 {
	t := uint64(e.clock().UnixMilli())
	if t <= e.mu.lastTime {
		t = e.mu.lastTime + 1
	}
	e.mu.lastTime = t
	return t
}

// Statement is one parsed SQL statement.
type Statement struct {
	sql    string
	ast    *pg.Node
	ext    parser.Ext
	offset int // the statement's position in the query string it came from
	// asOf is a SELECT's AS OF expression (history.go), nil if none.
	asOf *pg.Node
	// subscribe is a SUBSCRIBE, bare (ast nil) or inside COPY or DECLARE;
	// fetch is FETCH's WITH (TIMEOUT) (subscribe.go).
	subscribe *parser.Subscribe
	fetch     *parser.FetchOptions
	// streaming holds WATERMARK / EMIT ON WINDOW CLOSE clauses, nil if none.
	streaming *parser.Streaming
}

// SQL returns the statement's text.
func (st *Statement) SQL() string { return st.sql }

// Session is one client connection's state.
type Session struct {
	e        *Engine
	opts     SessionOptions
	settings map[string]string
	tx       *txn
	failed   bool // a statement failed inside a transaction block
	cursors  map[string]*cursor
	// lockUndo reverts the advisory-lock operations of the running
	// statement, should it have to wait for a lock and run again
	// (advisory.go). REQUIRES: e.locks.mu held.
	lockUndo []func()
	// holdsWriteLock is set while the statement holds the engine's write
	// lock; wantWriteLock makes a SELECT take it (sequence.go).
	holdsWriteLock, wantWriteLock bool
	// replaying marks the session that replays the catalog at restart.
	replaying bool
	// inGate is set while a statement of s is inside the DDL gate.
	inGate bool
	// seqLast is currval's answer per sequence; lastSeq is lastval's.
	seqLast map[*Object]int64
	lastSeq *Object
	// loc is the TimeZone setting resolved (nil: UTC); startupErr an
	// invalid startup parameter (timezone.go).
	loc        *time.Location
	startupErr error
	// resetSettings and resetLoc are the settings at connection start:
	// what RESET and SET ... TO DEFAULT return to.
	resetSettings map[string]string
	resetLoc      *time.Location
	// sqlPrepared are the statements of SQL's PREPARE (prepare_sql.go).
	sqlPrepared map[string]*Prepared
	tzTx        *tzTxState
}

// txn is an open transaction block: its writes are buffered here and
// applied atomically at COMMIT.
type txn struct {
	explicit bool
	writes   map[dataflow.CollectionID][]dataflow.Update
	// keys is the change of each table's primary-key counts by writes.
	keys map[dataflow.CollectionID]map[string]int64
	// uniq is the same for unique constraints, by constraint name
	// (unique.go); nil until the first such write.
	uniq map[dataflow.CollectionID]map[string]map[string]int64
	// ddl is set once the block ran DDL: it then owns the engine's DDL
	// gate until it ends (txddl.go).
	ddl *txDDL
}

// NewSession starts a session.
func (e *Engine) NewSession(opts SessionOptions) *Session {
	s := &Session{e: e, opts: opts, settings: map[string]string{}}
	for k, v := range defaultSettings {
		s.settings[k] = v
	}
	s.settings["application_name"] = opts.ApplicationName
	if d := e.idleInTxTimeout; d > 0 {
		s.settings["idle_in_transaction_session_timeout"] = strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	for k, v := range opts.Params {
		s.settings[strings.ToLower(k)] = v
	}
	for _, kv := range startupOptions(opts.Params["options"]) {
		s.settings[kv[0]] = kv[1]
	}
	s.applyStartupTimeZone()
	// RESET returns a setting to its value at connection start (startup
	// parameters included), as in PostgreSQL.
	s.resetSettings = maps.Clone(s.settings)
	s.resetLoc = s.loc
	return s
}

var defaultSettings = map[string]string{
	"server_version":                "15.0",
	"server_version_num":            "150000",
	"server_encoding":               "UTF8",
	"client_encoding":               "UTF8",
	"datestyle":                     "ISO, MDY",
	"intervalstyle":                 "postgres",
	"timezone":                      "UTC",
	"integer_datetimes":             "on",
	"standard_conforming_strings":   "on",
	"is_superuser":                  "on",
	"extra_float_digits":            "1",
	"search_path":                   `"$user", public`,
	"transaction_isolation":         "strict serializable",
	"default_transaction_isolation": "strict serializable",
	"statement_timeout":             "0",
	// idle_in_transaction_session_timeout ends a connection that keeps a
	// transaction block open without sending anything for that long
	// (pgwire); EngineOptions.IdleInTransactionSessionTimeout sets it for
	// every session.
	"idle_in_transaction_session_timeout": "0",
	"max_identifier_length":               "63",
	"max_index_keys":                      "32",
	// psql's \password hashes on the client with this method (roles.go
	// stores the verifier as is).
	"password_encryption": "scram-sha-256",
}

var reportedSettings = []string{"server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone", "integer_datetimes", "standard_conforming_strings", "application_name", "is_superuser"}

func (s *Session) user() string {
	if s.opts.User == "" {
		return "tributary"
	}
	return s.opts.User
}

// ParameterStatuses are the run-time parameters reported at startup.
func (s *Session) ParameterStatuses() [][2]string {
	out := make([][2]string, 0, len(reportedSettings))
	for _, k := range reportedSettings {
		out = append(out, [2]string{k, s.settings[strings.ToLower(k)]})
	}
	return out
}

// TxStatus reports the transaction state.
func (s *Session) TxStatus() TxStatus {
	switch {
	case s.failed:
		return TxFailed
	case s.tx != nil && s.tx.explicit:
		return TxActive
	}
	return TxIdle
}

// Close ends the session, rolling back an open transaction and releasing
// its advisory locks.
func (s *Session) Close() {
	if s.ownsGate() {
		if err := s.rollbackDDL(s.tx); err != nil {
			s.e.logger.Error("rolling back a closed session's DDL", "err", err)
		}
	}
	s.tx, s.failed = nil, false
	s.e.locks.unlockAll(s, true)
	s.e.locks.unlockAll(s, false)
	s.lockUndo = nil
	s.closeAllCursors()
}

// ParseStatements splits a query string into statements and parses each
// with PostgreSQL's parser. A syntax error carries its position in query.
func (s *Session) ParseStatements(query string) ([]*Statement, error) {
	parsed, err := parser.Parse(query)
	if err != nil {
		s.e.counters.noteInvalid(err)
		return nil, err
	}
	out := make([]*Statement, 0, len(parsed))
	for _, p := range parsed {
		out = append(out, &Statement{sql: p.SQL, ast: p.AST, ext: p.Ext, offset: p.Offset, streaming: p.Streaming, asOf: p.AsOf, subscribe: p.Subscribe, fetch: p.Fetch})
	}
	return out, nil
}

// Prepare binds a statement to learn its parameter and result types.
func (s *Session) Prepare(ctx context.Context, st *Statement, paramTypes []types.Type) (p *Prepared, err error) {
	defer s.e.counters.notePrepareError(st, &err)
	defer s.recoverPanic(st, &err)
	p = &Prepared{Stmt: st, ParamTypes: append([]types.Type(nil), paramTypes...)}
	if st.ext != nil {
		p.Columns = extColumns(st.ext)
		return p, nil
	}
	if st.ast == nil && st.subscribe == nil {
		return p, nil
	}
	if !gateFree(st) {
		// Parse waits at the DDL gate as a statement does, within
		// statement_timeout (txddl.go).
		if d := s.statementTimeout(); d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		if err := s.enterGate(ctx); err != nil {
			return nil, err
		}
		defer s.leaveGate()
	}
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if st.ast == nil {
		p.Columns, err = s.subscribeColumns(p)
		return p, err
	}
	b := s.newBinder(p.ParamTypes, nil)
	cols, err := s.describe(b, st.ast)
	if err != nil {
		return nil, pgerror.WithPosition(err, 0)
	}
	if st.asOf != nil {
		// AS OF $1: the expression's parameters are the statement's too.
		if _, err := b.bindExpr(st.asOf, &scope{}); err != nil {
			return nil, err
		}
	}
	for i, t := range b.params {
		if t == types.Unknown {
			b.params[i] = types.Text
		}
	}
	p.ParamTypes = b.params
	p.Columns = cols
	return p, nil
}

func (s *Session) newBinder(params []types.Type, values []types.Datum) *binder {
	return &binder{s: s, cat: s.e.mu.cat, params: append([]types.Type(nil), params...), values: values,
		inlineMatViews: s.tx != nil && len(s.tx.writes) > 0}
}

// describe returns the result columns of a statement (nil for none).
func (s *Session) describe(b *binder, n *pg.Node) ([]Column, error) {
	switch {
	case n.GetSelectStmt() != nil:
		q, err := b.bindSelectStmt(n, nil)
		if err != nil {
			return nil, err
		}
		return queryColumns(q), nil
	case n.GetExplainStmt() != nil:
		return []Column{{Name: "QUERY PLAN", Type: types.Text}}, nil
	case n.GetFetchStmt() != nil && !n.GetFetchStmt().Ismove:
		c, err := s.cursor(n.GetFetchStmt().Portalname)
		if err != nil {
			return nil, err
		}
		return c.cols, nil
	case n.GetExecuteStmt() != nil:
		prep, err := s.preparedByName(n.GetExecuteStmt().Name)
		if err != nil {
			return nil, err
		}
		return prep.Columns, nil
	case n.GetVariableShowStmt() != nil:
		name := n.GetVariableShowStmt().Name
		if strings.EqualFold(name, "all") {
			return []Column{{Name: "name", Type: types.Text}, {Name: "setting", Type: types.Text}, {Name: "description", Type: types.Text}}, nil
		}
		return []Column{{Name: strings.ToLower(name), Type: types.Text}}, nil
	case n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil, n.GetDeleteStmt() != nil:
		w, err := s.bindWrite(b, n)
		if err != nil {
			return nil, err
		}
		return w.returningCols, nil
	}
	return nil, nil
}

func queryColumns(q *boundQuery) []Column {
	cols := make([]Column, q.visible)
	for i := range cols {
		cols[i] = Column{Name: q.cols[i].name, Type: q.cols[i].typ, TableOID: q.cols[i].origin.table, Attr: q.cols[i].origin.attr}
	}
	return cols
}

// Execute runs a prepared statement with its parameters.
func (s *Session) Execute(ctx context.Context, p *Prepared, params []types.Datum) (res *Result, err error) {
	defer s.e.counters.noteStatement(p.Stmt, &err)
	defer s.recoverPanic(p.Stmt, &err)
	defer s.e.waitDurable(&res, &err)
	if p.Stmt.ext != nil {
		if s.failed {
			return nil, pgerror.New(pgerror.InFailedSqlTransaction, "current transaction is aborted, commands ignored until end of transaction block")
		}
		if err := s.enterGate(ctx); err != nil {
			return nil, err
		}
		defer s.leaveGate()
		return s.execExt(p.Stmt.ext)
	}
	if p.Stmt.ast == nil && p.Stmt.subscribe == nil {
		return &Result{Empty: true}, nil
	}
	n := p.Stmt.ast
	if ts := n.GetTransactionStmt(); ts != nil {
		res, err = s.execTransaction(ts)
		if s.tx == nil {
			s.endTransactionCursors()
			s.e.locks.unlockAll(s, true)
		}
		return res, err
	}
	if s.failed {
		return nil, pgerror.New(pgerror.InFailedSqlTransaction, "current transaction is aborted, commands ignored until end of transaction block")
	}
	if d := s.statementTimeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	res, err = s.execWithLockWaits(ctx, func() (*Result, error) {
		// Each attempt enters the DDL gate on its own: a statement waiting
		// for an advisory lock is outside it (txddl.go).
		if !gateFree(p.Stmt) {
			if err := s.enterGate(ctx); err != nil {
				return nil, err
			}
			defer s.leaveGate()
		}
		return s.execute(ctx, p, params)
	})
	if s.tx == nil {
		s.e.locks.unlockAll(s, true) // an autocommit statement's transaction ends here
	}
	if err != nil {
		if s.tx != nil && s.tx.explicit {
			s.failed = true
		}
		return nil, err
	}
	return res, nil
}

func (s *Session) recoverPanic(st *Statement, err *error) {
	if r := recover(); r != nil {
		s.e.logger.Error("panic while executing statement", "panic", r, "sql", st.sql, "stack", string(debug.Stack()))
		*err = pgerror.New(pgerror.InternalError, "internal error: %v", r)
		if s.tx != nil && s.tx.explicit {
			s.failed = true
		}
	}
}

func (s *Session) execTransaction(ts *pg.TransactionStmt) (*Result, error) {
	switch ts.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		res := &Result{Tag: "BEGIN"}
		if s.tx != nil && s.tx.explicit {
			res.Notices = append(res.Notices, Notice{Severity: "WARNING", Code: "25001", Message: "there is already a transaction in progress"})
			return res, nil
		}
		s.tx = &txn{explicit: true, writes: map[dataflow.CollectionID][]dataflow.Update{}, keys: map[dataflow.CollectionID]map[string]int64{}}
		return res, nil
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		if s.failed {
			return s.rollback(&Result{Tag: "ROLLBACK"})
		}
		if s.tx == nil {
			return &Result{Tag: "COMMIT", Notices: []Notice{{Severity: "WARNING", Code: "25P01", Message: "there is no transaction in progress"}}}, nil
		}
		tx := s.tx
		s.tx = nil
		commit := func() error { return s.e.commit(tx.writes) }
		if tx.ddl != nil {
			commit = func() error { return s.commitDDL(tx) }
		}
		if err := commit(); err != nil {
			s.endTxTimeZone(false)
			return nil, err
		}
		return &Result{Tag: "COMMIT", ParameterStatus: s.endTxTimeZone(true)}, nil
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		res := &Result{Tag: "ROLLBACK"}
		if s.tx == nil {
			res.Notices = []Notice{{Severity: "WARNING", Code: "25P01", Message: "there is no transaction in progress"}}
		}
		return s.rollback(res)
	}
	if s.failed {
		return nil, pgerror.New(pgerror.InFailedSqlTransaction, "current transaction is aborted, commands ignored until end of transaction block")
	}
	return nil, pgerror.New(pgerror.FeatureNotSupported, "%s is not supported", strings.TrimPrefix(ts.Kind.String(), "TRANS_STMT_"))
}

// rollback ends the transaction block without applying it: buffered
// writes are dropped, DDL is undone (txddl.go).
func (s *Session) rollback(res *Result) (*Result, error) {
	tx := s.tx
	s.tx, s.failed = nil, false
	res.ParameterStatus = s.endTxTimeZone(false)
	if tx != nil && tx.ddl != nil {
		if err := s.rollbackDDL(tx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (s *Session) execute(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	n := p.Stmt.ast
	switch {
	case n == nil:
		return s.execSubscribe(ctx, p, params)
	case n.GetSelectStmt() != nil && p.Stmt.asOf != nil:
		return s.execSelectAsOf(ctx, p, params)
	case n.GetSelectStmt() != nil:
		return s.execSelect(ctx, p, params)
	case n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil, n.GetDeleteStmt() != nil:
		return s.execWrite(ctx, p, params)
	case n.GetExplainStmt() != nil:
		return s.execExplain(n.GetExplainStmt(), p, params)
	case n.GetVariableSetStmt() != nil:
		return s.execSet(n.GetVariableSetStmt())
	case n.GetVariableShowStmt() != nil:
		return s.execShow(n.GetVariableShowStmt())
	case n.GetCopyStmt() != nil:
		return s.execCopy(ctx, n.GetCopyStmt(), p, params)
	case n.GetTruncateStmt() != nil:
		return s.execTruncate(ctx, n.GetTruncateStmt())
	case n.GetDeclareCursorStmt() != nil:
		return s.declareCursor(ctx, n.GetDeclareCursorStmt(), p, params)
	case n.GetFetchStmt() != nil:
		return s.fetch(ctx, n.GetFetchStmt(), p.Stmt.fetch)
	case n.GetClosePortalStmt() != nil:
		return s.closeCursor(n.GetClosePortalStmt())
	case n.GetCheckPointStmt() != nil:
		return s.execCheckpoint(ctx)
	case n.GetDiscardStmt() != nil:
		return s.execDiscard(n.GetDiscardStmt())
	case n.GetDeallocateStmt() != nil:
		return s.execDeallocate(n.GetDeallocateStmt())
	case n.GetPrepareStmt() != nil:
		return s.execPrepare(ctx, n.GetPrepareStmt(), p.Stmt)
	case n.GetExecuteStmt() != nil:
		return s.execExecute(ctx, n.GetExecuteStmt(), params)
	}
	if s.tx != nil && s.tx.explicit {
		// DDL in a transaction block is transactional: the block owns the
		// DDL gate until it ends (txddl.go).
		if err := s.takeGate(ctx); err != nil {
			return nil, err
		}
	}
	return s.e.execDDL(s, p.Stmt)
}

// read runs a bound query at the current timestamp and returns its rows in
// the requested order.
func (s *Session) execSelect(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	if s.wantWriteLock {
		// The query calls a sequence function that must log (sequence.go).
		s.e.mu.Lock()
		s.holdsWriteLock = true
		defer func() { s.holdsWriteLock = false; s.e.mu.Unlock() }()
	} else {
		s.e.mu.RLock()
		defer s.e.mu.RUnlock()
	}
	b := s.newBinder(p.ParamTypes, params)
	q, err := b.bindSelectStmt(p.Stmt.ast, nil)
	if err != nil {
		return nil, err
	}
	rows, err := s.runQueryLocked(ctx, q)
	if err != nil {
		return nil, err
	}
	return &Result{Columns: queryColumns(q), Rows: rows, Tag: fmt.Sprintf("SELECT %d", len(rows))}, nil
}

// runQueryLocked plans and runs a bound query once over the current
// contents (plus the session's uncommitted writes).
// REQUIRES: e.mu held (read or write).
func (s *Session) runQueryLocked(ctx context.Context, q *boundQuery) ([]types.Row, error) {
	return s.runPlanLocked(ctx, q, s.e.mu.lastTime, true, s.readLocked)
}

// runPlanLocked is runQueryLocked reading at time at (mz_now()) through
// read; lookups through indexes are planned only when useIndexes is set.
// REQUIRES: e.mu held (read or write).
func (s *Session) runPlanLocked(ctx context.Context, q *boundQuery, at uint64, useIndexes bool, read func(*dataflow.Get) ([]dataflow.Update, error)) ([]types.Row, error) {
	opt := planner.Optimize(q.rel)
	if useIndexes {
		opt = planner.UseIndexes(opt, s.indexedColumnsLocked)
	}
	plan, err := planner.Lower(opt)
	if err != nil {
		return nil, err
	}
	ectx := s.evalCtx()
	ectx.Context = ctx
	ectx.Timestamp = systemMicros(at) // mz_now(): the read timestamp
	out, err := dataflow.RunOnce(ectx, plan, read)
	if err != nil {
		return nil, err
	}
	if err := ectx.Canceled(); err != nil {
		return nil, err
	}
	rows := make([]types.Row, 0, len(out))
	for _, u := range out {
		if u.Diff < 0 {
			return nil, pgerror.New(pgerror.InternalError, "query produced a negative multiplicity")
		}
		for i := int64(0); i < u.Diff; i++ {
			rows = append(rows, u.Row)
		}
	}
	sortRows(rows, q.order)
	if q.visible < len(q.cols) {
		for i, r := range rows {
			rows[i] = r[:q.visible]
		}
	}
	return rows, nil
}

func sortRows(rows []types.Row, order []dataflow.SortKey) {
	if len(order) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b types.Row) int {
		for _, k := range order {
			x, y := a[k.Col], b[k.Col]
			if x.IsNull() != y.IsNull() {
				if x.IsNull() == k.NullsFirst {
					return -1
				}
				return 1
			}
			c := types.Compare(x, y)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

func (s *Session) evalCtx() *expr.Ctx {
	return &expr.Ctx{Now: types.TimeToMicros(s.e.clock()), Location: s.location(), Catalog: s.catalogReader(), Locks: sessionLocker{s}, Sequences: sessionSequences{s}}
}

// readLocked returns what a one-shot dataflow's Get reads: the collection's
// current contents plus the session's uncommitted writes to it, or with a
// lookup only the rows with that key, from the index on those columns.
// REQUIRES: e.mu held.
func (s *Session) readLocked(g *dataflow.Get) ([]dataflow.Update, error) {
	o := s.e.mu.cat.byID(g.ID)
	if o == nil {
		return nil, pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", g.Name)
	}
	if o.Err != nil {
		return nil, o.Err
	}
	var pending []dataflow.Update
	if s.tx != nil {
		pending = s.tx.writes[g.ID]
	}
	if g.LookupCols == nil {
		contents := o.Data.Snapshot()
		if len(pending) > 0 {
			contents = dataflow.Consolidate(append(contents, pending...))
		}
		return contents, nil
	}
	x := o.indexFor(g.LookupCols)
	if x == nil {
		return nil, pgerror.New(pgerror.InternalError, "no index on %s%v", g.Name, g.LookupCols)
	}
	var out []dataflow.Update
	add := func(row types.Row, n int64) { out = append(out, dataflow.Update{Row: row, Diff: n}) }
	ordered := true
	for i, c := range x.cols {
		if d := g.Lookup[i]; !d.IsNull() && !orderedLike(d.Type(), o.Columns[c].Type) {
			ordered = false
		}
	}
	if x.arr == nil && !ordered {
		// The B-tree orders by the columns' types; a value of another
		// type is looked up by its key identity, in an arrangement.
		x.arrangement(o).Lookup(g.Lookup, add)
	} else {
		x.lookup(o, g.Lookup, add)
	}
	for _, u := range pending {
		match := true
		for i, c := range g.LookupCols {
			if !types.Equal(u.Row[c], g.Lookup[i]) {
				match = false
				break
			}
		}
		if match {
			out = append(out, u)
		}
	}
	return dataflow.Consolidate(out), nil
}

// indexedColumnsLocked lists the column sets a collection is indexed on.
// REQUIRES: e.mu held.
func (s *Session) indexedColumnsLocked(id dataflow.CollectionID) [][]int {
	o := s.e.mu.cat.byID(id)
	if o == nil {
		return nil
	}
	out := make([][]int, len(o.indexes))
	for i, x := range o.indexes {
		out[i] = x.cols
	}
	return out
}

// commit applies a transaction's writes at one new timestamp: append to the
// log, apply to the tables, step every materialized view.
func (e *Engine) commit(writes map[dataflow.CollectionID][]dataflow.Update) error {
	if len(writes) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.validateLocked(writes); err != nil {
		return err
	}
	return e.commitLocked(writes)
}

// validateLocked checks, at COMMIT, that a transaction's buffered writes
// still apply: every row version it retracts is still there (no concurrent
// transaction updated or deleted it first — first committer wins, the other
// gets 40001 and may retry), and no primary key ends up duplicated.
// REQUIRES: mu held for writing.
func (e *Engine) validateLocked(writes map[dataflow.CollectionID][]dataflow.Update) error {
	for id, ups := range writes {
		o := e.mu.cat.byID(id)
		if o == nil {
			return pgerror.New(pgerror.UndefinedTable, "a table this transaction wrote was dropped")
		}
		ups = dataflow.Consolidate(append([]dataflow.Update(nil), ups...))
		keys := map[string]int64{}
		rowOf := map[string]types.Row{}
		for _, u := range ups {
			if u.Diff < 0 && o.Data.Count(u.Row)+u.Diff < 0 {
				return &pgerror.Error{Code: pgerror.TRSerializationFailure, Message: "could not serialize access due to concurrent update",
					Hint: "The transaction might succeed if retried."}
			}
			if len(o.PrimaryKey) > 0 {
				k := o.pkKey(u.Row)
				keys[k] += u.Diff
				rowOf[k] = u.Row
			}
		}
		for k, d := range keys {
			if d > 0 && o.pkCount(rowOf[k], k)+d > 1 {
				return &pgerror.Error{Code: pgerror.UniqueViolation, Message: fmt.Sprintf("duplicate key value violates unique constraint %q", o.Name+"_pkey")}
			}
		}
		if err := validateUniqueLocked(o, ups); err != nil {
			return err
		}
	}
	return nil
}

// commitLocked is commit with e.mu held for writing.
func (e *Engine) commitLocked(writes map[dataflow.CollectionID][]dataflow.Update) error {
	changes := make(map[dataflow.CollectionID][]dataflow.Update, len(writes))
	for id, ups := range writes {
		ups = dataflow.Consolidate(append([]dataflow.Update(nil), ups...))
		if len(ups) > 0 {
			changes[id] = ups
		}
	}
	return e.commitConsolidatedLocked(changes)
}

// commitConsolidatedLocked is commitLocked for changes the caller knows to
// be consolidated: each row once, no zero diff, no empty batch (a COPY
// whose primary key check found every key distinct). It takes ownership
// of the batches. The order of a batch does not matter.
func (e *Engine) commitConsolidatedLocked(changes map[dataflow.CollectionID][]dataflow.Update) error {
	return e.commitWithPositionsLocked(changes, nil)
}

// commitWithPositionsLocked is commitConsolidatedLocked for a source's
// batch: positions go into the same log batch as the changes (written even
// when there are no changes).
func (e *Engine) commitWithPositionsLocked(changes map[dataflow.CollectionID][]dataflow.Update, positions []storage.Position) error {
	t := e.nextTimeLocked()
	batch := storage.Batch{Time: t, Positions: positions}
	n := 0
	for _, ups := range changes {
		n += len(ups)
	}
	batch.Entries = make([]storage.Entry, 0, n)
	for id, ups := range changes {
		for _, u := range ups {
			batch.Entries = append(batch.Entries, storage.Entry{Collection: uint64(id), Row: u.Row, Diff: u.Diff})
		}
	}
	if len(changes) == 0 && positions == nil {
		// The timeline moved all the same: release what is due.
		e.stepViewsLocked(changes)
		return nil
	}
	// Queue, do not wait: the caller acknowledges only after waitDurable,
	// once it has released mu, so that writers share syncs.
	if err := e.log.Enqueue(batch); err != nil {
		return err
	}
	e.applied.Store(t)
	e.ckpt.noteWrite(len(batch.Entries))
	e.counters.commits.Add(1)
	e.counters.rowsWritten.Add(uint64(len(batch.Entries)))
	for id, ups := range changes {
		if o := e.mu.cat.byID(id); o != nil {
			o.applyAt(t, ups)
		}
	}
	e.stepViewsLocked(changes)
	return nil
}

// waitDurable is the last thing a statement does, after releasing mu:
// it waits until every write applied so far — its own, and any it may have
// observed — is durable (see Engine). If the log failed, the statement
// fails with the log's error instead of returning what it saw, which a
// crash could take back; an error the statement already had is kept.
// MUST NOT be called with mu held.
func (e *Engine) waitDurable(res **Result, err *error) {
	if werr := e.log.WaitDurable(e.applied.Load()); werr != nil && *err == nil {
		*res, *err = nil, werr
	}
}

// stepViewsLocked advances every materialized view to the current
// timestamp (mu.lastTime) with the given changes; each view's output change
// joins the map so that views over views see it in the same step. Views
// with no input change are stepped only when a temporal filter has a
// change due.
//
// Views go level by level: a view's level is one more than the highest of
// the views it reads (0 when it reads only tables), so every view of a
// level has its inputs' changes of this step. When two or more views of a
// level have a large change to process, they step in parallel, each with
// its own expr.Ctx: a dataflow's state is its own, the changes and shared
// arrangements are only read, and the outputs are applied afterwards in
// creation order. (UPDATE events SET v = v + 1 under five views stepped
// them one after the other on one of the two cores.)
func (e *Engine) stepViewsLocked(changes map[dataflow.CollectionID][]dataflow.Update) {
	var levels [][]*Object
	level := map[dataflow.CollectionID]int{}
	for _, mv := range e.mu.cat.matViews() { // creation order: inputs first
		l := 0
		for _, id := range dataflow.Gets(mv.Flow.Plan()) {
			if li, ok := level[id]; ok {
				l = max(l, li+1)
			}
		}
		level[mv.ID] = l
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], mv)
	}
	for _, views := range levels {
		e.stepLevelLocked(views, changes)
	}
	e.stepSubscriptionsLocked(e.viewStepCtxLocked(), changes)
}

// parallelStepRows is the input change (in updates) from which a view's
// step counts as large enough to run beside others (stepLevelLocked); a
// single-row write steps its views in turn, without goroutines.
const parallelStepRows = 4096

// stepLevelLocked steps the views of one level (stepViewsLocked).
// REQUIRES: mu held for writing.
func (e *Engine) stepLevelLocked(views []*Object, changes map[dataflow.CollectionID][]dataflow.Update) {
	var todo []*Object
	large := 0
	for _, mv := range views {
		relevant, inputFailed, rows := false, false, 0
		for _, id := range dataflow.Gets(mv.Flow.Plan()) {
			if n := len(changes[id]); n > 0 {
				relevant = true
				rows += n
			}
			if in := e.mu.cat.byID(id); in != nil && in.Err != nil {
				// A view over a failed view fails with it.
				mv.Err, mv.errInherited, inputFailed = in.Err, true, true
			}
		}
		if mv.Err != nil {
			// Retry when the data changed, or when the input it failed with
			// has recovered (possibly with no net change).
			if !inputFailed && (relevant || mv.errInherited) {
				if e.rebuildLocked(e.viewStepCtxLocked(), mv, changes); mv.Err == nil {
					e.logger.Info("materialized view recovered", "view", mv.Name)
				}
			}
			continue
		}
		if !relevant && !e.viewDueLocked(mv) {
			continue
		}
		todo = append(todo, mv)
		if rows >= parallelStepRows {
			large++
		}
	}
	outs := make([][]dataflow.Update, len(todo))
	errs := make([]error, len(todo))
	steps := make([]func(), len(todo))
	for i, mv := range todo {
		ctx := e.viewStepCtxLocked()
		steps[i] = func() {
			t0 := time.Now()
			outs[i], errs[i] = mv.Flow.Step(ctx, changes)
			mv.steps++
			mv.stepNanos += int64(time.Since(t0))
		}
	}
	if large >= 2 {
		runParallel(steps)
	} else {
		for _, step := range steps {
			step()
		}
	}
	for i, mv := range todo {
		if errs[i] != nil {
			mv.Err, mv.errInherited = errs[i], false
			e.logger.Warn("materialized view failed", "view", mv.Name, "err", errs[i])
			continue
		}
		if out := outs[i]; len(out) > 0 {
			mv.apply(out)
			changes[mv.ID] = out
		}
	}
}

// rebuildLocked recomputes a failed materialized view from its inputs'
// current contents. A view whose definition cannot be evaluated over the
// current data (a row divides by zero) stays failed, and reads of it return
// the error, until the data changes so that it can: then it is rebuilt and
// its change since it last succeeded flows on to the views over it.
// REQUIRES: mu held for writing.
func (e *Engine) rebuildLocked(ctx *expr.Ctx, mv *Object, changes map[dataflow.CollectionID][]dataflow.Update) {
	snapshot := map[dataflow.CollectionID][]dataflow.Update{}
	for _, id := range dataflow.Gets(mv.Flow.Plan()) {
		in := e.mu.cat.byID(id)
		if in.Err != nil {
			mv.Err = in.Err
			return
		}
		snapshot[id] = in.Data.Snapshot()
	}
	shares := &viewArrangements{cat: e.mu.cat}
	flow, err := dataflow.Build(mv.Flow.Plan(), shares)
	if err != nil {
		releaseShares(shares.used)
		mv.Err = err
		return
	}
	out, err := flow.Step(ctx, snapshot)
	if err != nil {
		releaseShares(shares.used)
		mv.Err, mv.errInherited = err, false
		return
	}
	releaseShares(mv.shares)
	mv.shares = shares.used
	diff := append([]dataflow.Update(nil), out...)
	for _, u := range mv.Data.Snapshot() {
		diff = append(diff, dataflow.Update{Row: u.Row, Diff: -u.Diff})
	}
	diff = dataflow.Consolidate(diff)
	mv.apply(diff)
	mv.Flow, mv.Err = flow, nil
	if len(diff) > 0 {
		changes[mv.ID] = diff
	}
}

func (s *Session) execExplain(ex *pg.ExplainStmt, p *Prepared, params []types.Datum) (*Result, error) {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	b := s.newBinder(p.ParamTypes, params)
	target := ex.Query
	if ctas := target.GetCreateTableAsStmt(); ctas != nil {
		target = ctas.Query
	}
	q, err := b.bindSelectStmt(target, nil)
	if err != nil {
		return nil, err
	}
	opt := planner.Optimize(q.rel)
	if ex.Query.GetCreateTableAsStmt() == nil {
		// An ad-hoc query runs once and may read through indexes.
		opt = planner.UseIndexes(opt, s.indexedColumnsLocked)
	}
	plan, err := planner.Lower(opt)
	if err != nil {
		return nil, err
	}
	if ex.Query.GetCreateTableAsStmt() != nil {
		// As the view would run it: temporal filters as such.
		if plan, err = maintainablePlan(plan); err != nil {
			return nil, err
		}
		if p.Stmt.streaming != nil && p.Stmt.streaming.EmitOnWindowClose {
			if plan, err = windowClosePlan(plan, s.e.mu.cat); err != nil {
				return nil, err
			}
		}
	}
	text := "Optimized plan:\n" + planner.ExplainRel(opt) + "\nDataflow:\n" + dataflow.Explain(plan)
	var rows []types.Row
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		rows = append(rows, types.Row{types.NewText(line)})
	}
	return &Result{Columns: []Column{{Name: "QUERY PLAN", Type: types.Text}}, Rows: rows, Tag: "EXPLAIN"}, nil
}

func (s *Session) execSet(vs *pg.VariableSetStmt) (*Result, error) {
	name := strings.ToLower(vs.Name)
	if name == "timezone" {
		return s.execSetTimeZone(vs)
	}
	switch vs.Kind {
	case pg.VariableSetKind_VAR_RESET:
		return s.resetSetting(name, "RESET"), nil
	case pg.VariableSetKind_VAR_RESET_ALL:
		return s.resetAllSettings()
	case pg.VariableSetKind_VAR_SET_MULTI:
		return &Result{Tag: "SET"}, nil
	case pg.VariableSetKind_VAR_SET_DEFAULT:
		return s.resetSetting(name, "SET"), nil
	}
	var parts []string
	for _, a := range vs.Args {
		switch {
		case a.GetAConst() != nil:
			c := a.GetAConst()
			switch {
			case c.GetSval() != nil:
				parts = append(parts, c.GetSval().Sval)
			case c.GetIval() != nil:
				parts = append(parts, fmt.Sprint(c.GetIval().Ival))
			case c.GetFval() != nil:
				parts = append(parts, c.GetFval().Fval)
			case c.GetBoolval() != nil:
				parts = append(parts, fmt.Sprint(c.GetBoolval().Boolval))
			}
		case a.GetTypeCast() != nil:
			if c := a.GetTypeCast().Arg.GetAConst(); c != nil && c.GetSval() != nil {
				parts = append(parts, c.GetSval().Sval)
			}
		}
	}
	value := strings.Join(parts, ", ")
	if name == "search_path" {
		// Each argument is one schema name (quoted where needed, so that
		// parseSearchPath reads it back).
		value = formatSearchPath(parts)
	}
	if name == "timezone" && strings.EqualFold(value, "utc") {
		value = "UTC"
	}
	s.settings[name] = value
	res := &Result{Tag: "SET"}
	for _, r := range reportedSettings {
		if strings.ToLower(r) == name {
			res.ParameterStatus = append(res.ParameterStatus, [2]string{r, value})
		}
	}
	return res, nil
}

// resetSetting returns one setting to its value at connection start.
func (s *Session) resetSetting(name, tag string) *Result {
	v, ok := s.resetSettings[name]
	if !ok {
		v, ok = defaultSettings[name]
	}
	if ok {
		s.settings[name] = v
	} else {
		delete(s.settings, name)
	}
	res := &Result{Tag: tag}
	for _, r := range reportedSettings {
		if strings.ToLower(r) == name {
			res.ParameterStatus = append(res.ParameterStatus, [2]string{r, s.settings[name]})
		}
	}
	return res
}

// resetAllSettings is RESET ALL: every setting back to its value at
// connection start, telling the client of each reported one that changed.
// The read-only settings (server_version and the like) never change.
func (s *Session) resetAllSettings() (*Result, error) {
	before := maps.Clone(s.settings)
	tz, err := s.execSetTimeZone(&pg.VariableSetStmt{Kind: pg.VariableSetKind_VAR_RESET})
	if err != nil {
		return nil, err
	}
	for k := range s.settings {
		if _, ok := s.resetSettings[k]; !ok && k != "timezone" {
			delete(s.settings, k)
		}
	}
	for k, v := range s.resetSettings {
		if k != "timezone" {
			s.settings[k] = v
		}
	}
	res := &Result{Tag: "RESET"}
	for _, r := range reportedSettings {
		k := strings.ToLower(r)
		if k == "timezone" {
			if before[k] != s.settings[k] {
				res.ParameterStatus = append(res.ParameterStatus, tz.ParameterStatus...)
			}
			continue
		}
		if before[k] != s.settings[k] {
			res.ParameterStatus = append(res.ParameterStatus, [2]string{r, s.settings[k]})
		}
	}
	return res, nil
}

func (s *Session) execShow(vs *pg.VariableShowStmt) (*Result, error) {
	name := strings.ToLower(vs.Name)
	if name == "all" {
		keys := make([]string, 0, len(s.settings))
		for k := range s.settings {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		res := &Result{Columns: []Column{{Name: "name", Type: types.Text}, {Name: "setting", Type: types.Text}, {Name: "description", Type: types.Text}}, Tag: "SHOW"}
		for _, k := range keys {
			res.Rows = append(res.Rows, types.Row{types.NewText(k), types.NewText(s.settings[k]), types.NewText("")})
		}
		return res, nil
	}
	if name == "transaction isolation level" {
		name = "transaction_isolation"
	}
	v, ok := s.settings[name]
	if !ok {
		return nil, pgerror.New(pgerror.UndefinedObject, "unrecognized configuration parameter %q", vs.Name)
	}
	return &Result{Columns: []Column{{Name: name, Type: types.Text}}, Rows: []types.Row{{types.NewText(v)}}, Tag: "SHOW"}, nil
}

// statementTimeout is the session's statement_timeout.
func (s *Session) statementTimeout() time.Duration { return s.durationSetting("statement_timeout") }

// IdleInTransactionTimeout is the session's
// idle_in_transaction_session_timeout (0: none).
func (s *Session) IdleInTransactionTimeout() time.Duration {
	return s.durationSetting("idle_in_transaction_session_timeout")
}

// durationSetting reads a timeout setting: an integer is milliseconds, as
// in PostgreSQL; units ms, s, min, h are accepted; 0 or an unparsable value
// means none.
func (s *Session) durationSetting(name string) time.Duration {
	v := strings.ToLower(strings.TrimSpace(s.settings[name]))
	if v == "" || v == "0" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond
	}
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"ms", time.Millisecond}, {"min", time.Minute}, {"s", time.Second}, {"h", time.Hour}} {
		if n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), 64); err == nil && strings.HasSuffix(v, u.suffix) {
			return time.Duration(n * float64(u.unit))
		}
	}
	return 0
}
