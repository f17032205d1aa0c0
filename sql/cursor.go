package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/parser"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// cursor is an open DECLARE CURSOR: its query ran once, at DECLARE, so
// every FETCH reads the same timestamp. pos is PostgreSQL's position: 0
// before the first row, len(rows)+1 after the last.
type cursor struct {
	cols []Column
	rows []types.Row
	pos  int
	hold bool // WITH HOLD: survives the end of its transaction
	// stream is set for DECLARE ... FOR SUBSCRIBE: FETCH takes its rows as
	// they come (subscribe.go) instead of rows.
	stream *Subscription
}

// close releases what the cursor holds.
func (c *cursor) close() {
	if c.stream != nil {
		c.stream.Close()
	}
}

// closeAllCursors closes every cursor (CLOSE ALL, DISCARD, end of session).
func (s *Session) closeAllCursors() {
	for _, c := range s.cursors {
		c.close()
	}
	s.cursors = nil
}

// cursorOptHold is PostgreSQL's CURSOR_OPT_HOLD flag.
const cursorOptHold = 0x0020

func (s *Session) declareCursor(ctx context.Context, dc *pg.DeclareCursorStmt, p *Prepared, params []types.Datum) (*Result, error) {
	hold := dc.Options&cursorOptHold != 0
	if !hold && (s.tx == nil || !s.tx.explicit) {
		return nil, pgerror.New(pgerror.NoActiveSqlTransaction, "DECLARE CURSOR can only be used in transaction blocks")
	}
	name := strings.ToLower(dc.Portalname)
	if _, ok := s.cursors[name]; ok {
		return nil, pgerror.New(pgerror.DuplicateCursor, "cursor %q already exists", dc.Portalname)
	}
	if p.Stmt.subscribe != nil {
		if hold {
			return nil, pgerror.New(pgerror.FeatureNotSupported, "DECLARE ... WITH HOLD FOR SUBSCRIBE is not supported")
		}
		sub, err := s.startSubscribe(ctx, p, params)
		if err != nil {
			return nil, err
		}
		return s.openCursor(name, &cursor{cols: sub.Columns(), stream: sub}), nil
	}
	if p.Stmt.asOf != nil {
		// DECLARE ... FOR SELECT ... AS OF t: the rows as of t.
		q, rows, err := s.selectAsOf(ctx, dc.Query, p.Stmt.asOf, p.ParamTypes, params)
		if err != nil {
			return nil, err
		}
		return s.openCursor(name, &cursor{cols: queryColumns(q), rows: rows, hold: hold}), nil
	}
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	b := s.newBinder(p.ParamTypes, params)
	q, err := b.bindSelectStmt(dc.Query, nil)
	if err != nil {
		return nil, err
	}
	rows, err := s.runQueryLocked(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.openCursor(name, &cursor{cols: queryColumns(q), rows: rows, hold: hold}), nil
}

// openCursor registers c under name and returns DECLARE's result.
func (s *Session) openCursor(name string, c *cursor) *Result {
	if s.cursors == nil {
		s.cursors = map[string]*cursor{}
	}
	s.cursors[name] = c
	return &Result{Tag: "DECLARE CURSOR"}
}

func (s *Session) cursor(name string) (*cursor, error) {
	c, ok := s.cursors[strings.ToLower(name)]
	if !ok {
		return nil, pgerror.New(pgerror.UndefinedCursor, "cursor %q does not exist", name)
	}
	return c, nil
}

// fetch runs FETCH or MOVE with PostgreSQL's cursor movement rules.
func (s *Session) fetch(ctx context.Context, fs *pg.FetchStmt, opts *parser.FetchOptions) (*Result, error) {
	c, err := s.cursor(fs.Portalname)
	if err != nil {
		return nil, err
	}
	timeout, err := fetchTimeout(opts)
	if err != nil {
		return nil, err
	}
	if c.stream != nil {
		return s.fetchStream(ctx, c, fs, timeout)
	}
	n := len(c.rows)
	var out []types.Row
	step := func(to int) { // move to row `to`, collecting it if it exists
		c.pos = max(0, min(to, n+1))
		if c.pos >= 1 && c.pos <= n {
			out = append(out, c.rows[c.pos-1])
		}
	}
	count := fs.HowMany
	switch fs.Direction {
	case pg.FetchDirection_FETCH_FORWARD, pg.FetchDirection_FETCH_BACKWARD:
		dir := 1
		if fs.Direction == pg.FetchDirection_FETCH_BACKWARD {
			dir = -1
		}
		if count == 0 { // FETCH FORWARD 0: re-read the current row
			step(c.pos)
			break
		}
		for i := int64(0); i < count && i <= int64(n); i++ {
			next := c.pos + dir
			if next < 1 || next > n {
				c.pos = max(0, min(next, n+1))
				break
			}
			step(next)
		}
	case pg.FetchDirection_FETCH_ABSOLUTE:
		k := int(count)
		if k < 0 {
			k = n + 1 + k
		}
		step(k)
	case pg.FetchDirection_FETCH_RELATIVE:
		step(c.pos + int(count))
	}
	verb := "FETCH"
	if fs.Ismove {
		verb = "MOVE"
		return &Result{Tag: fmt.Sprintf("%s %d", verb, len(out))}, nil
	}
	return &Result{Columns: c.cols, Rows: out, Tag: fmt.Sprintf("%s %d", verb, len(out))}, nil
}

func (s *Session) closeCursor(cp *pg.ClosePortalStmt) (*Result, error) {
	if cp.Portalname == "" { // CLOSE ALL
		s.closeAllCursors()
		return &Result{Tag: "CLOSE CURSOR ALL"}, nil
	}
	c, err := s.cursor(cp.Portalname)
	if err != nil {
		return nil, err
	}
	c.close()
	delete(s.cursors, strings.ToLower(cp.Portalname))
	return &Result{Tag: "CLOSE CURSOR"}, nil
}

// endTransactionCursors closes the cursors of a transaction that ended;
// WITH HOLD cursors stay.
func (s *Session) endTransactionCursors() {
	for name, c := range s.cursors {
		if !c.hold {
			c.close()
			delete(s.cursors, name)
		}
	}
}

// CursorColumns returns the result columns of the open cursor name (the
// protocol layer describes a DECLAREd cursor as a portal).
func (s *Session) CursorColumns(name string) ([]Column, bool) {
	c, ok := s.cursors[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return c.cols, true
}

// fetchStream is FETCH on a SUBSCRIBE cursor, as in Materialize: it returns
// up to the count of rows available, waiting until there is at least one
// (or, WITH (TIMEOUT), at most that long: then possibly none).
func (s *Session) fetchStream(ctx context.Context, c *cursor, fs *pg.FetchStmt, timeout time.Duration) (*Result, error) {
	if fs.Direction != pg.FetchDirection_FETCH_FORWARD {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "a SUBSCRIBE cursor can only FETCH forward")
	}
	n := fs.HowMany
	if n <= 0 || n > 1<<30 {
		n = 0 // FETCH ALL: every row available
	}
	rows, err := c.stream.Next(ctx, int(n), timeout)
	if errors.Is(err, io.EOF) {
		rows, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fs.Ismove {
		return &Result{Tag: fmt.Sprintf("MOVE %d", len(rows))}, nil
	}
	return &Result{Columns: c.cols, Rows: rows, Tag: fmt.Sprintf("FETCH %d", len(rows))}, nil
}
