package parser

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// CREATE SOURCE (../shared/DESIGN.md, "SQL dialect"):
//
//	CREATE SOURCE [IF NOT EXISTS] name [ (column_def, ... [, WATERMARK FOR col AS expr]) ]
//	    FROM KAFKA | POSTGRES | WEBHOOK | LOAD GENERATOR kind
//	    [ WITH (option = value, ...) ] [ FORMAT name ] [ ENVELOPE name ]
//
// The statement is handed to PostgreSQL's parser as the CREATE TABLE it
// resembles: SOURCE becomes TABLE, the FROM, FORMAT and ENVELOPE clauses
// are blanked out (a missing column list becomes "()" in FROM's place), so
// the name, the column definitions and the WITH options are parsed by
// PostgreSQL's own grammar, at the positions the client wrote them.

// Source is a CREATE SOURCE's connector clauses.
type Source struct {
	// Connector is "kafka", "postgres", "webhook" or "load generator".
	Connector string
	// Generator is a LOAD GENERATOR's kind, lower-case ("counter").
	Generator string
	// Format and Envelope are the clauses' names, lower-case; "" if absent.
	Format, Envelope string
}

func createsSource(w []string) bool { return len(w) >= 3 && w[0] == "create" && w[1] == "source" }

// sourceClauses parses a CREATE SOURCE's clauses and rewrites text (the
// statement's bytes, text[0] at query offset start) into the CREATE TABLE
// PostgreSQL's parser reads.
func sourceClauses(query string, toks []*pg.ScanToken, w []string, text []byte, start int) (*Source, error) {
	errAt := func(i int, msg string) error {
		pos := int(toks[len(toks)-1].End) + 1
		if i < len(toks) {
			pos = int(toks[i].Start) + 1
		}
		return &pgerror.Error{Code: pgerror.SyntaxError, Message: msg, Position: pos}
	}
	blank := func(from, to int) {
		for i := from - start; i < to-start; i++ {
			if text[i] != '\n' {
				text[i] = ' '
			}
		}
	}
	// SOURCE → TABLE, the same length.
	copy(text[int(toks[1].Start)-start:], "TABLE ")
	// The name runs to the column list or FROM, at depth 0.
	i := 2
	for i < len(toks) && toks[i].Token != pg.Token_ASCII_40 && w[i] != "from" {
		i++
	}
	columns := i < len(toks) && toks[i].Token == pg.Token_ASCII_40
	if columns {
		if i = matchParen(toks, i); i < 0 {
			return nil, errAt(len(toks), "syntax error: unbalanced parentheses in CREATE SOURCE's column list")
		}
		i++
	}
	if i >= len(toks) || w[i] != "from" {
		return nil, errAt(i, "syntax error in CREATE SOURCE: expected FROM KAFKA | POSTGRES | WEBHOOK | LOAD GENERATOR kind")
	}
	from := i
	src := &Source{}
	switch {
	case i+1 < len(w) && (w[i+1] == "kafka" || w[i+1] == "postgres" || w[i+1] == "webhook"):
		src.Connector = w[i+1]
		i += 2
	case i+3 < len(w) && w[i+1] == "load" && w[i+2] == "generator" && toks[i+3].Token != pg.Token_ASCII_40:
		src.Connector, src.Generator = "load generator", w[i+3]
		i += 4
	default:
		return nil, errAt(i+1, "syntax error in CREATE SOURCE: expected KAFKA, POSTGRES, WEBHOOK or LOAD GENERATOR kind after FROM")
	}
	blank(int(toks[from].Start), int(toks[i-1].End))
	if !columns {
		copy(text[int(toks[from].Start)-start:], "()")
	}
	for i < len(toks) {
		switch {
		case w[i] == "with" && i+1 < len(toks) && toks[i+1].Token == pg.Token_ASCII_40:
			j := matchParen(toks, i+1)
			if j < 0 {
				return nil, errAt(len(toks), "syntax error: unbalanced parentheses in CREATE SOURCE's WITH options")
			}
			i = j + 1 // kept: PostgreSQL parses the options
		case (w[i] == "format" || w[i] == "envelope") && i+1 < len(toks) && wordToken(toks[i+1]):
			if w[i] == "format" {
				if src.Format != "" {
					return nil, errAt(i, "syntax error in CREATE SOURCE: FORMAT given twice")
				}
				src.Format = w[i+1]
			} else {
				if src.Envelope != "" {
					return nil, errAt(i, "syntax error in CREATE SOURCE: ENVELOPE given twice")
				}
				src.Envelope = w[i+1]
			}
			blank(int(toks[i].Start), int(toks[i+1].End))
			i += 2
		default:
			return nil, errAt(i, "syntax error in CREATE SOURCE at "+strings.ToUpper(w[i])+": expected WITH (...), FORMAT name or ENVELOPE name")
		}
	}
	return src, nil
}

// wordToken reports whether t is a word (an identifier or a keyword), not
// a literal or punctuation.
func wordToken(t *pg.ScanToken) bool {
	return t.KeywordKind != pg.KeywordKind_NO_KEYWORD || t.Token == pg.Token_IDENT
}
