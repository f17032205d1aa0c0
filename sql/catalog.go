package sql

import (
	"cmp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// ObjectKind is the kind of a catalog object.
type ObjectKind uint8

// Object kinds.
const (
	KindTable ObjectKind = iota
	KindView
	KindMatView
	KindIndex
	KindSequence
)

func (k ObjectKind) String() string {
	return [...]string{"table", "view", "materialized view", "index", "sequence"}[k]
}

// ColumnDef is a column of a table or view.
type ColumnDef struct {
	Name string
	Type types.Type
	// Mods are the type's modifiers: varchar(40) → [40], numeric(10, 2) → [10 2].
	Mods    []int32
	NotNull bool
	Default expr.Expr // nil: NULL
	// DefaultSQL, when set, is how the default prints (pg_get_expr):
	// nextval('t_id_seq'::regclass) for serial and identity columns.
	DefaultSQL string
	// Identity is "a" (GENERATED ALWAYS) or "d" (BY DEFAULT) for an
	// identity column (pg_attribute.attidentity), "" otherwise.
	Identity string
}

// Object is a table, view, materialized view or index. Fields are set at
// creation and never change, except the runtime state of tables and
// materialized views, which the coordinator guards.
type Object struct {
	ID      dataflow.CollectionID
	Kind    ObjectKind
	Schema  string // the schema it belongs to (schema.go)
	Name    string
	Columns []ColumnDef
	// PrimaryKey lists the primary key's column indexes (tables).
	PrimaryKey []int
	// SQL is the defining query (views), or the CREATE INDEX target.
	SQL string
	// On is the indexed object's catalog key, objKey (indexes).
	On string
	// DependsOn lists the catalog keys of the objects the definition reads.
	DependsOn []string
	// SearchPath is the search path a view was created with, which its
	// definition is bound with.
	SearchPath []string

	// Source is set for a source (a table only its connector writes:
	// source.go).
	Source *sourceDef
	// Watermark is the table's WATERMARK (watermark.go), nil if none.
	Watermark *Watermark
	// EmitOnWindowClose marks a materialized view created with EMIT ON
	// WINDOW CLOSE (windowclose.go).
	EmitOnWindowClose bool
	// Created is the time of the catalog record that created the object:
	// the oldest time it can be read AS OF (history.go).
	Created uint64
	// hist holds a table's or materialized view's history options
	// (history.go); nil for the defaults.
	hist *objHistory

	// Contents of a table or the output of a materialized view.
	Data *dataflow.Index
	// pk is the primary key's index (tables with a primary key): it also
	// answers how many rows hold a key value (pkCount), so that uniqueness
	// checks are lookups, not scans. It lives as long as the table.
	pk *tableIndex
	// indexes arrange the contents by some columns, for lookups by ad-hoc
	// queries, UPDATEs and DELETEs (the primary key's, and CREATE INDEX's).
	indexes []*tableIndex
	// Flow maintains a materialized view.
	Flow *dataflow.Dataflow
	// steps and stepNanos count a materialized view's dataflow steps and
	// their total time (observe.go); written and read under Engine.mu.
	steps     uint64
	stepNanos int64
	// Err is set when a materialized view's dataflow failed; reads return it.
	Err error
	// errInherited marks an Err that came from a failed input view.
	errInherited bool
	// shares are the indexes of other objects a materialized view's joins
	// read as shared arrangements; dropping the view releases them.
	shares []sharedIndex
	// Seq is a sequence's definition and state (sequence.go).
	Seq *sequence
	// uniques are a table's unique constraints and unique indexes
	// (unique.go).
	uniques []*uniqueKey
	// Unique marks a unique index; Constraint one that backs a UNIQUE
	// constraint (dropped with the table, not by DROP INDEX).
	Unique, Constraint bool
	// IndexCols are an index's key columns of its table (nil for an
	// expression index).
	IndexCols []int
}

// kindName is how messages name the object's kind: its Kind, or "source".
func (o *Object) kindName() string {
	if o.Source != nil {
		return "source"
	}
	return o.Kind.String()
}

// Types returns the column types.
func (o *Object) Types() []types.Type {
	out := make([]types.Type, len(o.Columns))
	for i, c := range o.Columns {
		out[i] = c.Type
	}
	return out
}

// catalog is the set of objects by schema and (lower-case) name, and the
// user schemas. The coordinator guards it.
type catalog struct {
	byName  map[string]*Object // by objKey
	schemas map[string]*schemaEntry
	ids     map[dataflow.CollectionID]*Object
	nextID  dataflow.CollectionID
	roles   map[string]*role // by exact name; nil until the first CREATE ROLE (roles.go)
	// status is the engine's restart and checkpoint status, for
	// tb_catalog.restart and tb_catalog.checkpoints (sql/checkpoint.go).
	status *durabilityStatus
	// fresh are the objects added since the last stampCreated.
	fresh []*Object
	// hist is the engine's history bookkeeping, for tb_catalog.history.
	hist *history
	// sourceRunners are the engine's running sources, for
	// tb_catalog.sources.
	sourceRunners *sourceRunners
}

// stampCreated sets Created on the objects added since it last ran: the
// time of the catalog record that created them.
func (c *catalog) stampCreated(t uint64) {
	for _, o := range c.fresh {
		if o.Created == 0 {
			o.Created = t
		}
	}
	c.fresh = nil
}

func newCatalog() *catalog {
	return &catalog{byName: map[string]*Object{}, ids: map[dataflow.CollectionID]*Object{}, nextID: 1,
		schemas: map[string]*schemaEntry{"public": {name: "public", oid: nspPublic}}}
}

// lookup finds an object by schema and name.
func (c *catalog) lookup(schema, name string) (*Object, bool) {
	o, ok := c.byName[objKey(schema, name)]
	return o, ok
}

func (c *catalog) add(o *Object) error {
	if o.Schema == "" {
		o.Schema = "public"
	}
	key := o.key()
	if _, ok := c.byName[key]; ok {
		return pgerror.New(pgerror.DuplicateTable, "relation %q already exists", o.Name)
	}
	o.ID = c.nextID
	c.nextID++
	c.fresh = append(c.fresh, o)
	c.byName[key] = o
	c.ids[o.ID] = o
	return nil
}

// dependents returns the objects whose definitions read o, and its indexes.
func (c *catalog) dependents(o *Object) []*Object {
	key := o.key()
	var out []*Object
	for _, d := range c.byName {
		if slices.Contains(d.DependsOn, key) || (d.Kind == KindIndex && d.On == key) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// sources returns the sources in creation order.
func (c *catalog) sources() []*Object {
	var out []*Object
	for _, o := range c.byName {
		if o.Source != nil {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// matViews returns the materialized views in creation order, which is a
// dependency order: a view can only read objects created before it.
func (c *catalog) matViews() []*Object {
	var out []*Object
	for _, o := range c.byName {
		if o.Kind == KindMatView {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *catalog) remove(o *Object) {
	if c.byName[o.key()] == o {
		delete(c.byName, o.key())
		delete(c.ids, o.ID)
	}
}

func (c *catalog) byID(id dataflow.CollectionID) *Object { return c.ids[id] }

// pkKey encodes the primary-key columns of row.
func (o *Object) pkKey(row types.Row) string {
	// Encoded on the stack for a typical key: the string is the one
	// allocation (this runs twice per row written).
	var scratch [64]byte
	buf := scratch[:0]
	for _, c := range o.PrimaryKey {
		buf = types.AppendKey(buf, row[c])
	}
	return string(buf)
}

// tableIndex is an index of a table or materialized view: its rows
// arranged by the values of some columns, kept current with the contents.
type tableIndex struct {
	name string
	cols []int
	// arr arranges the rows by cols; nil while the contents' B-tree
	// answers for the index instead (a primary key on the leading
	// columns, keyLeads): then it is built when a join needs it
	// (arrangement), and lookups and counts scan the B-tree.
	arr *dataflow.Arrangement
	// users counts what keeps the index alive: the primary key or a
	// CREATE INDEX, and every materialized view whose joins read it.
	users int
}

func (x *tableIndex) add(ups []dataflow.Update) {
	if x.arr == nil {
		return // the contents answer for it
	}
	for _, u := range ups {
		x.arr.AddCols(u.Row, x.cols, u.Diff)
	}
}

// addNew is add of rows none of which the index holds, each once: a
// checkpoint's, or the contents an index is made from
// (dataflow.Arrangement.AddColsDistinct).
func (x *tableIndex) addNew(ups []dataflow.Update) {
	if x.arr != nil {
		x.arr.AddColsDistinct(ups, x.cols)
	}
}

// addIndex returns the index on cols, creating it (filled from the current
// contents) if there is none, and counts one more user of it.
func (o *Object) addIndex(name string, cols []int) *tableIndex {
	x := o.indexFor(cols)
	if x == nil {
		x = &tableIndex{name: name, cols: cols, arr: dataflow.NewArrangement()}
		x.addNew(o.Data.Snapshot())
		o.indexes = append(o.indexes, x)
	} else if x.name == "" {
		x.name = name
	}
	x.users++
	return x
}

// addPrimaryKey makes the primary key's index. When the key is the leading
// columns, of types whose order tells keys apart (keyLeads), the contents'
// B-tree holds the rows in key order already and answers for it: a table
// then keeps one structure per row, not two (the key's hash map was as
// costly as the B-tree in a COPY, and a third of the collector's heap).
func (o *Object) addPrimaryKey(name string) {
	if o.keyLeads() && o.indexFor(o.PrimaryKey) == nil {
		o.pk = &tableIndex{name: name, cols: o.PrimaryKey, users: 1}
		o.indexes = append(o.indexes, o.pk)
		return
	}
	o.pk = o.addIndex(name, o.PrimaryKey)
}

// keyLeads reports whether the primary key is the leading columns, in
// order, of types whose order tells their key identities apart
// (types.Compare strictly less means types.AppendKey different, and equal
// means equal): integers, text, dates and timestamps. The table's
// greatest row then holds its greatest key, and the rows of one key are
// adjacent in the B-tree.
func (o *Object) keyLeads() bool {
	if len(o.PrimaryKey) == 0 {
		return false
	}
	for i, c := range o.PrimaryKey {
		if c != i {
			return false
		}
		switch t := o.Columns[c].Type; {
		case t.IsInteger(), t == types.Text, t == types.Varchar,
			t == types.Date, t == types.Timestamp, t == types.TimestampTZ:
		default:
			return false
		}
	}
	return true
}

// arrangement returns x as an Arrangement, building it from o's contents
// if the B-tree answered for it so far; it is kept current from then on.
func (x *tableIndex) arrangement(o *Object) *dataflow.Arrangement {
	if x.arr == nil {
		x.arr = dataflow.NewArrangement()
		x.add(o.Data.Snapshot())
	}
	return x.arr
}

// orderedLike reports whether datums of type t are looked up in a column of
// type c by the column's order with the same answers as by key identity
// (types.AppendKey): keyLeads' types, each with those of its kind.
func orderedLike(t, c types.Type) bool {
	text := func(t types.Type) bool { return t == types.Text || t == types.Varchar }
	return t == c || (t.IsInteger() && c.IsInteger()) || (text(t) && text(c)) ||
		(t.Family() == types.FamDateTime && c.Family() == types.FamDateTime)
}

// lookup calls f with the rows whose cols equal key. REQUIRES: without an
// arrangement, each of key's datums is NULL or orderedLike its column.
func (x *tableIndex) lookup(o *Object, key types.Row, f func(row types.Row, count int64)) {
	if x.arr != nil {
		x.arr.Lookup(key, f)
		return
	}
	o.Data.ScanFrom(key, func(row types.Row, count int64) bool {
		if types.CompareRows(row[:len(key)], key) != 0 {
			return false
		}
		f(row, count)
		return true
	})
}

// releaseIndex drops one user of x, and the index with its last user.
func (o *Object) releaseIndex(x *tableIndex) {
	x.users--
	if x.users > 0 {
		return
	}
	for i, y := range o.indexes {
		if y == x {
			o.indexes = append(o.indexes[:i], o.indexes[i+1:]...)
			return
		}
	}
}

// dropIndex releases the named index (DROP INDEX).
func (o *Object) dropIndex(name string) {
	for _, x := range o.indexes {
		if strings.EqualFold(x.name, name) {
			x.name = ""
			o.releaseIndex(x)
			return
		}
	}
}

// indexFor returns the index on exactly cols, if any.
func (o *Object) indexFor(cols []int) *tableIndex {
	for _, x := range o.indexes {
		if slices.Equal(x.cols, cols) {
			return x
		}
	}
	return nil
}

// parallelApplyRows is the batch size from which apply updates the
// contents and each index on a goroutine of its own: they are independent
// structures, and a 100k-row COPY into a table with a primary key spent
// about as long in its B-tree as in the key's index, one after the other,
// with the second core idle (BenchmarkDurableCopy).
const parallelApplyRows = 4096

// apply adds a consolidated batch to a table's or view's contents and keeps
// its indexes (the primary key's among them) current.
func (o *Object) apply(ups []dataflow.Update) { o.applyTo(ups, false) }

// applyNew is apply of rows none of which o holds (a checkpoint's): its
// indexes take them without a lookup each (tableIndex.addNew).
func (o *Object) applyNew(ups []dataflow.Update) { o.applyTo(ups, true) }

func (o *Object) applyTo(ups []dataflow.Update, fresh bool) {
	if len(ups) >= parallelApplyRows {
		tasks := make([]func(), 0, 1+len(o.indexes)+len(o.uniques))
		tasks = append(tasks, func() { o.Data.Apply(ups) })
		for _, x := range o.indexes {
			switch {
			case x.arr == nil: // the contents answer for it
			case fresh:
				tasks = append(tasks, func() { x.addNew(ups) })
			default:
				tasks = append(tasks, func() { x.add(ups) })
			}
		}
		for _, u := range o.uniques {
			tasks = append(tasks, func() { u.apply(ups) })
		}
		runParallel(tasks)
	} else {
		o.Data.Apply(ups)
		for _, x := range o.indexes {
			if fresh {
				x.addNew(ups)
			} else {
				x.add(ups)
			}
		}
		for _, u := range o.uniques {
			u.apply(ups)
		}
	}
	if o.Watermark != nil {
		o.Watermark.observe(ups)
	}
}

// runParallel runs the tasks concurrently, the first on the calling
// goroutine, and returns when all are done. A task's panic is re-raised on
// the caller, where the session's recovery handles it, rather than taking
// the process down from a goroutine of its own.
func runParallel(tasks []func()) {
	panics := make([]any, len(tasks))
	var wg sync.WaitGroup
	for i, f := range tasks[1:] {
		wg.Go(func() {
			defer func() { panics[i+1] = recover() }()
			f()
		})
	}
	func() {
		defer func() { panics[0] = recover() }()
		tasks[0]()
	}()
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
}

// eachParallel calls f(k) for every k in [0, n), on up to workers
// goroutines at once (0: GOMAXPROCS), each taking the next k as it is
// done, so that one long call does not hold the others back. A panic is
// re-raised, as by runParallel.
func eachParallel(n, workers int, f func(k int)) {
	if n == 0 {
		return
	}
	var next atomic.Int64
	work := func() {
		for k := int(next.Add(1)) - 1; k < n; k = int(next.Add(1)) - 1 {
			f(k)
		}
	}
	tasks := make([]func(), min(n, cmp.Or(workers, runtime.GOMAXPROCS(0))))
	for i := range tasks {
		tasks[i] = work
	}
	runParallel(tasks)
}

// pkCount is the number of rows holding row's primary key, whose encoding
// (pkKey) is k.
func (o *Object) pkCount(row types.Row, k string) int64 {
	switch {
	case o.pk == nil:
		return 0
	case o.pk.arr != nil:
		return o.pk.arr.CountEncoded(k)
	}
	return o.countLeading(row[:len(o.PrimaryKey)])
}

// pkCountEncoded is pkCount with the key's encoding in a byte slice.
func (o *Object) pkCountEncoded(row types.Row, k []byte) int64 {
	if o.pk != nil && o.pk.arr != nil {
		return o.pk.arr.CountEncodedBytes(k)
	}
	return o.pkCount(row, "")
}

// countLeading counts the rows whose leading columns equal key (the primary
// key answered by the contents' B-tree).
func (o *Object) countLeading(key types.Row) int64 {
	n := int64(0)
	o.pk.lookup(o, key, func(_ types.Row, count int64) { n += count })
	return n
}

// sharedIndex is one index a materialized view's dataflow reads.
type sharedIndex struct {
	on *Object
	x  *tableIndex
}

// viewArrangements is what a materialized view's dataflow is built with:
// its joins that read a table or view directly, keyed by plain columns,
// read that object's index on those columns — created if needed and kept
// current on every write — instead of keeping a private copy. A view's index
// thereby serves its readers and the joins of every view built on it.
type viewArrangements struct {
	cat  *catalog
	used []sharedIndex
}

// Arrangement implements dataflow.SharedArrangements.
func (v *viewArrangements) Arrangement(id dataflow.CollectionID, cols []int) *dataflow.Arrangement {
	o := v.cat.byID(id)
	if o == nil || o.Data == nil {
		return nil
	}
	x := o.addIndex("", append([]int(nil), cols...))
	v.used = append(v.used, sharedIndex{on: o, x: x})
	return x.arrangement(o)
}

// release gives back every index the arrangements were taken from.
func releaseShares(shares []sharedIndex) {
	for _, s := range shares {
		s.on.releaseIndex(s.x)
	}
}
