package sql

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// execDDL runs a statement that changes the catalog. DDL takes the write
// lock, so it is ordered on the timeline with every write.
func (e *Engine) execDDL(s *Session, st *Statement) (*Result, error) {
	// The statement itself is the catalog record: replaying the catalog
	// re-executes the DDL history in order. A role password is replaced by
	// its verifier first (roles.go), so the log never holds it in clear.
	rec, err := catalogRecord(st)
	if err != nil {
		return nil, err
	}
	rec = catalogRecordWithPath(s, rec)
	// A DDL statement changes the catalog before its record is appended:
	// refuse it up front when the log would refuse the record.
	if c, ok := e.log.(interface{ CheckSpace() error }); ok {
		if err := c.CheckSpace(); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.ownsGate() && !s.addsOnlyLocked(st) {
		s.tx.ddl.addsOnly = false // failed or not, it may have changed what existed
	}
	res, err := e.execDDLLocked(s, st)
	if err != nil {
		return nil, err
	}
	if s.ownsGate() {
		// Inside a transaction block: logged at COMMIT (txddl.go).
		s.recordDDL(rec)
		return res, nil
	}
	if err := e.appendCatalogLocked(rec); err != nil {
		// The catalog changed but its record is not in the log: put the
		// engine back to what the log holds (history.go).
		if rerr := e.resyncLocked("the log refused a catalog record"); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	e.mu.cat.stampCreated(e.mu.catalogTime)
	if st.streaming != nil && st.streaming.Source != nil {
		e.startSourcesLocked()
	}
	// The DDL moved the timeline: release what temporal filters had due.
	e.stepViewsLocked(map[dataflow.CollectionID][]dataflow.Update{})
	return res, nil
}

// execDDLLocked applies a DDL statement to the catalog.
// REQUIRES: mu held for writing.
func (e *Engine) execDDLLocked(s *Session, st *Statement) (*Result, error) {
	n := st.ast
	switch {
	case n.GetCreateStmt() != nil && st.streaming != nil && st.streaming.Source != nil:
		return e.createSource(s, n.GetCreateStmt(), st)
	case n.GetCreateStmt() != nil:
		return e.createTable(s, n.GetCreateStmt(), st)
	case n.GetViewStmt() != nil:
		return e.createView(s, n.GetViewStmt(), st)
	case n.GetCreateTableAsStmt() != nil:
		return e.createMatView(s, n.GetCreateTableAsStmt(), st)
	case n.GetIndexStmt() != nil:
		return e.createIndex(s, n.GetIndexStmt())
	case n.GetCreateSeqStmt() != nil:
		return e.createSequence(s, n.GetCreateSeqStmt())
	case n.GetAlterSeqStmt() != nil:
		return e.alterSequence(s, n.GetAlterSeqStmt())
	case n.GetDropStmt() != nil:
		return e.drop(s, n.GetDropStmt(), st.streaming != nil && st.streaming.DropSource)
	case n.GetCreateSchemaStmt() != nil:
		return e.createSchema(s, n.GetCreateSchemaStmt())
	case n.GetCreateRoleStmt() != nil, n.GetAlterRoleStmt() != nil, n.GetDropRoleStmt() != nil:
		return e.execRole(s, n)
	}
	if n.GetCreatedbStmt() != nil || n.GetDropdbStmt() != nil {
		// One Tributary process serves one database: its one timeline and
		// event log are what make reads across all views consistent.
		return nil, &pgerror.Error{Code: pgerror.FeatureNotSupported, Message: "CREATE DATABASE and DROP DATABASE are not supported: a Tributary server holds one database",
			Hint: "Run another tributary server (with its own --data-dir) for another database."}
	}
	return nil, pgerror.New(pgerror.FeatureNotSupported, "statement %s is not supported", strings.TrimSuffix(nodeName(n), "Stmt"))
}

// appendCatalogLocked records a DDL statement in the log, at its own
// timestamp. REQUIRES: mu held for writing.
func (e *Engine) appendCatalogLocked(sql string) error {
	t := e.nextTimeLocked()
	if err := e.log.Append(nilCtx, storage.Batch{Time: t, Catalog: []byte(sql)}); err != nil {
		return err
	}
	e.mu.catalogTime = t
	return nil
}

func (e *Engine) createTable(s *Session, cs *pg.CreateStmt, st *Statement) (*Result, error) {
	name := cs.Relation.Relname
	schema, err := s.creationSchema(cs.Relation.Schemaname)
	if err != nil {
		return nil, err
	}
	if _, exists := e.mu.cat.lookup(schema, name); exists && cs.IfNotExists {
		return &Result{Tag: "CREATE TABLE", Notices: []Notice{{Severity: "NOTICE", Code: "42P07", Message: "relation \"" + name + "\" already exists, skipping"}}}, nil
	}
	o := &Object{Kind: KindTable, Schema: schema, Name: name, Data: dataflow.NewIndex()}
	if o.hist, err = historyOptions(cs.Options, true); err != nil {
		return nil, err
	}
	b := s.newBinder(nil, nil)
	pkNames := []string{}
	// Serial and identity columns get their sequences once the table is
	// known to be valid.
	type ownedSeq struct {
		col      int
		identity string
		opts     []*pg.Node
	}
	var owned []ownedSeq
	// UNIQUE constraints, made once the table is in the catalog.
	type uniqueSpec struct {
		name string
		cols []string
	}
	var uniques []uniqueSpec
	for _, el := range cs.TableElts {
		switch {
		case el.GetColumnDef() != nil:
			cd := el.GetColumnDef()
			t, serial := serialType(cd.TypeName)
			if !serial {
				var err error
				if t, err = bindTypeName(cd.TypeName); err != nil {
					return nil, errAt(err, cd.TypeName.Location)
				}
			}
			col := ColumnDef{Name: cd.Colname, Type: t, Mods: typeMods(cd.TypeName), NotNull: cd.IsNotNull}
			if serial {
				owned = append(owned, ownedSeq{col: len(o.Columns)})
			}
			for _, c := range cd.Constraints {
				con := c.GetConstraint()
				switch con.Contype {
				case pg.ConstrType_CONSTR_NOTNULL:
					col.NotNull = true
				case pg.ConstrType_CONSTR_PRIMARY:
					col.NotNull = true
					pkNames = append(pkNames, cd.Colname)
				case pg.ConstrType_CONSTR_DEFAULT:
					d, err := b.bindExpr(con.RawExpr, &scope{})
					if err != nil {
						return nil, err
					}
					if d, err = assignCast(b, d, col); err != nil {
						return nil, err
					}
					col.Default = d
				case pg.ConstrType_CONSTR_IDENTITY:
					if t != types.Int2 && t != types.Int4 && t != types.Int8 {
						return nil, pgerror.New(pgerror.InvalidParameterValue, "identity column type must be smallint, integer, or bigint")
					}
					owned = append(owned, ownedSeq{col: len(o.Columns), identity: con.GeneratedWhen, opts: con.Options})
				case pg.ConstrType_CONSTR_UNIQUE:
					uniques = append(uniques, uniqueSpec{name: con.Conname, cols: []string{cd.Colname}})
				case pg.ConstrType_CONSTR_NULL:
				default:
					return nil, pgerror.New(pgerror.FeatureNotSupported, "constraint %s is not supported", strings.TrimPrefix(con.Contype.String(), "CONSTR_"))
				}
			}
			for _, existing := range o.Columns {
				if strings.EqualFold(existing.Name, col.Name) {
					return nil, pgerror.New(pgerror.DuplicateColumn, "column %q specified more than once", col.Name)
				}
			}
			o.Columns = append(o.Columns, col)
		case el.GetConstraint() != nil:
			con := el.GetConstraint()
			switch con.Contype {
			case pg.ConstrType_CONSTR_PRIMARY:
				for _, k := range con.Keys {
					pkNames = append(pkNames, k.GetString_().Sval)
				}
			case pg.ConstrType_CONSTR_UNIQUE:
				spec := uniqueSpec{name: con.Conname}
				for _, k := range con.Keys {
					spec.cols = append(spec.cols, k.GetString_().Sval)
				}
				uniques = append(uniques, spec)
			default:
				return nil, pgerror.New(pgerror.FeatureNotSupported, "constraint %s is not supported", strings.TrimPrefix(con.Contype.String(), "CONSTR_"))
			}
		}
	}
	for _, pk := range pkNames {
		found := false
		for i, c := range o.Columns {
			if strings.EqualFold(c.Name, pk) {
				o.PrimaryKey = append(o.PrimaryKey, i)
				o.Columns[i].NotNull = true
				found = true
			}
		}
		if !found {
			return nil, pgerror.New(pgerror.UndefinedColumn, "column %q named in key does not exist", pk)
		}
	}
	if len(o.PrimaryKey) > 0 {
		o.addPrimaryKey(name + "_pkey")
	}
	if st.streaming != nil && st.streaming.Watermark != nil {
		w, err := bindWatermark(b, o, st.streaming.Watermark)
		if err != nil {
			return nil, err
		}
		o.Watermark = w
	}
	if _, exists := e.mu.cat.lookup(schema, name); exists {
		return nil, pgerror.New(pgerror.DuplicateTable, "relation %q already exists", name)
	}
	type uniqueIndex struct {
		name string
		cols []int
	}
	var made []uniqueIndex
	for _, u := range uniques {
		var cols []int
		for _, n := range u.cols {
			found := -1
			for i, c := range o.Columns {
				if strings.EqualFold(c.Name, n) {
					found = i
				}
			}
			if found < 0 {
				return nil, pgerror.New(pgerror.UndefinedColumn, "column %q named in key does not exist", n)
			}
			cols = append(cols, found)
		}
		iname := u.name
		if iname == "" {
			// PostgreSQL's name: table, columns, "key", made unique.
			base := name + "_" + strings.Join(u.cols, "_") + "_key"
			iname = base
			for i := 1; ; i++ {
				_, taken := e.mu.cat.lookup(schema, iname)
				if !taken && !slices.ContainsFunc(made, func(m uniqueIndex) bool { return m.name == iname }) {
					break
				}
				iname = base + itoa(i)
			}
		}
		made = append(made, uniqueIndex{iname, cols})
	}
	for _, os := range owned {
		col := &o.Columns[os.col]
		if col.Default != nil {
			return nil, pgerror.New(pgerror.SyntaxError, "multiple default values specified for column %q of table %q", col.Name, name)
		}
		if err := e.ownedSequence(s, schema, name, col, os.opts, os.identity); err != nil {
			return nil, err
		}
	}
	if err := e.mu.cat.add(o); err != nil {
		return nil, err
	}
	// The constraints' indexes, after the table (object ids follow
	// creation order, also on replay).
	for _, u := range made {
		if err := o.addUnique(u.name, u.cols); err != nil {
			return nil, err
		}
		o.addIndex(u.name, u.cols)
		if err := e.mu.cat.add(&Object{Kind: KindIndex, Schema: schema, Name: u.name, On: o.key(), Unique: true, Constraint: true, IndexCols: u.cols}); err != nil {
			return nil, err
		}
	}
	return &Result{Tag: "CREATE TABLE"}, nil
}

func (e *Engine) bindViewQuery(s *Session, query *pg.Node, aliases []*pg.Node) (*boundQuery, []ColumnDef, []string, error) {
	b := s.newBinder(nil, nil)
	b.deps = map[string]bool{}
	q, err := b.bindSelectStmt(query, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, t := range b.params {
		_ = i
		_ = t
		return nil, nil, nil, pgerror.New(pgerror.UndefinedParameter, "there is no parameter $%d", i+1)
	}
	cols := make([]ColumnDef, q.visible)
	for i := range cols {
		cols[i] = ColumnDef{Name: q.cols[i].name, Type: q.cols[i].typ}
		if i < len(aliases) {
			cols[i].Name = aliases[i].GetString_().Sval
		}
		if cols[i].Type == types.Unknown {
			cols[i].Type = types.Text
		}
	}
	var deps []string
	for d := range b.deps {
		deps = append(deps, d)
	}
	q.zoneFolded = b.zoneUsed
	return q, cols, deps, nil
}

func (e *Engine) createView(s *Session, vs *pg.ViewStmt, st *Statement) (*Result, error) {
	_, cols, deps, err := e.bindViewQuery(s, vs.Query, vs.Aliases)
	if err != nil {
		return nil, err
	}
	sqlText, err := deparseQuery(vs.Query)
	if err != nil {
		return nil, err
	}
	schema, err := s.creationSchema(vs.View.Schemaname)
	if err != nil {
		return nil, err
	}
	if existing, ok := e.mu.cat.lookup(schema, vs.View.Relname); ok && vs.Replace && existing.Kind == KindView {
		e.mu.cat.remove(existing)
	}
	o := &Object{Kind: KindView, Schema: schema, Name: vs.View.Relname, Columns: cols, SQL: sqlText, DependsOn: deps, SearchPath: s.pathSchemas()}
	if err := e.mu.cat.add(o); err != nil {
		return nil, err
	}
	return &Result{Tag: "CREATE VIEW"}, nil
}

// deparseQuery turns a SELECT AST back into SQL text, for storing a view's
// definition.
func deparseQuery(n *pg.Node) (string, error) {
	out, err := pg.Deparse(&pg.ParseResult{Version: parseTreeVersion(), Stmts: []*pg.RawStmt{{Stmt: n}}})
	if err != nil {
		return "", pgerror.New(pgerror.InternalError, "cannot store view definition: %v", err)
	}
	return out, nil
}

// createMatView builds a view's dataflow, hydrates it from the current
// contents of its inputs (its first step), and keeps it current from then on.
func (e *Engine) createMatView(s *Session, ctas *pg.CreateTableAsStmt, st *Statement) (*Result, error) {
	if ctas.Objtype != pg.ObjectType_OBJECT_MATVIEW {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "CREATE TABLE AS is not supported")
	}
	name := ctas.Into.Rel.Relname
	schema, err := s.creationSchema(ctas.Into.Rel.Schemaname)
	if err != nil {
		return nil, err
	}
	if _, exists := e.mu.cat.lookup(schema, name); exists && ctas.IfNotExists {
		return &Result{Tag: "CREATE MATERIALIZED VIEW", Notices: []Notice{{Severity: "NOTICE", Code: "42P07", Message: "relation \"" + name + "\" already exists, skipping"}}}, nil
	}
	hist, err := historyOptions(ctas.Into.Options, false)
	if err != nil {
		return nil, err
	}
	q, cols, deps, err := e.bindViewQuery(s, ctas.Query, ctas.Into.ColNames)
	if err != nil {
		return nil, err
	}
	plan, err := planner.Lower(planner.Optimize(trimCols(q)))
	if err != nil {
		return nil, err
	}
	// A view must stay equal to its definition: a value that changes on
	// every evaluation (random(), now()) would make it depend on when each
	// row happened to be processed. mz_now() in a temporal filter is the
	// exception (sql/temporal.go).
	if plan, err = maintainablePlan(plan); err != nil {
		return nil, err
	}
	if err := s.matViewZoneCheck(q.zoneFolded, dataflow.Exprs(plan)); err != nil {
		return nil, err
	}
	eowc := st.streaming != nil && st.streaming.EmitOnWindowClose
	if eowc {
		if plan, err = windowClosePlan(plan, e.mu.cat); err != nil {
			return nil, err
		}
	}
	shares := &viewArrangements{cat: e.mu.cat}
	flow, err := dataflow.Build(plan, shares)
	if err != nil {
		releaseShares(shares.used)
		return nil, err
	}
	sqlText, err := deparseQuery(ctas.Query)
	if err != nil {
		releaseShares(shares.used)
		return nil, err
	}
	o := &Object{Kind: KindMatView, Schema: schema, Name: name, SearchPath: s.pathSchemas(), Columns: cols, SQL: sqlText, DependsOn: deps, Data: dataflow.NewIndex(), Flow: flow, shares: shares.used, EmitOnWindowClose: eowc, hist: hist}
	snapshot := map[dataflow.CollectionID][]dataflow.Update{}
	var inputErr error
	for _, id := range dataflow.Gets(plan) {
		in := e.mu.cat.byID(id)
		if in.Err != nil && !s.replaying {
			releaseShares(o.shares)
			return nil, in.Err
		}
		inputErr = cmp.Or(inputErr, in.Err)
		snapshot[id] = in.Data.Snapshot()
	}
	// The view starts at the current timestamp, as a read would see it.
	var out []dataflow.Update
	if inputErr == nil {
		out, err = flow.Step(e.viewStepCtxLocked(), snapshot)
	} else {
		err = inputErr
	}
	if err != nil && s.replaying {
		// Replay may pass through states that never existed (the tables
		// are empty until a checkpoint loads; compaction keeps only the
		// insertions still live below since, history.go). The view starts
		// failed; errInherited asks the next step to retry it, and restore
		// steps once more at the end, so the final state is exact.
		o.Err, o.errInherited, out = err, true, nil
	} else if err != nil {
		releaseShares(o.shares)
		return nil, err
	}
	o.apply(out)
	if err := e.mu.cat.add(o); err != nil {
		releaseShares(o.shares)
		return nil, err
	}
	return &Result{Tag: "CREATE MATERIALIZED VIEW"}, nil
}

func (e *Engine) createIndex(s *Session, is *pg.IndexStmt) (*Result, error) {
	on, ok := s.resolve(is.Relation.Schemaname, is.Relation.Relname)
	if !ok || (on.Kind != KindTable && on.Kind != KindMatView) {
		return nil, errAt(pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", relationName(is.Relation.Schemaname, is.Relation.Relname)), is.Relation.Location)
	}
	// An index lives in its table's schema.
	name := is.Idxname
	if name == "" {
		name = on.Name + "_idx"
		for i := 1; ; i++ {
			if _, taken := e.mu.cat.lookup(on.Schema, name); !taken {
				break
			}
			name = on.Name + "_idx" + itoa(i)
		}
	}
	if _, exists := e.mu.cat.lookup(on.Schema, name); exists && is.IfNotExists {
		return &Result{Tag: "CREATE INDEX"}, nil
	}
	var cols []int
	for _, p := range is.IndexParams {
		ie := p.GetIndexElem()
		if ie.Name == "" {
			cols = nil // an expression index is recorded but not used for lookups yet
			break
		}
		found := -1
		for i, c := range on.Columns {
			if strings.EqualFold(c.Name, ie.Name) {
				found = i
			}
		}
		if found < 0 {
			return nil, pgerror.New(pgerror.UndefinedColumn, "column %q does not exist", ie.Name)
		}
		cols = append(cols, found)
	}
	if is.Unique {
		if on.Kind != KindTable {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "unique indexes on materialized views are not supported")
		}
		if cols == nil {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "unique indexes on expressions are not supported")
		}
		if _, exists := e.mu.cat.lookup(on.Schema, name); exists {
			return nil, pgerror.New(pgerror.DuplicateTable, "relation %q already exists", name)
		}
		if err := on.addUnique(name, cols); err != nil {
			return nil, err
		}
	}
	// A column index arranges the object's rows by those columns, kept
	// current on every write; ad-hoc queries that fix them look rows up.
	if len(cols) > 0 {
		on.addIndex(name, cols)
	}
	o := &Object{Kind: KindIndex, Schema: on.Schema, Name: name, On: on.key(), Unique: is.Unique, IndexCols: cols}
	if err := e.mu.cat.add(o); err != nil {
		return nil, err
	}
	return &Result{Tag: "CREATE INDEX"}, nil
}

func (e *Engine) drop(s *Session, ds *pg.DropStmt, dropSource bool) (*Result, error) {
	var kind ObjectKind
	var tag string
	kindName := ""
	switch ds.RemoveType {
	case pg.ObjectType_OBJECT_TABLE:
		kind, tag, kindName = KindTable, "DROP TABLE", "table"
		if dropSource {
			tag, kindName = "DROP SOURCE", "source"
		}
	case pg.ObjectType_OBJECT_VIEW:
		kind, tag = KindView, "DROP VIEW"
	case pg.ObjectType_OBJECT_MATVIEW:
		kind, tag = KindMatView, "DROP MATERIALIZED VIEW"
	case pg.ObjectType_OBJECT_INDEX:
		kind, tag = KindIndex, "DROP INDEX"
	case pg.ObjectType_OBJECT_SEQUENCE:
		kind, tag = KindSequence, "DROP SEQUENCE"
	case pg.ObjectType_OBJECT_SCHEMA:
		return e.dropSchemas(ds)
	default:
		return nil, pgerror.New(pgerror.FeatureNotSupported, "DROP %s is not supported", strings.TrimPrefix(ds.RemoveType.String(), "OBJECT_"))
	}
	if kindName == "" {
		kindName = kind.String()
	}
	res := &Result{Tag: tag}
	cascade := ds.Behavior == pg.DropBehavior_DROP_CASCADE
	// First resolve every name and collect what goes, so that a failure
	// leaves the catalog untouched; objects named together may depend on
	// one another without CASCADE.
	var named []*Object
	for _, obj := range ds.Objects {
		var parts []string
		for _, p := range obj.GetList().GetItems() {
			parts = append(parts, p.GetString_().Sval)
		}
		name, schema := parts[len(parts)-1], ""
		if len(parts) > 1 {
			schema = parts[len(parts)-2]
		}
		o, ok := s.resolve(schema, name)
		if !ok {
			if ds.MissingOk {
				res.Notices = append(res.Notices, Notice{Severity: "NOTICE", Code: "00000", Message: kindName + " \"" + relationName(schema, name) + "\" does not exist, skipping"})
				continue
			}
			code := pgerror.UndefinedTable
			if kind == KindIndex {
				code = pgerror.UndefinedObject
			}
			return nil, pgerror.New(code, "%s %q does not exist", kindName, relationName(schema, name))
		}
		if o.Kind != kind || (o.Kind == KindTable && (o.Source != nil) != dropSource) {
			err := &pgerror.Error{Code: pgerror.WrongObjectType, Message: fmt.Sprintf("%q is not a %s", name, kindName)}
			if o.Source != nil {
				err.Hint = "Use DROP SOURCE to remove a source."
			}
			return nil, err
		}
		if o.Kind == KindIndex && o.Constraint {
			tbl := o.On
			if t, ok := e.mu.cat.byName[o.On]; ok {
				tbl = t.Name
			}
			return nil, &pgerror.Error{Code: pgerror.DependentObjectsStillExist, Message: fmt.Sprintf("cannot drop index %s because constraint %s on table %s requires it", o.Name, o.Name, tbl),
				Hint: fmt.Sprintf("You can drop constraint %s on table %s instead.", o.Name, tbl)}
		}
		if o.Kind == KindSequence && o.Seq.ownedBy != "" && !cascade {
			tbl, col := splitOwner(o.Seq.ownedBy)
			return nil, &pgerror.Error{Code: pgerror.DependentObjectsStillExist, Message: fmt.Sprintf("cannot drop sequence %s because other objects depend on it", o.Name),
				Detail: fmt.Sprintf("default value for column %s of table %s depends on sequence %s", col, tbl, o.Name), Hint: "Drop table " + tbl + " first."}
		}
		named = append(named, o)
	}
	victims, err := e.dropClosure(named, cascade)
	if err != nil {
		return nil, err
	}
	e.removeObjects(victims)
	return res, nil
}

// splitOwner splits a sequence's owner "schema.table.column" into the
// table's name and the column.
func splitOwner(owner string) (table, col string) {
	i := strings.LastIndexByte(owner, '.')
	table = owner[:i]
	if j := strings.IndexByte(table, '.'); j >= 0 {
		table = table[j+1:]
	}
	return table, owner[i+1:]
}

// dropClosure returns the objects that go when named are dropped: their
// dependents (an error unless cascade, or they are named too), indexes,
// and a table's serial and identity sequences, in an order that removes
// dependents first.
func (e *Engine) dropClosure(named []*Object, cascade bool) ([]*Object, error) {
	var victims []*Object
	going := map[*Object]bool{}
	var collect func(o *Object) error
	collect = func(o *Object) error {
		if going[o] {
			return nil
		}
		for _, d := range e.mu.cat.dependents(o) {
			if d.Kind != KindIndex && !cascade && !slices.Contains(named, d) {
				return &pgerror.Error{Code: pgerror.DependentObjectsStillExist, Message: "cannot drop " + o.kindName() + " " + o.Name + " because other objects depend on it",
					Detail: d.kindName() + " " + d.Name + " depends on " + o.kindName() + " " + o.Name, Hint: "Use DROP ... CASCADE to drop the dependent objects too."}
			}
			if err := collect(d); err != nil {
				return err
			}
		}
		if !going[o] {
			going[o] = true
			victims = append(victims, o)
		}
		// A table's serial and identity sequences go with it.
		if o.Kind == KindTable {
			for _, q := range e.mu.cat.byName {
				if q.Kind == KindSequence && strings.HasPrefix(q.Seq.ownedBy, o.key()+".") && !going[q] {
					going[q] = true
					victims = append(victims, q)
				}
			}
		}
		return nil
	}
	for _, o := range named {
		if err := collect(o); err != nil {
			return nil, err
		}
	}
	return victims, nil
}

// removeObjects takes dropped objects out of the catalog.
func (e *Engine) removeObjects(victims []*Object) {
	for _, v := range victims {
		releaseShares(v.shares)
		if v.Kind == KindIndex {
			if on, ok := e.mu.cat.byName[v.On]; ok {
				on.dropIndex(v.Name)
				on.dropUnique(v.Name)
			}
		}
		e.mu.cat.remove(v)
		if v.Kind == KindTable {
			e.mu.droppedTables = append(e.mu.droppedTables, v.ID)
		}
		if v.Source != nil {
			e.stopSourceLocked(v.ID)
		}
	}
}

var nilCtx = context.Background()

var treeVersion struct {
	sync.Once
	v int32
}

// parseTreeVersion is the version pg_query stamps on parse trees, which
// Deparse requires.
func parseTreeVersion() int32 {
	treeVersion.Do(func() {
		if r, err := pg.Parse("SELECT 1"); err == nil {
			treeVersion.v = r.Version
		}
	})
	return treeVersion.v
}
