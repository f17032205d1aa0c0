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
	// Streaming holds the streaming clauses of a statement of PostgreSQL's
	// grammar (WATERMARK, EMIT ON WINDOW CLOSE: streaming.go), nil if none.
	Streaming *Streaming
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
