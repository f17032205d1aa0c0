package pgwire

import (
	"context"
	"errors"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
)

// SUBSCRIBE over the wire, as Materialize serves it: RowDescription, then
// DataRows as the subscription produces them, flushed batch by batch, with
// no end until UP TO is reached (CommandComplete "SUBSCRIBE"), the client
// sends a CancelRequest (57014) or goes away. COPY (SUBSCRIBE ...) TO STDOUT
// streams CopyData the same way (copyout.go).

// streamRows sends a subscription's rows until it ends (true) or, when max
// > 0, until max rows were sent (false: the portal is suspended).
func (c *conn) streamRows(ctx context.Context, sub *sql.Subscription, cols []sql.Column, formats []int16, max int) (ended bool, err error) {
	c.streaming.Store(true)
	defer c.streaming.Store(false)
	if c.terminating.Load() {
		return false, errCloseConn
	}
	sent := 0
	for max <= 0 || sent < max {
		want := 0
		if max > 0 {
			want = max - sent
		}
		rows, err := sub.Next(ctx, want, -1)
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		for _, row := range rows {
			if err := c.sendDataRow(row, cols, formats); err != nil {
				return false, err
			}
		}
		sent += len(rows)
		c.flush()
		if c.werr != nil {
			return false, errCloseConn
		}
	}
	return false, nil
}

// closePortal drops a portal, ending the subscription it may stream.
func (c *conn) closePortal(name string) {
	if p, ok := c.portals[name]; ok {
		p.closeStream()
		delete(c.portals, name)
	}
}

// closeAllPortals drops every portal.
func (c *conn) closeAllPortals() {
	for name := range c.portals {
		c.closePortal(name)
	}
}

func (p *portal) closeStream() {
	if p.res != nil && p.res.Stream != nil {
		p.res.Stream.Close()
	}
}

// streamResult sends a bare SUBSCRIBE's rows (simple protocol).
func (c *conn) streamResult(ctx context.Context, res *sql.Result) error {
	defer res.Stream.Close()
	c.sendNotices(res.Notices)
	c.sendRowDescription(res.Columns, nil)
	c.flush()
	if _, err := c.streamRows(ctx, res.Stream, res.Columns, nil, 0); err != nil {
		return err
	}
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
	return nil
}

// executeStream is Execute of a SUBSCRIBE portal: its rows as they come;
// with a row limit, PortalSuspended after that many, and the next Execute
// continues.
func (c *conn) executeStream(ctx context.Context, p *portal, cols []sql.Column, formats []int16, maxRows int) error {
	ended, err := c.streamRows(ctx, p.res.Stream, cols, formats, maxRows)
	if err != nil {
		p.done = true
		p.res.Stream.Close()
		return err
	}
	if !ended {
		c.send(&pgproto3.PortalSuspended{})
		c.flush()
		return nil
	}
	p.done = true
	p.res.Stream.Close()
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(p.res.Tag)})
	return nil
}

// terminateStream ends a running SUBSCRIBE when the client sends Terminate:
// the processor, blocked waiting for rows, would otherwise not read it
// until the next change. Other statements run to completion, as in
// PostgreSQL. (The reader calls this; streamRows checks terminating after
// setting streaming, so one of the two always sees the other.)
func (c *conn) terminateStream() {
	c.terminating.Store(true)
	if c.streaming.Load() {
		c.cancelStatement()
	}
}
