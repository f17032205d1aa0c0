package sql

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// boundWrite is a bound INSERT, UPDATE or DELETE: a query producing the
// rows to retract (old) and to insert (new), as pairs in one row.
type boundWrite struct {
	table *Object
	tag   string
	// query's rows are: for INSERT the new row; for DELETE the old row; for
	// UPDATE the old row followed by the new row.
	query         *boundQuery
	oldCols       bool
	newCols       bool
	returning     []expr.Expr // over the new row (or old row for DELETE)
	returningCols []Column
}

func (s *Session) bindWrite(b *binder, n *pg.Node) (*boundWrite, error) {
	switch {
	case n.GetInsertStmt() != nil:
		return s.bindInsert(b, n.GetInsertStmt())
	case n.GetUpdateStmt() != nil:
		return s.bindUpdate(b, n.GetUpdateStmt())
	}
	return s.bindDelete(b, n.GetDeleteStmt())
}

func (s *Session) writableTable(rv *pg.RangeVar) (*Object, error) {
	o, ok := s.resolve(rv.Schemaname, rv.Relname)
	if !ok || o.Kind == KindIndex {
		return nil, errAt(pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", relationName(rv.Schemaname, rv.Relname)), rv.Location)
	}
	if o.Kind != KindTable {
		return nil, pgerror.New(pgerror.WrongObjectType, "cannot change %s %q", o.Kind, o.Name)
	}
	if o.Source != nil {
		return nil, &pgerror.Error{Code: pgerror.WrongObjectType, Message: fmt.Sprintf("cannot change source %q", o.Name),
			Detail: "Only its connector (" + o.Source.connectorName() + ") writes to a source."}
	}
	return o, nil
}

func tableScope(o *Object, alias string) ([]scopeCol, planner.Rel) {
	cols := make([]scopeCol, len(o.Columns))
	for i, c := range o.Columns {
		cols[i] = scopeCol{table: alias, name: strings.ToLower(c.Name), typ: c.Type}
	}
	return cols, &planner.Scan{ID: o.ID, Name: o.Name, Typs: o.Types()}
}

func (s *Session) bindInsert(b *binder, ins *pg.InsertStmt) (*boundWrite, error) {
	o, err := s.writableTable(ins.Relation)
	if err != nil {
		return nil, err
	}
	if ins.OnConflictClause != nil {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "ON CONFLICT is not supported")
	}
	// Target columns.
	var target []int
	if len(ins.Cols) == 0 {
		for i := range o.Columns {
			target = append(target, i)
		}
	} else {
		for _, c := range ins.Cols {
			idx, err := targetColumn(o, c.GetResTarget())
			if err != nil {
				return nil, err
			}
			target = append(target, idx)
		}
	}
	if err := checkIdentityTargets(o, target, ins); err != nil {
		return nil, err
	}
	var src *boundQuery
	if vs := ins.SelectStmt.GetSelectStmt(); vs != nil && len(vs.ValuesLists) > 0 && len(vs.SortClause) == 0 && vs.LimitCount == nil && vs.Op == pg.SetOperation_SETOP_NONE {
		// INSERT ... VALUES: each value is assigned to its column's type
		// directly, as in PostgreSQL (so a NULL or '1' literal takes the
		// column's type).
		return s.bindInsertValues(b, ins, o, target, vs)
	}
	if ins.SelectStmt == nil {
		src = &boundQuery{rel: &planner.Values{Rows: []types.Row{{}}}}
		target = nil
	} else if src, err = b.bindSelectStmt(ins.SelectStmt, nil); err != nil {
		return nil, err
	}
	if src.visible > len(target) {
		return nil, pgerror.New(pgerror.SyntaxError, "INSERT has more expressions than target columns")
	}
	srcRel := trimCols(src)
	srcTypes := srcRel.Types()
	exprs := make([]expr.Expr, len(o.Columns))
	for i, c := range o.Columns {
		if c.Default != nil {
			exprs[i] = c.Default
		} else {
			exprs[i] = &expr.Const{Val: types.Null(c.Type)}
		}
	}
	for j := 0; j < src.visible; j++ {
		col := o.Columns[target[j]]
		var e expr.Expr = &expr.Col{Idx: j, Typ: srcTypes[j]}
		// A DEFAULT keyword or an untyped literal takes the column's type.
		if vals, ok := srcRel.(*planner.Values); ok && srcTypes[j] == types.Unknown {
			_ = vals
		}
		c, err := assignCast(b, e, col)
		if err != nil {
			return nil, err
		}
		exprs[target[j]] = c
	}
	w := &boundWrite{table: o, tag: "INSERT 0 %d", newCols: true}
	w.query = &boundQuery{rel: &planner.Project{Input: srcRel, Exprs: exprs}, visible: len(exprs), cols: make([]scopeCol, len(exprs))}
	cols, _ := tableScope(o, strings.ToLower(o.Name))
	if err := s.bindReturning(b, w, ins.ReturningList, cols); err != nil {
		return nil, err
	}
	return w, nil
}

// checkIdentityTargets refuses values for a GENERATED ALWAYS identity
// column, unless they are DEFAULT or the INSERT says OVERRIDING SYSTEM
// VALUE.
func checkIdentityTargets(o *Object, target []int, ins *pg.InsertStmt) error {
	if ins.Override == pg.OverridingKind_OVERRIDING_SYSTEM_VALUE || ins.SelectStmt == nil {
		return nil
	}
	vs := ins.SelectStmt.GetSelectStmt()
	for j, idx := range target {
		col := o.Columns[idx]
		if col.Identity != "a" {
			continue
		}
		explicit := vs == nil || len(vs.ValuesLists) == 0
		if vs != nil {
			for _, l := range vs.ValuesLists {
				if items := l.GetList().Items; j < len(items) && items[j].GetSetToDefault() == nil {
					explicit = true
				}
			}
		}
		if explicit {
			return &pgerror.Error{Code: pgerror.GeneratedAlways, Message: fmt.Sprintf("cannot insert a non-DEFAULT value into column %q", col.Name),
				Detail: fmt.Sprintf("Column %q is an identity column defined as GENERATED ALWAYS.", col.Name), Hint: "Use OVERRIDING SYSTEM VALUE to override."}
		}
	}
	return nil
}

// assignCast converts a value to a column's type as an assignment does
// (PostgreSQL allows numeric narrowing and any-to-text in assignments).
func assignCast(b *binder, e expr.Expr, col ColumnDef) (expr.Expr, error) {
	e, err := assignType(b, e, col)
	if err != nil {
		return nil, err
	}
	return b.applyTypmod(e, col.Type, col.Mods, false)
}

func assignType(b *binder, e expr.Expr, col ColumnDef) (expr.Expr, error) {
	if e.Type() == col.Type {
		return e, nil
	}
	if err := checkAssignable(e.Type(), col); err != nil {
		return nil, err
	}
	return b.coerce(e, col.Type)
}

// checkAssignable fails when a value of type from cannot be assigned to col.
func checkAssignable(from types.Type, col ColumnDef) error {
	ok := from == types.Unknown || types.ImplicitCast(from, col.Type) ||
		(from.Family() == col.Type.Family()) || col.Type.Family() == types.FamString
	if !ok {
		return pgerror.New(pgerror.DatatypeMismatch, "column %q is of type %s but expression is of type %s", col.Name, col.Type, from)
	}
	return nil
}

func (s *Session) bindReturning(b *binder, w *boundWrite, list []*pg.Node, cols []scopeCol) error {
	if len(list) == 0 {
		return nil
	}
	var items []*pg.ResTarget
	for _, n := range list {
		items = append(items, n.GetResTarget())
	}
	exprs, names, err := b.bindTargets(items, &scope{cols: cols})
	if err != nil {
		return err
	}
	w.returning = exprs
	for i, e := range exprs {
		w.returningCols = append(w.returningCols, Column{Name: names[i], Type: e.Type()})
	}
	return nil
}

// bindTargetRows binds the rows an UPDATE or DELETE changes: the table's
// rows that pass WHERE (whose subqueries may add columns after the table's).
func (s *Session) bindTargetRows(b *binder, rv *pg.RangeVar, where *pg.Node) (*Object, *scope, planner.Rel, error) {
	o, err := s.writableTable(rv)
	if err != nil {
		return nil, nil, nil, err
	}
	alias := strings.ToLower(o.Name)
	if rv.Alias != nil {
		alias = strings.ToLower(rv.Alias.Aliasname)
	}
	cols, scan := tableScope(o, alias)
	sc := &scope{cols: cols}
	rel, err := b.bindWhere(scan, where, sc)
	if err != nil {
		return nil, nil, nil, err
	}
	return o, sc, rel, nil
}

func (s *Session) bindUpdate(b *binder, up *pg.UpdateStmt) (*boundWrite, error) {
	if len(up.FromClause) > 0 {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "UPDATE ... FROM is not supported")
	}
	o, sc, rel, err := s.bindTargetRows(b, up.Relation, up.WhereClause)
	if err != nil {
		return nil, err
	}
	cols := sc.cols[:len(o.Columns)]
	n := len(o.Columns)
	exprs := make([]expr.Expr, 2*n)
	for i, c := range o.Columns {
		exprs[i] = &expr.Col{Idx: i, Typ: c.Type}
		exprs[n+i] = exprs[i]
	}
	b.rel = rel
	assigned := map[int]bool{}
	for _, t := range up.TargetList {
		rt := t.GetResTarget()
		idx, err := targetColumn(o, rt)
		if err != nil {
			return nil, err
		}
		if assigned[idx] {
			return nil, errAt(pgerror.New(pgerror.SyntaxError, "multiple assignments to same column %q", rt.Name), rt.Location)
		}
		assigned[idx] = true
		var e expr.Expr
		if rt.Val.GetSetToDefault() != nil {
			e = o.Columns[idx].Default
			if e == nil {
				e = &expr.Const{Val: types.Null(o.Columns[idx].Type)}
			}
		} else if e, err = b.bindExpr(rt.Val, sc); err != nil {
			return nil, err
		}
		if e, err = assignCast(b, e, o.Columns[idx]); err != nil {
			return nil, err
		}
		exprs[n+idx] = e
	}
	rel = b.rel
	b.rel = nil
	w := &boundWrite{table: o, tag: "UPDATE %d", oldCols: true, newCols: true}
	w.query = &boundQuery{rel: &planner.Project{Input: rel, Exprs: exprs}, visible: 2 * n, cols: make([]scopeCol, 2*n)}
	if err := s.bindReturning(b, w, up.ReturningList, cols); err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Session) bindDelete(b *binder, del *pg.DeleteStmt) (*boundWrite, error) {
	if len(del.UsingClause) > 0 {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "DELETE ... USING is not supported")
	}
	o, sc, rel, err := s.bindTargetRows(b, del.Relation, del.WhereClause)
	if err != nil {
		return nil, err
	}
	cols := sc.cols[:len(o.Columns)]
	n := len(o.Columns)
	exprs := make([]expr.Expr, n)
	for i, c := range o.Columns {
		exprs[i] = &expr.Col{Idx: i, Typ: c.Type}
	}
	w := &boundWrite{table: o, tag: "DELETE %d", oldCols: true}
	w.query = &boundQuery{rel: &planner.Project{Input: rel, Exprs: exprs}, visible: n, cols: make([]scopeCol, n)}
	if err := s.bindReturning(b, w, del.ReturningList, cols); err != nil {
		return nil, err
	}
	return w, nil
}

// execWrite computes a write's changes against the current contents (plus
// the transaction's own writes), checks constraints, and either buffers
// them in the open transaction or commits them at once. Writes that read
// hold the engine's write lock throughout, so concurrent UPDATEs of one row
// are serialized and never both retract the same old version.
func (s *Session) execWrite(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	s.e.mu.Lock()
	s.holdsWriteLock = true
	defer func() { s.holdsWriteLock = false; s.e.mu.Unlock() }()
	b := s.newBinder(p.ParamTypes, params)
	w, err := s.bindWrite(b, p.Stmt.ast)
	if err != nil {
		return nil, err
	}
	rows, err := s.runQueryLocked(ctx, w.query)
	if err != nil {
		return nil, err
	}
	n := len(w.table.Columns)
	perRow := 1
	if w.oldCols && w.newCols {
		perRow = 2 // an UPDATE retracts and inserts
	}
	changes := make([]dataflow.Update, 0, perRow*len(rows))
	var returned []types.Row
	for _, r := range rows {
		var oldRow, newRow types.Row
		switch {
		case w.oldCols && w.newCols:
			oldRow, newRow = r[:n:n], r[n:]
		case w.oldCols:
			oldRow = r
		default:
			newRow = r
		}
		if oldRow != nil {
			changes = append(changes, dataflow.Update{Row: oldRow, Diff: -1})
		}
		if newRow != nil {
			for i, c := range w.table.Columns {
				if c.NotNull && newRow[i].IsNull() {
					return nil, &pgerror.Error{Code: pgerror.NotNullViolation, Message: fmt.Sprintf("null value in column %q of relation %q violates not-null constraint", c.Name, w.table.Name)}
				}
			}
			changes = append(changes, dataflow.Update{Row: newRow, Diff: 1})
		}
		if w.returning != nil {
			src := newRow
			if src == nil {
				src = oldRow
			}
			out := make(types.Row, len(w.returning))
			for i, e := range w.returning {
				d, err := e.Eval(s.evalCtx(), src)
				if err != nil {
					return nil, err
				}
				out[i] = d
			}
			returned = append(returned, out)
		}
	}
	if err := s.checkPrimaryKeyLocked(w.table, changes); err != nil {
		return nil, err
	}
	res := &Result{Tag: fmt.Sprintf(w.tag, len(rows))}
	if w.returning != nil {
		res.Columns, res.Rows = w.returningCols, returned
	}
	if s.tx != nil && s.tx.explicit {
		s.tx.writes[w.table.ID] = append(s.tx.writes[w.table.ID], changes...)
		return res, nil
	}
	if err := s.e.commitLocked(map[dataflow.CollectionID][]dataflow.Update{w.table.ID: changes}); err != nil {
		return nil, err
	}
	return res, nil
}

// execTruncate empties tables with one write (in an open transaction, one
// more buffered write) that deletes every row; RESTART IDENTITY also
// restarts the sequences their serial and identity columns own.
func (s *Session) execTruncate(ctx context.Context, ts *pg.TruncateStmt) (*Result, error) {
	s.e.mu.Lock()
	s.holdsWriteLock = true
	defer func() { s.holdsWriteLock = false; s.e.mu.Unlock() }()
	writes := map[dataflow.CollectionID][]dataflow.Update{}
	var tables []*Object
	for _, n := range ts.Relations {
		o, err := s.writableTable(n.GetRangeVar())
		if err != nil {
			return nil, err
		}
		if _, dup := writes[o.ID]; dup {
			continue
		}
		rows, err := s.readLocked(&dataflow.Get{ID: o.ID, Name: o.Name, Typs: o.Types()})
		if err != nil {
			return nil, err
		}
		changes := make([]dataflow.Update, 0, len(rows))
		for _, u := range rows {
			if u.Diff != 0 {
				changes = append(changes, dataflow.Update{Row: u.Row, Diff: -u.Diff})
			}
		}
		if err := s.checkPrimaryKeyLocked(o, changes); err != nil {
			return nil, err
		}
		writes[o.ID] = changes
		tables = append(tables, o)
	}
	if s.tx != nil && s.tx.explicit {
		for id, ups := range writes {
			s.tx.writes[id] = append(s.tx.writes[id], ups...)
		}
	} else if err := s.e.commitLocked(writes); err != nil {
		return nil, err
	}
	if ts.RestartSeqs {
		for _, t := range tables {
			for _, o := range s.e.mu.cat.byName {
				if o.Kind != KindSequence || !strings.HasPrefix(o.Seq.ownedBy, t.key()+".") {
					continue
				}
				if err := s.appendSequenceRecordLocked(o, restartRecord(o, o.Seq.start)); err != nil {
					return nil, err
				}
				o.Seq.mu.Lock()
				o.Seq.restartLocked(o.Seq.start)
				o.Seq.mu.Unlock()
			}
		}
	}
	return &Result{Tag: "TRUNCATE TABLE"}, nil
}

// checkPrimaryKeyLocked rejects changes that would leave two rows with the
// same primary key, or a NULL in it, or duplicate a unique constraint's key
// (unique.go). REQUIRES: e.mu held.
func (s *Session) checkPrimaryKeyLocked(o *Object, changes []dataflow.Update) error {
	if err := s.checkUniqueLocked(o, changes); err != nil {
		return err
	}
	if len(o.PrimaryKey) == 0 {
		return nil
	}
	var pending map[string]int64
	if s.tx != nil {
		pending = s.tx.keys[o.ID]
	}
	inTxBlock := s.tx != nil && s.tx.explicit
	if onlyInserts(changes) && pending == nil && !inTxBlock {
		if done, err := o.checkInsertedKeys(changes); done {
			return err
		}
	}
	delta := make(map[string]int64, len(changes))
	if onlyInserts(changes) {
		// INSERT and COPY: one pass in row order, the first row whose key
		// is taken fails (as in PostgreSQL).
		for _, u := range changes {
			k := o.pkKey(u.Row)
			delta[k] += u.Diff
			if err := o.checkKeyedRow(u.Row, o.pkCount(u.Row, k)+pending[k]+delta[k]); err != nil {
				return err
			}
		}
		s.notePendingKeys(o, delta)
		return nil
	}
	if o.pkUnchangedPairs(changes) {
		// Each key's retraction and insertion cancel: nothing can collide
		// and nothing is pending.
		return nil
	}
	var order []string
	rowOf := map[string]types.Row{}
	for _, u := range changes {
		k := o.pkKey(u.Row)
		if _, ok := delta[k]; !ok {
			order = append(order, k)
		}
		delta[k] += u.Diff
		if u.Diff > 0 {
			rowOf[k] = u.Row
		}
	}
	for _, k := range order {
		if delta[k] <= 0 {
			continue
		}
		if err := o.checkKeyedRow(rowOf[k], o.pkCount(rowOf[k], k)+pending[k]+delta[k]); err != nil {
			return err
		}
	}
	s.notePendingKeys(o, delta)
	return nil
}

// pkHashSeed hashes primary keys in checkInsertedKeys.
var pkHashSeed = maphash.MakeSeed()

// checkInsertedKeys is checkPrimaryKeyLocked's pass over a batch of pure
// inserts outside a transaction block (INSERT, COPY), without a key string
// per row: the keys are looked up in the primary key's index by their
// encoding on the stack, and the batch's own keys are told apart by hash
// (a string per row and a map of them were 10% of a COPY's allocations).
// It reports done=false, having checked nothing, when two different keys
// of the batch hash alike; the caller then checks with key strings.
func (o *Object) checkInsertedKeys(changes []dataflow.Update) (done bool, err error) {
	if o.keysAscendPastTable(changes) {
		return true, nil
	}
	seen := make(map[uint64]int, len(changes)) // hash -> index in changes
	var scratch, other [64]byte
	for i, u := range changes {
		buf := scratch[:0]
		for _, c := range o.PrimaryKey {
			buf = types.AppendKey(buf, u.Row[c])
		}
		count := o.pkCountEncoded(u.Row, buf) + u.Diff
		h := maphash.Bytes(pkHashSeed, buf)
		if j, ok := seen[h]; ok {
			prev := other[:0]
			for _, c := range o.PrimaryKey {
				prev = types.AppendKey(prev, changes[j].Row[c])
			}
			if string(prev) != string(buf) {
				return false, nil
			}
			count += changes[j].Diff
		} else {
			seen[h] = i
		}
		if err := o.checkKeyedRow(u.Row, count); err != nil {
			return true, err
		}
	}
	return true, nil
}

// pkUnchangedPairs reports whether changes are pairs of a row's retraction
// and an insertion with the same primary key, as an UPDATE that sets no key
// column writes them. Keys that Compare equal encode alike (pkKey).
func (o *Object) pkUnchangedPairs(changes []dataflow.Update) bool {
	if len(changes)%2 != 0 {
		return false
	}
	for i := 0; i < len(changes); i += 2 {
		old, new := changes[i], changes[i+1]
		if old.Diff != -1 || new.Diff != 1 {
			return false
		}
		for _, c := range o.PrimaryKey {
			if types.CompareRef(&old.Row[c], &new.Row[c]) != 0 {
				return false
			}
		}
	}
	return true
}

// keysAscendPastTable reports whether a batch of inserts, one row each, has
// keys that strictly increase, none NULL, the first greater than every key of the
// table: then none is taken or repeated. A bulk load in key order (most
// COPYs, and every batch of a growing id) is checked with one comparison
// per row instead of a hash lookup in the primary key's index and one in
// the batch's own (a tenth of a COPY's time under the write lock).
//
// It needs the key to lead the rows (keyLeads), so that the table's
// greatest row (its B-tree's last) holds its greatest key and the order
// tells keys apart; others take the general check.
func (o *Object) keysAscendPastTable(changes []dataflow.Update) bool {
	if !o.keyLeads() {
		return false
	}
	k := len(o.PrimaryKey)
	for i, u := range changes {
		if u.Diff != 1 {
			return false
		}
		key := u.Row[:k]
		for _, d := range key {
			if d.IsNull() {
				return false
			}
		}
		if i > 0 && types.CompareRows(changes[i-1].Row[:k], key) >= 0 {
			return false
		}
	}
	if last, ok := o.Data.Max(); ok && len(changes) > 0 && types.CompareRows(last[:k], changes[0].Row[:k]) >= 0 {
		return false
	}
	return true
}

func onlyInserts(changes []dataflow.Update) bool {
	for _, u := range changes {
		if u.Diff <= 0 {
			return false
		}
	}
	return true
}

// checkKeyedRow fails for a row with a NULL in its primary key, or whose key
// would then be held by count rows.
func (o *Object) checkKeyedRow(r types.Row, count int64) error {
	for _, c := range o.PrimaryKey {
		if r[c].IsNull() {
			return &pgerror.Error{Code: pgerror.NotNullViolation, Message: fmt.Sprintf("null value in column %q of relation %q violates not-null constraint", o.Columns[c].Name, o.Name)}
		}
	}
	if count > 1 {
		var parts, vals []string
		for _, c := range o.PrimaryKey {
			parts = append(parts, o.Columns[c].Name)
			vals = append(vals, types.FormatText(r[c]))
		}
		return &pgerror.Error{Code: pgerror.UniqueViolation, Message: fmt.Sprintf("duplicate key value violates unique constraint %q", o.Name+"_pkey"),
			Detail: fmt.Sprintf("Key (%s)=(%s) already exists.", strings.Join(parts, ", "), strings.Join(vals, ", "))}
	}
	return nil
}

// notePendingKeys adds a statement's key changes to its open transaction
// block's.
func (s *Session) notePendingKeys(o *Object, delta map[string]int64) {
	if s.tx != nil && s.tx.explicit {
		if s.tx.keys[o.ID] == nil {
			s.tx.keys[o.ID] = map[string]int64{}
		}
		for k, d := range delta {
			s.tx.keys[o.ID][k] += d
		}
	}
}

func (s *Session) bindInsertValues(b *binder, ins *pg.InsertStmt, o *Object, target []int, vs *pg.SelectStmt) (*boundWrite, error) {
	var rel planner.Rel
	var consts []types.Row
	// One evaluation context for every row: building it resolves the
	// search path (9% of a 1000-row INSERT when it was made per row).
	ectx := s.evalCtx()
	// What a column not given a value gets: its default, or NULL.
	defaults := make([]expr.Expr, len(o.Columns))
	for i, c := range o.Columns {
		if c.Default != nil {
			defaults[i] = c.Default
		} else {
			defaults[i] = &expr.Const{Val: types.Null(c.Type)}
		}
	}
	lits := newLiteralRows(b, o, target, defaults)
	for _, l := range vs.ValuesLists {
		items := l.GetList().Items
		if len(items) > len(target) {
			return nil, pgerror.New(pgerror.SyntaxError, "INSERT has more expressions than target columns")
		}
		if row, ok, err := lits.row(items, ectx); err != nil {
			return nil, err
		} else if ok {
			consts = append(consts, row)
			continue
		}
		exprs, err := valuesRowExprs(b, o, target, defaults, items)
		if err != nil {
			return nil, err
		}
		if row, constant, err := constRow(exprs, ectx); err != nil {
			return nil, err
		} else if constant {
			consts = append(consts, row)
			continue
		}
		one := &planner.Project{Input: &planner.Values{Rows: []types.Row{{}}}, Exprs: exprs}
		if rel == nil {
			rel = one
		} else {
			rel = &planner.SetOp{Kind: planner.Union, All: true, Left: rel, Right: one}
		}
	}
	if len(consts) > 0 || rel == nil {
		v := &planner.Values{Rows: consts, Typs: o.Types()}
		if rel == nil {
			rel = v
		} else {
			rel = &planner.SetOp{Kind: planner.Union, All: true, Left: v, Right: rel}
		}
	}
	n := len(o.Columns)
	w := &boundWrite{table: o, tag: "INSERT 0 %d", newCols: true}
	w.query = &boundQuery{rel: rel, visible: n, cols: make([]scopeCol, n)}
	cols, _ := tableScope(o, strings.ToLower(o.Name))
	if err := s.bindReturning(b, w, ins.ReturningList, cols); err != nil {
		return nil, err
	}
	return w, nil
}

// valuesRowExprs binds a row of VALUES items: each column's expression.
func valuesRowExprs(b *binder, o *Object, target []int, defaults []expr.Expr, items []*pg.Node) ([]expr.Expr, error) {
	exprs := slices.Clone(defaults)
	for j, item := range items {
		if item.GetSetToDefault() != nil {
			continue
		}
		e, err := b.bindExpr(item, &scope{})
		if err != nil {
			return nil, err
		}
		if e, err = assignCast(b, e, o.Columns[target[j]]); err != nil {
			return nil, err
		}
		exprs[target[j]] = e
	}
	return exprs, nil
}

// constRow evaluates a row of expressions that are all constants;
// constant=false (and the row unevaluated from there) when one is not.
func constRow(exprs []expr.Expr, ectx *expr.Ctx) (row types.Row, constant bool, err error) {
	row = make(types.Row, len(exprs))
	for i, e := range exprs {
		if !expr.IsConst(e) {
			return nil, false, nil
		}
		if row[i], err = e.Eval(ectx, nil); err != nil {
			return nil, false, err
		}
	}
	return row, true, nil
}

// literalRows binds the VALUES rows of an INSERT that are all plain
// literals (bulk ingest's batched INSERTs) straight to their datums: what
// binding each literal, assigning it to its column's type (assignCast),
// folding the constant and evaluating the row give, without building an
// expression per value. Rows it does not take are bound the general way.
type literalRows struct {
	b        *binder
	o        *Object
	target   []int
	defaults []expr.Expr
	// fold is the context casts of literals are folded in: one for the
	// statement (coerce makes one per cast).
	fold *expr.Ctx
	// ok is false when no row can be taken: a column left out gets a
	// default that is not a constant, or a type modifier does not bind.
	ok bool
	// typmods[j] applies the type modifier of target column j (varchar(n),
	// numeric(p, s): a function call) to the value in column 0 of a
	// one-column row, one; nil for a column without one. Bound once for the
	// statement rather than once per value.
	typmods []expr.Expr
	one     types.Row
	// left are the columns left out; rest their values, evaluated with the
	// first row that needs them (as the general way evaluates a row's
	// expressions: after binding its values).
	left []int
	rest []types.Datum
}

func newLiteralRows(b *binder, o *Object, target []int, defaults []expr.Expr) *literalRows {
	l := &literalRows{b: b, o: o, target: target, defaults: defaults, ok: true}
	given := make([]bool, len(o.Columns))
	for j, c := range target {
		given[c] = true
		col := o.Columns[c]
		if len(col.Mods) == 0 {
			continue
		}
		if l.typmods == nil {
			l.typmods = make([]expr.Expr, len(target))
			l.one = make(types.Row, 1)
		}
		var err error
		if l.typmods[j], err = b.applyTypmod(&expr.Col{Idx: 0, Typ: col.Type}, col.Type, col.Mods, false); err != nil {
			l.ok = false // the general way reports it at the value
		}
	}
	for i, d := range defaults {
		if !given[i] {
			l.left = append(l.left, i)
			if !expr.IsConst(d) {
				l.ok = false
			}
		}
	}
	return l
}

// checkLiteralRows makes literalRows.row check every row it takes against
// the general way: on with the invariants build tag, and in
// TestLiteralValuesRows.
var checkLiteralRows atomic.Bool

func init() { checkLiteralRows.Store(invariants) }

// row returns the datums of a row of VALUES items, ok=false when the row is
// not one of literals for every target column.
func (l *literalRows) row(items []*pg.Node, ectx *expr.Ctx) (types.Row, bool, error) {
	row, ok, err := l.literalRow(items, ectx)
	if checkLiteralRows.Load() && (ok || err != nil) {
		if msg := l.compareWithGeneral(items, ectx, row, err); msg != "" {
			panic("literal VALUES row: " + msg)
		}
	}
	return row, ok, err
}

// compareWithGeneral binds and evaluates items the general way and returns
// how the outcome differs from row, err ("" when it does not).
func (l *literalRows) compareWithGeneral(items []*pg.Node, ectx *expr.Ctx, row types.Row, err error) string {
	var want types.Row
	var constant bool
	exprs, werr := valuesRowExprs(l.b, l.o, l.target, l.defaults, items)
	if werr == nil {
		want, constant, werr = constRow(exprs, ectx)
	}
	switch {
	case (err == nil) != (werr == nil):
		return fmt.Sprintf("error %v, the general way %v", err, werr)
	case err != nil:
		var pe, wpe *pgerror.Error
		if !errors.As(err, &pe) || !errors.As(werr, &wpe) || *pe != *wpe {
			return fmt.Sprintf("error %#v, the general way %#v", err, werr)
		}
		return ""
	case !constant:
		return "the general way's row is not constant"
	}
	for i := range row {
		if row[i].Type() != want[i].Type() || row[i].IsNull() != want[i].IsNull() ||
			types.FormatText(row[i]) != types.FormatText(want[i]) {
			return fmt.Sprintf("column %d is %s %q, the general way %s %q", i, row[i].Type(), types.FormatText(row[i]), want[i].Type(), types.FormatText(want[i]))
		}
	}
	return ""
}

func (l *literalRows) literalRow(items []*pg.Node, ectx *expr.Ctx) (types.Row, bool, error) {
	if !l.ok || len(items) != len(l.target) {
		return nil, false, nil
	}
	for _, item := range items {
		if item.GetAConst() == nil {
			return nil, false, nil
		}
	}
	if l.fold == nil {
		l.fold = l.b.foldCtx()
	}
	row := make(types.Row, len(l.o.Columns))
	for j, item := range items {
		col := l.o.Columns[l.target[j]]
		d, err := constDatum(item.GetAConst())
		if err != nil {
			return nil, false, err
		}
		if d.Type() != col.Type {
			if err := checkAssignable(d.Type(), col); err != nil {
				return nil, false, err
			}
			if col.Type != types.Unknown {
				if d, err = expr.CastDatum(l.fold, d, col.Type); err != nil {
					return nil, false, err
				}
			}
		}
		if l.typmods != nil && l.typmods[j] != nil {
			// The general way folds the call when it succeeds; one that
			// fails it reports when it evaluates the row, after binding
			// the row's other values: left to it.
			l.one[0] = d
			if d, err = l.typmods[j].Eval(l.fold, l.one); err != nil {
				return nil, false, nil
			}
		}
		row[l.target[j]] = d
	}
	if l.rest == nil && len(l.left) > 0 {
		for _, i := range l.left {
			d, err := l.defaults[i].Eval(ectx, nil)
			if err != nil {
				return nil, false, err
			}
			l.rest = append(l.rest, d)
		}
	}
	for k, i := range l.left {
		row[i] = l.rest[k]
	}
	return row, true, nil
}

// targetColumn finds the column an INSERT or UPDATE names.
func targetColumn(o *Object, rt *pg.ResTarget) (int, error) {
	for i, c := range o.Columns {
		if strings.EqualFold(c.Name, rt.Name) {
			return i, nil
		}
	}
	return -1, errAt(pgerror.New(pgerror.UndefinedColumn, "column %q of relation %q does not exist", rt.Name, o.Name), rt.Location)
}
