package parser

import (
	"errors"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// Statement is one parsed statement: a PostgreSQL AST, or an extension.
type Statement struct {
	// SQL is the statement's text, without the terminating semicolon.
	SQL string
	// Offset is the byte offset of SQL in the query string.
	Offset int
	// AST is set for statements of PostgreSQL's grammar.
	AST *pg.Node
	// Ext is set for Tributary's own statements.
	Ext Ext
	// AsOf is the expression of a trailing `AS OF expr` on a SELECT
	// (Materialize's time travel, not PostgreSQL grammar), stripped from AST
	// and SQL; nil when there is none. It is the expression's AST as the
	// single target of `SELECT expr` would bind it.
	AsOf *pg.Node
	// Streaming holds the streaming clauses of a statement of PostgreSQL's
	// grammar (WATERMARK, EMIT ON WINDOW CLOSE: streaming.go), nil if none.
	Streaming *Streaming
	// Subscribe is set for SUBSCRIBE (AST nil), COPY (SUBSCRIBE ...) TO
	// and DECLARE ... FOR SUBSCRIBE (subscribe.go).
	Subscribe *Subscribe
	// Fetch holds FETCH's WITH (TIMEOUT = ...), nil if none.
	Fetch *FetchOptions
}

// Ext is a Tributary extension statement.
type Ext interface{ ext() }

// ShowObjects is SHOW TABLES | VIEWS | MATERIALIZED VIEWS | INDEXES |
// SOURCES | SINKS.
type ShowObjects struct {
	// Kind is "tables", "views", "materialized views", "indexes",
	// "sources" or "sinks".
	Kind string
}

func (*ShowObjects) ext() {}

// Parse splits query into statements and parses each. Empty statements
// (";;") are dropped; an all-blank query yields no statements.
func Parse(query string) ([]Statement, error) {
	if sts, ok := parseInsertValues(query); ok {
		return sts, nil
	}
	return parseScanned(query)
}

// parseScanned is Parse without the fast path for INSERTs of literal rows:
// every statement goes through pg_query's scanner and parser.
func parseScanned(query string) ([]Statement, error) {
	scan, err := pg.Scan(query)
	if err != nil {
		return nil, syntaxError(err, 0)
	}
	var out []Statement
	start := 0
	var toks []*pg.ScanToken
	flush := func(end int) error {
		if len(toks) == 0 {
			return nil
		}
		text := query[toks[0].Start:end]
		st := Statement{SQL: strings.TrimRight(text, " \t\r\n"), Offset: int(toks[0].Start)}
		if ext := parseExt(query, toks); ext != nil {
			st.Ext = ext
		} else if parseText, sub, fetch, ok, err := tributaryClauses(query, toks, int(toks[0].Start), end); ok {
			if err != nil {
				return err
			}
			st.Subscribe, st.Fetch = sub, fetch
			if parseText != "" {
				res, err := pg.Parse(parseText)
				if err != nil {
					return syntaxError(err, st.Offset)
				}
				if len(res.Stmts) != 1 {
					return pgerror.New(pgerror.SyntaxError, "syntax error: one statement expected")
				}
				st.AST = res.Stmts[0].Stmt
			}
		} else if ast, asOf, ok := splitCopyAsOf(query, toks); ok {
			st.AST, st.AsOf = ast, asOf
		} else if ast, asOf, selEnd, ok := splitAsOf(query, toks); ok {
			st.AST, st.AsOf = ast, asOf
			st.SQL = strings.TrimRight(query[toks[0].Start:selEnd], " \t\r\n")
		} else {
			parseText, streaming, err := streamingClauses(query, toks, int(toks[0].Start), end)
			if err != nil {
				return err
			}
			st.Streaming = streaming
			res, err := pg.Parse(parseText)
			if err != nil {
				return syntaxError(err, st.Offset)
			}
			if len(res.Stmts) != 1 {
				return pgerror.New(pgerror.InternalError, "scanner and parser disagree on statement boundaries")
			}
			st.AST = res.Stmts[0].Stmt
		}
		out = append(out, st)
		toks = nil
		return nil
	}
	for _, t := range scan.Tokens {
		if t.Token == pg.Token_ASCII_59 { // ';'
			if err := flush(int(t.Start)); err != nil {
				return nil, err
			}
			start = int(t.End)
			continue
		}
		if t.Token == pg.Token_SQL_COMMENT || t.Token == pg.Token_C_COMMENT {
			continue
		}
		toks = append(toks, t)
	}
	if err := flush(len(query)); err != nil {
		return nil, err
	}
	_ = start
	return out, nil
}

// words returns the statement's tokens as lower-case words.
func words(query string, toks []*pg.ScanToken) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.ToLower(query[t.Start:t.End])
	}
	return out
}

func parseExt(query string, toks []*pg.ScanToken) Ext {
	w := words(query, toks)
	if len(w) >= 2 && w[0] == "show" {
		rest := strings.Join(w[1:], " ")
		switch rest {
		case "tables", "views", "materialized views", "indexes", "sources", "sinks":
			return &ShowObjects{Kind: rest}
		}
	}
	return nil
}

// splitAsOf recognizes `select AS OF expr`: the last top-level AS OF pair
// of tokens with something after it, where the text before it parses as one
// SELECT (or DECLARE ... CURSOR FOR a SELECT) and the text after it as one
// scalar expression. Anything else
// (`SELECT a AS of FROM t` names a column "of") is left to PostgreSQL's
// parser. end is the byte offset where the SELECT's text ends.
func splitAsOf(query string, toks []*pg.ScanToken) (ast, asOf *pg.Node, end int, ok bool) {
	depth, at := 0, -1
	for i, t := range toks {
		switch t.Token {
		case pg.Token_ASCII_40, pg.Token_ASCII_91: // ( [
			depth++
		case pg.Token_ASCII_41, pg.Token_ASCII_93: // ) ]
			depth--
		case pg.Token_AS:
			if depth == 0 && i+2 < len(toks) && toks[i+1].Token == pg.Token_OF {
				at = i
			}
		}
	}
	if at <= 0 {
		return nil, nil, 0, false
	}
	end = int(toks[at].Start)
	res, err := pg.Parse(query[toks[0].Start:end])
	if err != nil || len(res.Stmts) != 1 || !readsAsOf(res.Stmts[0].Stmt) {
		return nil, nil, 0, false
	}
	last := toks[len(toks)-1]
	e, ok := scalarExpr("SELECT " + query[toks[at+2].Start:last.End])
	if !ok {
		return nil, nil, 0, false
	}
	return res.Stmts[0].Stmt, e, end, true
}

// scalarExpr parses sel, a "SELECT expr" text, and returns expr when that
// is all there is: one unnamed target and no clause.
func scalarExpr(sel string) (*pg.Node, bool) {
	res, err := pg.Parse(sel)
	if err != nil || len(res.Stmts) != 1 {
		return nil, false
	}
	s := res.Stmts[0].Stmt.GetSelectStmt()
	if s == nil || len(s.TargetList) != 1 || len(s.FromClause) != 0 || s.WhereClause != nil ||
		s.GroupClause != nil || s.HavingClause != nil || s.SortClause != nil || s.LimitCount != nil ||
		s.LimitOffset != nil || s.DistinctClause != nil || s.Op != pg.SetOperation_SETOP_NONE {
		return nil, false
	}
	rt := s.TargetList[0].GetResTarget()
	if rt == nil || rt.Name != "" {
		return nil, false
	}
	return rt.Val, true
}

// splitCopyAsOf recognizes `COPY (select AS OF expr) TO ...`: the AS OF
// of the parenthesized query, whose text without it parses as a COPY of a
// SELECT. The expression is returned apart, as for a SELECT.
func splitCopyAsOf(query string, toks []*pg.ScanToken) (ast, asOf *pg.Node, ok bool) {
	if len(toks) < 6 || toks[0].Token != pg.Token_COPY || toks[1].Token != pg.Token_ASCII_40 {
		return nil, nil, false
	}
	depth, at, closing := 0, -1, -1
	for i := 1; i < len(toks) && closing < 0; i++ {
		switch toks[i].Token {
		case pg.Token_ASCII_40, pg.Token_ASCII_91:
			depth++
		case pg.Token_ASCII_41, pg.Token_ASCII_93:
			depth--
			if depth == 0 {
				closing = i
			}
		case pg.Token_AS:
			if depth == 1 && i+1 < len(toks) && toks[i+1].Token == pg.Token_OF {
				at = i
			}
		}
	}
	if at < 0 || closing < 0 || at+2 >= closing {
		return nil, nil, false
	}
	last := toks[len(toks)-1]
	text := query[toks[0].Start:toks[at].Start] + " " + query[toks[closing].Start:last.End]
	res, err := pg.Parse(text)
	if err != nil || len(res.Stmts) != 1 {
		return nil, nil, false
	}
	cs := res.Stmts[0].Stmt.GetCopyStmt()
	if cs == nil || cs.Query.GetSelectStmt() == nil {
		return nil, nil, false
	}
	e, ok := scalarExpr("SELECT " + query[toks[at+2].Start:toks[closing-1].End])
	if !ok {
		return nil, nil, false
	}
	return res.Stmts[0].Stmt, e, true
}

// readsAsOf reports whether n is a statement that may end in AS OF: a
// SELECT, or a DECLARE CURSOR for one.
func readsAsOf(n *pg.Node) bool {
	if dc := n.GetDeclareCursorStmt(); dc != nil {
		return dc.Query.GetSelectStmt() != nil
	}
	return n.GetSelectStmt() != nil
}

func syntaxError(err error, offset int) error {
	perr := &pgerror.Error{Code: pgerror.SyntaxError, Message: err.Error()}
	var pe *pgparser.Error
	if errors.As(err, &pe) {
		perr.Message = pe.Message
		if pe.Cursorpos > 0 {
			perr.Position = offset + pe.Cursorpos
		}
	}
	return perr
}
