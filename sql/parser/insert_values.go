package parser

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// parseInsertValues is the fast path of Parse for the statement bulk
// ingest sends most: INSERTs whose rows are plain literals,
//
//	INSERT INTO [schema.]table [(column, ...)] VALUES (literal, ...), ... [;]
//
// repeated any number of times, where a literal is an integer or decimal
// (with an optional leading minus), a '...' or E'...' string, NULL, TRUE or
// FALSE. Parsing a 1000-row statement with PostgreSQL's parser costs more
// than binding and applying it (the cgo call, then decoding its protobuf
// tree); this builds the same tree directly.
//
// It returns ok=false for anything else, and the caller hands the query to
// PostgreSQL's parser, so errors always come from PostgreSQL's parser. When
// it returns ok, the statements are exactly those of that path: equal
// trees, positions included (TestInsertValuesFastPath and
// FuzzInsertValuesFastPath compare the two on generated statements).
// Anything the fast path is not sure to read the same way PostgreSQL's
// scanner does (comments, quoted identifiers, keywords as names, Unicode,
// string continuation, operators, casts) is left to PostgreSQL's parser.
func parseInsertValues(query string) ([]Statement, bool) {
	p := insertParser{q: query}
	var out []Statement
	for {
		p.space()
		for p.peek() == ';' {
			p.i++
			p.space()
		}
		if p.i == len(p.q) {
			return out, len(out) > 0
		}
		st, ok := p.statement()
		if !ok {
			return nil, false
		}
		out = append(out, st)
		p.space()
		if p.i < len(p.q) && p.q[p.i] != ';' {
			return nil, false
		}
	}
}

// insertParser reads query text q from byte offset i. The nodes of a
// statement's tree are allocated in slabs: a 1000-row INSERT has a few
// thousand of them, and they live exactly as long as the statement.
type insertParser struct {
	q     string
	i     int
	start int // the current statement's first byte: tree positions count from it

	nodes    slab[pg.Node]
	consts   slab[pg.A_Const]
	nodeCon  slab[pg.Node_AConst]
	ivals    slab[pg.A_Const_Ival]
	ints     slab[pg.Integer]
	fvals    slab[pg.A_Const_Fval]
	floats   slab[pg.Float]
	svals    slab[pg.A_Const_Sval]
	strs     slab[pg.String]
	bvals    slab[pg.A_Const_Boolval]
	bools    slab[pg.Boolean]
	nodeList slab[pg.Node_List]
	lists    slab[pg.List]
	items    []*pg.Node // the rows' items, each row's a full slice of it
}

// slab hands out pointers to zeroed values allocated a chunk at a time,
// each chunk twice the last (from 4 to 512): a one-row INSERT allocates
// little, a 1000-row one a few chunks per type.
type slab[T any] struct {
	free []T
	size int
}

func (s *slab[T]) new() *T {
	if len(s.free) == 0 {
		s.size = min(max(2*s.size, 4), 512)
		s.free = make([]T, s.size)
	}
	v := &s.free[0]
	s.free = s.free[1:]
	return v
}

func (p *insertParser) statement() (Statement, bool) {
	p.start = p.i
	if !p.keyword("insert") || !p.keyword("into") {
		return Statement{}, false
	}
	rel := &pg.RangeVar{Inh: true, Relpersistence: "p", Location: p.pos()}
	name, ok := p.ident()
	if !ok {
		return Statement{}, false
	}
	rel.Relname = name
	if p.peek() == '.' {
		p.i++
		p.space()
		if rel.Relname, ok = p.ident(); !ok {
			return Statement{}, false
		}
		rel.Schemaname = name
	}
	ins := &pg.InsertStmt{Relation: rel, Override: pg.OverridingKind_OVERRIDING_NOT_SET}
	if p.peek() == '(' {
		p.i++
		p.space()
		for {
			loc := p.pos()
			col, ok := p.ident()
			if !ok {
				return Statement{}, false
			}
			ins.Cols = append(ins.Cols, pg.MakeResTargetNodeWithName(col, loc))
			if !p.punct(',') {
				break
			}
		}
		if !p.punct(')') {
			return Statement{}, false
		}
	}
	if !p.keyword("values") {
		return Statement{}, false
	}
	sel := &pg.SelectStmt{LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg.SetOperation_SETOP_NONE}
	for {
		row, ok := p.row()
		if !ok {
			return Statement{}, false
		}
		sel.ValuesLists = append(sel.ValuesLists, row)
		if !p.punct(',') {
			break
		}
	}
	ins.SelectStmt = &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}
	end := p.i // p.space() has run: trim what it skipped
	for end > p.start && isSpace(p.q[end-1]) {
		end--
	}
	return Statement{
		SQL:    p.q[p.start:end],
		Offset: p.start,
		AST:    &pg.Node{Node: &pg.Node_InsertStmt{InsertStmt: ins}},
	}, true
}

// row reads "(literal, ...)" as a List node.
func (p *insertParser) row() (*pg.Node, bool) {
	if !p.punct('(') {
		return nil, false
	}
	first := len(p.items)
	for {
		v, ok := p.literal()
		if !ok {
			return nil, false
		}
		p.items = append(p.items, v)
		if !p.punct(',') {
			break
		}
	}
	if !p.punct(')') {
		return nil, false
	}
	list := p.lists.new()
	list.Items = p.items[first:len(p.items):len(p.items)]
	nl := p.nodeList.new()
	nl.List = list
	n := p.nodes.new()
	n.Node = nl
	return n, true
}

// literal reads one value and the blanks after it. A literal must be
// followed by ',' or ')': anything else (an operator, a cast, a second
// string literal continuing the first) is not a plain literal.
func (p *insertParser) literal() (*pg.Node, bool) {
	c := p.consts.new()
	c.Location = p.pos()
	switch ch := p.peek(); {
	case ch == '-':
		p.i++
		p.space()
		if ch := p.peek(); !isDigit(ch) && ch != '.' {
			return nil, false
		}
		if !p.number(c, true) {
			return nil, false
		}
	case isDigit(ch) || ch == '.':
		if !p.number(c, false) {
			return nil, false
		}
	case ch == '\'':
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		p.setString(c, s)
	case ch == 'e' || ch == 'E':
		if p.i+1 >= len(p.q) || p.q[p.i+1] != '\'' {
			return nil, false
		}
		p.i++
		s, ok := p.escapeStr()
		if !ok {
			return nil, false
		}
		p.setString(c, s)
	default:
		w := p.word()
		switch {
		case equalFold(w, "null"):
			c.Isnull = true
		case equalFold(w, "true"), equalFold(w, "false"):
			b := p.bools.new()
			b.Boolval = len(w) == 4
			bv := p.bvals.new()
			bv.Boolval = b
			c.Val = bv
		default:
			return nil, false
		}
	}
	p.space()
	if ch := p.peek(); ch != ',' && ch != ')' {
		return nil, false
	}
	nc := p.nodeCon.new()
	nc.AConst = c
	n := p.nodes.new()
	n.Node = nc
	return n, true
}

// number reads a numeric literal as PostgreSQL's scanner and grammar do:
// an integer that fits in int4 is an Integer, any other number a Float
// holding its text; a minus sign in front is folded into the constant.
func (p *insertParser) number(c *pg.A_Const, negate bool) bool {
	from := p.i
	digits := p.digits()
	isInt := true
	if p.peek() == '.' {
		p.i++
		isInt = false
		digits += p.digits()
	}
	if digits == 0 {
		return false
	}
	if ch := p.peek(); ch == 'e' || ch == 'E' {
		p.i++
		isInt = false
		if ch := p.peek(); ch == '+' || ch == '-' {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	// PostgreSQL reads "1a", "1_000", "0x1f" and "1.2.3" otherwise or not
	// at all.
	if ch := p.peek(); isIdentChar(ch) || ch == '.' || ch >= 0x80 {
		return false
	}
	text := p.q[from:p.i]
	if isInt {
		if v, err := strconv.ParseInt(text, 10, 32); err == nil {
			if negate {
				v = -v
			}
			n := p.ints.new()
			n.Ival = int32(v)
			iv := p.ivals.new()
			iv.Ival = n
			c.Val = iv
			return true
		}
	}
	if negate {
		if loc := p.start + int(c.Location); loc == from-1 {
			text = p.q[loc:p.i] // "-1.5" as written
		} else {
			text = "-" + text
		}
	}
	f := p.floats.new()
	f.Fval = text
	fv := p.fvals.new()
	fv.Fval = f
	c.Val = fv
	return true
}

func (p *insertParser) digits() int {
	from := p.i
	for p.i < len(p.q) && isDigit(p.q[p.i]) {
		p.i++
	}
	return p.i - from
}

func (p *insertParser) setString(c *pg.A_Const, s string) {
	str := p.strs.new()
	str.Sval = s
	sv := p.svals.new()
	sv.Sval = str
	c.Val = sv
}

// str reads a standard-conforming '...' string (” is a quote, a
// backslash is itself). Non-ASCII text is left to PostgreSQL's parser,
// which checks its encoding.
func (p *insertParser) str() (string, bool) {
	p.i++ // the opening quote
	from, quotes := p.i, 0
	for {
		if p.i >= len(p.q) {
			return "", false
		}
		switch ch := p.q[p.i]; {
		case ch == '\'':
			if p.i+1 < len(p.q) && p.q[p.i+1] == '\'' {
				p.i += 2
				quotes++
				continue
			}
			s := p.q[from:p.i]
			p.i++
			if quotes > 0 {
				return strings.ReplaceAll(s, "''", "'"), true
			}
			// A copy: a table keeps the value, and must not keep the
			// whole query text with it.
			return strings.Clone(s), true
		case ch == 0 || ch >= 0x80:
			return "", false
		}
		p.i++
	}
}

// escapeStr reads an E'...' string (p.i at its quote) with the escapes
// \b \f \n \r \t \v and a backslash before any other ASCII character that is
// not a digit, x, u or U (which is that character); octal, hex and Unicode
// escapes are left to PostgreSQL's parser.
func (p *insertParser) escapeStr() (string, bool) {
	p.i++
	var b []byte
	for {
		if p.i >= len(p.q) {
			return "", false
		}
		ch := p.q[p.i]
		switch {
		case ch == 0 || ch >= 0x80:
			return "", false
		case ch == '\'':
			if p.i+1 < len(p.q) && p.q[p.i+1] == '\'' {
				b = append(b, '\'')
				p.i += 2
				continue
			}
			p.i++
			return string(b), true
		case ch == '\\':
			if p.i+1 >= len(p.q) {
				return "", false
			}
			e := p.q[p.i+1]
			switch {
			case e == 0 || e >= 0x80 || isDigit(e) || e == 'x' || e == 'u' || e == 'U':
				return "", false
			case e == 'b':
				e = '\b'
			case e == 'f':
				e = '\f'
			case e == 'n':
				e = '\n'
			case e == 'r':
				e = '\r'
			case e == 't':
				e = '\t'
			case e == 'v':
				e = '\v'
			}
			b = append(b, e)
			p.i += 2
			continue
		}
		b = append(b, ch)
		p.i++
	}
}

// ident reads an unquoted identifier, folded to lower case, and the blanks
// after it. Quoted identifiers, non-ASCII ones, names PostgreSQL would
// truncate, and reserved words are left to PostgreSQL's parser.
func (p *insertParser) ident() (string, bool) {
	w := p.word()
	if w == "" || isDigit(w[0]) || w[0] == '$' || len(w) >= 64 || p.peek() >= 0x80 || p.peek() == '"' || p.peek() == '\'' {
		return "", false
	}
	lower := w
	for i := 0; i < len(w); i++ {
		if 'A' <= w[i] && w[i] <= 'Z' {
			b := []byte(w)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			lower = string(b)
			break
		}
	}
	if reservedNames[lower] {
		return "", false
	}
	p.space()
	return lower, true
}

// keyword reads the keyword kw (lower case) and the blanks after it.
func (p *insertParser) keyword(kw string) bool {
	if !equalFold(p.word(), kw) {
		return false
	}
	if ch := p.peek(); ch >= 0x80 || ch == '"' || ch == '\'' {
		return false
	}
	p.space()
	return true
}

// word reads a run of identifier characters.
func (p *insertParser) word() string {
	from := p.i
	for p.i < len(p.q) && isIdentChar(p.q[p.i]) {
		p.i++
	}
	return p.q[from:p.i]
}

// punct reads the character ch and the blanks after it.
func (p *insertParser) punct(ch byte) bool {
	if p.peek() != ch {
		return false
	}
	p.i++
	p.space()
	return true
}

func (p *insertParser) peek() byte {
	if p.i < len(p.q) {
		return p.q[p.i]
	}
	return 0
}

// pos is the tree position of the next byte: from the statement's start.
func (p *insertParser) pos() int32 { return int32(p.i - p.start) }

// space skips blanks: the characters Statement.SQL is trimmed of. Comments
// and other whitespace characters are left to PostgreSQL's parser (they
// stop the fast path where a token is expected).
func (p *insertParser) space() {
	for p.i < len(p.q) && isSpace(p.q[p.i]) {
		p.i++
	}
}

func isSpace(ch byte) bool { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' }
func isDigit(ch byte) bool { return '0' <= ch && ch <= '9' }
func isIdentChar(ch byte) bool {
	return 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || isDigit(ch) || ch == '_' || ch == '$'
}

// equalFold reports whether w is the lower-case ASCII word kw in any case.
func equalFold(w, kw string) bool {
	if len(w) != len(kw) {
		return false
	}
	for i := 0; i < len(w); i++ {
		ch := w[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != kw[i] {
			return false
		}
	}
	return true
}

// reservedNames are the keywords that cannot name a table or a column
// without quotes: PostgreSQL 17's reserved and type/function-name keywords
// (kwlist.h of the parser pg_query_go embeds). The fast path leaves a
// statement using one of them to PostgreSQL's parser.
var reservedNames = map[string]bool{}

func init() {
	for _, w := range []string{
		"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric",
		"authorization", "binary", "both", "case", "cast", "check", "collate", "collation",
		"column", "concurrently", "constraint", "create", "cross", "current_catalog",
		"current_date", "current_role", "current_schema", "current_time", "current_timestamp",
		"current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
		"except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant",
		"group", "having", "ilike", "in", "initially", "inner", "intersect", "into", "is",
		"isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
		"localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or",
		"order", "outer", "overlaps", "placing", "primary", "references", "returning", "right",
		"select", "session_user", "similar", "some", "symmetric", "system_user", "table",
		"tablesample", "then", "to", "trailing", "true", "union", "unique", "user", "using",
		"variadic", "verbose", "when", "where", "window", "with",
	} {
		reservedNames[w] = true
	}
}
