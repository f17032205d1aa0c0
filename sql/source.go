package sql

// Sources: CREATE SOURCE and the runners that feed them.
//
// A source is a table only its connector writes (Object.Source is set, its
// Kind is KindTable): it is read, checkpointed, restored, retained and read
// AS OF exactly as a table, and INSERT, UPDATE, DELETE, COPY and TRUNCATE
// refuse it. Each source has one runner goroutine (sourceRunner) that runs
// its connector (package source) and commits every batch the connector
// emits as one write on the timeline, with the connector's new position in
// the same log batch (storage.Batch.Positions): after a crash the runner
// resumes from the position of the last batch the log holds, so every event
// is in the log exactly once.
//
// Runners start once the engine has restored its log (NewEngine) and when
// CREATE SOURCE commits; they stop at Close and DROP SOURCE. A runner
// commits only while it is the registered runner of its source and the
// source exists, both checked under Engine.mu, so a dropped (or replaced)
// runner can never write after its source is gone. A connector that fails
// is restarted from the latest position after a growing pause (1 s to
// 30 s); a log that failed fails every write anyway.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/source"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// sourceDef is what CREATE SOURCE declared (Object.Source).
type sourceDef struct {
	spec source.Spec
	conn source.Connector
}

// connectorName is how the source's connector prints: "load generator
// counter", "kafka".
func (d *sourceDef) connectorName() string {
	return strings.TrimSpace(d.spec.Connector + " " + d.spec.Generator)
}

// sourceRunners are the engine's running sources.
type sourceRunners struct {
	mu     sync.Mutex
	byID   map[dataflow.CollectionID]*sourceRunner
	closed bool
}

// sourceRunner runs one source's connector.
type sourceRunner struct {
	id     dataflow.CollectionID
	def    *sourceDef
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		status   string // running, finished, failed (retrying), waiting for disk space, stopped
		err      error
		position []byte // the latest position committed
		batches  uint64
		rows     uint64
		since    time.Time // when the status last changed
	}
}

func (r *sourceRunner) setStatus(status string, err error) {
	r.mu.Lock()
	r.mu.status, r.mu.err, r.mu.since = status, err, time.Now()
	r.mu.Unlock()
}

// errSourceGone ends a runner whose source was dropped or that was
// replaced.
var errSourceGone = errors.New("the source was dropped")

// createSource is CREATE SOURCE: a table-like object whose columns are the
// connector's. REQUIRES: mu held for writing.
func (e *Engine) createSource(s *Session, cs *pg.CreateStmt, st *Statement) (*Result, error) {
	if s.tx != nil {
		return nil, pgerror.New(pgerror.ActiveSqlTransaction, "CREATE SOURCE cannot run inside a transaction block")
	}
	name := cs.Relation.Relname
	schema, err := s.creationSchema(cs.Relation.Schemaname)
	if err != nil {
		return nil, err
	}
	if _, exists := e.mu.cat.lookup(schema, name); exists && cs.IfNotExists {
		return &Result{Tag: "CREATE SOURCE", Notices: []Notice{{Severity: "NOTICE", Code: "42P07", Message: "relation \"" + name + "\" already exists, skipping"}}}, nil
	}
	var histOpts []*pg.Node
	connOpts := map[string]string{}
	for _, n := range cs.Options {
		de := n.GetDefElem()
		if de == nil {
			continue
		}
		name := strings.ToLower(de.Defname)
		if name == "retention" || name == "retain_history" {
			histOpts = append(histOpts, n)
			continue
		}
		if _, dup := connOpts[name]; dup {
			return nil, pgerror.New(pgerror.SyntaxError, "option %q given twice", de.Defname)
		}
		connOpts[name] = optionText(de)
	}
	def := &sourceDef{spec: source.Spec{
		Connector: st.streaming.Source.Connector, Generator: st.streaming.Source.Generator,
		Format: st.streaming.Source.Format, Envelope: st.streaming.Source.Envelope,
		Options: source.NewOptions(connOpts),
	}}
	if len(cs.TableElts) > 0 {
		// Declared; the connector says whether it takes them.
		if def.spec.Columns, def.spec.Key, err = sourceColumns(cs.TableElts); err != nil {
			return nil, err
		}
	}
	if def.conn, err = source.New(def.spec); err != nil {
		return nil, err
	}
	o := &Object{Kind: KindTable, Schema: schema, Name: name, Data: dataflow.NewIndex(), Source: def}
	if o.hist, err = historyOptions(histOpts, true); err != nil {
		return nil, err
	}
	for _, c := range def.conn.Columns() {
		o.Columns = append(o.Columns, ColumnDef{Name: c.Name, Type: c.Type, NotNull: c.NotNull})
	}
	if def.spec.Key != nil {
		// A keyed source (ENVELOPE UPSERT, the connector accepted the
		// key): its columns are the list's, and commitSourceBatch finds a
		// key's row through the key's index.
		o.PrimaryKey = def.spec.Key
		o.addPrimaryKey(name + "_pkey")
	}
	if st.streaming.Watermark != nil {
		if o.Watermark, err = bindWatermark(s.newBinder(nil, nil), o, st.streaming.Watermark); err != nil {
			return nil, err
		}
	}
	if err := e.mu.cat.add(o); err != nil {
		return nil, err
	}
	return &Result{Tag: "CREATE SOURCE"}, nil
}

// sourceColumns binds a CREATE SOURCE's column list: names, types (as
// CREATE TABLE binds them), NOT NULL, which the connector enforces (a
// Kafka source skips and counts a message that breaks it), and a PRIMARY
// KEY, returned as column indexes (the connector refuses it unless it is
// keyed: ENVELOPE UPSERT). Defaults, UNIQUE and other constraints are
// refused: nothing but the connector writes a source.
func sourceColumns(elts []*pg.Node) ([]source.Column, []int, error) {
	cols := []source.Column{}
	var keyNames []string
	keyGiven := false
	for _, el := range elts {
		if con := el.GetConstraint(); con != nil && con.Contype == pg.ConstrType_CONSTR_PRIMARY {
			if keyGiven {
				return nil, nil, pgerror.New(pgerror.InvalidTableDefinition, "multiple primary keys for a source are not allowed")
			}
			keyGiven = true
			for _, k := range con.Keys {
				keyNames = append(keyNames, k.GetString_().Sval)
			}
			continue
		}
		cd := el.GetColumnDef()
		if cd == nil {
			return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "a source's column list takes columns and a PRIMARY KEY only")
		}
		if _, serial := serialType(cd.TypeName); serial {
			return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "a source column cannot be serial: only its connector writes it")
		}
		t, err := bindTypeName(cd.TypeName)
		if err != nil {
			return nil, nil, errAt(err, cd.TypeName.Location)
		}
		col := source.Column{Name: cd.Colname, Type: t, NotNull: cd.IsNotNull}
		for _, c := range cd.Constraints {
			switch con := c.GetConstraint(); con.Contype {
			case pg.ConstrType_CONSTR_NOTNULL:
				col.NotNull = true
			case pg.ConstrType_CONSTR_NULL:
			case pg.ConstrType_CONSTR_PRIMARY:
				if keyGiven {
					return nil, nil, pgerror.New(pgerror.InvalidTableDefinition, "multiple primary keys for a source are not allowed")
				}
				keyGiven = true
				keyNames = append(keyNames, cd.Colname)
			default:
				return nil, nil, pgerror.New(pgerror.FeatureNotSupported, "constraint %s is not supported on a source column (NOT NULL and PRIMARY KEY are)", strings.TrimPrefix(con.Contype.String(), "CONSTR_"))
			}
		}
		for _, c := range cols {
			if strings.EqualFold(c.Name, col.Name) {
				return nil, nil, pgerror.New(pgerror.DuplicateColumn, "column %q specified more than once", col.Name)
			}
		}
		cols = append(cols, col)
	}
	var key []int
	for _, name := range keyNames {
		i := slices.IndexFunc(cols, func(c source.Column) bool { return c.Name == name })
		if i < 0 {
			return nil, nil, pgerror.New(pgerror.UndefinedColumn, "column %q named in key does not exist", name)
		}
		if slices.Contains(key, i) {
			return nil, nil, pgerror.New(pgerror.DuplicateColumn, "column %q appears twice in primary key constraint", name)
		}
		cols[i].NotNull = true
		key = append(key, i)
	}
	return cols, key, nil
}

// optionText is a WITH option's value as written: a string's contents, a
// number's digits, a bare word.
func optionText(de *pg.DefElem) string {
	switch {
	case de.Arg == nil:
		return ""
	case de.Arg.GetString_() != nil:
		return de.Arg.GetString_().Sval
	case de.Arg.GetInteger() != nil:
		return strconv.Itoa(int(de.Arg.GetInteger().Ival))
	case de.Arg.GetFloat() != nil:
		return de.Arg.GetFloat().Fval
	case de.Arg.GetBoolean() != nil:
		return strconv.FormatBool(de.Arg.GetBoolean().Boolval)
	case de.Arg.GetTypeName() != nil && len(de.Arg.GetTypeName().Names) > 0:
		return de.Arg.GetTypeName().Names[len(de.Arg.GetTypeName().Names)-1].GetString_().Sval
	}
	return ""
}

// startSourcesLocked starts a runner for every source without one, from
// its latest position queued in the log (mu.sourcePositions: the log's at
// startup, then each commit's). REQUIRES: mu held for writing.
func (e *Engine) startSourcesLocked() {
	e.sources.mu.Lock()
	defer e.sources.mu.Unlock()
	if e.sources.closed {
		return
	}
	for _, o := range e.mu.cat.sources() {
		if r := e.sources.byID[o.ID]; r != nil && r.ctx.Err() == nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &sourceRunner{id: o.ID, def: o.Source, ctx: ctx, cancel: cancel, done: make(chan struct{})}
		r.mu.position = e.mu.sourcePositions[o.ID]
		r.setStatus("running", nil)
		if e.sources.byID == nil {
			e.sources.byID = map[dataflow.CollectionID]*sourceRunner{}
		}
		e.sources.byID[o.ID] = r
		go e.runSource(r)
	}
}

// stopSourceLocked stops id's runner: it will not commit again (the check
// is under mu, which the caller holds). REQUIRES: mu held for writing.
func (e *Engine) stopSourceLocked(id dataflow.CollectionID) {
	e.sources.mu.Lock()
	defer e.sources.mu.Unlock()
	if r := e.sources.byID[id]; r != nil {
		r.cancel()
		delete(e.sources.byID, id)
	}
	// Its position stays: a DROP SOURCE in a transaction block that rolls
	// back restarts the source from it (ids are never reused).
}

// StopSources stops every source's connector and waits until none writes
// any more (a shutdown does it before its last checkpoint, so that the
// checkpoint leaves no log tail to replay). Sources stay stopped; Close
// does it too. MUST NOT be called with mu held.
func (e *Engine) StopSources() { e.stopSources() }

// stopSources stops every runner and waits for them.
func (e *Engine) stopSources() {
	e.sources.mu.Lock()
	e.sources.closed = true
	runners := e.sources.byID
	e.sources.byID = nil
	e.sources.mu.Unlock()
	for _, r := range runners {
		r.cancel()
	}
	for _, r := range runners {
		<-r.done
	}
}

// runSource runs r's connector until it finishes or r is stopped,
// restarting it after a pause when it fails.
func (e *Engine) runSource(r *sourceRunner) {
	defer close(r.done)
	pause := time.Second
	for {
		r.mu.Lock()
		position := r.mu.position
		r.mu.Unlock()
		err := r.def.conn.Run(r.ctx, position, func(ctx context.Context, b source.Batch) error { return e.emitSource(r, b) })
		switch {
		case err == nil:
			r.setStatus("finished", nil)
			return
		case r.ctx.Err() != nil || errors.Is(err, errSourceGone):
			r.setStatus("stopped", nil)
			return
		}
		r.setStatus("failed (retrying)", err)
		e.logger.Error("source failed; restarting it from its latest position", "source", r.id, "connector", r.def.connectorName(), "err", err, "pause", pause)
		select {
		case <-r.ctx.Done():
			r.setStatus("stopped", nil)
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
		r.setStatus("running", nil)
	}
}

// emitSource commits one batch of r's connector and waits until it is
// durable. While the disk is full it waits for space (the connector holds
// its batch); while another session's transaction holds the DDL gate it
// waits for it, as every writer does.
func (e *Engine) emitSource(r *sourceRunner, b source.Batch) error {
	pause := 10 * time.Millisecond
	for {
		t, err := e.commitSourceBatch(r, b)
		if err == nil {
			err = e.log.WaitDurable(t)
		}
		switch {
		case err == nil:
			r.mu.Lock()
			r.mu.position = b.Position
			r.mu.batches++
			r.mu.rows += uint64(len(b.Changes))
			if r.mu.status != "running" {
				r.mu.status, r.mu.err, r.mu.since = "running", nil, time.Now()
			}
			r.mu.Unlock()
			return nil
		case errors.Is(err, errGateOwned):
		case errors.Is(err, storage.ErrDiskFull) && b.FailFast:
			return err
		case errors.Is(err, storage.ErrDiskFull):
			r.setStatus("waiting for disk space", err)
			pause = max(pause, time.Second)
		default:
			return err
		}
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// upsertsLocked turns a keyed source's upserts (source.Change: Diff 1
// sets the key's row, -1 deletes it; applied in order) into the updates
// they make: for each key touched, the retraction of its current row (found
// through the key's index) and the insertion of its last value. REQUIRES:
// mu held. With truncated, the keys' current rows are taken as gone (the
// batch's Truncate retracts them).
func upsertsLocked(o *Object, ups []dataflow.Update, truncated bool) []dataflow.Update {
	type keyed struct {
		before, after types.Row // nil: none
	}
	byKey := make(map[string]*keyed, len(ups))
	order := make([]*keyed, 0, len(ups))
	for _, u := range ups {
		k := o.pkKey(u.Row)
		st := byKey[k]
		if st == nil {
			st = &keyed{}
			key := make(types.Row, len(o.PrimaryKey))
			for i, c := range o.PrimaryKey {
				key[i] = u.Row[c]
			}
			if !truncated {
				o.pk.lookup(o, key, func(row types.Row, count int64) {
					if count > 0 {
						st.before = row
					}
				})
			}
			st.after = st.before
			byKey[k] = st
			order = append(order, st)
		}
		if u.Diff > 0 {
			st.after = u.Row
		} else {
			st.after = nil
		}
	}
	out := make([]dataflow.Update, 0, 2*len(order))
	for _, st := range order {
		if st.before != nil {
			out = append(out, dataflow.Update{Row: st.before, Diff: -1})
		}
		if st.after != nil {
			out = append(out, dataflow.Update{Row: st.after, Diff: 1})
		}
	}
	return out
}

// errGateOwned: a DDL transaction holds the gate; try again later.
var errGateOwned = errors.New("a DDL transaction holds the gate")

// commitSourceBatch queues b as one write at a new time and applies it,
// as commitLocked does for a table, and returns the time.
func (e *Engine) commitSourceBatch(r *sourceRunner, b source.Batch) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.ctx.Err() != nil {
		return 0, errSourceGone
	}
	o := e.mu.cat.byID(r.id)
	if o == nil || o.Source == nil {
		return 0, errSourceGone
	}
	if e.gate.owned() {
		return 0, errGateOwned
	}
	ups := make([]dataflow.Update, len(b.Changes))
	for i, c := range b.Changes {
		if len(c.Row) != len(o.Columns) {
			return 0, fmt.Errorf("source %s: connector emitted a row of %d columns, the source has %d", o.Name, len(c.Row), len(o.Columns))
		}
		ups[i] = dataflow.Update{Row: c.Row, Diff: c.Diff}
	}
	if o.Source.spec.Key != nil {
		ups = upsertsLocked(o, ups, b.Truncate)
	}
	if b.Truncate {
		// Every row goes first; the batch's changes apply after.
		o.Data.Scan(func(row types.Row, count int64) bool {
			ups = append(ups, dataflow.Update{Row: row, Diff: -count})
			return true
		})
	}
	ups = dataflow.Consolidate(ups)
	retained := o.hist != nil && o.hist.expiry != nil
	kept := ups[:0]
	for _, u := range ups {
		if u.Diff < 0 {
			if have := o.Data.Count(u.Row); have+u.Diff < 0 {
				if !retained {
					return 0, fmt.Errorf("source %s: connector retracted a row that is not there: %s", o.Name, rowText(u.Row))
				}
				// Retention expired it first: retract what is left.
				if u.Diff = -have; u.Diff == 0 {
					continue
				}
			}
		}
		kept = append(kept, u)
	}
	ups = kept
	changes := map[dataflow.CollectionID][]dataflow.Update{}
	if len(ups) > 0 {
		changes[o.ID] = ups
	}
	pos := []storage.Position{{Source: uint64(o.ID), Value: b.Position}}
	if err := e.commitWithPositionsLocked(changes, pos); err != nil {
		return 0, err
	}
	e.mu.sourcePositions[o.ID] = b.Position
	return e.mu.lastTime, nil
}

// sourceStatus is one row of tb_catalog.sources.
type sourceStatus struct {
	status, position, err string
	batches, rows         uint64
	since                 time.Time
	malformed             int64  // events skipped (a MalformedCounter's)
	lastMalformed         string // the last one's error
}

// statusOf reports o's runner.
func (rs *sourceRunners) statusOf(o *Object) sourceStatus {
	rs.mu.Lock()
	r := rs.byID[o.ID]
	rs.mu.Unlock()
	if r == nil {
		return sourceStatus{status: "not running"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := sourceStatus{status: r.mu.status, position: r.def.conn.Describe(r.mu.position), batches: r.mu.batches, rows: r.mu.rows, since: r.mu.since}
	if r.mu.err != nil {
		st.err = r.mu.err.Error()
	}
	if mc, ok := r.def.conn.(source.MalformedCounter); ok {
		st.malformed, st.lastMalformed = mc.Malformed(r.mu.position)
	}
	return st
}

// rowText prints a row for an error message.
func rowText(r types.Row) string {
	parts := make([]string, len(r))
	for i, d := range r {
		if d.IsNull() {
			parts[i] = "NULL"
		} else {
			parts[i] = types.FormatText(d)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func init() {
	defineSys("tb_catalog", "sources", "name:text schema:text connector:text status:text status_since:tstz position:text batches:int8 rows:int8 error:text malformed:int8 last_malformed:text", func(c *catalogView) [][]any {
		if c.cat.sourceRunners == nil {
			return nil
		}
		var out [][]any
		for _, o := range c.cat.sources() {
			st := c.cat.sourceRunners.statusOf(o)
			var since, errText, position any
			if !st.since.IsZero() {
				since = types.NewTimestamp(types.TimestampTZ, types.TimeToMicros(st.since))
			}
			if st.err != "" {
				errText = st.err
			}
			if st.position != "" {
				position = st.position
			}
			var lastMalformed any
			if st.lastMalformed != "" {
				lastMalformed = st.lastMalformed
			}
			out = append(out, []any{o.Name, o.Schema, o.Source.connectorName(), st.status, since, position, int64(st.batches), int64(st.rows), errText, st.malformed, lastMalformed})
		}
		return out
	})
}

// Webhook returns the connector of webhook source schema.name, as its
// runner runs it (a rebuilt catalog has a fresh connector of its own).
func (e *Engine) Webhook(schema, name string) (*source.Webhook, error) {
	e.mu.RLock()
	o, ok := e.mu.cat.lookup(schema, name)
	e.mu.RUnlock()
	if !ok || o.Source == nil {
		return nil, pgerror.New(pgerror.UndefinedTable, "source %q does not exist", relationName(schema, name))
	}
	e.sources.mu.Lock()
	r := e.sources.byID[o.ID]
	e.sources.mu.Unlock()
	if r == nil {
		return nil, pgerror.New(pgerror.ObjectNotInPrerequisiteState, "source %q is not running", relationName(schema, name))
	}
	w, ok := r.def.conn.(*source.Webhook)
	if !ok {
		return nil, pgerror.New(pgerror.WrongObjectType, "source %q is not a WEBHOOK source", relationName(schema, name))
	}
	return w, nil
}
