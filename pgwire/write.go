package pgwire

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// flushThreshold is the buffered size past which send writes to the socket
// even before a sync point, so a large result streams in bounded memory.
const flushThreshold = 64 << 10

// send appends msg to the write buffer. Messages go out at flush: at
// ReadyForQuery, Flush, PortalSuspended, CopyInResponse, or when the buffer
// passes flushThreshold — never per row.
func (c *conn) send(msg pgproto3.BackendMessage) {
	if c.werr != nil {
		return
	}
	b, err := msg.Encode(c.wbuf)
	if err != nil {
		// Only oversized fields fail to encode; the message is dropped and
		// the buffer left as it was.
		c.log.Error("pgwire: encoding a message", "err", err)
		return
	}
	c.wbuf = b
	c.maybeFlush()
}

func (c *conn) maybeFlush() {
	if len(c.wbuf) >= flushThreshold {
		c.flush()
	}
}

func (c *conn) flush() {
	if c.werr != nil || len(c.wbuf) == 0 {
		return
	}
	_, err := c.nc.Write(c.wbuf)
	if err != nil {
		c.werr = err
		c.cancel()
	}
	if cap(c.wbuf) > 4*flushThreshold {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
}

// errorResponse is the one place an error becomes an ErrorResponse. Errors
// without a SQLSTATE become XX000 and are logged: bad input must never take
// that path.
func (c *conn) errorResponse(err error, severity string) *pgproto3.ErrorResponse {
	pe := pgerror.Convert(withParseCode(err))
	msg := pe.Message
	if pe.Code == pgerror.QueryCanceled && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		var e *pgerror.Error
		if !errors.As(err, &e) {
			msg = "canceling statement due to user request"
		}
	}
	if pe.Code == pgerror.InternalError {
		c.log.Error("pgwire: internal error", "err", err)
	}
	if pe.Severity != "" && severity == "ERROR" {
		severity = pe.Severity
	}
	return &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                string(pe.Code),
		Message:             msg,
		Detail:              pe.Detail,
		Hint:                pe.Hint,
		Position:            int32(pe.Position),
	}
}

// sendError reports a statement error; the connection goes on.
func (c *conn) sendError(err error) {
	c.send(c.errorResponse(err, "ERROR"))
}

// sendFatal reports an error that ends the connection and flushes it.
func (c *conn) sendFatal(err error) {
	c.send(c.errorResponse(err, "FATAL"))
	c.flush()
}

func (c *conn) sendNotices(ns []sql.Notice) {
	for _, n := range ns {
		sev := n.Severity
		if sev == "" {
			sev = "NOTICE"
		}
		code := n.Code
		if code == "" {
			code = "00000"
		}
		c.send(&pgproto3.NoticeResponse{Severity: sev, SeverityUnlocalized: sev, Code: code, Message: n.Message})
	}
}

func (c *conn) sendParameterStatus(ps [][2]string) {
	for _, kv := range ps {
		c.send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
	}
}

// sendRowDescription describes cols; formats holds one code per column, or
// is nil for all text.
func (c *conn) sendRowDescription(cols []sql.Column, formats []int16) {
	if len(formats) != len(cols) {
		formats = nil
	}
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, col := range cols {
		var f int16
		if formats != nil {
			f = formats[i]
		}
		fields[i] = pgproto3.FieldDescription{
			Name:                 []byte(col.Name),
			TableOID:             col.TableOID,
			TableAttributeNumber: uint16(col.Attr),
			DataTypeOID:          col.Type.OID(),
			DataTypeSize:         col.Type.Size(),
			TypeModifier:         -1,
			Format:               f,
		}
	}
	c.send(&pgproto3.RowDescription{Fields: fields})
}

// sendDataRow encodes one row straight into the write buffer. Values are
// encoded as their column's type in the column's format (nil formats: text).
func (c *conn) sendDataRow(row types.Row, cols []sql.Column, formats []int16) error {
	if c.werr != nil {
		return nil
	}
	if cols != nil && len(row) != len(cols) {
		return pgerror.New(pgerror.InternalError, "row has %d values but the result has %d columns", len(row), len(cols))
	}
	if len(formats) != len(row) {
		formats = nil
	}
	start := len(c.wbuf)
	loc := c.location()
	b := append(c.wbuf, 'D', 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
	for i, d := range row {
		if d.IsNull() {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		lenAt := len(b)
		b = append(b, 0, 0, 0, 0)
		if formats != nil && formats[i] == 1 {
			var err error
			b, err = AppendBinary(b, cols[i].Type, d)
			if err != nil {
				c.wbuf = b[:start]
				return err
			}
		} else {
			b = types.AppendTextIn(b, d, loc)
		}
		binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-1))
	c.wbuf = b
	c.maybeFlush()
	return nil
}

// zoned is implemented by sessions that have a TimeZone setting
// (sql.Session): text output and input of timestamptz use it. Binary
// timestamptz is microseconds since 2000-01-01 UTC and needs no zone.
type zoned interface{ Location() *time.Location }

// location is the session's TimeZone, UTC for sessions without one.
func (c *conn) location() *time.Location {
	if z, ok := c.sess.(zoned); ok {
		return z.Location()
	}
	return time.UTC
}
