package sql

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/apd/v3"
	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/parser"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// SUBSCRIBE: a view's (or a query's) changes streamed to a client, in
// Materialize's format, so that its clients work unchanged.
//
// Output rows are (mz_timestamp numeric, [mz_progressed bool,] mz_diff
// int8, the columns...). First the snapshot: the contents at the start time
// as rows with mz_diff = multiplicity; then, for every later timestamp at
// which the output changed, that timestamp's consolidated changes, all of a
// timestamp together and timestamps in order. WITH (PROGRESS) adds a row
// (mz_progressed = true, mz_diff and the columns NULL) whenever a timestamp
// is complete: its mz_timestamp is the frontier, and no later row has a
// smaller mz_timestamp. The coordinator steps subscriptions after the
// materialized views, at every write, DDL and tick (Engine.Tick), so
// progress rows appear with no writes too.
//
//   - A subscription to a table or materialized view reads the change the
//     step already computed (no work of its own); to a plain view or a query
//     it runs a private dataflow, built and stepped as a materialized view's.
//   - AS OF t starts at a past time (AS OF AT LEAST t: or at the oldest
//     readable time, when t's history is gone): the dataflow (views inlined down to the
//     tables, as an AS OF read binds them) is hydrated from the tables'
//     contents at t and stepped through every logged write after t, each at
//     its own timestamp, before it goes live. UP TO t ends the subscription
//     before the first timestamp ≥ t (exclusive, as in Materialize).
//   - Rows wait in a per-subscription buffer until the client takes them; a
//     subscription that falls more than SubscribeBufferRows behind (on top
//     of its snapshot, which is in memory anyway) is ended with 53200
//     instead of holding back writers or growing without bound.
//   - A row is handed to the client only once the write it comes from is
//     durable (the same rule as every statement: waitDurable).

// DefaultSubscribeBufferRows bounds the rows a subscription may have
// buffered, not yet taken by its client.
const DefaultSubscribeBufferRows = 1 << 20

// subscriptions are the engine's live subscriptions. mu guards list;
// stepping happens under Engine.mu held for writing, registration under
// Engine.mu held for reading (so never during a step).
type subscriptions struct {
	mu   sync.Mutex
	list []*Subscription
	// bound is the buffer bound (SubscribeBufferRows).
	bound int
}

// Subscription is one running SUBSCRIBE. Its rows are taken with Next; Close
// ends it. Safe for one consumer goroutine.
type Subscription struct {
	e        *Engine
	cols     []Column
	progress bool
	upTo     uint64
	hasUpTo  bool
	// target is the table or materialized view whose step change is the
	// output; nil when flow computes it.
	target *Object
	flow   *dataflow.Dataflow
	inputs []dataflow.CollectionID
	// last is the latest timestamp emitted (data or progress).
	last  uint64
	bound int
	// paramTypes are the query's parameter types as bound (Prepare).
	paramTypes []types.Type
	// order is WITHIN TIMESTAMP ORDER BY over the output columns (nil:
	// by row).
	order []dataflow.SortKey
	// envelope is "upsert" or "debezium" (ENVELOPE), "" for diffs;
	// keyCols and valCols index the relation's columns.
	envelope         string
	keyCols, valCols []int
	// pid is the subscribing session's backend pid; what its relation
	// name (empty for a query), start its start time
	// (tb_catalog.subscriptions).
	pid   int32
	what  string
	start uint64

	mu       sync.Mutex
	batches  []subBatch // REQUIRES: mu
	head     int        // rows of batches[0] already taken
	buffered int        // rows in batches not yet taken
	err      error      // terminal: returned once the buffer is drained
	ended    bool       // UP TO reached: io.EOF once drained
	closed   bool       // the consumer closed it
	wake     chan struct{}
}

// subBatch is the rows of one timestamp; durable is the latest write
// applied when they were computed, which must be durable before they are
// handed out.
type subBatch struct {
	rows    []types.Row
	durable uint64
}

// Columns returns the subscription's output columns.
func (sub *Subscription) Columns() []Column { return sub.cols }

// Next waits until rows are available and returns up to max of them in
// order (max ≤ 0: every available row). It returns io.EOF once the
// subscription has ended (UP TO reached) and its rows are taken, the error
// that ended it (53200 when it fell behind), or 57014 when ctx is done. With
// timeout ≥ 0 it returns what it has (possibly nothing) after timeout.
func (sub *Subscription) Next(ctx context.Context, max int, timeout time.Duration) ([]types.Row, error) {
	var timer <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	for {
		sub.mu.Lock()
		if sub.buffered > 0 {
			rows, durable := sub.takeLocked(max)
			sub.mu.Unlock()
			if err := sub.e.log.WaitDurable(durable); err != nil {
				return nil, err
			}
			return rows, nil
		}
		err, ended := sub.err, sub.ended
		sub.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if ended {
			return nil, io.EOF
		}
		select {
		case <-sub.wake:
		case <-ctx.Done():
			return nil, pgerror.New(pgerror.QueryCanceled, "canceling statement due to user request")
		case <-timer:
			return nil, nil
		}
	}
}

// takeLocked takes up to max buffered rows. REQUIRES: mu held.
func (sub *Subscription) takeLocked(max int) ([]types.Row, uint64) {
	if max <= 0 || max > sub.buffered {
		max = sub.buffered
	}
	out := make([]types.Row, 0, max)
	var durable uint64
	for len(out) < max {
		b := &sub.batches[0]
		n := min(max-len(out), len(b.rows)-sub.head)
		out = append(out, b.rows[sub.head:sub.head+n]...)
		durable = b.durable
		sub.head += n
		if sub.head == len(b.rows) {
			sub.batches[0] = subBatch{}
			sub.batches = sub.batches[1:]
			sub.head = 0
		}
	}
	sub.buffered -= len(out)
	return out, durable
}

// Close ends the subscription; the coordinator drops it at its next step.
func (sub *Subscription) Close() {
	sub.mu.Lock()
	sub.closed = true
	sub.batches, sub.buffered = nil, 0
	sub.mu.Unlock()
}

// push queues one timestamp's rows; false if the subscription is over.
// REQUIRES: the engine's mu held for writing (or the subscription not yet
// registered).
func (sub *Subscription) push(rows []types.Row, durable uint64) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed || sub.err != nil {
		return false
	}
	if len(rows) == 0 {
		return true
	}
	if sub.buffered+len(rows) > sub.bound {
		sub.err = &pgerror.Error{Code: pgerror.OutOfMemory,
			Message: fmt.Sprintf("SUBSCRIBE ended: its client fell more than %d rows behind", sub.bound),
			Hint:    "Read the subscription's rows faster, or subscribe to a view with fewer changes."}
		sub.batches, sub.buffered = nil, 0
		sub.signal()
		return false
	}
	sub.batches = append(sub.batches, subBatch{rows: rows, durable: durable})
	sub.buffered += len(rows)
	sub.signal()
	return true
}

// fail ends the subscription with err.
func (sub *Subscription) fail(err error) {
	sub.mu.Lock()
	if sub.err == nil {
		sub.err = err
	}
	sub.signal()
	sub.mu.Unlock()
}

func (sub *Subscription) signal() {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// emit queues the rows of timestamp t: the changes (consolidated), then a
// progress row at t+1 (with PROGRESS). It returns false once the
// subscription is over (UP TO passed, closed, or failed).
func (sub *Subscription) emit(t uint64, changes []dataflow.Update, durable uint64) bool {
	if sub.hasUpTo && t >= sub.upTo {
		sub.mu.Lock()
		sub.ended = true
		sub.signal()
		sub.mu.Unlock()
		return false
	}
	n := len(changes)
	if sub.progress {
		n++
	}
	rows := make([]types.Row, 0, n)
	if len(changes) > 0 && sub.envelope != "" {
		rows = sub.envelopeRows(rows, types.NewNumeric(apd.New(int64(t), 0)), changes)
	} else if len(changes) > 0 {
		ts := types.NewNumeric(apd.New(int64(t), 0))
		// One allocation for the values of every row of the timestamp.
		backing := make([]types.Datum, len(changes)*len(sub.cols))
		for i, u := range changes {
			row := backing[i*len(sub.cols) : i*len(sub.cols) : (i+1)*len(sub.cols)]
			row = append(row, ts)
			if sub.progress {
				row = append(row, types.NewBool(false))
			}
			row = append(row, types.NewInt8(u.Diff))
			row = append(row, u.Row[:len(sub.cols)-len(row)]...)
			rows = append(rows, row)
		}
	}
	if sub.order != nil {
		sortRows(rows, sub.order)
	}
	if sub.progress {
		row := make(types.Row, len(sub.cols))
		row[0], row[1] = types.NewNumeric(apd.New(int64(t+1), 0)), types.NewBool(true)
		for i := 2; i < len(row); i++ {
			row[i] = types.Null(sub.cols[i].Type)
		}
		rows = append(rows, row)
	}
	sub.last = t
	return sub.push(rows, durable)
}

// stepSubscriptionsLocked advances every subscription to the current
// timestamp with the step's changes (the tables' and the materialized
// views'), dropping those that ended. Nothing to do when none run.
// REQUIRES: mu held for writing.
func (e *Engine) stepSubscriptionsLocked(ctx *expr.Ctx, changes map[dataflow.CollectionID][]dataflow.Update) {
	e.subs.mu.Lock()
	defer e.subs.mu.Unlock()
	if len(e.subs.list) == 0 {
		return
	}
	t, durable := e.mu.lastTime, e.applied.Load()
	keep := e.subs.list[:0]
	for _, sub := range e.subs.list {
		if sub.stepLocked(e, ctx, t, changes, durable) {
			keep = append(keep, sub)
		}
	}
	clear(e.subs.list[len(keep):])
	e.subs.list = keep
}

// stepLocked advances one subscription; false when it is over.
func (sub *Subscription) stepLocked(e *Engine, ctx *expr.Ctx, t uint64, changes map[dataflow.CollectionID][]dataflow.Update, durable uint64) bool {
	sub.mu.Lock()
	over := sub.closed || sub.err != nil
	sub.mu.Unlock()
	if over {
		return false
	}
	if t <= sub.last {
		// The timeline did not move past what was emitted: nothing is due.
		return true
	}
	var out []dataflow.Update
	if sub.target != nil {
		if e.mu.cat.byID(sub.target.ID) != sub.target {
			sub.fail(pgerror.New(pgerror.UndefinedTable, "SUBSCRIBE ended: %s %q was dropped", sub.target.Kind, sub.target.Name))
			return false
		}
		if sub.target.Err != nil {
			sub.fail(sub.target.Err)
			return false
		}
		out = changes[sub.target.ID]
	} else {
		relevant := false
		for _, id := range sub.inputs {
			in := e.mu.cat.byID(id)
			if in == nil {
				sub.fail(pgerror.New(pgerror.UndefinedTable, "SUBSCRIBE ended: a relation it reads was dropped"))
				return false
			}
			if in.Err != nil {
				sub.fail(in.Err)
				return false
			}
			if len(changes[id]) > 0 {
				relevant = true
			}
		}
		if at, ok := sub.flow.NextDue(); ok && at <= systemMicros(t) {
			relevant = true
		}
		if relevant {
			var err error
			if out, err = sub.flow.Step(ctx, changes); err != nil {
				sub.fail(err)
				return false
			}
		}
	}
	if len(out) == 0 && !sub.progress {
		if sub.hasUpTo && t >= sub.upTo {
			return sub.emit(t, nil, durable)
		}
		return true
	}
	return sub.emit(t, sortedChanges(out), durable)
}

// sortedChanges orders a consolidated change by row, then diff, so that a
// timestamp's rows come in a deterministic order.
func sortedChanges(ups []dataflow.Update) []dataflow.Update {
	return slices.SortedFunc(slices.Values(ups), func(a, b dataflow.Update) int {
		for i := range min(len(a.Row), len(b.Row)) {
			if c := types.Compare(a.Row[i], b.Row[i]); c != 0 {
				return c
			}
		}
		return int(a.Diff - b.Diff)
	})
}

// startSubscribe binds a SUBSCRIBE, computes its snapshot (and, AS OF, its
// changes up to now) and registers it with the coordinator.
func (s *Session) startSubscribe(ctx context.Context, p *Prepared, params []types.Datum) (*Subscription, error) {
	ps := p.Stmt.subscribe
	if s.tx != nil && len(s.tx.writes) > 0 {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "SUBSCRIBE is not supported in a transaction that has written")
	}
	e := s.e
	if ps.AsOf != nil {
		return s.startSubscribeAsOf(ctx, p, params)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	sub, q, _, err := s.bindSubscribeLocked(p, params, false)
	if err != nil {
		return nil, err
	}
	t := e.mu.lastTime
	var snapshot []dataflow.Update
	if sub.target != nil {
		if sub.target.Err != nil {
			return nil, sub.target.Err
		}
		snapshot = sub.target.Data.Snapshot()
	} else {
		if err := sub.buildFlowLocked(q); err != nil {
			return nil, err
		}
		in := map[dataflow.CollectionID][]dataflow.Update{}
		for _, id := range sub.inputs {
			o := e.mu.cat.byID(id)
			if o.Err != nil {
				return nil, o.Err
			}
			in[id] = o.Data.Snapshot()
		}
		if snapshot, err = sub.flow.Step(e.viewStepCtxLocked(), in); err != nil {
			return nil, err
		}
	}
	if !ps.Snapshot {
		snapshot = nil
	}
	// The snapshot is in memory already: the buffer's bound is on top of it.
	sub.bound += len(snapshot)
	sub.start = t
	if sub.emit(t, sortedChanges(snapshot), e.applied.Load()) {
		e.subs.mu.Lock()
		e.subs.list = append(e.subs.list, sub)
		e.subs.mu.Unlock()
	}
	return sub, nil
}

// bindSubscribeLocked resolves what a SUBSCRIBE reads and its columns. A
// table or materialized view is followed directly unless inline (AS OF);
// the returned query is set otherwise. REQUIRES: e.mu held.
func (s *Session) bindSubscribeLocked(p *Prepared, params []types.Datum, inline bool) (*Subscription, *boundQuery, map[string]bool, error) {
	ps := p.Stmt.subscribe
	sub := &Subscription{e: s.e, progress: ps.Progress, wake: make(chan struct{}, 1), bound: s.e.subs.bound, pid: s.opts.BackendPID}
	if sub.bound <= 0 {
		sub.bound = DefaultSubscribeBufferRows
	}
	if ps.UpTo != nil {
		t, err := s.asOfTime(ps.UpTo, p.ParamTypes, params)
		if err != nil {
			return nil, nil, nil, err
		}
		sub.upTo, sub.hasUpTo = t, true
	}
	var cols []Column
	query := ps.Query
	var q *boundQuery
	var deps map[string]bool
	if rv := ps.Relation; rv != nil {
		o, ok := s.resolve(rv.Schemaname, rv.Relname)
		if !ok || o.Kind == KindIndex {
			return nil, nil, nil, errAt(pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", relationName(rv.Schemaname, rv.Relname)), rv.Location)
		}
		sub.what = o.Schema + "." + o.Name
		if !inline && (o.Kind == KindTable || o.Kind == KindMatView) {
			sub.target = o
			for _, c := range o.Columns {
				cols = append(cols, Column{Name: c.Name, Type: c.Type})
			}
		} else {
			tree, err := pg.Parse("SELECT * FROM " + quoteIdent(o.Schema) + "." + quoteIdent(o.Name))
			if err != nil {
				return nil, nil, nil, pgerror.New(pgerror.InternalError, "SUBSCRIBE: %v", err)
			}
			query = tree.Stmts[0].Stmt
		}
	}
	if sub.target == nil {
		b := s.newBinder(p.ParamTypes, params)
		b.inlineMatViews = inline
		b.deps = map[string]bool{}
		var err error
		if q, err = b.bindSelectStmt(query, nil); err != nil {
			return nil, nil, nil, err
		}
		sub.paramTypes = b.params
		deps = b.deps
		cols = queryColumns(q)
		for i := range cols {
			cols[i].TableOID, cols[i].Attr = 0, 0
		}
	}
	sub.cols = append(subscribeMetaColumns(ps.Progress), cols...)
	if ps.Envelope != "" {
		if err := sub.envelopeColumns(ps, cols); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, n := range ps.OrderBy {
		key, err := subscribeSortKey(n.GetSortBy(), sub.cols)
		if err != nil {
			return nil, nil, nil, err
		}
		sub.order = append(sub.order, key)
	}
	return sub, q, deps, nil
}

func subscribeMetaColumns(progress bool) []Column {
	cols := []Column{{Name: "mz_timestamp", Type: types.Numeric}}
	if progress {
		cols = append(cols, Column{Name: "mz_progressed", Type: types.Bool})
	}
	return append(cols, Column{Name: "mz_diff", Type: types.Int8})
}

// buildFlowLocked plans a subscription's private dataflow as a
// materialized view's. REQUIRES: e.mu held.
func (sub *Subscription) buildFlowLocked(q *boundQuery) error {
	plan, err := planner.Lower(planner.Optimize(trimCols(q)))
	if err != nil {
		return err
	}
	if plan, err = maintainablePlan(plan); err != nil {
		return err
	}
	// Private arrangements: a subscription touches no catalog index.
	if sub.flow, err = dataflow.Build(plan, nil); err != nil {
		return err
	}
	sub.inputs = dataflow.Gets(plan)
	return nil
}

// startSubscribeAsOf starts a subscription at a past time t: its dataflow
// is hydrated from the tables at t, then stepped through every logged
// write after t, each at its time; it goes live under the same write lock,
// so no write falls between.
func (s *Session) startSubscribeAsOf(ctx context.Context, p *Prepared, params []types.Datum) (*Subscription, error) {
	ps := p.Stmt.subscribe
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := s.asOfTime(ps.AsOf, p.ParamTypes, params)
	if err != nil {
		return nil, err
	}
	last := e.mu.lastTime
	if now := uint64(e.clock().UnixMilli()); t > max(now, last) {
		return nil, &pgerror.Error{Code: pgerror.InvalidParameterValue,
			Message: fmt.Sprintf("AS OF %s is in the future: the latest readable time is %s", msText(t), msText(max(now, last))),
			Hint:    "Tributary does not wait for a future time; SUBSCRIBE AS OF a time that has passed, or without AS OF."}
	}
	e.mu.lastTime = max(last, t) // close t
	last = e.mu.lastTime
	sub, q, deps, err := s.bindSubscribeLocked(p, params, true)
	if err != nil {
		return nil, err
	}
	if err := sub.buildFlowLocked(q); err != nil {
		return nil, err
	}
	release, err := e.hist.lease(t, func(since func(dataflow.CollectionID) uint64) error {
		if ps.AtLeast {
			t = max(t, e.oldestReadableLocked(deps, since))
		}
		return e.checkReadableLocked(deps, t, since)
	})
	if err != nil {
		return nil, err
	}
	defer release()
	// The log is read as it is on disk: nothing is written meanwhile (mu
	// is held), so wait for what is applied.
	if err := e.log.WaitDurable(e.applied.Load()); err != nil {
		return nil, err
	}
	snapshot := map[dataflow.CollectionID][]dataflow.Update{}
	later := map[uint64]map[dataflow.CollectionID][]dataflow.Update{}
	for _, id := range sub.inputs {
		o := e.mu.cat.byID(id)
		if o == nil || o.Kind != KindTable {
			return nil, pgerror.New(pgerror.InternalError, "SUBSCRIBE AS OF reads %d, which is not a table", id)
		}
		snapshot[id] = nil
		err := e.log.ReadUpdates(ctx, uint64(id), last, func(at uint64, en storage.Entry) error {
			u := dataflow.Update{Row: en.Row, Diff: en.Diff}
			if at <= t {
				snapshot[id] = append(snapshot[id], u)
				return nil
			}
			if later[at] == nil {
				later[at] = map[dataflow.CollectionID][]dataflow.Update{}
			}
			later[at][id] = append(later[at][id], u)
			return nil
		})
		if err != nil {
			return nil, e.nameCorruptionLocked(err)
		}
		snapshot[id] = dataflow.Consolidate(snapshot[id])
	}
	stepCtx := func(at uint64) *expr.Ctx {
		us := systemMicros(at)
		return &expr.Ctx{Now: us, Timestamp: us, Location: time.UTC, Context: ctx}
	}
	out, err := sub.flow.Step(stepCtx(t), snapshot)
	if err != nil {
		return nil, err
	}
	if !ps.Snapshot {
		out = nil
	}
	durable := e.applied.Load()
	// What the start computes is in memory already: the buffer's bound is
	// on top of it.
	sub.bound += len(out)
	sub.start = t
	live := sub.emit(t, sortedChanges(out), durable)
	times := slices.Sorted(func(yield func(uint64) bool) {
		for at := range later {
			if !yield(at) {
				return
			}
		}
	})
	for _, at := range times {
		if !live {
			break
		}
		ch := later[at]
		for id, ups := range ch {
			ch[id] = dataflow.Consolidate(ups)
		}
		if out, err = sub.flow.Step(stepCtx(at), ch); err != nil {
			return nil, err
		}
		if len(out) > 0 || sub.progress || (sub.hasUpTo && at >= sub.upTo) {
			sub.bound += len(out)
			live = sub.emit(at, sortedChanges(out), durable)
		}
	}
	if live && last > sub.last && (sub.progress || (sub.hasUpTo && last >= sub.upTo)) {
		live = sub.emit(last, nil, durable)
	}
	if live {
		e.subs.mu.Lock()
		e.subs.list = append(e.subs.list, sub)
		e.subs.mu.Unlock()
	}
	return sub, nil
}

// execSubscribe runs a bare SUBSCRIBE: the protocol layer streams the
// Result's rows (Result.Stream) until it ends or the client cancels.
func (s *Session) execSubscribe(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	sub, err := s.startSubscribe(ctx, p, params)
	if err != nil {
		return nil, err
	}
	return &Result{Columns: sub.cols, Stream: sub, Tag: "SUBSCRIBE"}, nil
}

// subscribeColumns describes a SUBSCRIBE's output (Prepare).
// REQUIRES: e.mu held.
func (s *Session) subscribeColumns(p *Prepared) ([]Column, error) {
	sub, _, _, err := s.bindSubscribeLocked(p, nil, p.Stmt.subscribe.AsOf != nil)
	if err != nil {
		return nil, err
	}
	p.ParamTypes = sub.paramTypes
	for i, t := range p.ParamTypes {
		if t == types.Unknown {
			p.ParamTypes[i] = types.Text
		}
	}
	return sub.cols, nil
}

// fetchTimeout parses FETCH's WITH (TIMEOUT = ...): an interval ('1s',
// '500ms') or a number of seconds; -1 when none is given.
func fetchTimeout(f *parser.FetchOptions) (time.Duration, error) {
	if f == nil {
		return -1, nil
	}
	iv, err := types.ParseInterval(f.Timeout)
	if err != nil {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "invalid FETCH timeout %q: an interval such as '1s' is expected", f.Timeout)
	}
	us := iv.Micros + int64(iv.Days)*86_400_000_000 + int64(iv.Months)*30*86_400_000_000
	if us < 0 {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "FETCH timeout must not be negative")
	}
	return time.Duration(us) * time.Microsecond, nil
}

func init() {
	// tb_catalog.subscriptions: the running SUBSCRIBEs, how far each has
	// got and how many of its rows wait for its client (Materialize has
	// mz_internal.mz_subscriptions).
	defineSys("tb_catalog", "subscriptions", "pid:int4 relation:text started_at:tstz emitted_at:tstz buffered_rows:int8 buffer_limit:int8", func(c *catalogView) [][]any {
		if c.subs == nil {
			return nil
		}
		c.subs.mu.Lock()
		list := slices.Clone(c.subs.list)
		c.subs.mu.Unlock()
		var out [][]any
		for _, sub := range list {
			sub.mu.Lock()
			buffered, over := sub.buffered, sub.closed || sub.err != nil || sub.ended
			sub.mu.Unlock()
			if over {
				continue
			}
			var what any
			if sub.what != "" {
				what = sub.what
			}
			out = append(out, []any{sub.pid, what, types.NewTimestamp(types.TimestampTZ, systemMicros(sub.start)),
				types.NewTimestamp(types.TimestampTZ, systemMicros(sub.last)), int64(buffered), int64(sub.bound)})
		}
		return out
	})
}

// oldestReadableLocked is the oldest time at which every object named (a
// query's transitive dependencies) can be read AS OF (AS OF AT LEAST).
// REQUIRES: e.mu held; since is the history's, under its lock.
func (e *Engine) oldestReadableLocked(names map[string]bool, since func(dataflow.CollectionID) uint64) uint64 {
	var t uint64
	for key := range names {
		if o, ok := e.mu.cat.byName[key]; ok {
			t = max(t, o.Created)
			if o.Kind == KindTable {
				t = max(t, since(o.ID))
			}
		}
	}
	return t
}

// subscribeSortKey resolves one WITHIN TIMESTAMP ORDER BY item: a column of
// the output by name (mz_diff included), as ORDER BY orders it.
func subscribeSortKey(sb *pg.SortBy, cols []Column) (dataflow.SortKey, error) {
	key := dataflow.SortKey{Col: -1, Desc: sb.SortbyDir == pg.SortByDir_SORTBY_DESC}
	key.NullsFirst = key.Desc
	switch sb.SortbyNulls {
	case pg.SortByNulls_SORTBY_NULLS_FIRST:
		key.NullsFirst = true
	case pg.SortByNulls_SORTBY_NULLS_LAST:
		key.NullsFirst = false
	}
	cr := sb.Node.GetColumnRef()
	if cr == nil || len(cr.Fields) != 1 || cr.Fields[0].GetString_() == nil {
		return key, pgerror.New(pgerror.FeatureNotSupported, "WITHIN TIMESTAMP ORDER BY takes column names of the output")
	}
	name := cr.Fields[0].GetString_().Sval
	for i, c := range cols {
		if c.Name == name {
			key.Col = i
			break
		}
	}
	if key.Col < 0 {
		return key, errAt(pgerror.New(pgerror.UndefinedColumn, "column %q does not exist", name), cr.Location)
	}
	return key, nil
}

// envelopeColumns resolves ENVELOPE UPSERT | DEBEZIUM (KEY (...)) against
// the relation's columns and sets the output columns: mz_timestamp,
// [mz_progressed,] mz_state, the key columns, then the value columns
// (DEBEZIUM: before_ and after_ each).
func (sub *Subscription) envelopeColumns(ps *parser.Subscribe, cols []Column) error {
	sub.envelope = ps.Envelope
	isKey := make([]bool, len(cols))
	for _, name := range ps.EnvelopeKey {
		idx := -1
		for i, c := range cols {
			if c.Name == name {
				idx = i
				break
			}
		}
		if idx < 0 {
			return pgerror.New(pgerror.UndefinedColumn, "column %q in ENVELOPE KEY does not exist", name)
		}
		if isKey[idx] {
			return pgerror.New(pgerror.DuplicateColumn, "column %q appears twice in ENVELOPE KEY", name)
		}
		isKey[idx] = true
		sub.keyCols = append(sub.keyCols, idx)
	}
	for i := range cols {
		if !isKey[i] {
			sub.valCols = append(sub.valCols, i)
		}
	}
	out := subscribeMetaColumns(ps.Progress)
	out[len(out)-1] = Column{Name: "mz_state", Type: types.Text}
	for _, i := range sub.keyCols {
		out = append(out, cols[i])
	}
	if sub.envelope == "debezium" {
		for _, prefix := range []string{"before_", "after_"} {
			for _, i := range sub.valCols {
				out = append(out, Column{Name: prefix + cols[i].Name, Type: cols[i].Type})
			}
		}
	} else {
		for _, i := range sub.valCols {
			out = append(out, cols[i])
		}
	}
	sub.cols = out
	return nil
}

// envelopeRows turns one timestamp's consolidated changes into upsert or
// Debezium rows, one per key, in key order. Per key: an insertion alone
// is an upsert (DEBEZIUM: insert), a deletion alone a delete, one deletion
// and one insertion an upsert from the old value to the new; anything else
// (several values for a key) is a key_violation with NULL values.
func (sub *Subscription) envelopeRows(rows []types.Row, ts types.Datum, changes []dataflow.Update) []types.Row {
	byKey := slices.Clone(changes)
	cmpKey := func(a, b types.Row) int {
		for _, k := range sub.keyCols {
			if c := types.Compare(a[k], b[k]); c != 0 {
				return c
			}
		}
		return 0
	}
	slices.SortFunc(byKey, func(a, b dataflow.Update) int {
		if c := cmpKey(a.Row, b.Row); c != 0 {
			return c
		}
		return int(a.Diff - b.Diff)
	})
	for lo := 0; lo < len(byKey); {
		hi := lo + 1
		for hi < len(byKey) && cmpKey(byKey[lo].Row, byKey[hi].Row) == 0 {
			hi++
		}
		g := byKey[lo:hi]
		var state string
		var before, after types.Row
		switch {
		case len(g) == 1 && g[0].Diff == 1:
			state, after = "upsert", g[0].Row
			if sub.envelope == "debezium" {
				state = "insert"
			}
		case len(g) == 1 && g[0].Diff == -1:
			state, before = "delete", g[0].Row
		case len(g) == 2 && g[0].Diff == -1 && g[1].Diff == 1:
			state, before, after = "upsert", g[0].Row, g[1].Row
		default:
			state = "key_violation"
		}
		row := make(types.Row, 0, len(sub.cols))
		row = append(row, ts)
		if sub.progress {
			row = append(row, types.NewBool(false))
		}
		row = append(row, types.NewText(state))
		for _, k := range sub.keyCols {
			row = append(row, g[0].Row[k])
		}
		values := func(from types.Row) {
			for _, v := range sub.valCols {
				if from == nil {
					row = append(row, types.Null(sub.cols[len(row)].Type))
				} else {
					row = append(row, from[v])
				}
			}
		}
		if sub.envelope == "debezium" {
			values(before)
		}
		values(after)
		rows = append(rows, row)
		lo = hi
	}
	return rows
}
