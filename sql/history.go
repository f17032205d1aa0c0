package sql

// Time travel (SELECT … AS OF), history retention and compaction, and
// table retention. The design, in short (docs/architecture.md, "History"):
//
//   - Every view is a deterministic function of the tables, and the log
//     holds each table's history. Reading any object AS OF t therefore
//     binds it with every view (materialized or not) inlined down to the
//     tables, and runs that query once over the tables' contents at t, read
//     from the log (storage.History.ReadUpdates). No arrangement keeps
//     history; the cost of an AS OF read is a scan of the tables' retained
//     updates up to t.
//   - The since of a table is the later of its creation and its log's
//     compaction frontier; of a view, the latest since of its inputs and
//     its own creation. AS OF t below an object's since fails with 22023
//     naming the oldest readable time; AS OF a time later than the timeline
//     (the wall clock, or the latest write if that is ahead) fails too:
//     Tributary does not wait for the future as Materialize does. Reading
//     at t closes t: no later write gets a time ≤ t.
//   - Each table keeps retain_history of history (default 1 hour); a
//     materialized view's retain_history extends that of every table it
//     reads. The engine's maintenance compacts each table's log to
//     now − window: retractions cancel the insertions they retract, so the
//     log shrinks to the live rows plus the window's updates.
//   - EMIT ON WINDOW CLOSE views are not functions of the tables (late
//     rows, emitted windows' retractions): they cannot be read AS OF, and
//     the tables they read are never compacted (their restart replays the
//     whole log as it arrived).
//   - With a checkpoint (checkpoint.go), compaction stays at or below the
//     checkpoint's time: restart replays the log after it as written.
//   - A table WITH (retention = '30 days') forgets rows that long after
//     they were inserted (the system time of the write that inserted them):
//     maintenance retracts them in an ordinary write, so views follow, AS OF
//     reads before that write still see them, and compaction then removes
//     the pair from the log.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// DefaultRetainHistory is how much history a table keeps readable AS OF
// when neither it nor a materialized view over it asks for more.
const DefaultRetainHistory = time.Hour

// DefaultMaintenanceInterval is how often the engine sweeps expired rows
// and compacts the log.
const DefaultMaintenanceInterval = time.Second

// objHistory is a table's or materialized view's history options.
type objHistory struct {
	// retainHistory is retain_history (0: the default for a table, none
	// beyond its inputs' for a materialized view).
	retainHistory time.Duration
	// retention is a table's retention (0: rows never expire), and expiry
	// tracks its live rows' insertion times.
	retention time.Duration
	expiry    *expiry
}

// history is the engine's bookkeeping for AS OF reads and compaction. Its
// mutex is independent of Engine.mu, so that compaction (which runs without
// Engine.mu) and AS OF readers agree on each table's since.
type history struct {
	mu struct {
		sync.Mutex
		// since is each table's compaction frontier, as planned: it is
		// raised before Compact starts, so no reader starts below it.
		since map[dataflow.CollectionID]uint64
		// leases counts the AS OF reads in progress at each time;
		// compaction stays at or below the earliest.
		leases map[uint64]int
	}
	// compacting serializes maintenance rounds.
	compacting sync.Mutex
	stop       chan struct{}
	done       chan struct{}
}

func (h *history) init() {
	h.mu.since = map[dataflow.CollectionID]uint64{}
	h.mu.leases = map[uint64]int{}
}

func (h *history) sinceOf(id dataflow.CollectionID) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.since[id]
}

// lease registers an AS OF read at t after check confirms t is still
// readable (both under h.mu, so compaction cannot pass t in between).
func (h *history) lease(t uint64, check func(since func(dataflow.CollectionID) uint64) error) (release func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := check(func(id dataflow.CollectionID) uint64 { return h.mu.since[id] }); err != nil {
		return nil, err
	}
	h.mu.leases[t]++
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.mu.leases[t]--; h.mu.leases[t] == 0 {
			delete(h.mu.leases, t)
		}
	}, nil
}

// plan raises id's since towards target, never past an AS OF read in
// progress, and returns the new since (0 when it does not move).
func (h *history) plan(id dataflow.CollectionID, target uint64) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	for t := range h.mu.leases {
		if t < target {
			target = t
		}
	}
	if target <= h.mu.since[id] {
		return 0
	}
	h.mu.since[id] = target
	return target
}

// msText formats a timeline time for messages: the timestamptz and the
// number (what AS OF accepts).
func msText(t uint64) string {
	ts := time.UnixMilli(int64(t)).UTC().Format("2006-01-02 15:04:05.000+00")
	return fmt.Sprintf("%s (%d)", ts, t)
}

// asOfTime evaluates an AS OF expression to a timeline time: a number is
// milliseconds since the Unix epoch (as in Materialize), a timestamp or
// timestamptz (or a string that reads as one) is that instant.
// REQUIRES: e.mu held.
func (s *Session) asOfTime(n *pg.Node, paramTypes []types.Type, params []types.Datum) (uint64, error) {
	b := s.newBinder(paramTypes, params)
	x, err := b.bindExpr(n, &scope{})
	if err != nil {
		return 0, err
	}
	ectx := s.evalCtx()
	ectx.Timestamp = systemMicros(s.e.mu.lastTime) // mz_now(): the latest time
	if ectx.Location == nil {
		ectx.Location = time.UTC
	}
	d, err := x.Eval(ectx, nil)
	if err != nil {
		return 0, err
	}
	bad := func() error {
		return pgerror.New(pgerror.InvalidParameterValue, "AS OF needs a time: a timestamp, a timestamptz or milliseconds since the Unix epoch, not %s %s", d.Type(), types.FormatText(d))
	}
	if d.IsNull() {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "AS OF time must not be NULL")
	}
	var ms float64
	switch t := d.Type(); {
	case t.IsInteger():
		ms = float64(d.Int())
	case t == types.Numeric || t.IsFloat():
		f, err := strconv.ParseFloat(types.FormatText(d), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, bad()
		}
		ms = math.Floor(f)
	case t == types.TimestampTZ:
		ms = float64(types.MicrosToTime(d.Int()).UnixMilli())
	case t == types.Timestamp:
		// A timestamp without time zone is wall time in the session's
		// zone, as its cast to timestamptz reads it.
		w := types.MicrosToTime(d.Int())
		ms = float64(time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), ectx.Location).UnixMilli())
	case t == types.Unknown || t.Family() == types.FamString:
		ts, err := types.ParseTextIn(types.TimestampTZ, d.Str(), ectx.Location)
		if err != nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(d.Str()), 10, 64); err == nil {
				ms = float64(n)
				break
			}
			return 0, bad()
		}
		ms = float64(types.MicrosToTime(ts.Int()).UnixMilli())
	default:
		return 0, bad()
	}
	if ms < 0 || ms > math.MaxInt64 {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "AS OF time %v is out of range", ms)
	}
	return uint64(ms), nil
}

// execSelectAsOf runs a SELECT at a past time (see the file comment).
func (s *Session) execSelectAsOf(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	q, rows, err := s.selectAsOf(ctx, p.Stmt.ast, p.Stmt.asOf, p.ParamTypes, params)
	if err != nil {
		return nil, err
	}
	return &Result{Columns: queryColumns(q), Rows: rows, Tag: fmt.Sprintf("SELECT %d", len(rows))}, nil
}

// selectAsOf binds the SELECT sel and runs it over the tables as they were
// at the time asOf evaluates to (for SELECT ... AS OF and DECLARE ... FOR
// SELECT ... AS OF).
func (s *Session) selectAsOf(ctx context.Context, sel, asOf *pg.Node, paramTypes []types.Type, params []types.Datum) (*boundQuery, []types.Row, error) {
	if s.tx != nil && len(s.tx.writes) > 0 {
		return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "AS OF is not supported in a transaction that has written")
	}
	if s.wantWriteLock {
		return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "AS OF is not supported in a query that calls sequence functions")
	}
	e := s.e
	e.mu.RLock()
	t, err := s.asOfTime(asOf, paramTypes, params)
	last := e.mu.lastTime
	e.mu.RUnlock()
	if err != nil {
		return nil, nil, err
	}
	now := uint64(e.clock().UnixMilli())
	if t > max(now, last) {
		return nil, nil, &pgerror.Error{Code: pgerror.InvalidParameterValue,
			Message: fmt.Sprintf("AS OF %s is in the future: the latest readable time is %s", msText(t), msText(max(now, last))),
			Hint:    "Tributary does not wait for a future time; read AS OF a time that has passed."}
	}
	if t > last {
		// Close t: every later write gets a later time.
		e.mu.Lock()
		e.mu.lastTime = max(e.mu.lastTime, t)
		e.mu.Unlock()
	}
	// The log is read as it is on disk: wait until every write at or
	// before t, applied in memory, has been committed.
	if err := e.log.WaitDurable(min(t, e.applied.Load())); err != nil {
		return nil, nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	b := s.newBinder(paramTypes, params)
	b.inlineMatViews = true
	b.deps = map[string]bool{}
	q, err := b.bindSelectStmt(sel, nil)
	if err != nil {
		return nil, nil, err
	}
	release, err := e.hist.lease(t, func(since func(dataflow.CollectionID) uint64) error {
		return e.checkReadableLocked(b.deps, t, since)
	})
	if err != nil {
		return nil, nil, err
	}
	defer release()
	snapshots := map[dataflow.CollectionID][]dataflow.Update{}
	read := func(g *dataflow.Get) ([]dataflow.Update, error) {
		if ups, ok := snapshots[g.ID]; ok {
			return ups, nil
		}
		o := e.mu.cat.byID(g.ID)
		if o == nil || o.Kind != KindTable {
			return nil, pgerror.New(pgerror.InternalError, "AS OF read of %s, which is not a table", g.Name)
		}
		var ups []dataflow.Update
		err := e.log.ReadUpdates(ctx, uint64(g.ID), t, func(_ uint64, en storage.Entry) error {
			ups = append(ups, dataflow.Update{Row: en.Row, Diff: en.Diff})
			return nil
		})
		if err != nil {
			return nil, e.nameCorruptionLocked(err)
		}
		ups = dataflow.Consolidate(ups)
		snapshots[g.ID] = ups
		return ups, nil
	}
	rows, err := s.runPlanLocked(ctx, q, t, false, read)
	if err != nil {
		return nil, nil, err
	}
	return q, rows, nil
}

// checkReadableLocked returns an error unless every object named (a
// query's transitive dependencies) is readable at t.
// REQUIRES: e.mu held; since is the history's, under its lock.
func (e *Engine) checkReadableLocked(names map[string]bool, t uint64, since func(dataflow.CollectionID) uint64) error {
	var worst *Object
	var worstSince uint64
	for key := range names {
		o, ok := e.mu.cat.byName[key]
		if !ok {
			continue
		}
		if o.EmitOnWindowClose {
			return &pgerror.Error{Code: pgerror.FeatureNotSupported,
				Message: fmt.Sprintf("%q cannot be read AS OF: an EMIT ON WINDOW CLOSE view's output depends on when rows arrived, not only on the tables' history", o.Name)}
		}
		s := o.Created
		if o.Kind == KindTable {
			s = max(s, since(o.ID))
		}
		if s > t && (worst == nil || s > worstSince) {
			worst, worstSince = o, s
		}
	}
	if worst == nil {
		return nil
	}
	detail := fmt.Sprintf("%s %q was created at %s.", worst.Kind, worst.Name, msText(worst.Created))
	if worstSince > worst.Created {
		detail = fmt.Sprintf("The history of %s %q before %s has been compacted.", worst.Kind, worst.Name, msText(worstSince))
	}
	return &pgerror.Error{Code: pgerror.InvalidParameterValue,
		Message: fmt.Sprintf("AS OF %s is before the oldest readable time of %q, %s", msText(t), worst.Name, msText(worstSince)),
		Detail:  detail,
		Hint:    "Read AS OF a later time, or keep more history with WITH (retain_history = '…') on the table or a materialized view over it."}
}

// nameCorruptionLocked names the table whose log a CorruptionError is in,
// when the catalog knows it.
// REQUIRES: mu held.
func (e *Engine) nameCorruptionLocked(err error) error {
	var ce *storage.CorruptionError
	if !errors.As(err, &ce) || ce.Collection == 0 {
		return err
	}
	if o := e.mu.cat.byID(dataflow.CollectionID(ce.Collection)); o != nil {
		return fmt.Errorf("reading the log of %s %s.%s: %w", o.kindName(), o.Schema, o.Name, err)
	}
	return err
}

// historyOptions reads WITH (retention = …, retain_history = …). Other
// PostgreSQL storage parameters are accepted and ignored, as they mean
// nothing here; unknown ones fail as in PostgreSQL.
func historyOptions(opts []*pg.Node, table bool) (*objHistory, error) {
	var h *objHistory
	for _, n := range opts {
		de := n.GetDefElem()
		if de == nil {
			continue
		}
		name := strings.ToLower(de.Defname)
		switch {
		case name == "retain_history" || (name == "retention" && table):
			d, err := optionDuration(de)
			if err != nil {
				return nil, err
			}
			if h == nil {
				h = &objHistory{}
			}
			if name == "retention" {
				h.retention = d
				h.expiry = newExpiry()
			} else {
				h.retainHistory = d
			}
		case name == "fillfactor" || name == "parallel_workers" || name == "toast_tuple_target" || name == "user_catalog_table" ||
			strings.HasPrefix(name, "autovacuum_") || strings.HasPrefix(name, "toast.") || strings.HasPrefix(name, "vacuum_") || name == "log_autovacuum_min_duration":
		default:
			return nil, pgerror.New(pgerror.InvalidParameterValue, "unrecognized parameter %q", de.Defname)
		}
	}
	return h, nil
}

// optionDuration reads an interval option: '30 days', '1 hour', or a
// number of milliseconds. A month counts 30 days.
func optionDuration(de *pg.DefElem) (time.Duration, error) {
	var text string
	switch {
	case de.Arg == nil:
	case de.Arg.GetString_() != nil:
		text = de.Arg.GetString_().Sval
	case de.Arg.GetInteger() != nil:
		text = strconv.Itoa(int(de.Arg.GetInteger().Ival)) + " ms"
	case de.Arg.GetTypeName() != nil && len(de.Arg.GetTypeName().Names) > 0:
		text = de.Arg.GetTypeName().Names[len(de.Arg.GetTypeName().Names)-1].GetString_().Sval
	}
	iv, err := types.ParseInterval(text)
	if err != nil {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter %q: %q (want an interval such as '30 days')", de.Defname, text)
	}
	d := iv.Duration()
	if d <= 0 {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "parameter %q must be a positive interval, not %q", de.Defname, text)
	}
	return d, nil
}

// expiry tracks the insertion times of a retained table's live rows. A
// deletion removes the oldest copies of its row first, as compaction's
// netting does (storage.History.Compact), so the two agree after a restart.
type expiry struct {
	rows  map[string]*expiringRow
	queue []expiryRef // in insertion-time order, from head
	head  int
}

type expiringRow struct {
	row    types.Row
	copies []expiringCopy // oldest first
}

type expiringCopy struct {
	time uint64
	n    int64
}

type expiryRef struct {
	time uint64
	key  string
}

func newExpiry() *expiry { return &expiry{rows: map[string]*expiringRow{}} }

func rowIdentity(buf []byte, r types.Row) []byte {
	for _, d := range r {
		buf = types.AppendKey(buf, d)
	}
	return buf
}

// track records a write at t.
func (x *expiry) track(t uint64, ups []dataflow.Update) {
	var key []byte
	for _, u := range ups {
		key = rowIdentity(key[:0], u.Row)
		r := x.rows[string(key)]
		if u.Diff > 0 {
			if r == nil {
				r = &expiringRow{row: u.Row}
				x.rows[string(key)] = r
			}
			r.copies = append(r.copies, expiringCopy{time: t, n: u.Diff})
			x.queue = append(x.queue, expiryRef{time: t, key: string(key)})
			continue
		}
		if r == nil {
			continue
		}
		for n := -u.Diff; n > 0 && len(r.copies) > 0; {
			c := &r.copies[0]
			m := min(c.n, n)
			c.n -= m
			n -= m
			if c.n == 0 {
				r.copies = r.copies[1:]
			}
		}
		if len(r.copies) == 0 {
			delete(x.rows, string(key))
		}
	}
}

// due returns the retractions of every copy inserted at or before cutoff,
// and the queue position to advance to once they are committed (and track
// has seen them): a failed commit leaves the queue as it was.
func (x *expiry) due(cutoff uint64) (out []dataflow.Update, next int) {
	seen := map[string]bool{}
	next = x.head
	for next < len(x.queue) && x.queue[next].time <= cutoff {
		ref := x.queue[next]
		next++
		if seen[ref.key] {
			continue
		}
		seen[ref.key] = true
		r := x.rows[ref.key]
		if r == nil {
			continue
		}
		var n int64
		for _, c := range r.copies {
			if c.time <= cutoff {
				n += c.n
			}
		}
		if n > 0 {
			out = append(out, dataflow.Update{Row: r.row, Diff: -n})
		}
	}
	return out, next
}

// advance moves the queue's head past the refs due returned.
func (x *expiry) advance(next int) {
	x.head = next
	if x.head > 1024 && x.head*2 > len(x.queue) {
		x.queue = slices.Clone(x.queue[x.head:])
		x.head = 0
	}
}

// applyAt applies a committed write at t to a table: its contents, and for
// a retained table the insertion times its rows expire by.
func (o *Object) applyAt(t uint64, ups []dataflow.Update) {
	o.apply(ups)
	if o.hist != nil && o.hist.expiry != nil {
		o.hist.expiry.track(t, ups)
	}
}

// MaintenanceStats reports one maintenance round.
type MaintenanceStats struct {
	Expired   int // rows retracted by retention
	Compacted int // tables whose since advanced
	Removed   int // updates removed from the log
	Dropped   int // dropped tables whose updates were deleted
}

// Maintain runs one maintenance round: it retracts the rows of retained
// tables that have expired (one write, like a DELETE, so views follow),
// deletes the updates of dropped tables, and compacts each table's log to
// its history window. Only the expiry write takes the coordinator's write
// lock; compaction runs beside readers and writers. The engine runs it
// every EngineOptions.MaintenanceInterval; tests call it directly.
func (e *Engine) Maintain(ctx context.Context) (MaintenanceStats, error) {
	e.hist.compacting.Lock()
	defer e.hist.compacting.Unlock()
	var st MaintenanceStats
	n, err := e.expireRows()
	st.Expired = n
	if err == nil && n > 0 {
		err = e.log.WaitDurable(e.applied.Load())
	}
	if err != nil {
		return st, err
	}
	type job struct {
		id     dataflow.CollectionID
		target uint64
	}
	var jobs []job
	e.mu.Lock()
	if e.gate.owned() {
		// A transaction block's uncommitted DDL is in the catalog: skip
		// the round (txddl.go).
		e.mu.Unlock()
		return st, nil
	}
	dropped := e.mu.droppedTables
	e.mu.droppedTables = nil
	e.mu.Unlock()
	e.mu.RLock()
	now := uint64(e.clock().UnixMilli())
	last := e.log.LastTime()
	ids := e.mu.cat.ids
	if e.gate.owned() {
		ids = nil // uncommitted DDL in the catalog: compact next round
	}
	for _, o := range ids {
		if o.Kind != KindTable {
			continue
		}
		window, ok := e.historyWindowLocked(o)
		if !ok || uint64(window.Milliseconds()) >= now {
			continue
		}
		target := min(now-uint64(window.Milliseconds()), last)
		if target <= o.Created || target <= e.hist.sinceOf(o.ID) {
			continue // nothing to compact
		}
		jobs = append(jobs, job{o.ID, target})
	}
	e.mu.RUnlock()
	// No checkpoint runs while compacting, and compaction stays at or
	// below the latest checkpoint: restart applies the log after it.
	e.ckpt.mu.Lock()
	defer e.ckpt.mu.Unlock()
	if ck, ok := e.log.(storage.Checkpoints); ok {
		cp, err := ck.LatestCheckpoint()
		if err != nil {
			return st, err
		}
		if cp != nil {
			for i := range jobs {
				jobs[i].target = min(jobs[i].target, cp.Time)
			}
		}
	}
	for _, id := range dropped {
		if err := e.log.DropCollection(ctx, uint64(id)); err != nil {
			return st, err
		}
		st.Dropped++
	}
	slices.SortFunc(jobs, func(a, b job) int { return int(a.id) - int(b.id) })
	for _, j := range jobs {
		// Compact reads what is on disk: everything up to the target must
		// be there.
		if err := e.log.WaitDurable(min(j.target, e.applied.Load())); err != nil {
			return st, err
		}
		since := e.hist.plan(j.id, j.target)
		if since == 0 {
			continue
		}
		cs, err := e.log.Compact(ctx, uint64(j.id), since)
		if err != nil {
			return st, err
		}
		st.Compacted++
		st.Removed += cs.Removed
	}
	return st, nil
}

// historyWindowLocked is how much history table o keeps: its own
// retain_history (or the default), or more if a materialized view reading
// it (directly or through views) asks for more; ok is false when the whole
// history must stay (an EMIT ON WINDOW CLOSE view reads it).
// REQUIRES: e.mu held.
func (e *Engine) historyWindowLocked(o *Object) (w time.Duration, ok bool) {
	return historyWindow(e.mu.cat, o)
}

// historyWindow is historyWindowLocked over a catalog.
func historyWindow(cat *catalog, o *Object) (w time.Duration, ok bool) {
	w, ok = DefaultRetainHistory, true
	if o.hist != nil && o.hist.retainHistory > 0 {
		w = o.hist.retainHistory
	}
	seen := map[*Object]bool{}
	var walk func(o *Object)
	walk = func(o *Object) {
		for _, d := range cat.dependents(o) {
			if seen[d] || d.Kind == KindIndex {
				continue
			}
			seen[d] = true
			if d.EmitOnWindowClose {
				ok = false
			}
			if d.hist != nil && d.hist.retainHistory > w {
				w = d.hist.retainHistory
			}
			walk(d)
		}
	}
	walk(o)
	return w, ok
}

// expireRows retracts, in one write, every row of a retained table that
// was inserted at least its retention ago.
func (e *Engine) expireRows() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gate.owned() {
		return 0, nil // uncommitted DDL in the catalog (txddl.go)
	}
	now := uint64(e.clock().UnixMilli())
	writes := map[dataflow.CollectionID][]dataflow.Update{}
	next := map[*expiry]int{}
	n := 0
	for _, o := range e.mu.cat.ids {
		if o.Kind != KindTable || o.hist == nil || o.hist.expiry == nil {
			continue
		}
		r := uint64(o.hist.retention.Milliseconds())
		if r >= now {
			continue
		}
		ups, nx := o.hist.expiry.due(now - r)
		next[o.hist.expiry] = nx
		if len(ups) > 0 {
			writes[o.ID] = ups
			for _, u := range ups {
				n += int(-u.Diff)
			}
		}
	}
	if len(writes) > 0 {
		if err := e.commitLocked(writes); err != nil {
			return 0, err
		}
	}
	for x, nx := range next {
		x.advance(nx)
	}
	return n, nil
}

// startMaintenance runs Maintain every interval (0: the default) until
// Close; a negative interval runs none.
func (e *Engine) startMaintenance(interval time.Duration) {
	if interval < 0 {
		return
	}
	if interval == 0 {
		interval = DefaultMaintenanceInterval
	}
	e.hist.stop, e.hist.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(e.hist.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-e.hist.stop:
				return
			case <-tick.C:
				if _, err := e.Maintain(context.Background()); err != nil {
					e.logger.Error("maintenance failed", "err", err)
				}
			}
		}
	}()
}

func (e *Engine) stopMaintenance() {
	if e.hist.stop != nil {
		close(e.hist.stop)
		<-e.hist.done
		e.hist.stop = nil
	}
}

// loadSinceLocked reads each table's since from the log, after restore.
// REQUIRES: mu held.
func (e *Engine) loadSinceLocked() error {
	e.hist.mu.Lock()
	defer e.hist.mu.Unlock()
	for id, o := range e.mu.cat.ids {
		if o.Kind != KindTable {
			continue
		}
		s, err := e.log.Since(uint64(id))
		if err != nil {
			return err
		}
		if s > 0 {
			e.hist.mu.since[id] = s
		}
	}
	return nil
}

// rebuildExpiryLocked rebuilds the insertion times of retained tables'
// rows from the log up to t, after a checkpoint at t loaded their contents
// without them. Compaction keeps every live row at its insertion time, so
// the log up to t holds exactly the rows the checkpoint has.
// REQUIRES: mu held for writing.
func (e *Engine) rebuildExpiryLocked(ctx context.Context, t uint64) error {
	for _, o := range e.mu.cat.ids {
		if o.Kind != KindTable || o.hist == nil || o.hist.expiry == nil {
			continue
		}
		o.hist.expiry = newExpiry()
		var ups []dataflow.Update
		var at uint64
		err := e.log.ReadUpdates(ctx, uint64(o.ID), t, func(ut uint64, en storage.Entry) error {
			if ut != at && len(ups) > 0 {
				o.hist.expiry.track(at, ups)
				ups = ups[:0]
			}
			at = ut
			ups = append(ups, dataflow.Update{Row: en.Row, Diff: en.Diff})
			return nil
		})
		if err != nil {
			return err
		}
		if len(ups) > 0 {
			o.hist.expiry.track(at, ups)
		}
	}
	return nil
}

// objectSince is the oldest time o can be read AS OF: a table's creation or
// its log's compaction frontier (since), a view's creation or the latest
// since of what it reads. since gives the tables' frontiers.
func objectSince(cat *catalog, o *Object, since func(dataflow.CollectionID) uint64) uint64 {
	s := o.Created
	if o.Kind == KindTable {
		return max(s, since(o.ID))
	}
	for _, key := range o.DependsOn {
		if d, ok := cat.byName[key]; ok && d != o {
			s = max(s, objectSince(cat, d, since))
		}
	}
	return s
}

// resyncLocked rebuilds the catalog, the tables and the views from the log,
// after a change was applied in memory whose log record was refused (a DDL
// whose catalog record could not be appended) or that is rolled back (a
// transaction block's DDL, txddl.go): what clients can see must be what
// the log holds. It costs a restart's work (a checkpoint and the log after
// it), and happens only then. Times never go back.
//
// It first waits until every write applied so far is durable: writers
// outside the DDL gate (a source's runner, retention's expiry) may have a
// batch queued in the log but not yet written, which the rebuild would
// otherwise read without (and a source would go on after it).
// REQUIRES: mu held for writing.
func (e *Engine) resyncLocked(reason string) error {
	last, applied := e.mu.lastTime, e.applied.Load()
	e.logger.Warn(reason + "; rebuilding the engine's state from the log")
	if err := e.log.WaitDurable(applied); err != nil {
		return fmt.Errorf("rebuilding the engine's state from the log: %w", err)
	}
	reset := func() {
		e.mu.cat = newCatalog()
		e.mu.cat.status, e.mu.cat.hist, e.mu.cat.sourceRunners = &e.ckpt.status, &e.hist, &e.sources
		e.mu.catalogTime, e.mu.droppedTables = 0, nil
	}
	subs := e.detachSubscriptionsLocked() // txddl.go
	defer e.reattachSubscriptionsLocked(subs)
	reset()
	err := e.restoreLocked(context.Background())
	if errors.Is(err, errReplayWholeLog) {
		reset()
		e.ignoreCheckpoints = true
		err = e.restoreLocked(context.Background())
	}
	e.mu.lastTime = max(e.mu.lastTime, last)
	// A source that a rolled-back DROP SOURCE stopped runs again.
	e.startSourcesLocked()
	// restoreLocked takes every time handed out as applied, which holds at
	// startup only: here some were never logged, and waiting for them to
	// be durable would wait for the next write.
	e.applied.Store(applied)
	if err != nil {
		e.logger.Error("rebuilding the engine's state from the log failed", "err", err)
		return fmt.Errorf("rebuilding the engine's state from the log: %w", err)
	}
	return nil
}
