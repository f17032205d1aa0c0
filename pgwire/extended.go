package pgwire

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// The extended query protocol: Parse, Bind, Describe, Execute, Close. Each
// handler returns a statement error (sent as ErrorResponse, then messages are
// discarded until Sync) or a fatalError (the connection closes).

func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return pgerror.New(pgerror.DuplicatePstatement, "prepared statement %q already exists", m.Name)
		}
	}
	ctx, release := c.stmtContext()
	defer release()
	stmts, err := c.sess.ParseStatements(m.Query)
	if err != nil {
		return err
	}
	if len(stmts) > 1 {
		return pgerror.New(pgerror.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	ps := &prepStmt{}
	if len(stmts) == 1 {
		ptypes := make([]types.Type, len(m.ParameterOIDs))
		for i, oid := range m.ParameterOIDs {
			if oid == 0 {
				ptypes[i] = types.Unknown
				continue
			}
			t, ok := types.FromOID(oid)
			if !ok {
				return pgerror.New(pgerror.FeatureNotSupported, "parameter $%d has type OID %d, which is not supported", i+1, oid)
			}
			ptypes[i] = t
		}
		p, err := c.sess.Prepare(ctx, stmts[0], ptypes)
		if err != nil {
			return err
		}
		ps.prep = p
	}
	c.stmts[m.Name] = ps
	c.send(&pgproto3.ParseComplete{})
	return nil
}

// formatAt applies the protocol's 0/1/N rule for format codes: none means
// all text, one applies to all, otherwise one per item.
func formatAt(codes []int16, i int) int16 {
	switch len(codes) {
	case 0:
		return 0
	case 1:
		return codes[0]
	}
	return codes[i]
}

func checkFormats(codes []int16, n int, what, of string) error {
	if len(codes) > 1 && len(codes) != n {
		return protocolViolation("bind message has %d %s formats but %d %s", len(codes), what, n, of)
	}
	for _, f := range codes {
		if f != 0 && f != 1 {
			return protocolViolation("unsupported format code: %d", f)
		}
	}
	return nil
}

func (c *conn) bind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return pgerror.New(pgerror.UndefinedPstatement, "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return pgerror.New(pgerror.DuplicateCursor, "portal %q already exists", m.DestinationPortal)
		}
	}
	var ptypes []types.Type
	var cols []sql.Column
	if ps.prep != nil {
		ptypes, cols = ps.prep.ParamTypes, ps.prep.Columns
	}
	if len(m.Parameters) != len(ptypes) {
		return protocolViolation("bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), m.PreparedStatement, len(ptypes))
	}
	if err := checkFormats(m.ParameterFormatCodes, len(m.Parameters), "parameter", "parameters"); err != nil {
		return err
	}
	if err := checkFormats(m.ResultFormatCodes, len(cols), "result", "columns"); err != nil {
		return err
	}
	params := make([]types.Datum, len(m.Parameters))
	for i, raw := range m.Parameters {
		d, err := decodeParam(ptypes[i], formatAt(m.ParameterFormatCodes, i), raw, c.location())
		if err != nil {
			return err
		}
		params[i] = d
	}
	formats := make([]int16, len(cols))
	for i := range formats {
		formats[i] = formatAt(m.ResultFormatCodes, i)
	}
	c.portals[m.DestinationPortal] = &portal{stmt: ps, params: params, formats: formats}
	c.send(&pgproto3.BindComplete{})
	return nil
}

// decodeParam decodes one Bind parameter; nil is SQL NULL. A text
// timestamptz without its own offset is read in loc, the session's zone.
func decodeParam(t types.Type, format int16, raw []byte, loc *time.Location) (types.Datum, error) {
	if raw == nil {
		return types.Null(t), nil
	}
	if format == 1 {
		return DecodeBinary(t, raw)
	}
	if !utf8.Valid(raw) {
		return types.Datum{}, pgerror.New(pgerror.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
	}
	d, err := types.ParseTextIn(t, string(raw), loc)
	if err != nil {
		return types.Datum{}, withParseCode(err)
	}
	return d, nil
}

// withParseCode gives a types.ParseError its SQLSTATE.
func withParseCode(err error) error {
	var pe *types.ParseError
	if errors.As(err, &pe) {
		return &pgerror.Error{Code: pgerror.Code(pe.Code), Message: pe.Msg}
	}
	return err
}

func (c *conn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps, ok := c.stmts[m.Name]
		if !ok {
			return pgerror.New(pgerror.UndefinedPstatement, "prepared statement %q does not exist", m.Name)
		}
		var oids []uint32
		var cols []sql.Column
		if ps.prep != nil {
			cols = ps.prep.Columns
			for _, t := range ps.prep.ParamTypes {
				oids = append(oids, t.OID())
			}
		}
		c.send(&pgproto3.ParameterDescription{ParameterOIDs: oids})
		if cols == nil {
			c.send(&pgproto3.NoData{})
		} else {
			c.sendRowDescription(cols, nil)
		}
	case 'P':
		p, ok := c.portals[m.Name]
		if !ok {
			// A cursor opened with DECLARE is a portal too (psycopg's named
			// cursors describe it this way).
			if cd, ok := c.sess.(cursorDescriber); ok {
				if cols, ok := cd.CursorColumns(m.Name); ok {
					c.sendRowDescription(cols, nil)
					return nil
				}
			}
			return pgerror.New(pgerror.InvalidCursorName, "portal %q does not exist", m.Name)
		}
		cols := p.columns()
		if cols == nil {
			c.send(&pgproto3.NoData{})
		} else {
			c.sendRowDescription(cols, p.formats)
		}
	default:
		return protocolViolation("invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

// columns are the portal's result columns: as prepared, or as executed
// when the statement only learned them by running.
func (p *portal) columns() []sql.Column {
	if p.stmt.prep != nil && p.stmt.prep.Columns != nil {
		return p.stmt.prep.Columns
	}
	if p.res != nil {
		return p.res.Columns
	}
	return nil
}

func (c *conn) execute(m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		return pgerror.New(pgerror.InvalidCursorName, "portal %q does not exist", m.Portal)
	}
	if p.stmt.prep == nil {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	first := p.res == nil
	ctx, release := c.stmtContext()
	defer release()
	if first {
		res, err := c.sess.Execute(ctx, p.stmt.prep, p.params)
		if err != nil {
			return err
		}
		p.res = res
		if res.CopyIn != nil {
			p.done = true
			return c.copyIn(ctx, res)
		}
		if res.CopyOut != nil {
			// A COPY TO sends all its rows at once: Execute's row limit
			// does not apply, as in PostgreSQL.
			p.done = true
			return c.copyOut(ctx, res)
		}
		c.sendNotices(res.Notices)
		if res.Empty {
			p.done = true
			c.send(&pgproto3.EmptyQueryResponse{})
			return nil
		}
	} else if p.res.Empty || p.res.CopyIn != nil || p.res.CopyOut != nil || (p.res.Stream != nil && p.done) {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	cols := p.columns()
	formats := p.formats
	if len(formats) != len(cols) {
		// The statement learned its columns only by running; Bind had no
		// columns to apply result formats to.
		formats = nil
	}
	if p.res.Stream != nil {
		// SUBSCRIBE: rows as they come, up to Execute's row limit.
		return c.executeStream(ctx, p, cols, formats, int(m.MaxRows))
	}
	start := p.cursor
	rows := p.res.Rows[p.cursor:]
	suspend := m.MaxRows > 0 && int64(len(rows)) > int64(m.MaxRows)
	if suspend {
		rows = rows[:m.MaxRows]
	}
	for _, row := range rows {
		if err := c.sendDataRow(row, cols, formats); err != nil {
			return err
		}
		p.cursor++
	}
	if suspend {
		c.send(&pgproto3.PortalSuspended{})
		c.flush()
		return nil
	}
	tag := p.res.Tag
	if start > 0 || p.done {
		// A resumed SELECT reports the rows of this Execute, as PostgreSQL does.
		if rest, ok := strings.CutPrefix(tag, "SELECT "); ok && !strings.Contains(rest, " ") {
			tag = "SELECT " + strconv.Itoa(len(rows))
		}
	}
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	if !p.done {
		p.done = true
		c.sendParameterStatus(p.res.ParameterStatus)
	}
	return nil
}

func (c *conn) closeMsg(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		delete(c.stmts, m.Name)
	case 'P':
		c.closePortal(m.Name)
	default:
		return protocolViolation("invalid CLOSE message subtype %d", m.ObjectType)
	}
	c.send(&pgproto3.CloseComplete{})
	return nil
}

// cursorDescriber is implemented by sessions that keep SQL-level cursors
// (DECLARE): Describe of a portal by that name reports its columns.
type cursorDescriber interface {
	CursorColumns(name string) ([]sql.Column, bool)
}
