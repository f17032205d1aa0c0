package sql

import (
	"sort"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// System relations: pg_catalog, information_schema and tb_catalog.
//
// Each is generated from the catalog when a query names it: the binder
// turns it into a constant relation (planner.Values) with typed rows, so
// the full engine (joins, subqueries, aggregates) runs over it, and the
// answer is the catalog as of the statement. Column sets follow
// PostgreSQL 15 for the columns clients read; oid columns are types.Oid,
// name and "char" columns text, and array columns PostgreSQL's text form
// of an array ('{a,b}'), since Tributary has no array type.
//
// OIDs are stable: a user object's is userOIDBase + Object.ID, the
// synthesized primary-key index and constraint of a table sit at fixed
// offsets from it, types keep PostgreSQL's OIDs, and system relations have
// fixed OIDs below userOIDBase.

// Namespace OIDs (pg_catalog and public are PostgreSQL's own).
const (
	nspPgCatalog  = 11
	nspPublic     = 2200
	nspInfoSchema = 12000
	nspTbCatalog  = 12001
	// roleOID is the bootstrap superuser's OID, which every session's user
	// is reported as.
	roleOID   = 10
	dbOID     = 5
	amHeap    = 2
	amBtree   = 403
	collDflt  = 100
	sysOIDMin = 12100 // system relations: sysOIDMin + position in sysTables

	userOIDBase = 16384
	// A table's primary key appears as an index relation and a constraint.
	pkeyIndexOffset = 1 << 24
	pkeyConOffset   = 2 << 24
	attrdefOffset   = 3 << 24 // + ID<<11 + attnum
)

// sysColumn is a column of a system relation.
type sysColumn struct {
	name string
	typ  types.Type
}

// sysTable is a system relation: its columns and how to compute its rows.
// Row values are Go values converted to the column types (see toDatum):
// string, int, int64, uint32, bool, float64, or nil for NULL.
type sysTable struct {
	schema string
	name   string
	oid    uint32
	cols   []sysColumn
	rows   func(c *catalogView) [][]any
}

var (
	sysTables []*sysTable
	sysByName = map[string]*sysTable{} // "schema.name"
)

// defineSys registers a system relation. spec lists "name:type" pairs
// separated by spaces, with the types of sysTypeNames.
func defineSys(schema, name, spec string, rows func(c *catalogView) [][]any) {
	t := &sysTable{schema: schema, name: name, rows: rows}
	for _, f := range strings.Fields(spec) {
		n, ty, _ := strings.Cut(f, ":")
		typ, ok := sysTypeNames[ty]
		if !ok {
			panic("system relation " + name + ": unknown type " + ty)
		}
		t.cols = append(t.cols, sysColumn{name: n, typ: typ})
	}
	t.oid = uint32(sysOIDMin + len(sysTables))
	sysTables = append(sysTables, t)
	sysByName[schema+"."+name] = t
}

var sysTypeNames = map[string]types.Type{
	"oid": types.Oid, "text": types.Text, "bool": types.Bool, "int2": types.Int2, "int4": types.Int4,
	"int8": types.Int8, "float4": types.Float4, "float8": types.Float8, "tstz": types.TimestampTZ,
	"interval": types.Interval,
}

// lookupSys finds a system relation by schema (empty: the search path,
// where pg_catalog comes first) and name.
func lookupSys(schema, name string) (*sysTable, bool) {
	if schema == "" {
		schema = "pg_catalog"
	}
	t, ok := sysByName[schema+"."+name]
	return t, ok
}

func isSystemSchema(s string) bool {
	return s == "pg_catalog" || s == "information_schema" || s == "tb_catalog"
}

// systemRelation binds a relation of the system schemas (pg_catalog,
// information_schema, tb_catalog): ok is false for every other name. An
// unqualified name is a system relation only when no user object has it.
func (b *binder) systemRelation(rv *pg.RangeVar, alias string, colAliases []*pg.Node) (planner.Rel, []scopeCol, bool, error) {
	schema := strings.ToLower(rv.Schemaname)
	name := strings.ToLower(rv.Relname)
	if schema == "" {
		if _, ok := b.resolve("", name); ok {
			return nil, nil, false, nil
		}
	} else if !isSystemSchema(schema) {
		return nil, nil, false, nil
	}
	t, ok := lookupSys(schema, name)
	if !ok {
		if schema == "" {
			return nil, nil, false, nil
		}
		return nil, nil, true, errAt(pgerror.New(pgerror.UndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname), rv.Location)
	}
	rows, err := t.build(b.catalogView())
	if err != nil {
		return nil, nil, true, err
	}
	typs := make([]types.Type, len(t.cols), len(t.cols)+1)
	cols := make([]scopeCol, len(t.cols), len(t.cols)+1)
	for i, c := range t.cols {
		typs[i] = c.typ
		cols[i] = scopeCol{table: alias, name: c.name, typ: c.typ}
	}
	cols = renameCols(cols, colAliases, alias)
	// The system column tableoid (psql's \dd and \dL join on it); hidden
	// from *.
	tableoid := types.NewInt(types.Oid, int64(t.oid))
	for i := range rows {
		rows[i] = append(rows[i], tableoid)
	}
	typs = append(typs, types.Oid)
	cols = append(cols, scopeCol{table: alias, name: "tableoid", typ: types.Oid, hidden: true})
	return &planner.Values{Rows: rows, Typs: typs}, cols, true, nil
}

func (t *sysTable) build(c *catalogView) ([]types.Row, error) {
	raw := t.rows(c)
	out := make([]types.Row, len(raw))
	for i, r := range raw {
		if len(r) != len(t.cols) {
			return nil, pgerror.New(pgerror.InternalError, "system relation %s: row has %d values for %d columns", t.name, len(r), len(t.cols))
		}
		row := make(types.Row, len(r))
		for j, v := range r {
			row[j] = toDatum(v, t.cols[j].typ)
		}
		out[i] = row
	}
	return out, nil
}

func toDatum(v any, t types.Type) types.Datum {
	switch x := v.(type) {
	case nil:
		return types.Null(t)
	case string:
		return types.NewString(t, x)
	case bool:
		return types.NewBool(x)
	case int:
		return intDatum(t, int64(x))
	case int32:
		return intDatum(t, int64(x))
	case int64:
		return intDatum(t, x)
	case uint32:
		return intDatum(t, int64(x))
	case float64:
		return types.NewFloat(t, x)
	case types.Datum:
		return x
	}
	panic("system relation: unsupported value")
}

func intDatum(t types.Type, v int64) types.Datum {
	if t.IsFloat() {
		return types.NewFloat(t, float64(v))
	}
	return types.NewInt(t, v)
}

// relEntry is one row of pg_class: a user object, a synthesized
// primary-key index, or a system relation.
type relEntry struct {
	oid  uint32
	name string
	nsp  uint32
	kind string // relkind: r, v, m, i
	cols []ColumnDef
	obj  *Object   // user objects and primary-key indexes (the table)
	sys  *sysTable // system relations
	on   *Object   // indexes: the indexed table or view
	keys []int     // indexes: key columns of on (nil: unknown, an expression)
	pkey bool      // the primary-key index
	// unique marks a unique index; constraint one backing a UNIQUE
	// constraint.
	unique, constraint bool
}

// sequenceColumns are a sequence relation's columns, as pg_attribute
// lists them.
var sequenceColumns = []ColumnDef{{Name: "last_value", Type: types.Int8, NotNull: true}, {Name: "log_cnt", Type: types.Int8, NotNull: true}, {Name: "is_called", Type: types.Bool, NotNull: true}}

// catalogView is the catalog as the system relations and functions see it
// during one statement. REQUIRES: the engine's lock held while it is used.
type catalogView struct {
	cat      *catalog
	user     string
	database string
	pid      int32
	settings map[string]string
	cursors  map[string]*cursor
	locks    *advisoryTable
	subs     *subscriptions
	path     []string // the session's search path
	// rels and byOID are computed on first use; once guards them because
	// evaluation may call the catalog functions from several goroutines.
	once  sync.Once
	rels  []relEntry
	byOID map[uint32]int
}

func (b *binder) catalogView() *catalogView { return b.s.catalogView(b.cat) }

func (s *Session) catalogView(cat *catalog) *catalogView {
	return &catalogView{cat: cat, user: s.user(), database: s.database(), pid: s.opts.BackendPID, settings: s.settings, cursors: s.cursors, locks: &s.e.locks, subs: &s.e.subs, path: s.pathSchemas()}
}

func (s *Session) database() string {
	if s.opts.Database == "" {
		return s.user()
	}
	return s.opts.Database
}

func userOID(o *Object) uint32 { return userOIDBase + uint32(o.ID) }

// relations lists every relation in OID order (computed once per view).
func (c *catalogView) relations() []relEntry {
	c.once.Do(c.listRelations)
	return c.rels
}

func (c *catalogView) listRelations() {
	var out []relEntry
	for i, t := range sysTables {
		cols := make([]ColumnDef, len(t.cols))
		for j, col := range t.cols {
			cols[j] = ColumnDef{Name: col.name, Type: col.typ}
		}
		nsp := uint32(nspPgCatalog)
		switch t.schema {
		case "information_schema":
			nsp = nspInfoSchema
		case "tb_catalog":
			nsp = nspTbCatalog
		}
		kind := "r"
		if t.schema != "pg_catalog" || strings.HasPrefix(t.name, "pg_stat_") || sysViewNames[t.name] {
			kind = "v"
		}
		out = append(out, relEntry{oid: uint32(sysOIDMin + i), name: t.name, nsp: nsp, kind: kind, cols: cols, sys: t})
	}
	for _, o := range c.cat.byName {
		nsp, _ := c.cat.schemaOID(o.Schema)
		e := relEntry{oid: userOID(o), name: o.Name, nsp: nsp, obj: o, cols: o.Columns}
		switch o.Kind {
		case KindTable:
			e.kind = "r"
			if len(o.PrimaryKey) > 0 {
				pk := relEntry{oid: userOID(o) + pkeyIndexOffset, name: o.Name + "_pkey", nsp: nsp, kind: "i", obj: o, on: o, keys: o.PrimaryKey, pkey: true}
				pk.cols = indexColumns(o, o.PrimaryKey)
				out = append(out, pk)
			}
		case KindView:
			e.kind = "v"
		case KindMatView:
			e.kind = "m"
		case KindSequence:
			e.kind = "S"
			e.cols = sequenceColumns
		case KindIndex:
			e.kind = "i"
			on, ok := c.cat.byName[o.On]
			if !ok {
				continue
			}
			e.on = on
			e.keys, e.unique, e.constraint = o.IndexCols, o.Unique, o.Constraint
			e.cols = indexColumns(on, e.keys)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].oid < out[j].oid })
	c.rels = out
	c.byOID = make(map[uint32]int, len(out))
	for i, r := range out {
		c.byOID[r.oid] = i
	}
}

// sysViewNames are the pg_catalog relations that are views in PostgreSQL.
var sysViewNames = map[string]bool{"pg_roles": true, "pg_user": true, "pg_settings": true, "pg_views": true, "pg_matviews": true,
	"pg_tables": true, "pg_indexes": true, "pg_locks": true}

func indexColumns(on *Object, keys []int) []ColumnDef {
	if keys == nil {
		return []ColumnDef{{Name: "expr", Type: types.Text}}
	}
	out := make([]ColumnDef, len(keys))
	for i, k := range keys {
		out[i] = on.Columns[k]
		out[i].NotNull, out[i].Default = false, nil
	}
	return out
}

func (c *catalogView) rel(oid uint32) (relEntry, bool) {
	c.relations()
	i, ok := c.byOID[oid]
	if !ok {
		return relEntry{}, false
	}
	return c.rels[i], true
}

func nspName(oid uint32) string {
	switch oid {
	case nspPgCatalog:
		return "pg_catalog"
	case nspInfoSchema:
		return "information_schema"
	case nspTbCatalog:
		return "tb_catalog"
	}
	return "public"
}

// viewDef is pg_get_viewdef's answer: the stored query, as PostgreSQL
// prints it (a leading space, a trailing semicolon).
func viewDef(o *Object) string { return " " + strings.TrimSuffix(o.SQL, ";") + ";" }

func quoteIdentIfNeeded(s string) string {
	ok := s != ""
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			ok = false
		}
	}
	if ok {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (e relEntry) indexDef() string {
	var sb strings.Builder
	sb.WriteString("CREATE ")
	if e.pkey || e.unique {
		sb.WriteString("UNIQUE ")
	}
	sb.WriteString("INDEX " + quoteIdentIfNeeded(e.name) + " ON " + quoteIdentIfNeeded(e.on.Schema) + "." + quoteIdentIfNeeded(e.on.Name) + " USING btree (")
	for i, col := range e.cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quoteIdentIfNeeded(col.Name))
	}
	sb.WriteString(")")
	return sb.String()
}

func (e relEntry) constraintDef() string {
	names := make([]string, len(e.cols))
	for i, col := range e.cols {
		names[i] = quoteIdentIfNeeded(col.Name)
	}
	return "PRIMARY KEY (" + strings.Join(names, ", ") + ")"
}

// catalogReader answers the catalog functions (expr.CatalogReader) from a
// catalogView.
type catalogReader struct{ v *catalogView }

var _ expr.CatalogReader = catalogReader{}

func (r catalogReader) RelationOID(name string) (uint32, bool) {
	parts := splitQualified(name)
	schema, rel := "", parts[len(parts)-1]
	if len(parts) > 1 {
		schema = parts[len(parts)-2]
	}
	for _, e := range r.v.relations() {
		if e.name == rel && (schema == "" && r.visible(e) || schema != "" && r.v.nspName(e.nsp) == schema) {
			return e.oid, true
		}
	}
	return 0, false
}

// splitQualified splits a possibly quoted, dotted name, folding unquoted
// parts to lower case.
func splitQualified(s string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"' && quoted && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case ch == '"':
			quoted = !quoted
		case ch == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		case quoted:
			cur.WriteByte(ch)
		default:
			cur.WriteString(strings.ToLower(string(ch)))
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func (r catalogReader) NamespaceOID(name string) (uint32, bool) {
	return r.v.cat.schemaOID(name)
}

// visible reports whether the relation is what its unqualified name
// resolves to: a user relation the first of its name on the search path
// (an index or primary key through its table's schema), a pg_catalog
// relation unless a user object of its name shadows it.
func (r catalogReader) visible(e relEntry) bool {
	if e.nsp == nspPgCatalog {
		_, shadowed := resolveIn(r.v.cat, r.v.path, "", e.name)
		return !shadowed
	}
	if e.obj == nil {
		return false
	}
	schema := r.v.nspName(e.nsp)
	for _, p := range existingPath(r.v.cat, r.v.path) {
		if p == schema {
			return true
		}
		if _, ok := r.v.cat.lookup(p, e.name); ok {
			return false // an earlier schema has the name
		}
		if e.pkey {
			for _, o := range r.v.cat.byName {
				if o.Schema == p && o.Kind == KindTable && len(o.PrimaryKey) > 0 && strings.EqualFold(o.Name+"_pkey", e.name) {
					return false
				}
			}
		}
	}
	return false
}

// nspName is the name of a schema by OID.
func (c *catalogView) nspName(oid uint32) string {
	n, _ := c.cat.schemaName(oid)
	return n
}

// CurrentSchemas is current_schemas(implicit): the search path's existing
// schemas, with pg_catalog first when implicit (unless the path names it).
func (r catalogReader) CurrentSchemas(implicit bool) []string {
	var path []string
	named := false
	for _, p := range r.v.path {
		if _, ok := r.v.cat.schemaOID(p); ok {
			path = append(path, p)
		}
		named = named || p == "pg_catalog"
	}
	if implicit && !named {
		path = append([]string{"pg_catalog"}, path...)
	}
	return path
}

func (r catalogReader) RelationVisible(oid uint32) bool {
	e, ok := r.v.rel(oid)
	return ok && r.visible(e)
}

func (r catalogReader) ViewDef(oid uint32) (string, bool) {
	e, ok := r.v.rel(oid)
	if !ok || e.obj == nil || (e.kind != "v" && e.kind != "m") {
		return "", false
	}
	return viewDef(e.obj), true
}

func (r catalogReader) IndexDef(oid uint32, col int) (string, bool) {
	e, ok := r.v.rel(oid)
	if !ok || e.kind != "i" || e.on == nil {
		return "", false
	}
	if col > 0 {
		if col > len(e.cols) {
			return "", true
		}
		return quoteIdentIfNeeded(e.cols[col-1].Name), true
	}
	return e.indexDef(), true
}

func (r catalogReader) ConstraintDef(oid uint32) (string, bool) {
	if e, ok := r.v.rel(oid - pkeyConOffset + pkeyIndexOffset); ok && e.pkey {
		return e.constraintDef(), true
	}
	if e, ok := r.v.rel(oid - pkeyConOffset); ok && e.constraint {
		return "UNIQUE" + strings.TrimPrefix(e.constraintDef(), "PRIMARY KEY"), true
	}
	return "", false
}

func (r catalogReader) RoleName(oid uint32) (string, bool) {
	if oid == roleOID {
		return r.v.user, true
	}
	return "", false
}

func (r catalogReader) Database() string  { return r.v.database }
func (r catalogReader) BackendPID() int32 { return r.v.pid }

// catalogReader returns the reader evaluation uses (expr.Ctx.Catalog).
// REQUIRES: e.mu held whenever the reader is called.
func (s *Session) catalogReader() expr.CatalogReader {
	return catalogReader{v: s.catalogView(s.e.mu.cat)}
}
