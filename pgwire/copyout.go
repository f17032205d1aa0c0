package pgwire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/types"
)

// COPY ... TO STDOUT: CopyOutResponse, one CopyData per row (the binary
// format's header travels with the first, its trailer in the last), CopyDone,
// CommandComplete "COPY n". The messages are encoded straight into the
// write buffer, which flushes as it fills, so a large COPY streams.

func init() {
	// sql's binary COPY FROM decodes values with the protocol's codec.
	sql.SetBinaryDecoder(DecodeBinary)
}

// binaryCopyHeader is PostgreSQL's binary COPY header: signature, flags,
// header extension length.
var binaryCopyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (c *conn) copyOut(ctx context.Context, res *sql.Result) error {
	out := res.CopyOut
	if out.Stream != nil {
		defer out.Stream.Close()
	}
	c.sendNotices(res.Notices)
	var format int16
	if out.Binary {
		format = 1
	}
	codes := make([]uint16, len(out.Columns))
	for i := range codes {
		codes[i] = uint16(format)
	}
	c.send(&pgproto3.CopyOutResponse{OverallFormat: byte(format), ColumnFormatCodes: codes})
	if out.Binary {
		c.appendCopyData(func(b []byte) ([]byte, error) { return append(b, binaryCopyHeader...), nil })
	} else {
		c.appendCopyData(func(b []byte) ([]byte, error) { return out.AppendHeader(b), nil })
	}
	rows := out.Rows
	if out.Stream != nil {
		c.streaming.Store(true)
		defer c.streaming.Store(false)
		if c.terminating.Load() {
			return errCloseConn
		}
	}
	for {
		if out.Stream != nil {
			// COPY (SUBSCRIBE ...): the rows as they come, each batch
			// flushed, until UP TO ends it or the client cancels.
			c.flush()
			next, err := out.Stream.Next(ctx, 0, -1)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			rows = next
		}
		if err := c.copyRows(out, rows); err != nil {
			return err
		}
		if out.Stream == nil {
			break
		}
	}
	if out.Binary {
		c.appendCopyData(func(b []byte) ([]byte, error) { return append(b, 0xff, 0xff), nil })
	}
	c.send(&pgproto3.CopyDone{})
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
	c.sendParameterStatus(res.ParameterStatus)
	return nil
}

// copyRows sends rows as CopyData messages.
func (c *conn) copyRows(out *sql.CopyOut, rows []types.Row) error {
	for _, row := range rows {
		var err error
		if out.Binary {
			err = c.appendCopyData(func(b []byte) ([]byte, error) {
				b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
				for i, d := range row {
					if d.IsNull() {
						b = binary.BigEndian.AppendUint32(b, 0xffffffff)
						continue
					}
					lenAt := len(b)
					b = append(b, 0, 0, 0, 0)
					var err error
					if b, err = AppendBinary(b, out.Columns[i].Type, d); err != nil {
						return nil, err
					}
					binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
				}
				return b, nil
			})
		} else {
			err = c.appendCopyData(func(b []byte) ([]byte, error) { return out.AppendRow(b, row), nil })
		}
		if err != nil {
			// PostgreSQL ends a failed COPY TO with an ErrorResponse
			// instead of CopyDone; the client leaves copy-out mode on it.
			return err
		}
	}
	if c.werr != nil {
		return errCloseConn
	}
	return nil
}

// appendCopyData appends one CopyData message whose payload fill appends;
// an empty payload sends nothing.
func (c *conn) appendCopyData(fill func([]byte) ([]byte, error)) error {
	if c.werr != nil {
		return nil
	}
	start := len(c.wbuf)
	b := append(c.wbuf, 'd', 0, 0, 0, 0)
	b, err := fill(b)
	if err != nil {
		c.wbuf = c.wbuf[:start]
		return err
	}
	if len(b) == start+5 {
		c.wbuf = b[:start]
		return nil
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-1))
	c.wbuf = b
	c.maybeFlush()
	return nil
}
