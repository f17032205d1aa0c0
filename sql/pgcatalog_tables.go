package sql

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// The system relations' definitions. A relation's OID is its position in
// this list (see defineSys): append new relations at the end.

// pgTypeName is pg_type.typname: PostgreSQL's internal type names.
var pgTypeName = map[types.Type]string{
	types.Unknown: "unknown", types.Bool: "bool", types.Int2: "int2", types.Int4: "int4", types.Int8: "int8",
	types.Float4: "float4", types.Float8: "float8", types.Numeric: "numeric", types.Text: "text",
	types.Varchar: "varchar", types.Bpchar: "bpchar", types.Bytea: "bytea", types.Date: "date",
	types.Time: "time", types.Timestamp: "timestamp", types.TimestampTZ: "timestamptz",
	types.Interval: "interval", types.JSONB: "jsonb", types.UUID: "uuid", types.Oid: "oid",
	types.Name: "name",
}

func typeCategory(t types.Type) string {
	switch t.Family() {
	case types.FamBool:
		return "B"
	case types.FamNumeric:
		return "N"
	case types.FamString:
		return "S"
	case types.FamDateTime, types.FamTime:
		return "D"
	case types.FamInterval:
		return "T"
	}
	switch t {
	case types.Unknown:
		return "X"
	case types.Void:
		return "P"
	}
	return "U"
}

// typStorage is pg_type.typstorage: plain, main for numeric, extended for
// the other variable-length types.
func typStorage(t types.Type) string {
	switch {
	case t == types.Numeric:
		return "m"
	case t.Size() < 0:
		return "x"
	}
	return "p"
}

func typeCollation(t types.Type) uint32 {
	if t.Family() == types.FamString {
		return collDflt
	}
	return 0
}

func boolStr(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// userObjects lists the user objects of the given kinds in OID order.
func (c *catalogView) userObjects(kinds ...ObjectKind) []*Object {
	var out []*Object
	for _, o := range c.cat.byName {
		for _, k := range kinds {
			if o.Kind == k {
				out = append(out, o)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *catalogView) indexes() []relEntry {
	var out []relEntry
	for _, e := range c.relations() {
		if e.kind == "i" && e.on != nil {
			out = append(out, e)
		}
	}
	return out
}

func hasIndexes(c *catalogView, o *Object) bool {
	for _, e := range c.indexes() {
		if e.on == o {
			return true
		}
	}
	return false
}

func intVector(keys []int) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprint(k + 1)
	}
	return strings.Join(parts, " ")
}

// ioOID is the OID of a type's I/O function (pg_type.typinput and
// friends are regproc, which Tributary represents as an oid).
func ioOID(t types.Type, array bool, kind string) uint32 {
	return expr.IOProcFor(t, array, kind).OID
}

// zeroVector is an int2vector of n zeros: indoption with every key
// ascending, nulls last.
func zeroVector(n int) string {
	return strings.TrimSpace(strings.Repeat("0 ", n))
}

// collVector is an index's indcollation: each key column's collation.
func collVector(e relEntry) string {
	parts := make([]string, len(e.cols))
	for i, c := range e.cols {
		parts[i] = fmt.Sprint(typeCollation(c.Type))
	}
	return strings.Join(parts, " ")
}

// opclassVector is an index's indclass: each key column type's default
// btree operator class (PostgreSQL's OIDs; 0 for a type without one).
func opclassVector(e relEntry) string {
	parts := make([]string, len(e.cols))
	for i, c := range e.cols {
		parts[i] = fmt.Sprint(btreeOpclass[c.Type])
	}
	return strings.Join(parts, " ")
}

// btreeOpclass holds the OIDs of PostgreSQL 15's default btree operator
// classes (pg_opclass), by type.
var btreeOpclass = map[types.Type]uint32{
	types.Bool: 10003, types.Int2: 1979, types.Int4: 1978, types.Int8: 3124, types.Float4: 10012,
	types.Float8: 3123, types.Numeric: 3125, types.Text: 3126, types.Varchar: 3126, types.Bpchar: 10004,
	types.Bytea: 10006, types.Date: 3122, types.Time: 10038, types.Timestamp: 3128, types.TimestampTZ: 3127,
	types.Interval: 10022, types.JSONB: 10088, types.UUID: 10065, types.Oid: 1981, types.Name: 1986,
}

// infoType is information_schema's data_type: the SQL name, with arrays
// and user types spelt as PostgreSQL does.
func infoType(t types.Type) string { return t.String() }

func init() {
	defineSys("pg_catalog", "pg_namespace", "oid:oid nspname:text nspowner:oid nspacl:text", func(c *catalogView) [][]any {
		var out [][]any
		for _, n := range []uint32{nspPgCatalog, nspInfoSchema, nspTbCatalog} {
			out = append(out, []any{n, nspName(n), roleOID, nil})
		}
		for _, sc := range c.cat.userSchemas() {
			out = append(out, []any{sc.oid, sc.name, roleOID, nil})
		}
		sort.Slice(out, func(i, j int) bool { return out[i][0].(uint32) < out[j][0].(uint32) })
		return out
	})

	defineSys("pg_catalog", "pg_class", `oid:oid relname:text relnamespace:oid reltype:oid reloftype:oid relowner:oid relam:oid
		relfilenode:oid reltablespace:oid relpages:int4 reltuples:float4 relallvisible:int4 reltoastrelid:oid relhasindex:bool
		relisshared:bool relpersistence:text relkind:text relnatts:int2 relchecks:int2 relhasrules:bool relhastriggers:bool
		relhassubclass:bool relrowsecurity:bool relforcerowsecurity:bool relispopulated:bool relreplident:text relispartition:bool
		relrewrite:oid relacl:text reloptions:text relpartbound:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.relations() {
			am := 0
			switch e.kind {
			case "r", "m":
				am = amHeap
			case "i":
				am = amBtree
			}
			hasIdx := e.obj != nil && e.kind != "i" && hasIndexes(c, e.obj)
			out = append(out, []any{e.oid, e.name, e.nsp, 0, 0, roleOID, am, e.oid, 0, 0, -1.0, 0, 0, hasIdx,
				false, "p", e.kind, len(e.cols), 0, e.kind == "v", false,
				false, false, false, true, boolStr((e.kind == "r" || e.kind == "m") && e.obj != nil, "d", "n"), false,
				0, nil, nil, nil})
		}
		return out
	})

	defineSys("pg_catalog", "pg_attribute", `attrelid:oid attname:text atttypid:oid attstattarget:int4 attlen:int2 attnum:int2
		attndims:int4 attcacheoff:int4 atttypmod:int4 attbyval:bool attalign:text attstorage:text attcompression:text
		attnotnull:bool atthasdef:bool atthasmissing:bool attidentity:text attgenerated:text attisdropped:bool attislocal:bool
		attinhcount:int4 attcollation:oid attacl:text attoptions:text attfdwoptions:text attmissingval:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.relations() {
			for i, col := range e.cols {
				storage := typStorage(col.Type)
				notNull := col.NotNull
				if e.obj != nil && e.kind == "r" {
					for _, k := range e.obj.PrimaryKey {
						notNull = notNull || k == i
					}
				}
				out = append(out, []any{e.oid, col.Name, col.Type.OID(), -1, int(col.Type.Size()), i + 1,
					0, -1, expr.Typmod(col.Type, col.Mods), col.Type.Size() > 0 && col.Type.Size() <= 8, "i", storage, "",
					notNull, col.Default != nil && col.Identity == "", false, col.Identity, "", false, true,
					0, typeCollation(col.Type), nil, nil, nil, nil})
			}
		}
		return out
	})

	defineSys("pg_catalog", "pg_type", `oid:oid typname:text typnamespace:oid typowner:oid typlen:int2 typbyval:bool typtype:text
		typcategory:text typispreferred:bool typisdefined:bool typdelim:text typrelid:oid typsubscript:text typelem:oid typarray:oid
		typinput:oid typoutput:oid typreceive:oid typsend:oid typmodin:text typmodout:text typanalyze:text typalign:text
		typstorage:text typnotnull:bool typbasetype:oid typtypmod:int4 typndims:int4 typcollation:oid typdefaultbin:text
		typdefault:text typacl:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, t := range types.AllTypes() {
			name := pgTypeName[t]
			storage := typStorage(t)
			byval := t.Size() > 0 && t.Size() <= 8
			preferred := t == types.Text || t == types.Float8 || t == types.TimestampTZ || t == types.Bool
			typtype := "b"
			if t == types.Unknown || t == types.Void {
				typtype = "p"
			}
			out = append(out, []any{t.OID(), name, nspPgCatalog, roleOID, int(t.Size()), byval, typtype,
				typeCategory(t), preferred, true, ",", 0, nil, 0, t.ArrayOID(),
				ioOID(t, false, "in"), ioOID(t, false, "out"), ioOID(t, false, "recv"), ioOID(t, false, "send"), nil, nil, nil, "i",
				storage, false, 0, -1, 0, typeCollation(t), nil, nil, nil})
			if t.ArrayOID() != 0 {
				out = append(out, []any{t.ArrayOID(), "_" + name, nspPgCatalog, roleOID, -1, false, "b",
					"A", false, true, ",", 0, "array_subscript_handler", t.OID(), 0,
					ioOID(t, true, "in"), ioOID(t, true, "out"), ioOID(t, true, "recv"), ioOID(t, true, "send"), nil, nil, nil, "i",
					"x", false, 0, -1, 0, typeCollation(t), nil, nil, nil})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i][0].(uint32) < out[j][0].(uint32) })
		return out
	})

	defineSys("pg_catalog", "pg_index", `indexrelid:oid indrelid:oid indnatts:int2 indnkeyatts:int2 indisunique:bool
		indnullsnotdistinct:bool indisprimary:bool indisexclusion:bool indimmediate:bool indisclustered:bool indisvalid:bool
		indcheckxmin:bool indisready:bool indislive:bool indisreplident:bool indkey:text indcollation:text indclass:text
		indoption:text indexprs:text indpred:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.indexes() {
			var exprs any
			if e.keys == nil {
				exprs = "?"
			}
			out = append(out, []any{e.oid, userOID(e.on), len(e.cols), len(e.cols), e.pkey || e.unique,
				false, e.pkey, false, true, false, true,
				false, true, true, false, intVector(e.keys), collVector(e), opclassVector(e), zeroVector(len(e.cols)), exprs, nil})
		}
		return out
	})

	defineSys("pg_catalog", "pg_indexes", "schemaname:text tablename:text indexname:text tablespace:text indexdef:text", func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.indexes() {
			out = append(out, []any{e.on.Schema, e.on.Name, e.name, nil, e.indexDef()})
		}
		return out
	})

	defineSys("pg_catalog", "pg_constraint", `oid:oid conname:text connamespace:oid contype:text condeferrable:bool
		condeferred:bool convalidated:bool conrelid:oid contypid:oid conindid:oid conparentid:oid confrelid:oid
		confupdtype:text confdeltype:text confmatchtype:text conislocal:bool coninhcount:int4 connoinherit:bool
		conkey:text confkey:text conbin:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.indexes() {
			if !e.pkey && !e.constraint {
				continue
			}
			keys := make([]string, len(e.keys))
			for i, k := range e.keys {
				keys[i] = fmt.Sprint(k + 1)
			}
			oid, contype := e.oid-pkeyIndexOffset+pkeyConOffset, "p"
			if !e.pkey {
				oid, contype = e.oid+pkeyConOffset, "u"
			}
			out = append(out, []any{oid, e.name, e.nsp, contype, false,
				false, true, userOID(e.on), 0, e.oid, 0, 0,
				" ", " ", " ", true, 0, true,
				"{" + strings.Join(keys, ",") + "}", nil, nil})
		}
		return out
	})

	defineSys("pg_catalog", "pg_attrdef", "oid:oid adrelid:oid adnum:int2 adbin:text", func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindTable) {
			for i, col := range o.Columns {
				if col.Default != nil && col.Identity == "" { // an identity column's sequence is not a default
					out = append(out, []any{uint32(attrdefOffset) + uint32(o.ID)<<11 + uint32(i+1), userOID(o), i + 1, defaultSQL(col)})
				}
			}
		}
		return out
	})

	defineSys("pg_catalog", "pg_proc", `oid:oid proname:text pronamespace:oid proowner:oid prolang:oid procost:float4
		prorows:float4 provariadic:oid prosupport:text prokind:text prosecdef:bool proleakproof:bool proisstrict:bool
		proretset:bool provolatile:text proparallel:text pronargs:int2 pronargdefaults:int2 prorettype:oid proargtypes:text
		proallargtypes:text proargmodes:text proargnames:text proargdefaults:text protrftypes:text prosrc:text probin:text
		prosqlbody:text proconfig:text proacl:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, p := range expr.IOProcs() {
			out = append(out, []any{p.OID, p.Name, nspPgCatalog, roleOID, 12, 1.0,
				0.0, 0, nil, "f", false, false, true,
				false, "i", "s", 1, 0, p.Ret, fmt.Sprint(p.Arg),
				nil, nil, nil, nil, nil, p.Name, nil,
				nil, nil, nil})
		}
		for i, p := range expr.Procs() {
			args := make([]string, len(p.Args))
			for j, t := range p.Args {
				args[j] = fmt.Sprint(t.OID())
			}
			var variadic uint32
			if p.Variadic && len(p.Args) > 0 {
				variadic = p.Args[len(p.Args)-1].OID()
			}
			out = append(out, []any{uint32(expr.ProcOIDBase + i), p.Name, nspPgCatalog, roleOID, 12, 1.0,
				0.0, variadic, nil, boolStr(p.Agg, "a", "f"), false, false, true,
				false, "i", "s", len(p.Args), 0, p.Ret.OID(), strings.Join(args, " "),
				nil, nil, nil, nil, nil, p.Name, nil,
				nil, nil, nil})
		}
		return out
	})

	defineSys("pg_catalog", "pg_description", "objoid:oid classoid:oid objsubid:int4 description:text", func(*catalogView) [][]any { return nil })

	defineSys("pg_catalog", "pg_database", `oid:oid datname:text datdba:oid encoding:int4 datlocprovider:text datistemplate:bool
		datallowconn:bool datconnlimit:int4 dattablespace:oid datcollate:text datctype:text daticulocale:text
		datcollversion:text datacl:text`, func(c *catalogView) [][]any {
		return [][]any{{dbOID, c.database, roleOID, 6, "c", false, true, -1, 1663, "C.UTF-8", "C.UTF-8", nil, nil, nil}}
	})

	defineSys("pg_catalog", "pg_roles", `rolname:text rolsuper:bool rolinherit:bool rolcreaterole:bool rolcreatedb:bool
		rolcanlogin:bool rolreplication:bool rolconnlimit:int4 rolpassword:text rolvaliduntil:tstz rolbypassrls:bool
		rolconfig:text oid:oid`, func(c *catalogView) [][]any {
		var out [][]any
		for _, r := range c.roleRows() { // roles.go
			out = append(out, []any{r.name, r.super, true, r.super, r.super, r.canLogin, r.super, -1, "********", nil, r.super, nil, r.oid})
		}
		return out
	})

	defineSys("pg_catalog", "pg_user", `usename:text usesysid:oid usecreatedb:bool usesuper:bool userepl:bool
		usebypassrls:bool passwd:text valuntil:tstz useconfig:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, r := range c.roleRows() {
			if r.canLogin {
				out = append(out, []any{r.name, r.oid, r.super, r.super, r.super, r.super, "********", nil, nil})
			}
		}
		return out
	})

	defineSys("pg_catalog", "pg_settings", `name:text setting:text unit:text category:text short_desc:text extra_desc:text
		context:text vartype:text source:text min_val:text max_val:text enumvals:text boot_val:text reset_val:text
		sourcefile:text sourceline:int4 pending_restart:bool`, func(c *catalogView) [][]any {
		names := make([]string, 0, len(c.settings))
		for k := range c.settings {
			names = append(names, k)
		}
		sort.Strings(names)
		var out [][]any
		for _, k := range names {
			v := c.settings[k]
			out = append(out, []any{k, v, nil, "Tributary", "", nil, "user", "string", "default", nil, nil, nil, v, v, nil, nil, false})
		}
		return out
	})

	defineSys("pg_catalog", "pg_am", "oid:oid amname:text amhandler:text amtype:text", func(*catalogView) [][]any {
		return [][]any{{amHeap, "heap", "heap_tableam_handler", "t"}, {amBtree, "btree", "bthandler", "i"}}
	})

	defineSys("pg_catalog", "pg_inherits", "inhrelid:oid inhparent:oid inhseqno:int4 inhdetachpending:bool", func(*catalogView) [][]any { return nil })

	defineSys("pg_catalog", "pg_views", "schemaname:text viewname:text viewowner:text definition:text", func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindView) {
			out = append(out, []any{o.Schema, o.Name, c.user, viewDef(o)})
		}
		return out
	})

	defineSys("pg_catalog", "pg_matviews", `schemaname:text matviewname:text matviewowner:text tablespace:text hasindexes:bool
		ispopulated:bool definition:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindMatView) {
			out = append(out, []any{o.Schema, o.Name, c.user, nil, hasIndexes(c, o), true, viewDef(o)})
		}
		return out
	})

	defineSys("pg_catalog", "pg_tables", `schemaname:text tablename:text tableowner:text tablespace:text hasindexes:bool
		hasrules:bool hastriggers:bool rowsecurity:bool`, func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindTable) {
			out = append(out, []any{o.Schema, o.Name, c.user, nil, hasIndexes(c, o), false, false, false})
		}
		return out
	})

	defineSys("pg_catalog", "pg_collation", `oid:oid collname:text collnamespace:oid collowner:oid collprovider:text
		collisdeterministic:bool collencoding:int4 collcollate:text collctype:text colliculocale:text collversion:text`, func(*catalogView) [][]any {
		return [][]any{
			{collDflt, "default", nspPgCatalog, roleOID, "d", true, -1, nil, nil, nil, nil},
			{950, "C", nspPgCatalog, roleOID, "c", true, -1, "C", "C", nil, nil},
			{951, "POSIX", nspPgCatalog, roleOID, "c", true, -1, "POSIX", "POSIX", nil, nil},
		}
	})

	defineSys("pg_catalog", "pg_enum", "oid:oid enumtypid:oid enumsortorder:float4 enumlabel:text", func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_range", `rngtypid:oid rngsubtype:oid rngmultitypid:oid rngcollation:oid rngsubopc:oid
		rngcanonical:text rngsubdiff:text`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_extension", `oid:oid extname:text extowner:oid extnamespace:oid extrelocatable:bool
		extversion:text extconfig:text extcondition:text`, func(*catalogView) [][]any { return nil })

	defineSys("pg_catalog", "pg_stat_activity", `datid:oid datname:text pid:int4 leader_pid:int4 usesysid:oid usename:text
		application_name:text client_addr:text client_hostname:text client_port:int4 backend_start:tstz xact_start:tstz
		query_start:tstz state_change:tstz wait_event_type:text wait_event:text state:text backend_xid:text backend_xmin:text
		query_id:int8 query:text backend_type:text`, func(c *catalogView) [][]any {
		// Only the asking session: the engine keeps no registry of sessions.
		return [][]any{{dbOID, c.database, int(c.pid), nil, roleOID, c.user, c.settings["application_name"], nil, nil, nil,
			nil, nil, nil, nil, nil, nil, "active", nil, nil, nil, "", "client backend"}}
	})

	defineSys("pg_catalog", "pg_cursors", `name:text statement:text is_holdable:bool is_binary:bool is_scrollable:bool
		creation_time:tstz`, func(c *catalogView) [][]any {
		// The session's open cursors (drivers check here before CLOSE).
		var out [][]any
		for name, cur := range c.cursors {
			out = append(out, []any{name, "", cur.hold, false, true, nil})
		}
		return out
	})

	defineSys("pg_catalog", "pg_locks", `locktype:text database:oid relation:oid page:int4 tuple:int2 virtualxid:text
		transactionid:text classid:oid objid:oid objsubid:int2 virtualtransaction:text pid:int4 mode:text granted:bool
		fastpath:bool waitstart:tstz`, func(c *catalogView) [][]any { return c.locks.pgLocksRows() })

	// Relations psql reads while describing a table; Tributary has none of
	// these objects, so they are empty.
	defineSys("pg_catalog", "pg_policy", `oid:oid polname:text polrelid:oid polcmd:text polpermissive:bool polroles:text
		polqual:text polwithcheck:text`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_statistic_ext", `oid:oid stxrelid:oid stxname:text stxnamespace:oid stxowner:oid
		stxstattarget:int4 stxkeys:text stxkind:text stxexprs:text`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_publication", `oid:oid pubname:text pubowner:oid puballtables:bool pubinsert:bool
		pubupdate:bool pubdelete:bool pubtruncate:bool pubviaroot:bool`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_publication_rel", "oid:oid prpubid:oid prrelid:oid prqual:text prattrs:text", func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_publication_namespace", "oid:oid pnpubid:oid pnnspid:oid", func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_rewrite", `oid:oid rulename:text ev_class:oid ev_type:text ev_enabled:text is_instead:bool
		ev_qual:text ev_action:text`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_trigger", `oid:oid tgrelid:oid tgparentid:oid tgname:text tgfoid:oid tgtype:int2
		tgenabled:text tgisinternal:bool tgconstrrelid:oid tgconstrindid:oid tgconstraint:oid tgdeferrable:bool
		tginitdeferred:bool tgnargs:int2 tgattr:text tgargs:text tgqual:text tgoldtable:text tgnewtable:text`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_auth_members", "roleid:oid member:oid grantor:oid admin_option:bool", func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_tablespace", "oid:oid spcname:text spcowner:oid spcacl:text spcoptions:text", func(*catalogView) [][]any {
		return [][]any{{1663, "pg_default", roleOID, nil, nil}, {1664, "pg_global", roleOID, nil, nil}}
	})
	defineSys("pg_catalog", "pg_sequence", `seqrelid:oid seqtypid:oid seqstart:int8 seqincrement:int8 seqmax:int8 seqmin:int8
		seqcache:int8 seqcycle:bool`, func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindSequence) {
			q := o.Seq
			out = append(out, []any{userOID(o), q.typ.OID(), q.start, q.increment, q.max, q.min, int64(1), q.cycle})
		}
		return out
	})
	defineSys("pg_catalog", "pg_sequences", `schemaname:text sequencename:text sequenceowner:text data_type:text
		start_value:int8 min_value:int8 max_value:int8 increment_by:int8 cycle:bool cache_size:int8 last_value:int8`, func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindSequence) {
			q := o.Seq
			q.mu.Lock()
			var last any
			if q.called {
				last = q.last
			}
			out = append(out, []any{o.Schema, o.Name, c.user, q.typ.String(), q.start, q.min, q.max, q.increment, q.cycle, int64(1), last})
			q.mu.Unlock()
		}
		return out
	})
	defineSys("pg_catalog", "pg_foreign_table", "ftrelid:oid ftserver:oid ftoptions:text", func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_partitioned_table", `partrelid:oid partstrat:text partnatts:int2 partdefid:oid partattrs:text
		partclass:text partcollation:text partexprs:text`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_depend", `classid:oid objid:oid objsubid:int4 refclassid:oid refobjid:oid refobjsubid:int4
		deptype:text`, func(*catalogView) [][]any { return nil })
	defineSys("pg_catalog", "pg_operator", `oid:oid oprname:text oprnamespace:oid oprowner:oid oprkind:text oprcanmerge:bool
		oprcanhash:bool oprleft:oid oprright:oid oprresult:oid oprcom:oid oprnegate:oid oprcode:text oprrest:text oprjoin:text`, func(*catalogView) [][]any { return nil })

	defineSys("pg_catalog", "pg_language", "oid:oid lanname:text lanowner:oid lanispl:bool lanpltrusted:bool lanplcallfoid:oid laninline:oid lanvalidator:oid lanacl:text", func(*catalogView) [][]any {
		return [][]any{{12, "internal", roleOID, false, false, 0, 0, 0, nil}}
	})
	empty := func(*catalogView) [][]any { return nil }
	defineSys("pg_catalog", "pg_cast", "oid:oid castsource:oid casttarget:oid castfunc:oid castcontext:text castmethod:text", empty)
	defineSys("pg_catalog", "pg_conversion", "oid:oid conname:text connamespace:oid conowner:oid conforencoding:int4 contoencoding:int4 conproc:oid condefault:bool", empty)
	defineSys("pg_catalog", "pg_event_trigger", "oid:oid evtname:text evtevent:text evtowner:oid evtfoid:oid evtenabled:text evttags:text", empty)
	defineSys("pg_catalog", "pg_db_role_setting", "setdatabase:oid setrole:oid setconfig:text", empty)
	defineSys("pg_catalog", "pg_foreign_server", "oid:oid srvname:text srvowner:oid srvfdw:oid srvtype:text srvversion:text srvacl:text srvoptions:text", empty)
	defineSys("pg_catalog", "pg_foreign_data_wrapper", "oid:oid fdwname:text fdwowner:oid fdwhandler:oid fdwvalidator:oid fdwacl:text fdwoptions:text", empty)
	defineSys("pg_catalog", "pg_ts_config", "oid:oid cfgname:text cfgnamespace:oid cfgowner:oid cfgparser:oid", empty)
	defineSys("pg_catalog", "pg_opclass", "oid:oid opcmethod:oid opcname:text opcnamespace:oid opcowner:oid opcfamily:oid opcintype:oid opcdefault:bool opckeytype:oid", empty)
	defineSys("pg_catalog", "pg_opfamily", "oid:oid opfmethod:oid opfname:text opfnamespace:oid opfowner:oid", empty)

	// information_schema.
	defineSys("information_schema", "schemata", `catalog_name:text schema_name:text schema_owner:text
		default_character_set_catalog:text default_character_set_schema:text default_character_set_name:text sql_path:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, n := range []uint32{nspPgCatalog, nspInfoSchema, nspTbCatalog} {
			out = append(out, []any{c.database, nspName(n), c.user, nil, nil, nil, nil})
		}
		for _, sc := range c.cat.userSchemas() {
			out = append(out, []any{c.database, sc.name, c.user, nil, nil, nil, nil})
		}
		return out
	})

	defineSys("information_schema", "tables", `table_catalog:text table_schema:text table_name:text table_type:text
		self_referencing_column_name:text reference_generation:text user_defined_type_catalog:text
		user_defined_type_schema:text user_defined_type_name:text is_insertable_into:text is_typed:text commit_action:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.relations() {
			// As in PostgreSQL, materialized views and indexes are not
			// tables of the SQL standard.
			if e.kind != "r" && e.kind != "v" {
				continue
			}
			typ := "BASE TABLE"
			if e.kind == "v" {
				typ = "VIEW"
			}
			out = append(out, []any{c.database, c.nspName(e.nsp), e.name, typ, nil, nil, nil, nil, nil,
				boolStr(e.kind == "r" && e.obj != nil, "YES", "NO"), "NO", nil})
		}
		return out
	})

	defineSys("information_schema", "columns", `table_catalog:text table_schema:text table_name:text column_name:text
		ordinal_position:int4 column_default:text is_nullable:text data_type:text character_maximum_length:int4
		character_octet_length:int4 numeric_precision:int4 numeric_precision_radix:int4 numeric_scale:int4
		datetime_precision:int4 interval_type:text interval_precision:int4 character_set_catalog:text
		character_set_schema:text character_set_name:text collation_catalog:text collation_schema:text collation_name:text
		domain_catalog:text domain_schema:text domain_name:text udt_catalog:text udt_schema:text udt_name:text
		scope_catalog:text scope_schema:text scope_name:text maximum_cardinality:int4 dtd_identifier:text
		is_self_referencing:text is_identity:text identity_generation:text identity_start:text identity_increment:text
		identity_maximum:text identity_minimum:text identity_cycle:text is_generated:text generation_expression:text
		is_updatable:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.relations() {
			if e.kind != "r" && e.kind != "v" {
				continue
			}
			for i, col := range e.cols {
				notNull := col.NotNull
				if e.obj != nil && e.kind == "r" {
					for _, k := range e.obj.PrimaryKey {
						notNull = notNull || k == i
					}
				}
				var def any
				if col.Default != nil && col.Identity == "" {
					def = defaultSQL(col)
				}
				var charLen, prec, radix, scale, dtPrec any
				switch col.Type {
				case types.Varchar, types.Bpchar:
					if len(col.Mods) > 0 {
						charLen = int(col.Mods[0])
					}
				case types.Int2:
					prec, radix, scale = 16, 2, 0
				case types.Int4:
					prec, radix, scale = 32, 2, 0
				case types.Int8:
					prec, radix, scale = 64, 2, 0
				case types.Float4:
					prec, radix = 24, 2
				case types.Float8:
					prec, radix = 53, 2
				case types.Numeric:
					radix = 10
					if len(col.Mods) > 0 {
						prec = int(col.Mods[0])
						scale = 0
						if len(col.Mods) > 1 {
							scale = int(col.Mods[1])
						}
					}
				case types.Date:
					dtPrec = 0
				case types.Time, types.Timestamp, types.TimestampTZ, types.Interval:
					dtPrec = 6
				}
				out = append(out, []any{c.database, c.nspName(e.nsp), e.name, col.Name,
					i + 1, def, boolStr(notNull, "NO", "YES"), infoType(col.Type), charLen,
					nil, prec, radix, scale,
					dtPrec, nil, nil, nil,
					nil, nil, nil, nil, nil,
					nil, nil, nil, c.database, "pg_catalog", pgTypeName[col.Type],
					nil, nil, nil, nil, fmt.Sprint(i + 1),
					"NO", "NO", nil, nil, nil,
					nil, nil, "NO", "NEVER", nil,
					boolStr(e.kind == "r" && e.obj != nil, "YES", "NO")})
			}
		}
		return out
	})

	defineSys("information_schema", "views", `table_catalog:text table_schema:text table_name:text view_definition:text
		check_option:text is_updatable:text is_insertable_into:text is_trigger_updatable:text is_trigger_deletable:text
		is_trigger_insertable_into:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindView) {
			out = append(out, []any{c.database, o.Schema, o.Name, viewDef(o), "NONE", "NO", "NO", "NO", "NO", "NO"})
		}
		return out
	})

	defineSys("information_schema", "table_constraints", `constraint_catalog:text constraint_schema:text constraint_name:text
		table_catalog:text table_schema:text table_name:text constraint_type:text is_deferrable:text initially_deferred:text
		enforced:text nulls_distinct:text`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.indexes() {
			if e.pkey {
				out = append(out, []any{c.database, e.on.Schema, e.name, c.database, e.on.Schema, e.on.Name, "PRIMARY KEY", "NO", "NO", "YES", nil})
			} else if e.constraint {
				out = append(out, []any{c.database, e.on.Schema, e.name, c.database, e.on.Schema, e.on.Name, "UNIQUE", "NO", "NO", "YES", "YES"})
			}
		}
		return out
	})

	defineSys("information_schema", "key_column_usage", `constraint_catalog:text constraint_schema:text constraint_name:text
		table_catalog:text table_schema:text table_name:text column_name:text ordinal_position:int4
		position_in_unique_constraint:int4`, func(c *catalogView) [][]any {
		var out [][]any
		for _, e := range c.indexes() {
			if !e.pkey && !e.constraint {
				continue
			}
			for i, col := range e.cols {
				out = append(out, []any{c.database, e.on.Schema, e.name, c.database, e.on.Schema, e.on.Name, col.Name, i + 1, nil})
			}
		}
		return out
	})

	defineSys("information_schema", "routines", `specific_catalog:text specific_schema:text specific_name:text
		routine_catalog:text routine_schema:text routine_name:text routine_type:text data_type:text type_udt_name:text
		routine_body:text routine_definition:text external_language:text is_deterministic:text security_type:text`, func(c *catalogView) [][]any {
		var out [][]any
		for i, p := range expr.Procs() {
			if p.Agg {
				continue
			}
			out = append(out, []any{c.database, "pg_catalog", fmt.Sprintf("%s_%d", p.Name, expr.ProcOIDBase+i),
				c.database, "pg_catalog", p.Name, "FUNCTION", infoType(p.Ret), pgTypeName[p.Ret],
				"EXTERNAL", nil, "INTERNAL", "NO", "INVOKER"})
		}
		return out
	})

	// tb_catalog: Tributary's own view of its catalog.
	defineSys("tb_catalog", "objects", "name:text kind:text sql:text", func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindTable, KindView, KindMatView, KindIndex) {
			var sqlText any
			switch o.Kind {
			case KindView, KindMatView:
				sqlText = o.SQL
			case KindIndex:
				if e, ok := c.rel(userOID(o)); ok && e.on != nil {
					sqlText = e.indexDef()
				}
			}
			out = append(out, []any{o.Name, o.kindName(), sqlText})
		}
		return out
	})

	// tb_catalog.restart and tb_catalog.checkpoints: how this process
	// restored its state, and the latest checkpoint (sql/checkpoint.go).
	defineSys("tb_catalog", "restart", "phase:text elapsed_ms:float8 checkpoint_valid_at:int8 catalog_records:int8 tables_loaded:int8 rows_loaded:int8 views_recomputed:int8 views_restored:int8 log_batches:int8 log_updates:int8 load_ms:float8 views_ms:float8", func(c *catalogView) [][]any {
		if c.cat.status == nil {
			return nil
		}
		c.cat.status.mu.Lock()
		r := c.cat.status.restart
		c.cat.status.mu.Unlock()
		var valid any
		if r.checkpointTime != 0 {
			valid = int64(r.checkpointTime)
		}
		return [][]any{{r.phase, millis(r.elapsed), valid, r.catalogRecords, r.tablesLoaded, r.rowsLoaded, r.viewsRebuilt, r.viewsRestored,
			r.tailBatches, r.tailUpdates, millis(r.loadElapsed), millis(r.viewsElapsed)}}
	})
	defineSys("tb_catalog", "checkpoints", "valid_at:int8 taken_at:tstz duration_ms:float8 writers_held_ms:float8 tables:int8 rows:int8 views:int8 view_state_bytes:int8 taken_by_this_process:int8 last_error:text", func(c *catalogView) [][]any {
		if c.cat.status == nil {
			return nil
		}
		c.cat.status.mu.Lock()
		l := c.cat.status.last
		c.cat.status.mu.Unlock()
		if l.time == 0 && l.err == "" {
			return nil
		}
		var valid, taken, errText any
		if l.time != 0 {
			valid = int64(l.time)
		}
		if !l.taken.IsZero() {
			taken = types.NewTimestamp(types.TimestampTZ, types.TimeToMicros(l.taken))
		}
		if l.err != "" {
			errText = l.err
		}
		return [][]any{{valid, taken, millis(l.duration), millis(l.locked), l.tables, l.rows, l.views, l.stateBytes, l.count, errText}}
	})
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// defaultSQL is a column default as pg_get_expr prints it.
func defaultSQL(col ColumnDef) string {
	if col.DefaultSQL != "" {
		return col.DefaultSQL
	}
	s := col.Default.String()
	if c, ok := col.Default.(*expr.Const); ok && !c.Val.IsNull() && c.Val.Type().Family() == types.FamString {
		return s + "::" + c.Val.Type().String()
	}
	return s
}
