package parser

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// SUBSCRIBE (Materialize's change stream), not PostgreSQL grammar:
//
//	SUBSCRIBE [TO] name | (select)
//	    [ENVELOPE UPSERT | DEBEZIUM (KEY (col, ...))]
//	    [WITHIN TIMESTAMP ORDER BY col [ASC|DESC] [NULLS FIRST|LAST], ...]
//	    [WITH (SNAPSHOT [= bool], PROGRESS [= bool])] [AS OF [AT LEAST] expr] [UP TO expr]
//
// (the clauses in any order, as Materialize accepts them)
//
// It stands alone, or inside two statements of PostgreSQL's grammar:
//
//	COPY (SUBSCRIBE ...) TO STDOUT [WITH (...)]
//	DECLARE c CURSOR FOR SUBSCRIBE ...
//
// where the SUBSCRIBE is replaced by `SELECT NULL` in the text handed to
// PostgreSQL's parser and recorded on the Statement. FETCH takes
// Materialize's trailing `WITH (TIMEOUT = '1s')`, stripped the same way.

// Subscribe is a parsed SUBSCRIBE.
type Subscribe struct {
	// Relation is set for SUBSCRIBE [TO] name.
	Relation *pg.RangeVar
	// Query is set for SUBSCRIBE [TO] (select): a SelectStmt node.
	Query *pg.Node
	// Snapshot (default true) emits the contents at the start time first.
	Snapshot bool
	// Progress adds mz_progressed and progress rows.
	Progress bool
	// AsOf and UpTo are the AS OF and UP TO expressions, nil if absent.
	AsOf, UpTo *pg.Node
	// OrderBy is WITHIN TIMESTAMP ORDER BY's sort list (SortBy nodes over
	// the output's column names, mz_diff included), nil if none.
	OrderBy []*pg.Node
	// Envelope is "upsert" or "debezium" (ENVELOPE ... (KEY (cols))), ""
	// for none; EnvelopeKey its key columns' names.
	Envelope    string
	EnvelopeKey []string
	// AtLeast is AS OF AT LEAST: start at the AS OF time or, when its
	// history is gone, at the oldest time still readable.
	AtLeast bool
}

// FetchOptions are Materialize's options of FETCH.
type FetchOptions struct {
	// Timeout is the TIMEOUT option's value as written ('1s', 1.5 ...).
	Timeout string
}

// tributaryClauses recognizes SUBSCRIBE, COPY (SUBSCRIBE ...) and DECLARE
// ... FOR SUBSCRIBE, and FETCH ... WITH (...). ok reports that it did; then
// parseText is the text for PostgreSQL's parser ("" for a bare SUBSCRIBE).
func tributaryClauses(query string, toks []*pg.ScanToken, start, end int) (parseText string, sub *Subscribe, fetch *FetchOptions, ok bool, err error) {
	w := words(query, toks)
	switch {
	case w[0] == "subscribe":
		sub, err = parseSubscribe(query, toks)
		return "", sub, nil, true, err
	case w[0] == "copy" && len(w) > 3 && w[1] == "(" && w[2] == "subscribe":
		closeAt := matchParen(toks, 1)
		if closeAt < 0 {
			return "", nil, nil, true, &pgerror.Error{Code: pgerror.SyntaxError, Message: "syntax error: unbalanced parentheses in COPY (SUBSCRIBE ...)", Position: int(toks[1].Start) + 1}
		}
		if sub, err = parseSubscribe(query, toks[2:closeAt]); err != nil {
			return "", nil, nil, true, err
		}
		return query[start:toks[1].Start] + "(SELECT NULL)" + query[toks[closeAt].End:end], sub, nil, true, nil
	case w[0] == "declare":
		for i := 1; i+1 < len(w); i++ {
			if w[i] == "for" && w[i+1] == "subscribe" && (w[i-1] == "cursor" || w[i-1] == "hold") {
				if sub, err = parseSubscribe(query, toks[i+1:]); err != nil {
					return "", nil, nil, true, err
				}
				return query[start:toks[i+1].Start] + "SELECT NULL", sub, nil, true, nil
			}
		}
	case w[0] == "fetch":
		// A trailing top-level WITH ( ... ).
		n := len(toks)
		if n < 4 || toks[n-1].Token != pg.Token_ASCII_41 {
			return "", nil, nil, false, nil
		}
		open := -1
		for i, d := n-1, 0; i >= 0; i-- {
			if toks[i].Token == pg.Token_ASCII_41 {
				d++
			} else if toks[i].Token == pg.Token_ASCII_40 {
				if d--; d == 0 {
					open = i
					break
				}
			}
		}
		if open < 2 || w[open-1] != "with" {
			return "", nil, nil, false, nil
		}
		fetch = &FetchOptions{}
		opts := toks[open+1 : n-1]
		ow := w[open+1 : n-1]
		for i := 0; i < len(opts); {
			if ow[i] != "timeout" || i+2 >= len(opts) || ow[i+1] != "=" {
				return "", nil, nil, true, &pgerror.Error{Code: pgerror.SyntaxError, Message: "FETCH takes WITH (TIMEOUT = interval)", Position: int(opts[i].Start) + 1}
			}
			v := query[opts[i+2].Start:opts[i+2].End]
			fetch.Timeout = unquote(v)
			i += 3
			if i < len(opts) {
				if opts[i].Token != pg.Token_ASCII_44 {
					return "", nil, nil, true, &pgerror.Error{Code: pgerror.SyntaxError, Message: "syntax error in FETCH options", Position: int(opts[i].Start) + 1}
				}
				i++
			}
		}
		return query[start:toks[open-1].Start], nil, fetch, true, nil
	}
	return "", nil, nil, false, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return v
}

// matchParen returns the index of the token closing the parenthesis at
// toks[open], or -1.
func matchParen(toks []*pg.ScanToken, open int) int {
	d := 0
	for i := open; i < len(toks); i++ {
		switch toks[i].Token {
		case pg.Token_ASCII_40:
			d++
		case pg.Token_ASCII_41:
			if d--; d == 0 {
				return i
			}
		}
	}
	return -1
}

// parseSubscribe parses toks, which start with SUBSCRIBE.
func parseSubscribe(query string, toks []*pg.ScanToken) (*Subscribe, error) {
	w := words(query, toks)
	errAt := func(i int, msg string) error {
		pos := int(toks[len(toks)-1].End) + 1
		if i < len(toks) {
			pos = int(toks[i].Start) + 1
		}
		return &pgerror.Error{Code: pgerror.SyntaxError, Message: msg, Position: pos}
	}
	sub := &Subscribe{Snapshot: true}
	i := 1
	if i+1 < len(w) && w[i] == "to" && w[i+1] != "with" && w[i+1] != "as" && w[i+1] != "up" {
		i++
	}
	if i >= len(toks) {
		return nil, errAt(i, "syntax error: SUBSCRIBE needs a view name or a parenthesized query")
	}
	if toks[i].Token == pg.Token_ASCII_40 {
		c := matchParen(toks, i)
		if c < 0 || c == i+1 {
			return nil, errAt(i, "syntax error at or near \"(\"")
		}
		res, err := pg.Parse(query[toks[i+1].Start:toks[c-1].End])
		if err != nil {
			return nil, syntaxError(err, int(toks[i+1].Start))
		}
		if len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil {
			return nil, errAt(i+1, "SUBSCRIBE takes a SELECT in parentheses")
		}
		sub.Query = res.Stmts[0].Stmt
		i = c + 1
	} else {
		// A name: identifiers separated by dots.
		from := i
		i++
		for i+1 < len(toks) && w[i] == "." {
			i += 2
		}
		res, err := pg.Parse("SELECT * FROM " + query[toks[from].Start:toks[i-1].End])
		var rv *pg.RangeVar
		if err == nil && len(res.Stmts) == 1 {
			if sel := res.Stmts[0].Stmt.GetSelectStmt(); sel != nil && len(sel.FromClause) == 1 {
				rv = sel.FromClause[0].GetRangeVar()
			}
		}
		if rv == nil || rv.Alias != nil {
			return nil, errAt(from, "syntax error: SUBSCRIBE needs a view name or a parenthesized query")
		}
		rv.Location = int32(toks[from].Start)
		sub.Relation = rv
	}
	// The clauses, each at most once, in any order (Materialize's parser
	// takes them so, and clients write AS OF before ENVELOPE).
	// clauseEnd finds where a clause starting at from ends: the next
	// top-level clause keyword.
	clauseEnd := func(from int) int {
		for j, d := from, 0; j < len(toks); j++ {
			switch toks[j].Token {
			case pg.Token_ASCII_40:
				d++
			case pg.Token_ASCII_41:
				d--
			}
			if d == 0 && j > from && startsClause(w, j) != "" {
				return j
			}
		}
		return len(toks)
	}
	parseExpr := func(from, to int) (*pg.Node, error) {
		if from >= to {
			return nil, errAt(from, "syntax error: expected an expression")
		}
		res, err := pg.Parse("SELECT " + query[toks[from].Start:toks[to-1].End])
		if err != nil || len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil {
			return nil, errAt(from, "syntax error in expression")
		}
		sel := res.Stmts[0].Stmt.GetSelectStmt()
		if len(sel.TargetList) != 1 || len(sel.FromClause) != 0 || sel.WhereClause != nil {
			return nil, errAt(from, "syntax error in expression")
		}
		return sel.TargetList[0].GetResTarget().Val, nil
	}
	seen := map[string]bool{}
	for i < len(toks) {
		clause := startsClause(w, i)
		if clause == "" {
			return nil, errAt(i, "syntax error at or near \""+query[toks[i].Start:toks[i].End]+"\"")
		}
		if seen[clause] {
			return nil, errAt(i, "syntax error: "+strings.ToUpper(clause)+" given twice")
		}
		seen[clause] = true
		switch clause {
		case "within timestamp order by":
			from := i + 4
			j := clauseEnd(from)
			if j == from {
				return nil, errAt(j, "syntax error: expected a sort list after WITHIN TIMESTAMP ORDER BY")
			}
			res, err := pg.Parse("SELECT 1 ORDER BY " + query[toks[from].Start:toks[j-1].End])
			if err != nil || len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil {
				return nil, errAt(from, "syntax error in WITHIN TIMESTAMP ORDER BY")
			}
			sub.OrderBy = res.Stmts[0].Stmt.GetSelectStmt().SortClause
			i = j
		case "envelope":
			// ENVELOPE UPSERT | DEBEZIUM (KEY (col, ...))
			j := clauseEnd(i + 1)
			if j < i+7 || (w[i+1] != "upsert" && w[i+1] != "debezium") || w[i+2] != "(" || w[i+3] != "key" || w[i+4] != "(" || w[j-1] != ")" || w[j-2] != ")" {
				return nil, errAt(i, "syntax error: expected ENVELOPE UPSERT (KEY (column, ...)) or ENVELOPE DEBEZIUM (KEY (column, ...))")
			}
			sub.Envelope = w[i+1]
			for k := i + 5; k < j-2; k++ {
				if toks[k].Token == pg.Token_ASCII_44 {
					continue
				}
				name := query[toks[k].Start:toks[k].End]
				if strings.HasPrefix(name, `"`) {
					name = strings.ReplaceAll(name[1:len(name)-1], `""`, `"`)
				} else {
					name = strings.ToLower(name)
				}
				if k+1 < j-2 && toks[k+1].Token != pg.Token_ASCII_44 {
					return nil, errAt(k+1, "syntax error in ENVELOPE KEY: column names separated by commas expected")
				}
				sub.EnvelopeKey = append(sub.EnvelopeKey, name)
			}
			if len(sub.EnvelopeKey) == 0 {
				return nil, errAt(i+5, "syntax error: ENVELOPE needs at least one KEY column")
			}
			i = j
		case "with":
			if i+1 >= len(toks) || toks[i+1].Token != pg.Token_ASCII_40 {
				return nil, errAt(i+1, "syntax error: expected ( after WITH")
			}
			c := matchParen(toks, i+1)
			if c < 0 {
				return nil, errAt(i+1, "syntax error: unbalanced parentheses")
			}
			for j := i + 2; j < c; {
				name := w[j]
				val, next := true, j+1
				if next < c && w[next] == "=" {
					if next+1 >= c {
						return nil, errAt(next, "syntax error: expected a value after =")
					}
					next++
				}
				if next < c && toks[next].Token != pg.Token_ASCII_44 {
					// NAME [=] value
					switch unquote(w[next]) {
					case "true", "on", "t", "1", "yes":
					case "false", "off", "f", "0", "no":
						val = false
					default:
						return nil, &pgerror.Error{Code: pgerror.InvalidParameterValue, Message: "option " + strings.ToUpper(name) + " requires a Boolean value", Position: int(toks[next].Start) + 1}
					}
					next++
				}
				switch name {
				case "snapshot":
					sub.Snapshot = val
				case "progress":
					sub.Progress = val
				default:
					return nil, &pgerror.Error{Code: pgerror.SyntaxError, Message: "unrecognized SUBSCRIBE option " + strings.ToUpper(name) + " (SNAPSHOT and PROGRESS are)", Position: int(toks[j].Start) + 1}
				}
				if next < c {
					if toks[next].Token != pg.Token_ASCII_44 {
						return nil, errAt(next, "syntax error in SUBSCRIBE options")
					}
					next++
				}
				j = next
			}
			i = c + 1
		case "as of":
			from := i + 2
			if from+1 < len(toks) && w[from] == "at" && w[from+1] == "least" {
				sub.AtLeast, from = true, from+2
			}
			to := clauseEnd(from)
			x, err := parseExpr(from, to)
			if err != nil {
				return nil, err
			}
			sub.AsOf, i = x, to
		case "up to":
			to := clauseEnd(i + 2)
			x, err := parseExpr(i+2, to)
			if err != nil {
				return nil, err
			}
			sub.UpTo, i = x, to
		}
	}
	if sub.Envelope != "" && sub.OrderBy != nil {
		return nil, &pgerror.Error{Code: pgerror.FeatureNotSupported, Message: "SUBSCRIBE takes ENVELOPE or WITHIN TIMESTAMP ORDER BY, not both"}
	}
	return sub, nil
}

// startsClause names the SUBSCRIBE clause that starts at word i, or "".
func startsClause(w []string, i int) string {
	next := func(k int) string {
		if i+k < len(w) {
			return w[i+k]
		}
		return ""
	}
	switch {
	case w[i] == "with" && next(1) == "(":
		return "with"
	case w[i] == "envelope":
		return "envelope"
	case w[i] == "within" && next(1) == "timestamp" && next(2) == "order" && next(3) == "by":
		return "within timestamp order by"
	case w[i] == "as" && next(1) == "of":
		return "as of"
	case w[i] == "up" && next(1) == "to":
		return "up to"
	}
	return ""
}
