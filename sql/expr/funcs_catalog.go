package expr

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// System-information and catalog functions (PostgreSQL §9.26): what
// clients such as psql call while describing the database. Arrays are not
// a Tributary type, so functions that take or return one use PostgreSQL's
// text form of an array ('{a,b}') instead.

// CatalogReader is what the catalog functions ask of the database. Calls
// happen during evaluation, under whatever lock the statement holds, and
// must not take the catalog lock again. OIDs are those of the system
// relations (pg_class.oid, pg_namespace.oid, pg_roles.oid).
type CatalogReader interface {
	// RelationOID resolves a possibly schema-qualified relation name, as
	// 'name'::regclass does.
	RelationOID(name string) (uint32, bool)
	// NamespaceOID resolves a schema name ('name'::regnamespace).
	NamespaceOID(name string) (uint32, bool)
	// RelationVisible reports whether the relation is found by its
	// unqualified name on the search path (pg_table_is_visible).
	RelationVisible(oid uint32) bool
	// ViewDef is the defining query of a view or materialized view.
	ViewDef(oid uint32) (string, bool)
	// IndexDef is an index's CREATE INDEX statement, or with col > 0 the
	// col'th key column.
	IndexDef(oid uint32, col int) (string, bool)
	// ConstraintDef is a constraint's definition ("PRIMARY KEY (id)").
	ConstraintDef(oid uint32) (string, bool)
	// RoleName is the name of a role (pg_get_userbyid).
	RoleName(oid uint32) (string, bool)
	// Database is the session's database name.
	Database() string
	// BackendPID is the session's process id as the client knows it.
	BackendPID() int32
	// CurrentSchemas lists the search path's existing schemas, with the
	// implicitly searched pg_catalog first when implicit is set.
	CurrentSchemas(implicit bool) []string
}

// ServerVersion is version()'s answer: psql and drivers parse the leading
// "PostgreSQL 15.0".
const ServerVersion = "PostgreSQL 15.0 (Tributary) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"

var startTime = time.Now()

var txidCounter atomic.Int64

// ProcInfo describes one registered function overload for pg_proc.
type ProcInfo struct {
	Name     string
	Args     []types.Type
	Variadic bool
	Ret      types.Type
	Agg      bool
}

// Procs lists every registered function and aggregate overload (not
// operators) in a stable order: by name, then registration order. A
// proc's OID is ProcOIDBase plus its position.
func Procs() []ProcInfo {
	procsOnce.Do(buildProcs)
	return procsList
}

// ProcOIDBase is the first OID given to a proc (pg_proc.oid).
const ProcOIDBase = 8000

var (
	procsOnce sync.Once
	procsList []ProcInfo
)

// buildProcs lists the registry. Registration happens in init functions,
// so after them the registry never changes and the list is fixed.
func buildProcs() {
	var names []string
	for n := range functions {
		names = append(names, n)
	}
	for n := range aggregates {
		if _, ok := functions[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []ProcInfo
	for _, n := range names {
		if strings.Trim(n, "+-*/<>=~!@#%^&|`?") == "" || strings.HasPrefix(n, "tb_") {
			continue
		}
		for _, o := range functions[n] {
			if o.Op != "" {
				continue
			}
			out = append(out, ProcInfo{Name: n, Args: o.Args, Variadic: o.Variadic, Ret: o.Ret})
		}
		for _, a := range aggregates[n] {
			out = append(out, ProcInfo{Name: n, Args: a.Args, Ret: a.Ret, Agg: true})
		}
	}
	procsList = out
}

func procByOID(oid int64) (ProcInfo, bool) {
	ps := Procs()
	i := oid - ProcOIDBase
	if i < 0 || i >= int64(len(ps)) {
		return ProcInfo{}, false
	}
	return ps[i], true
}

func typeName(t types.Type) string {
	if t == types.Unknown {
		return "anyelement"
	}
	return t.String()
}

// FormatType is format_type(oid, typmod): the type's SQL name with its
// modifiers (typmod is PostgreSQL's atttypmod: length + 4 for character
// types, ((precision << 16) | scale) + 4 for numeric; -1 for none).
func FormatType(oid uint32, typmod int64, hasMod bool) string {
	t, ok := types.FromOID(oid)
	if !ok {
		for _, tt := range types.AllTypes() {
			if tt.ArrayOID() == oid && oid != 0 {
				return FormatType(tt.OID(), typmod, hasMod) + "[]"
			}
		}
		return "???"
	}
	name := t.String()
	if !hasMod || typmod < 4 {
		return name
	}
	switch t {
	case types.Varchar:
		return fmt.Sprintf("character varying(%d)", typmod-4)
	case types.Bpchar:
		return fmt.Sprintf("character(%d)", typmod-4)
	case types.Numeric:
		m := typmod - 4
		return fmt.Sprintf("numeric(%d,%d)", m>>16, m&0xffff)
	}
	return name
}

// Typmod encodes a column's type modifiers as PostgreSQL's atttypmod.
func Typmod(t types.Type, mods []int32) int32 {
	if len(mods) == 0 {
		return -1
	}
	switch t {
	case types.Varchar, types.Bpchar:
		return mods[0] + 4
	case types.Numeric:
		scale := int32(0)
		if len(mods) > 1 {
			scale = mods[1]
		}
		return (mods[0]<<16 | scale) + 4
	}
	return -1
}

// ArrayElems reads the text form of an array (first subscript 1), and
// also that of an int2vector or oidvector ("1 2", first subscript 0, as in
// PostgreSQL), which catalog columns such as pg_index.indkey hold.
func ArrayElems(s string) (elems []string, nulls []bool, lower int, err error) {
	t := strings.TrimSpace(s)
	if t == "" || t[0] != '{' {
		f := strings.Fields(t)
		return f, make([]bool, len(f)), 0, nil
	}
	elems, nulls, err = ParseTextArray(t)
	return elems, nulls, 1, err
}

// ParseTextArray splits PostgreSQL's text form of a one-dimensional array
// ('{a,"b c",NULL}') into its elements; a NULL element is reported in nulls.
func ParseTextArray(s string) (elems []string, nulls []bool, err error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, nil, pgerror.New(pgerror.InvalidTextRepresentation, "malformed array literal: %q", s)
	}
	body := s[1 : len(s)-1]
	if strings.TrimSpace(body) == "" {
		return nil, nil, nil
	}
	var cur strings.Builder
	quoted, inQuote := false, false
	flush := func() {
		v := cur.String()
		if !quoted {
			v = strings.TrimSpace(v)
		}
		elems = append(elems, v)
		nulls = append(nulls, !quoted && strings.EqualFold(v, "null"))
		cur.Reset()
		quoted = false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			cur.WriteByte(body[i])
		case c == '"':
			inQuote = !inQuote
			quoted = true
		case c == ',' && !inQuote:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return elems, nulls, nil
}

// FormatTextArray is the inverse of ParseTextArray.
func FormatTextArray(elems []string) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			sb.WriteByte(',')
		}
		if e == "" || strings.ContainsAny(e, "{},\"\\ \t\n") || strings.EqualFold(e, "null") {
			sb.WriteByte('"')
			sb.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(e))
			sb.WriteByte('"')
		} else {
			sb.WriteString(e)
		}
	}
	sb.WriteByte('}')
	return sb.String()
}

func needCatalog(ctx *Ctx, fn string) (CatalogReader, error) {
	if ctx == nil || ctx.Catalog == nil {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "%s() cannot be used here", fn)
	}
	return ctx.Catalog, nil
}

func textOrNull(s string, ok bool) (types.Datum, error) {
	if !ok {
		return types.Null(types.Text), nil
	}
	return types.NewText(s), nil
}

func init() {
	text, oid, i4, b := types.Text, types.Oid, types.Int4, types.Bool
	anyT := types.Unknown
	reg := func(name string, args []types.Type, ret types.Type, volatile bool, f func(*Ctx, []types.Datum) (types.Datum, error)) {
		Register(name, &Overload{Args: args, Ret: ret, Volatile: volatile, Fn: f})
	}
	constText := func(name, v string) {
		reg(name, nil, text, false, func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewText(v), nil })
	}
	constText("version", ServerVersion)
	// The search path is the session's: these are evaluated per statement,
	// never folded (volatile), so a prepared statement sees a later SET.
	reg("current_schema", nil, text, true, func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "current_schema")
		if err != nil {
			return types.Datum{}, err
		}
		if path := c.CurrentSchemas(false); len(path) > 0 {
			return types.NewText(path[0]), nil
		}
		return types.Null(text), nil
	})
	reg("current_schemas", []types.Type{b}, text, true, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "current_schemas")
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewText(FormatTextArray(c.CurrentSchemas(a[0].Bool()))), nil
	})
	reg("current_database", nil, text, true, func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "current_database")
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewText(c.Database()), nil
	})
	reg("pg_backend_pid", nil, i4, true, func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "pg_backend_pid")
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewInt4(c.BackendPID()), nil
	})
	reg("pg_postmaster_start_time", nil, types.TimestampTZ, false, func(*Ctx, []types.Datum) (types.Datum, error) {
		return types.NewTimestamp(types.TimestampTZ, types.TimeToMicros(startTime)), nil
	})
	reg("txid_current", nil, types.Int8, true, func(*Ctx, []types.Datum) (types.Datum, error) {
		return types.NewInt8(txidCounter.Add(1) + 1000), nil
	})
	reg("pg_encoding_to_char", []types.Type{i4}, text, false, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		switch a[0].Int() {
		case 6:
			return types.NewText("UTF8"), nil
		case 0:
			return types.NewText("SQL_ASCII"), nil
		}
		return types.NewText(""), nil
	})
	reg("pg_char_to_encoding", []types.Type{text}, i4, false, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		if strings.EqualFold(a[0].Str(), "UTF8") {
			return types.NewInt4(6), nil
		}
		return types.NewInt4(-1), nil
	})

	visible := func(name string) {
		reg(name, []types.Type{oid}, b, false, func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewBool(true), nil })
	}
	visible("pg_type_is_visible")
	visible("pg_function_is_visible")
	visible("pg_collation_is_visible")
	visible("pg_opclass_is_visible")
	visible("pg_operator_is_visible")
	visible("pg_conversion_is_visible")
	visible("pg_opfamily_is_visible")
	visible("pg_ts_config_is_visible")
	visible("pg_ts_parser_is_visible")
	visible("pg_ts_dict_is_visible")
	visible("pg_ts_template_is_visible")
	visible("pg_statistics_obj_is_visible")
	reg("pg_table_is_visible", []types.Type{oid}, b, true, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "pg_table_is_visible")
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewBool(c.RelationVisible(uint32(a[0].Int()))), nil
	})

	Register("format_type", &Overload{Args: []types.Type{oid, i4}, Ret: text, NonStrict: true, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		if a[0].IsNull() {
			return types.Null(text), nil
		}
		return types.NewText(FormatType(uint32(a[0].Int()), a[1].Int(), !a[1].IsNull())), nil
	}})

	viewdef := func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "pg_get_viewdef")
		if err != nil {
			return types.Datum{}, err
		}
		var id uint32
		if a[0].Type() == oid {
			id = uint32(a[0].Int())
		} else if id, err = regclass(c, a[0].Str()); err != nil {
			return types.Datum{}, err
		}
		return textOrNull(c.ViewDef(id))
	}
	reg("pg_get_viewdef", []types.Type{oid}, text, true, viewdef)
	reg("pg_get_viewdef", []types.Type{oid, b}, text, true, viewdef)
	reg("pg_get_viewdef", []types.Type{oid, i4}, text, true, viewdef)
	reg("pg_get_viewdef", []types.Type{text}, text, true, viewdef)
	reg("pg_get_viewdef", []types.Type{text, b}, text, true, viewdef)
	indexdef := func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "pg_get_indexdef")
		if err != nil {
			return types.Datum{}, err
		}
		col := 0
		if len(a) > 1 {
			col = int(a[1].Int())
		}
		return textOrNull(c.IndexDef(uint32(a[0].Int()), col))
	}
	reg("pg_get_indexdef", []types.Type{oid}, text, true, indexdef)
	reg("pg_get_indexdef", []types.Type{oid, i4, b}, text, true, indexdef)
	condef := func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "pg_get_constraintdef")
		if err != nil {
			return types.Datum{}, err
		}
		return textOrNull(c.ConstraintDef(uint32(a[0].Int())))
	}
	reg("pg_get_constraintdef", []types.Type{oid}, text, true, condef)
	reg("pg_get_constraintdef", []types.Type{oid, b}, text, true, condef)
	// pg_get_expr decompiles a stored expression; Tributary stores the
	// expression's SQL text in adbin (and the like) already.
	getExpr := func(_ *Ctx, a []types.Datum) (types.Datum, error) { return a[0], nil }
	reg("pg_get_expr", []types.Type{text, oid}, text, false, getExpr)
	reg("pg_get_expr", []types.Type{text, oid, b}, text, false, getExpr)
	reg("pg_get_userbyid", []types.Type{oid}, text, true, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		c, err := needCatalog(ctx, "pg_get_userbyid")
		if err != nil {
			return types.Datum{}, err
		}
		if n, ok := c.RoleName(uint32(a[0].Int())); ok {
			return types.NewText(n), nil
		}
		return types.NewText(fmt.Sprintf("unknown (OID=%d)", a[0].Int())), nil
	})
	procText := func(f func(ProcInfo) string) func(*Ctx, []types.Datum) (types.Datum, error) {
		return func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			p, ok := procByOID(a[0].Int())
			if !ok {
				return types.Null(text), nil
			}
			return types.NewText(f(p)), nil
		}
	}
	reg("pg_get_function_result", []types.Type{oid}, text, false, procText(func(p ProcInfo) string { return typeName(p.Ret) }))
	argsText := func(p ProcInfo) string {
		parts := make([]string, len(p.Args))
		for i, t := range p.Args {
			parts[i] = typeName(t)
			if p.Variadic && i == len(p.Args)-1 {
				parts[i] = "VARIADIC " + parts[i] + "[]"
			}
		}
		return strings.Join(parts, ", ")
	}
	reg("pg_get_function_arguments", []types.Type{oid}, text, false, procText(argsText))
	reg("pg_get_function_identity_arguments", []types.Type{oid}, text, false, procText(argsText))

	// Comments: Tributary has no COMMENT ON, so every description is NULL.
	nullText := func(*Ctx, []types.Datum) (types.Datum, error) { return types.Null(text), nil }
	for _, args := range [][]types.Type{{oid}, {oid, text}, {anyT, text}} {
		Register("obj_description", &Overload{Args: args, Ret: text, NonStrict: true, Fn: nullText})
	}
	Register("col_description", &Overload{Args: []types.Type{oid, i4}, Ret: text, NonStrict: true, Fn: nullText})
	Register("shobj_description", &Overload{Args: []types.Type{oid, text}, Ret: text, NonStrict: true, Fn: nullText})
	for _, n := range []string{"pg_get_statisticsobjdef_columns", "pg_get_ruledef", "pg_get_triggerdef", "pg_get_partkeydef", "pg_tablespace_location", "pg_get_function_sqlbody"} {
		Register(n, &Overload{Args: []types.Type{anyT}, Variadic: true, Ret: text, NonStrict: true, Fn: nullText})
	}
	reg("pg_relation_is_publishable", []types.Type{oid}, b, false, func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewBool(false), nil })

	// Privileges: Tributary does not check privileges, so every check passes.
	for _, n := range []string{"has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_column_privilege",
		"has_function_privilege", "has_any_column_privilege", "has_sequence_privilege", "has_type_privilege",
		"has_language_privilege", "has_tablespace_privilege", "has_foreign_data_wrapper_privilege", "has_server_privilege", "pg_has_role"} {
		Register(n, &Overload{Args: []types.Type{anyT}, Variadic: true, Ret: b, Fn: func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewBool(true), nil }})
	}

	zero := func(*Ctx, []types.Datum) (types.Datum, error) { return types.NewInt8(0), nil }
	for _, n := range []string{"pg_relation_size", "pg_table_size", "pg_total_relation_size", "pg_indexes_size", "pg_database_size"} {
		Register(n, &Overload{Args: []types.Type{anyT}, Variadic: true, Ret: types.Int8, Fn: zero})
	}

	reg("pg_size_pretty", []types.Type{types.Int8}, text, false, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(SizePretty(a[0].Int())), nil
	})

	// The reg* casts: 'name'::regclass looks the name up (tb_ names are
	// bound by the binder for those casts, not called by users).
	regFn := func(name string, lookup func(CatalogReader, string) (uint32, error), strict bool) {
		reg(name, []types.Type{text}, oid, true, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			c, err := needCatalog(ctx, name)
			if err != nil {
				return types.Datum{}, err
			}
			s := a[0].Str()
			if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil {
				return types.NewInt(oid, int64(n)), nil
			}
			id, err := lookup(c, s)
			if err != nil {
				if !strict {
					return types.Null(oid), nil
				}
				return types.Datum{}, err
			}
			return types.NewInt(oid, int64(id)), nil
		})
	}
	regFn("tb_regclass", regclass, true)
	regFn("to_regclass", regclass, false)
	regtype := func(_ CatalogReader, s string) (uint32, error) {
		name := strings.TrimSpace(strings.ToLower(s))
		arr := strings.HasSuffix(name, "[]")
		name = strings.TrimSuffix(name, "[]")
		if i := strings.IndexByte(name, '('); i >= 0 {
			name = strings.TrimSpace(name[:i])
		}
		t, ok := types.FromName(strings.Trim(name, `"`))
		if !ok {
			return 0, pgerror.New(pgerror.UndefinedObject, "type %q does not exist", s)
		}
		if arr {
			return t.ArrayOID(), nil
		}
		return t.OID(), nil
	}
	regFn("tb_regtype", regtype, true)
	regFn("to_regtype", regtype, false)
	regns := func(c CatalogReader, s string) (uint32, error) {
		if id, ok := c.NamespaceOID(unquoteIdent(s)); ok {
			return id, nil
		}
		return 0, pgerror.New(pgerror.UndefinedSchema, "schema %q does not exist", s)
	}
	regFn("tb_regnamespace", regns, true)
	regFn("to_regnamespace", regns, false)
	regproc := func(_ CatalogReader, s string) (uint32, error) {
		name := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "pg_catalog."))
		if i := strings.IndexByte(name, '('); i >= 0 {
			name = name[:i]
		}
		for i, p := range Procs() {
			if p.Name == name {
				return uint32(ProcOIDBase + i), nil
			}
		}
		for _, p := range IOProcs() {
			if p.Name == name {
				return p.OID, nil
			}
		}
		return 0, pgerror.New(pgerror.UndefinedFunction, "function %q does not exist", s)
	}
	regFn("tb_regproc", regproc, true)
	regFn("to_regproc", regproc, false)

	// Text-form arrays (see ParseTextArray).
	reg("array_to_string", []types.Type{text, text}, text, false, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		elems, nulls, err := ParseTextArray(a[0].Str())
		if err != nil {
			return types.Datum{}, err
		}
		var out []string
		for i, e := range elems {
			if !nulls[i] {
				out = append(out, e)
			}
		}
		return types.NewText(strings.Join(out, a[1].Str())), nil
	})
	reg("array_remove", []types.Type{text, text}, text, false, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		elems, nulls, err := ParseTextArray(a[0].Str())
		if err != nil {
			return types.Datum{}, err
		}
		var out []string
		for i, e := range elems {
			if nulls[i] {
				out = append(out, "NULL") // FormatTextArray would quote it
				continue
			}
			if e != a[1].Str() {
				out = append(out, FormatTextArray([]string{e})[1:len(FormatTextArray([]string{e}))-1])
			}
		}
		return types.NewText("{" + strings.Join(out, ",") + "}"), nil
	})
	arrLen := func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		elems, _, err := ParseTextArray(a[0].Str())
		if err != nil {
			return types.Datum{}, err
		}
		if len(elems) == 0 || a[1].Int() != 1 {
			return types.Null(i4), nil
		}
		return types.NewInt4(int32(len(elems))), nil
	}
	reg("array_upper", []types.Type{text, i4}, i4, false, arrLen)
	reg("array_length", []types.Type{text, i4}, i4, false, arrLen)
	reg("cardinality", []types.Type{text}, i4, false, func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		elems, _, err := ParseTextArray(a[0].Str())
		return types.NewInt4(int32(len(elems))), err
	})
	// tb_array_any is x = ANY(arr) over a text-form array, with SQL's
	// three-valued result: NULL when nothing matched but an element was NULL.
	Register("tb_array_any", &Overload{Args: []types.Type{text, text}, Ret: b, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		elems, nulls, err := ParseTextArray(a[1].Str())
		if err != nil {
			return types.Datum{}, err
		}
		sawNull := false
		for i, e := range elems {
			if nulls[i] {
				sawNull = true
			} else if e == a[0].Str() {
				return types.NewBool(true), nil
			}
		}
		if sawNull {
			return types.Null(b), nil
		}
		return types.NewBool(false), nil
	}})
	// tb_array is ARRAY[a, b, ...]; tb_array_quote formats one element
	// for ARRAY(subquery).
	Register("tb_array", &Overload{Args: []types.Type{text}, Variadic: true, Ret: text, NonStrict: true, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		parts := make([]string, len(a))
		for i, d := range a {
			parts[i] = FormatTextArray([]string{d.Str()})
			parts[i] = parts[i][1 : len(parts[i])-1]
			if d.IsNull() {
				parts[i] = "NULL"
			}
		}
		return types.NewText("{" + strings.Join(parts, ",") + "}"), nil
	}})
	// It is strict: string_agg skips NULL, so ARRAY(subquery) leaves NULL
	// elements out (and an empty correlated group stays empty).
	Register("tb_array_quote", &Overload{Args: []types.Type{anyT}, Ret: text, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		s := FormatTextArray([]string{types.FormatText(a[0])})
		return types.NewText(s[1 : len(s)-1]), nil
	}})
	// tb_series_in_range guards the bounded rewrite of a correlated
	// generate_series (see the sql package's boundCorrelatedSeries).
	Register("tb_series_in_range", &Overload{Args: []types.Type{types.Int8, types.Int8, types.Int8, types.Int8}, Ret: b, NonStrict: true, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		for _, d := range a[:2] {
			if !d.IsNull() && (d.Int() < a[2].Int() || d.Int() > a[3].Int()) {
				return types.Datum{}, pgerror.New(pgerror.FeatureNotSupported, "generate_series with correlated arguments is limited to the range %d to %d", a[2].Int(), a[3].Int())
			}
		}
		return types.NewBool(true), nil
	}})
	// tb_array_subscript is arr[i] over a text-form array (1-based).
	// Its result is untyped text, so that it compares with whatever it is
	// compared to (attnum = prattrs[s]).
	Register("tb_array_subscript", &Overload{Args: []types.Type{text, i4}, Ret: types.Unknown, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		elems, nulls, lower, err := ArrayElems(a[0].Str())
		if err != nil {
			return types.Datum{}, err
		}
		i := a[1].Int() - int64(lower)
		if i < 0 || i >= int64(len(elems)) || nulls[i] {
			return types.Null(types.Unknown), nil
		}
		return types.NewString(types.Unknown, elems[i]), nil
	}})
}

func regclass(c CatalogReader, s string) (uint32, error) {
	if id, ok := c.RelationOID(s); ok {
		return id, nil
	}
	return 0, pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", s)
}

// unquoteIdent folds an unquoted identifier to lower case and strips the
// quotes of a quoted one.
func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}

// SizePretty is pg_size_pretty: bytes below 10 kB, then kB, MB, GB and TB,
// each rounded half away from zero, switching unit below 20 of the next.
func SizePretty(size int64) string {
	abs := func(x int64) int64 {
		if x < 0 {
			return -x
		}
		return x
	}
	halfRounded := func(x int64) int64 {
		if x < 0 {
			return (x - 1) / 2
		}
		return (x + 1) / 2
	}
	const limit = 10 * 1024
	const limit2 = limit*2 - 1
	if abs(size) < limit {
		return fmt.Sprintf("%d bytes", size)
	}
	size >>= 9 // one extra bit for rounding
	for _, unit := range []string{"kB", "MB", "GB"} {
		if abs(size) < limit2 {
			return fmt.Sprintf("%d %s", halfRounded(size), unit)
		}
		size >>= 10
	}
	return fmt.Sprintf("%d TB", halfRounded(size))
}

// IOProc is a type's input, output, receive or send function (pg_type's
// typinput, typoutput, typreceive, typsend). They are not callable; they
// are listed in pg_proc, and 'array_in'::regproc resolves to them, so that
// clients comparing a type's typinput with a regproc (pgjdbc) get
// PostgreSQL's answer.
type IOProc struct {
	Name string
	OID  uint32
	Type types.Type // the type it converts (Unknown with Array: any array)
	// Arg and Ret are PostgreSQL's type OIDs (cstring, internal, bytea).
	Arg, Ret uint32
}

// IOProcOIDBase is the first OID given to an I/O function, below
// ProcOIDBase.
const IOProcOIDBase = 7000

// ioNames are PostgreSQL's I/O function name stems; the rest use
// name+"in" (boolin), these name+"_in" (date_in).
var ioNames = map[types.Type]string{
	types.Unknown: "unknown", types.Bool: "bool", types.Int2: "int2", types.Int4: "int4", types.Int8: "int8",
	types.Float4: "float4", types.Float8: "float8", types.Numeric: "numeric_", types.Text: "text",
	types.Varchar: "varchar", types.Bpchar: "bpchar", types.Bytea: "bytea", types.Date: "date_",
	types.Time: "time_", types.Timestamp: "timestamp_", types.TimestampTZ: "timestamptz_",
	types.Interval: "interval_", types.JSONB: "jsonb_", types.UUID: "uuid_", types.Oid: "oid",
	types.Void: "void_", types.Name: "name",
}

var ioProcs = sync.OnceValue(func() []IOProc {
	const cstring, internal, bytea = 2275, 2281, 17
	var out []IOProc
	add := func(stem string, t types.Type, typOID uint32) {
		for _, k := range []struct {
			suffix   string
			arg, ret uint32
		}{{"in", cstring, typOID}, {"out", typOID, cstring}, {"recv", internal, typOID}, {"send", typOID, bytea}} {
			out = append(out, IOProc{Name: stem + k.suffix, OID: IOProcOIDBase + uint32(len(out)), Type: t, Arg: k.arg, Ret: k.ret})
		}
	}
	for _, t := range types.AllTypes() {
		add(ioNames[t], t, t.OID())
	}
	add("array_", types.Unknown, 2277) // anyarray
	return out
})

// IOProcs lists the I/O functions in OID order.
func IOProcs() []IOProc { return ioProcs() }

// IOProcFor returns the I/O function of kind ("in", "out", "recv", "send")
// of type t, or of arrays.
func IOProcFor(t types.Type, array bool, kind string) IOProc {
	stem := ioNames[t]
	if array {
		stem = "array_"
	}
	for _, p := range ioProcs() {
		if p.Name == stem+kind {
			return p
		}
	}
	return IOProc{}
}
