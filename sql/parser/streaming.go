package parser

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// Streaming clauses inside statements of PostgreSQL's grammar:
//
//	CREATE TABLE name (column_def, ... [, WATERMARK FOR col AS expr])
//	CREATE MATERIALIZED VIEW name AS select [ EMIT ON WINDOW CLOSE ]
//
// The clause is found on the scanner's tokens, recorded on the Statement,
// and blanked out of the text handed to PostgreSQL's parser (replaced by
// spaces, so that positions in the rest stay those of the original text).
// Statement.SQL keeps the original text: replaying it yields the clause again.
// CREATE SOURCE is rewritten into a CREATE TABLE the same way (source.go).

// Watermark is a WATERMARK FOR col AS expr clause: events whose col is
// earlier than expr evaluated at the latest event are late.
type Watermark struct {
	// Column is the time column's name (case-folded unless quoted).
	Column string
	// Expr is the watermark expression, parsed (a column reference, or the
	// column minus a constant interval).
	Expr *pg.Node
	// Text is the clause's expression as written.
	Text string
	// Position is the clause's byte offset in the statement (for errors).
	Position int
}

// Streaming holds the streaming clauses of a statement of PostgreSQL's
// grammar.
type Streaming struct {
	Watermark         *Watermark
	EmitOnWindowClose bool
	// Source is set for CREATE SOURCE, whose AST is the CREATE TABLE of
	// its name, columns and options (source.go).
	Source *Source
	// DropSource marks DROP SOURCE, whose AST is the DROP TABLE of the
	// same names.
	DropSource bool
}

// streamingClauses finds the streaming clauses of the statement made of
// toks (query[start:end] is its text). It returns the text to hand to
// PostgreSQL's parser with the clauses blanked out.
func streamingClauses(query string, toks []*pg.ScanToken, start, end int) (string, *Streaming, error) {
	w := words(query, toks)
	text := []byte(query[start:end])
	blank := func(from, to int) {
		for i := from - start; i < to-start; i++ {
			if text[i] != '\n' {
				text[i] = ' '
			}
		}
	}
	var st *Streaming
	if len(w) >= 3 && w[0] == "drop" && w[1] == "source" {
		copy(text[int(toks[1].Start)-start:], "TABLE ")
		return string(text), &Streaming{DropSource: true}, nil
	}
	if createsSource(w) {
		src, err := sourceClauses(query, toks, w, text, start)
		if err != nil {
			return "", nil, err
		}
		st = &Streaming{Source: src}
	}
	if len(w) >= 3 && w[0] == "create" && (createsTable(w) || st != nil) {
		wm, from, to, err := findWatermark(query, toks, w)
		if err != nil {
			return "", nil, err
		}
		if wm != nil {
			blank(from, to)
			if st == nil {
				st = &Streaming{}
			}
			st.Watermark = wm
		}
	}
	if n := len(w); n >= 5 && strings.Join(w[n-4:], " ") == "emit on window close" && createsMatView(w) {
		blank(int(toks[n-4].Start), int(toks[n-1].End))
		if st == nil {
			st = &Streaming{}
		}
		st.EmitOnWindowClose = true
	}
	if st == nil {
		return query[start:end], nil, nil
	}
	return string(text), st, nil
}

// createsTable reports whether words start CREATE [GLOBAL|LOCAL]
// [TEMP|TEMPORARY|UNLOGGED] TABLE (not CREATE TABLE ... AS, which has no
// column definitions to declare a watermark among).
func createsTable(w []string) bool {
	for _, x := range w[1:] {
		switch x {
		case "global", "local", "temp", "temporary", "unlogged":
			continue
		case "table":
			return true
		}
		return false
	}
	return false
}

func createsMatView(w []string) bool {
	for i := 0; i+2 < len(w) && i < 4; i++ {
		if w[i] == "create" || w[i] == "explain" || w[i] == "or" || w[i] == "replace" {
			continue
		}
		return w[i] == "materialized" && w[i+1] == "view"
	}
	return false
}

// findWatermark finds a WATERMARK FOR col AS expr element of a CREATE
// TABLE's parenthesized list: WATERMARK is not a keyword and FOR is
// reserved, so no column definition starts that way. It returns the
// clause and the byte range to blank out (with its separating comma).
func findWatermark(query string, toks []*pg.ScanToken, w []string) (*Watermark, int, int, error) {
	depth := 0
	var found *Watermark
	var from, to int
	for i := 0; i < len(toks); i++ {
		switch toks[i].Token {
		case pg.Token_ASCII_40:
			depth++
			continue
		case pg.Token_ASCII_41:
			depth--
			continue
		}
		if depth != 1 || w[i] != "watermark" || i+1 >= len(toks) || w[i+1] != "for" ||
			(toks[i-1].Token != pg.Token_ASCII_40 && toks[i-1].Token != pg.Token_ASCII_44) {
			continue
		}
		pos := int(toks[i].Start)
		if found != nil {
			return nil, 0, 0, &pgerror.Error{Code: pgerror.SyntaxError, Message: "a table has at most one WATERMARK", Position: pos + 1}
		}
		// The element ends at the next ',' or ')' at this depth.
		j, d := i+2, 1
		for ; j < len(toks); j++ {
			if toks[j].Token == pg.Token_ASCII_40 {
				d++
			} else if toks[j].Token == pg.Token_ASCII_41 {
				if d--; d == 0 {
					break
				}
			} else if toks[j].Token == pg.Token_ASCII_44 && d == 1 {
				break
			}
		}
		if j >= len(toks) || i+4 >= j || w[i+3] != "as" {
			return nil, 0, 0, &pgerror.Error{Code: pgerror.SyntaxError, Message: "syntax error in WATERMARK: expected WATERMARK FOR column AS expression", Position: pos + 1}
		}
		col := query[toks[i+2].Start:toks[i+2].End]
		if strings.HasPrefix(col, `"`) {
			col = strings.ReplaceAll(col[1:len(col)-1], `""`, `"`)
		} else {
			col = strings.ToLower(col)
		}
		exprText := query[toks[i+4].Start:toks[j-1].End]
		res, err := pg.Parse("SELECT " + exprText)
		if err != nil || len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil || len(res.Stmts[0].Stmt.GetSelectStmt().TargetList) != 1 {
			return nil, 0, 0, &pgerror.Error{Code: pgerror.SyntaxError, Message: "syntax error in WATERMARK expression " + exprText, Position: int(toks[i+4].Start) + 1}
		}
		found = &Watermark{Column: col, Expr: res.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val, Text: exprText, Position: pos}
		// Blank the clause and one comma next to it: the one before it, or
		// the one after it when it comes first.
		from, to = pos, int(toks[j-1].End)
		if toks[i-1].Token == pg.Token_ASCII_44 {
			from = int(toks[i-1].Start)
		} else if toks[j].Token == pg.Token_ASCII_44 {
			to = int(toks[j].End)
		}
		i = j - 1
	}
	return found, from, to, nil
}
