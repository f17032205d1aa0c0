package sql

import (
	"bytes"
	"time"

	"github.com/tributary-db/tributary/sql/types"
)

// CopyOut is the data of a COPY ... TO STDOUT, read at one timestamp. The
// protocol layer sends CopyOutResponse, then the data in CopyData messages
// (for text and CSV: AppendHeader once, then AppendRow per row; for binary
// it frames the rows with its own binary codec), then CopyDone and the
// Result's Tag ("COPY n").
type CopyOut struct {
	Columns []Column
	Rows    []types.Row
	// Stream, when set (COPY (SUBSCRIBE ...) TO STDOUT), supplies the rows
	// instead of Rows, as they come, until it ends or fails; the protocol
	// layer must Close it.
	Stream *Subscription
	// Binary is set for FORMAT binary; otherwise the data is text or CSV
	// and AppendHeader / AppendRow encode it.
	Binary bool

	opts       copyOptions
	forceQuote []bool // per column, CSV
	// loc is the session's TimeZone: timestamptz text is in it.
	loc *time.Location
}

// AppendHeader appends the header line (HEADER in text or CSV format), or
// nothing.
func (c *CopyOut) AppendHeader(b []byte) []byte {
	if !c.opts.header || c.Binary {
		return b
	}
	for i, col := range c.Columns {
		if i > 0 {
			b = append(b, c.opts.delim)
		}
		if c.opts.format == copyCSV {
			b = c.appendCSV(b, []byte(col.Name), false)
		} else {
			b = c.appendText(b, []byte(col.Name))
		}
	}
	return append(b, '\n')
}

// AppendRow appends one row as a text or CSV line, newline included.
func (c *CopyOut) AppendRow(b []byte, row types.Row) []byte {
	var scratch [64]byte
	for i, d := range row {
		if i > 0 {
			b = append(b, c.opts.delim)
		}
		if d.IsNull() {
			b = append(b, c.opts.null...)
			continue
		}
		v := types.AppendTextIn(scratch[:0], d, c.loc)
		if c.opts.format == copyCSV {
			b = c.appendCSV(b, v, c.forceQuote[i])
		} else {
			b = c.appendText(b, v)
		}
	}
	return append(b, '\n')
}

// appendText escapes a value as the text format requires: backslash,
// newline, carriage return, tab and the delimiter (CopyAttributeOutText).
func (c *CopyOut) appendText(b, v []byte) []byte {
	for _, ch := range v {
		switch ch {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\v':
			b = append(b, '\\', 'v')
		default:
			if ch == c.opts.delim {
				b = append(b, '\\')
			}
			b = append(b, ch)
		}
	}
	return b
}

// appendCSV quotes a value when it must be (it holds the delimiter, the
// quote, a newline or carriage return, equals the null string, or is \.),
// or when FORCE_QUOTE names its column (CopyAttributeOutCSV).
func (c *CopyOut) appendCSV(b, v []byte, force bool) []byte {
	q, esc := c.opts.quote, c.opts.escape
	need := force || string(v) == c.opts.null || string(v) == `\.` ||
		bytes.IndexByte(v, c.opts.delim) >= 0 || bytes.IndexByte(v, q) >= 0 ||
		bytes.IndexByte(v, esc) >= 0 || bytes.IndexAny(v, "\r\n") >= 0
	if !need {
		return append(b, v...)
	}
	b = append(b, q)
	for _, ch := range v {
		if ch == q || ch == esc {
			b = append(b, esc)
		}
		b = append(b, ch)
	}
	return append(b, q)
}
