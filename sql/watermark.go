package sql

import (
	"encoding/binary"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/parser"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Watermark is a table's (later a source's) WATERMARK FOR col AS col -
// delay: how late its events may be. Its value is the greatest event time
// seen (over inserted rows) minus the delay; it never moves backwards.
// Replaying the log re-applies every row, which recomputes it; a checkpoint
// saves it (the rows it holds may no longer include the greatest event
// time seen). Event time is data (a column), not the system timestamp.
type Watermark struct {
	// Col is the time column (timestamp or timestamptz).
	Col int
	// Delay is the constant lateness allowed, in microseconds (>= 0).
	Delay int64
	// Text is the clause's expression as written (for the catalog).
	Text string

	maxEvent int64 // micros since 2000 of the greatest event time seen
	seen     bool  // some non-NULL event time was seen
}

// observe advances the watermark over a batch applied to the collection.
// Retractions never move it back: a watermark promises that earlier events
// are late, and that promise was already given.
func (w *Watermark) observe(ups []dataflow.Update) {
	for _, u := range ups {
		d := u.Row[w.Col]
		if u.Diff <= 0 || d.IsNull() {
			continue
		}
		if t := d.Int(); !w.seen || t > w.maxEvent {
			w.maxEvent, w.seen = t, true
		}
	}
}

// checkpointState is the watermark's state for a checkpoint (format.md,
// "Checkpoints"): a flag byte, then the greatest event time seen.
func (w *Watermark) checkpointState() []byte {
	if !w.seen {
		return []byte{0}
	}
	return binary.BigEndian.AppendUint64([]byte{1}, uint64(w.maxEvent))
}

// restoreCheckpointState raises the watermark to what a checkpoint saved.
// The rows loaded with the checkpoint may have advanced it less (the row
// with the greatest event time may have been deleted before it), and a
// watermark never moves back.
func (w *Watermark) restoreCheckpointState(b []byte) error {
	switch {
	case len(b) == 1 && b[0] == 0:
		return nil
	case len(b) == 9 && b[0] == 1:
		if t := int64(binary.BigEndian.Uint64(b[1:])); !w.seen || t > w.maxEvent {
			w.maxEvent, w.seen = t, true
		}
		return nil
	}
	return fmt.Errorf("bad watermark state of %d bytes", len(b))
}

// Value is the current watermark (micros since 2000); ok is false until
// an event was seen.
func (w *Watermark) Value() (int64, bool) {
	if !w.seen {
		return 0, false
	}
	return w.maxEvent - w.Delay, true
}

// bindWatermark checks a WATERMARK clause against the table's columns: it
// must be the time column itself or the column minus a constant interval.
func bindWatermark(b *binder, o *Object, c *parser.Watermark) (*Watermark, error) {
	bad := func(code pgerror.Code, format string, args ...any) error {
		return pgerror.WithPosition(pgerror.New(code, format, args...), c.Position+1)
	}
	col := -1
	for i, cd := range o.Columns {
		if strings.EqualFold(cd.Name, c.Column) {
			col = i
		}
	}
	if col < 0 {
		return nil, bad(pgerror.UndefinedColumn, "column %q named in WATERMARK does not exist", c.Column)
	}
	if t := o.Columns[col].Type; t != types.Timestamp && t != types.TimestampTZ {
		return nil, bad(pgerror.DatatypeMismatch, "the WATERMARK column %q must be a timestamp or timestamptz, not %s", c.Column, t)
	}
	isCol := func(x *pg.Node) bool {
		cr := x.GetColumnRef()
		if cr == nil || len(cr.Fields) != 1 || cr.Fields[0].GetString_() == nil {
			return false
		}
		return strings.EqualFold(cr.Fields[0].GetString_().Sval, c.Column)
	}
	w := &Watermark{Col: col, Text: c.Text}
	shapeErr := bad(pgerror.FeatureNotSupported, "WATERMARK FOR %s AS %s: the expression must be %s or %s - INTERVAL '...'", c.Column, c.Text, c.Column, c.Column)
	switch {
	case isCol(c.Expr):
	case c.Expr.GetAExpr() != nil:
		ae := c.Expr.GetAExpr()
		if len(ae.Name) != 1 || ae.Name[0].GetString_() == nil || ae.Name[0].GetString_().Sval != "-" || ae.Lexpr == nil || !isCol(ae.Lexpr) {
			return nil, shapeErr
		}
		e, err := b.bindExpr(ae.Rexpr, &scope{})
		if err == nil {
			e, err = b.coerce(e, types.Interval)
		}
		if err != nil {
			return nil, err
		}
		if !expr.IsConst(e) {
			return nil, shapeErr
		}
		d, err := e.Eval(&expr.Ctx{}, nil)
		if err != nil {
			return nil, err
		}
		iv := d.Interval()
		if d.IsNull() || iv.Months != 0 {
			return nil, bad(pgerror.InvalidParameterValue, "the WATERMARK delay must be a fixed interval (no months or years)")
		}
		w.Delay = int64(iv.Days)*86400e6 + iv.Micros
		if w.Delay < 0 {
			return nil, bad(pgerror.InvalidParameterValue, "the WATERMARK delay must not be negative")
		}
	default:
		return nil, shapeErr
	}
	return w, nil
}
