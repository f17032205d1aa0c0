package sql

import (
	"fmt"
	"sort"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// Schemas (namespaces) and the search path.
//
// Every user object belongs to one schema (Object.Schema); the catalog
// keys objects by schema and name (objKey). A name without a schema is
// resolved through the session's search_path, the first schema that holds
// it winning; a new object goes into the named schema, or else the first
// schema of the search path that exists. "$user" in the path stands for a
// schema named after the session's user.
//
// The system schemas (pg_catalog, information_schema, tb_catalog) hold
// only system relations and cannot be created, dropped or written to.
//
// A catalog record carries the search path the statement ran with (a SET
// search_path before it, see catalogRecordWithPath), so a restart resolves
// its names as the statement did. A view keeps the search path of its
// creation and is bound with it on every read.

// schemaEntry is a user schema (public included).
type schemaEntry struct {
	name string
	oid  uint32
}

// objKey is the catalog key of an object: its schema and name.
func objKey(schema, name string) string { return strings.ToLower(schema) + "." + strings.ToLower(name) }

func (o *Object) key() string { return objKey(o.Schema, o.Name) }

// schemaOID is the pg_namespace OID of a schema, false for none.
func (c *catalog) schemaOID(name string) (uint32, bool) {
	switch name {
	case "pg_catalog":
		return nspPgCatalog, true
	case "information_schema":
		return nspInfoSchema, true
	case "tb_catalog":
		return nspTbCatalog, true
	}
	if s, ok := c.schemas[name]; ok {
		return s.oid, true
	}
	return 0, false
}

// schemaName is the name of the schema with the given OID.
func (c *catalog) schemaName(oid uint32) (string, bool) {
	for _, n := range []uint32{nspPgCatalog, nspInfoSchema, nspTbCatalog} {
		if n == oid {
			return nspName(n), true
		}
	}
	for _, s := range c.schemas {
		if s.oid == oid {
			return s.name, true
		}
	}
	return "", false
}

// userSchemas lists the user schemas by name.
func (c *catalog) userSchemas() []*schemaEntry {
	out := make([]*schemaEntry, 0, len(c.schemas))
	for _, s := range c.schemas {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// parseSearchPath reads a search_path setting: identifiers separated by
// commas, quoted ones kept as written, others folded to lower case.
func parseSearchPath(v string) []string {
	var out []string
	for _, part := range splitTopLevel(v) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if len(part) >= 2 && part[0] == '"' && part[len(part)-1] == '"' {
			out = append(out, strings.ReplaceAll(part[1:len(part)-1], `""`, `"`))
			continue
		}
		out = append(out, strings.ToLower(part))
	}
	return out
}

// splitTopLevel splits on commas outside double quotes.
func splitTopLevel(s string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
			cur.WriteByte(c)
		case c == ',' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}

// formatSearchPath is how SET search_path stores a list: identifiers
// quoted where needed, joined by ", " (as PostgreSQL shows it).
func formatSearchPath(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		if n == "$user" {
			parts[i] = `"$user"`
			continue
		}
		parts[i] = quoteIdentIfNeeded(n)
	}
	return strings.Join(parts, ", ")
}

// pathSchemas is the session's search path with "$user" replaced by the
// user's name. Schemas that do not exist stay in (they are skipped when
// names are resolved).
func (s *Session) pathSchemas() []string {
	path := parseSearchPath(s.settings["search_path"])
	for i, p := range path {
		if p == "$user" {
			path[i] = s.user()
		}
	}
	return path
}

// existingPath is the search path's schemas that exist, in order.
func existingPath(cat *catalog, path []string) []string {
	var out []string
	for _, p := range path {
		if _, ok := cat.schemaOID(p); ok && !isSystemSchema(p) {
			out = append(out, p)
		}
	}
	return out
}

// resolveIn finds a user object by optional schema and name, an
// unqualified name through path.
func resolveIn(cat *catalog, path []string, schema, name string) (*Object, bool) {
	if schema != "" {
		o, ok := cat.byName[objKey(schema, name)]
		return o, ok
	}
	for _, p := range path {
		if o, ok := cat.byName[objKey(p, name)]; ok {
			return o, true
		}
	}
	return nil, false
}

// resolve finds a user object as the session names it.
func (s *Session) resolve(schema, name string) (*Object, bool) {
	return resolveIn(s.e.mu.cat, s.pathSchemas(), schema, name)
}

// creationSchema is the schema a new object named schema.name (schema
// possibly empty) goes into.
func (s *Session) creationSchema(schema string) (string, error) {
	cat := s.e.mu.cat
	if schema != "" {
		schema = strings.ToLower(schema)
		if isSystemSchema(schema) {
			return "", pgerror.New(pgerror.InsufficientPrivilege, "permission denied to create objects in schema %s: it holds system relations only", schema)
		}
		if _, ok := cat.schemas[schema]; !ok {
			return "", pgerror.New(pgerror.InvalidSchemaName, "schema %q does not exist", schema)
		}
		return schema, nil
	}
	if p := existingPath(cat, s.pathSchemas()); len(p) > 0 {
		return p[0], nil
	}
	return "", pgerror.New(pgerror.InvalidSchemaName, "no schema has been selected to create in")
}

// relationName renders schema.name for messages, name alone without a
// schema.
func relationName(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}

// createSchema runs CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION r].
func (e *Engine) createSchema(s *Session, cs *pg.CreateSchemaStmt) (*Result, error) {
	name := cs.Schemaname
	if name == "" && cs.Authrole != nil {
		name = cs.Authrole.Rolename // CREATE SCHEMA AUTHORIZATION r names it after r
	}
	if len(cs.SchemaElts) > 0 {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "CREATE SCHEMA with schema elements is not supported: create the objects with their own statements")
	}
	if strings.HasPrefix(name, "pg_") || isSystemSchema(name) {
		return nil, &pgerror.Error{Code: pgerror.ReservedName, Message: fmt.Sprintf("unacceptable schema name %q", name),
			Detail: `The prefix "pg_" is reserved for system schemas.`}
	}
	if _, ok := e.mu.cat.schemas[name]; ok {
		if cs.IfNotExists {
			return &Result{Tag: "CREATE SCHEMA", Notices: []Notice{{Severity: "NOTICE", Code: "42P06", Message: fmt.Sprintf("schema %q already exists, skipping", name)}}}, nil
		}
		return nil, pgerror.New(pgerror.DuplicateSchema, "schema %q already exists", name)
	}
	id := e.mu.cat.nextID
	e.mu.cat.nextID++
	e.mu.cat.schemas[name] = &schemaEntry{name: name, oid: userOIDBase + uint32(id)}
	return &Result{Tag: "CREATE SCHEMA"}, nil
}

// dropSchemas runs DROP SCHEMA [IF EXISTS] names [CASCADE | RESTRICT].
func (e *Engine) dropSchemas(ds *pg.DropStmt) (*Result, error) {
	res := &Result{Tag: "DROP SCHEMA"}
	cascade := ds.Behavior == pg.DropBehavior_DROP_CASCADE
	var names []string
	for _, obj := range ds.Objects {
		name := obj.GetString_().Sval
		if isSystemSchema(name) {
			return nil, pgerror.New(pgerror.DependentObjectsStillExist, "cannot drop schema %s because it is required by the database system", name)
		}
		if _, ok := e.mu.cat.schemas[name]; !ok {
			if ds.MissingOk {
				res.Notices = append(res.Notices, Notice{Severity: "NOTICE", Code: "00000", Message: fmt.Sprintf("schema %q does not exist, skipping", name)})
				continue
			}
			return nil, pgerror.New(pgerror.InvalidSchemaName, "schema %q does not exist", name)
		}
		names = append(names, name)
	}
	var contents []*Object
	for _, o := range e.mu.cat.byName {
		for _, n := range names {
			if o.Schema == n && o.Kind != KindIndex {
				contents = append(contents, o)
			}
		}
	}
	sort.Slice(contents, func(i, j int) bool { return contents[i].ID < contents[j].ID })
	if len(contents) > 0 && !cascade {
		var details []string
		for _, o := range contents {
			details = append(details, fmt.Sprintf("%s %s.%s depends on schema %s", o.kindName(), o.Schema, o.Name, o.Schema))
		}
		return nil, &pgerror.Error{Code: pgerror.DependentObjectsStillExist, Message: fmt.Sprintf("cannot drop schema %s because other objects depend on it", names[0]),
			Detail: strings.Join(details, "\n"), Hint: "Use DROP ... CASCADE to drop the dependent objects too."}
	}
	if len(contents) > 0 {
		victims, err := e.dropClosure(contents, true)
		if err != nil {
			return nil, err
		}
		e.removeObjects(victims)
	}
	for _, n := range names {
		delete(e.mu.cat.schemas, n)
	}
	return res, nil
}

// catalogRecordWithPath prefixes a DDL statement's record with the search
// path it ran with, unless that is the default.
func catalogRecordWithPath(s *Session, rec string) string {
	path := s.settings["search_path"]
	if path == defaultSettings["search_path"] {
		return rec
	}
	return "SET search_path = " + path + ";\n" + rec
}
