package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// COPY moves a table's rows to and from the client in PostgreSQL's text,
// CSV and binary formats (https://www.postgresql.org/docs/15/sql-copy.html).
//
//   - COPY t [(cols)] FROM STDIN returns a Result whose CopyIn handler parses
//     the stream as it arrives (copy_in.go) without holding the engine lock;
//     Done applies every row as one write at one timestamp, through the same
//     checks INSERT makes, so a bad row anywhere applies nothing.
//   - COPY t [(cols)] TO STDOUT and COPY (query) TO STDOUT read at one
//     timestamp and return the rows in Result.CopyOut (copy_out.go); the
//     protocol layer runs the copy-out sub-protocol.
//
// Server-side files and programs are not supported: psql's \copy reads and
// writes the file on the client and uses FROM STDIN / TO STDOUT.

// copyFormat is the data format of a COPY.
type copyFormat uint8

const (
	copyText copyFormat = iota
	copyCSV
	copyBinary
)

func (f copyFormat) String() string {
	switch f {
	case copyCSV:
		return "csv"
	case copyBinary:
		return "binary"
	}
	return "text"
}

// copyOptions are a COPY's WITH options with PostgreSQL's defaults filled
// in (ProcessCopyOptions in src/backend/commands/copy.c).
type copyOptions struct {
	format copyFormat
	header bool
	// headerMatch (HEADER MATCH, COPY FROM) checks the header line's
	// names against the columns instead of skipping it unread.
	headerMatch   bool
	delim         byte
	quote         byte
	escape        byte
	null          string
	forceQuoteAll bool
	forceQuote    []string // column names, COPY TO in CSV
	forceNotNull  []string // COPY FROM in CSV: never NULL
	forceNull     []string // COPY FROM in CSV: quoted null string is NULL too
}

// defString renders a DefElem argument (String, Integer, Boolean, Float,
// or nil for a bare option such as HEADER).
func defString(n *pg.Node) (string, bool) {
	switch {
	case n == nil:
		return "", false
	case n.GetString_() != nil:
		return n.GetString_().Sval, true
	case n.GetInteger() != nil:
		return fmt.Sprint(n.GetInteger().Ival), true
	case n.GetBoolean() != nil:
		if n.GetBoolean().Boolval {
			return "true", true
		}
		return "false", true
	case n.GetFloat() != nil:
		return n.GetFloat().Fval, true
	}
	return "", false
}

func defBool(d *pg.DefElem) (bool, error) {
	s, ok := defString(d.Arg)
	if !ok {
		return true, nil
	}
	switch strings.ToLower(s) {
	case "true", "on", "1", "t", "yes":
		return true, nil
	case "false", "off", "0", "f", "no":
		return false, nil
	case "match":
		if d.Defname == "header" {
			return true, nil
		}
	}
	return false, pgerror.New(pgerror.SyntaxError, "%s requires a Boolean value", d.Defname)
}

func defColumns(d *pg.DefElem) ([]string, bool, error) {
	if d.Arg != nil && d.Arg.GetAStar() != nil {
		return nil, true, nil
	}
	if d.Arg == nil || d.Arg.GetList() == nil {
		return nil, false, pgerror.New(pgerror.SyntaxError, "argument to option %q must be a list of column names", d.Defname)
	}
	var names []string
	for _, it := range d.Arg.GetList().Items {
		s, _ := defString(it)
		names = append(names, s)
	}
	return names, false, nil
}

// parseCopyOptions validates the options as PostgreSQL does.
func parseCopyOptions(list []*pg.Node, from bool) (copyOptions, error) {
	o := copyOptions{}
	seen := map[string]bool{}
	var delim, quote, escape, null *string
	for _, n := range list {
		d := n.GetDefElem()
		if d == nil {
			continue
		}
		name := strings.ToLower(d.Defname)
		if seen[name] {
			return o, errAt(pgerror.New(pgerror.SyntaxError, "conflicting or redundant options"), d.Location)
		}
		seen[name] = true
		str := func() (*string, error) {
			s, ok := defString(d.Arg)
			if !ok {
				return nil, pgerror.New(pgerror.SyntaxError, "%s requires a parameter", name)
			}
			return &s, nil
		}
		var err error
		switch name {
		case "format":
			var s *string
			if s, err = str(); err != nil {
				return o, err
			}
			switch strings.ToLower(*s) {
			case "text":
				o.format = copyText
			case "csv":
				o.format = copyCSV
			case "binary":
				o.format = copyBinary
			default:
				return o, errAt(pgerror.New(pgerror.InvalidParameterValue, "COPY format %q not recognized", *s), d.Location)
			}
		case "header":
			if v, ok := defString(d.Arg); ok && strings.EqualFold(v, "match") {
				if !from {
					return o, pgerror.New(pgerror.FeatureNotSupported, "cannot use \"match\" with HEADER in COPY TO")
				}
				o.headerMatch = true
			}
			o.header, err = defBool(d)
		case "delimiter":
			delim, err = str()
		case "quote":
			quote, err = str()
		case "escape":
			escape, err = str()
		case "null":
			null, err = str()
		case "freeze":
			_, err = defBool(d) // accepted; every COPY is visible at once anyway
		case "encoding":
			var s *string
			if s, err = str(); err == nil {
				if e := strings.ToUpper(strings.ReplaceAll(*s, "-", "")); e != "UTF8" && e != "UNICODE" && e != "SQLASCII" {
					return o, pgerror.New(pgerror.FeatureNotSupported, "COPY encoding %q is not supported; only UTF8 is", *s)
				}
			}
		case "force_quote":
			o.forceQuote, o.forceQuoteAll, err = defColumns(d)
		case "force_not_null":
			o.forceNotNull, _, err = defColumns(d)
		case "force_null":
			o.forceNull, _, err = defColumns(d)
		default:
			return o, errAt(pgerror.New(pgerror.SyntaxError, "option %q not recognized", d.Defname), d.Location)
		}
		if err != nil {
			return o, err
		}
	}
	csv := o.format == copyCSV
	if o.format == copyBinary {
		for _, bad := range []string{"delimiter", "null", "header"} {
			if seen[bad] {
				return o, pgerror.New(pgerror.SyntaxError, "cannot specify %s in BINARY mode", strings.ToUpper(bad))
			}
		}
	}
	if !csv {
		for _, bad := range []string{"quote", "escape", "force_quote", "force_not_null", "force_null"} {
			if seen[bad] {
				return o, pgerror.New(pgerror.FeatureNotSupported, "COPY %s available only in CSV mode", strings.ReplaceAll(bad, "_", " "))
			}
		}
	}
	if from && seen["force_quote"] {
		return o, pgerror.New(pgerror.FeatureNotSupported, "COPY force quote only available using COPY TO")
	}
	if !from && (seen["force_not_null"] || seen["force_null"]) {
		return o, pgerror.New(pgerror.FeatureNotSupported, "COPY force not null and force null only available using COPY FROM")
	}
	oneByte := func(s *string, what string, def byte) (byte, error) {
		if s == nil {
			return def, nil
		}
		if len(*s) != 1 {
			return 0, pgerror.New(pgerror.FeatureNotSupported, "COPY %s must be a single one-byte character", what)
		}
		return (*s)[0], nil
	}
	var err error
	defDelim := byte('\t')
	if csv {
		defDelim = ','
	}
	if o.delim, err = oneByte(delim, "delimiter", defDelim); err != nil {
		return o, err
	}
	if o.quote, err = oneByte(quote, "quote", '"'); err != nil {
		return o, err
	}
	if o.escape, err = oneByte(escape, "escape", o.quote); err != nil {
		return o, err
	}
	if o.delim == '\n' || o.delim == '\r' {
		return o, pgerror.New(pgerror.InvalidParameterValue, "COPY delimiter cannot be newline or carriage return")
	}
	if !csv && o.format == copyText && strings.IndexByte("\\.abcdefghijklmnopqrstuvwxyz0123456789", o.delim) >= 0 {
		return o, pgerror.New(pgerror.InvalidParameterValue, "COPY delimiter cannot be %q", string(o.delim))
	}
	if csv && o.delim == o.quote {
		return o, pgerror.New(pgerror.InvalidParameterValue, "COPY delimiter and quote must be different")
	}
	switch {
	case null != nil:
		o.null = *null
	case csv:
		o.null = ""
	default:
		o.null = `\N`
	}
	if strings.ContainsAny(o.null, "\r\n") {
		return o, pgerror.New(pgerror.InvalidParameterValue, "COPY null representation cannot use newline or carriage return")
	}
	if o.format != copyBinary && strings.IndexByte(o.null, o.delim) >= 0 {
		return o, pgerror.New(pgerror.InvalidParameterValue, "COPY delimiter must not appear in the NULL specification")
	}
	return o, nil
}

// execCopy runs COPY: FROM STDIN hands the protocol layer a CopyInHandler
// (Result.CopyIn); TO STDOUT returns the rows to send (Result.CopyOut).
func (s *Session) execCopy(ctx context.Context, cs *pg.CopyStmt, p *Prepared, params []types.Datum) (*Result, error) {
	if cs.Filename != "" || cs.IsProgram {
		what := "a file"
		if cs.IsProgram {
			what = "a program"
		}
		return nil, pgerror.New(pgerror.FeatureNotSupported, "COPY to or from %s is not supported; use STDIN or STDOUT (psql's \\copy reads and writes files on the client)", what)
	}
	if cs.WhereClause != nil {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "COPY FROM ... WHERE is not supported")
	}
	opts, err := parseCopyOptions(cs.Options, cs.IsFrom)
	if err != nil {
		return nil, err
	}
	if cs.IsFrom {
		return s.copyFrom(cs, opts)
	}
	return s.copyTo(ctx, cs, opts, p, params)
}

// copyTargets resolves a COPY column list against a table's columns
// (all of them when the list is empty).
func copyTargets(o *Object, list []*pg.Node) ([]int, error) {
	if len(list) == 0 {
		target := make([]int, len(o.Columns))
		for i := range target {
			target[i] = i
		}
		return target, nil
	}
	seen := map[int]bool{}
	var target []int
	for _, n := range list {
		name, _ := defString(n)
		idx := -1
		for i, c := range o.Columns {
			if strings.EqualFold(c.Name, name) {
				idx = i
			}
		}
		if idx < 0 {
			return nil, pgerror.New(pgerror.UndefinedColumn, "column %q of relation %q does not exist", name, o.Name)
		}
		if seen[idx] {
			return nil, pgerror.New(pgerror.DuplicateColumn, "column %q specified more than once", name)
		}
		seen[idx] = true
		target = append(target, idx)
	}
	return target, nil
}

// copyFrom resolves the table and prepares the per-column conversions; the
// engine lock is held only for that, not while the data streams in.
func (s *Session) copyFrom(cs *pg.CopyStmt, opts copyOptions) (*Result, error) {
	if cs.Relation == nil {
		return nil, pgerror.New(pgerror.SyntaxError, "COPY FROM requires a table")
	}
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	o, err := s.writableTable(cs.Relation)
	if err != nil {
		return nil, err
	}
	target, err := copyTargets(o, cs.Attlist)
	if err != nil {
		return nil, err
	}
	h := &copyIn{s: s, table: o, target: target, opts: opts, line: 0}
	// Each input column is parsed as its column's type and then given the
	// column's modifiers (varchar(n), numeric(p, s)) as an assignment does.
	b := s.newBinder(nil, nil)
	h.conv = make([]expr.Expr, len(target))
	h.name = make([]string, len(target))
	for j, idx := range target {
		col := o.Columns[idx]
		e, err := b.applyTypmod(&expr.Col{Idx: j, Typ: col.Type}, col.Type, col.Mods, false)
		if err != nil {
			return nil, err
		}
		if _, plain := e.(*expr.Col); !plain {
			h.conv[j] = e
		}
		h.name[j] = col.Name
	}
	inList := func(names []string) ([]bool, error) {
		flags := make([]bool, len(target))
		for _, n := range names {
			found := false
			for j, idx := range target {
				if strings.EqualFold(o.Columns[idx].Name, n) {
					flags[j], found = true, true
				}
			}
			if !found {
				return nil, pgerror.New(pgerror.InvalidColumnReference, "column %q is not referenced by COPY", n)
			}
		}
		return flags, nil
	}
	if h.forceNotNull, err = inList(opts.forceNotNull); err != nil {
		return nil, err
	}
	if h.forceNull, err = inList(opts.forceNull); err != nil {
		return nil, err
	}
	inTarget := make([]bool, len(o.Columns))
	for _, idx := range target {
		inTarget[idx] = true
	}
	for i, c := range o.Columns {
		if !inTarget[i] {
			h.defaults = append(h.defaults, copyDefault{col: i, e: c.Default, late: c.Default != nil && isLateDefault(c.Default)})
		}
	}
	h.ectx = s.evalCtx()
	return &Result{CopyIn: h}, nil
}

// quoteIdent quotes an identifier for SQL text.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// copyTo reads the rows of a table or a query at one timestamp.
func (s *Session) copyTo(ctx context.Context, cs *pg.CopyStmt, opts copyOptions, p *Prepared, params []types.Datum) (*Result, error) {
	if p.Stmt.subscribe != nil {
		// COPY (SUBSCRIBE ...) TO STDOUT: the rows stream as they come.
		sub, err := s.startSubscribe(ctx, p, params)
		if err != nil {
			return nil, err
		}
		res, err := s.copyOutResult(sub.Columns(), nil, opts)
		if err != nil {
			sub.Close()
			return nil, err
		}
		res.CopyOut.Stream, res.Tag = sub, "SUBSCRIBE"
		return res, nil
	}
	query := cs.Query
	if query == nil {
		// COPY t (cols) TO is SELECT cols FROM t, bound as a query so that
		// tables and materialized views read the same way.
		// System catalogs are not in the catalog map; the binder resolves
		// them (and reports an unknown name).
		s.e.mu.RLock()
		o, ok := s.resolve(cs.Relation.Schemaname, cs.Relation.Relname)
		s.e.mu.RUnlock()
		var cols []string
		if ok {
			if o.Kind == KindView {
				return nil, &pgerror.Error{Code: pgerror.WrongObjectType, Message: fmt.Sprintf("cannot copy from view %q", o.Name),
					Hint: "Try the COPY (SELECT ...) TO variant."}
			}
			if o.Kind == KindIndex {
				return nil, errAt(pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", cs.Relation.Relname), cs.Relation.Location)
			}
			target, err := copyTargets(o, cs.Attlist)
			if err != nil {
				return nil, err
			}
			for _, idx := range target {
				cols = append(cols, quoteIdent(o.Columns[idx].Name))
			}
		} else {
			for _, n := range cs.Attlist {
				name, _ := defString(n)
				cols = append(cols, quoteIdent(name))
			}
			if len(cols) == 0 {
				cols = []string{"*"}
			}
		}
		rel := quoteIdent(cs.Relation.Relname)
		if cs.Relation.Schemaname != "" {
			rel = quoteIdent(cs.Relation.Schemaname) + "." + rel
		}
		tree, err := pg.Parse("SELECT " + strings.Join(cols, ", ") + " FROM " + rel)
		if err != nil {
			return nil, pgerror.New(pgerror.InternalError, "COPY TO: %v", err)
		}
		query = tree.Stmts[0].Stmt
	} else if query.GetSelectStmt() == nil {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "COPY (query) TO supports only SELECT queries")
	} else if p.Stmt.asOf != nil {
		// COPY (SELECT ... AS OF t) TO: the rows as of t.
		q, rows, err := s.selectAsOf(ctx, query, p.Stmt.asOf, p.ParamTypes, params)
		if err != nil {
			return nil, err
		}
		return s.copyOutResult(queryColumns(q), rows, opts)
	}
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	b := s.newBinder(p.ParamTypes, params)
	q, err := b.bindSelectStmt(query, nil)
	if err != nil {
		if cs.Query == nil {
			// The query text was generated: point at the table name.
			var pe *pgerror.Error
			if errors.As(err, &pe) {
				c := *pe
				c.Position = int(cs.Relation.Location) + 1
				err = &c
			}
		}
		return nil, err
	}
	rows, err := s.runQueryLocked(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.copyOutResult(queryColumns(q), rows, opts)
}

// copyOutResult is the Result of a COPY TO STDOUT of rows.
func (s *Session) copyOutResult(cols []Column, rows []types.Row, opts copyOptions) (*Result, error) {
	out := &CopyOut{Columns: cols, Rows: rows, opts: opts, loc: s.location()}
	out.Binary = opts.format == copyBinary
	out.forceQuote = make([]bool, len(out.Columns))
	for _, n := range opts.forceQuote {
		found := false
		for i, c := range out.Columns {
			if strings.EqualFold(c.Name, n) {
				out.forceQuote[i], found = true, true
			}
		}
		if !found {
			return nil, pgerror.New(pgerror.InvalidColumnReference, "FORCE_QUOTE column %q not referenced by COPY", n)
		}
	}
	if opts.forceQuoteAll {
		for i := range out.forceQuote {
			out.forceQuote[i] = true
		}
	}
	return &Result{CopyOut: out, Tag: fmt.Sprintf("COPY %d", len(rows))}, nil
}
