package dataflow

import (
	"fmt"
	"strings"

	"github.com/google/btree"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// WindowClose makes a Reduce emit on window close: each group is emitted
// once, when the watermark of the Source collection's time column proves
// that no further event can reach it, and its state is then dropped. The
// output is append-only.
//
// A group closes when any of Keys is below its bound. A CloseKey names a
// group key that is a monotone function f of the time column (window_start
// and window_end of TUMBLE and HOP are); every future event has time >= the
// watermark w, so its key is >= f(w): a group whose key is below f(w) is
// complete. Bounds are f for each way the key is derived (HOP's union of
// windows gives one per window), over a one-column row holding w; the bound
// is the least of them.
//
// Updates that reach a closed group (late events, and retractions of events
// in closed windows) are dropped; late insertions are counted (LateRows).
type WindowClose struct {
	// Source is the collection whose watermark closes windows, and
	// SourceName its name (for EXPLAIN).
	Source     CollectionID
	SourceName string
	// TimeType is the type of the source's time column, the type of the
	// watermark value Bounds read as column 0.
	TimeType types.Type
	Keys     []CloseKey
}

// CloseKey is one group key that closes groups.
type CloseKey struct {
	// Key indexes the Reduce's Keys.
	Key int
	// Bounds derive the key's bound from the watermark (column 0).
	Bounds []expr.Expr
}

func (c *WindowClose) describe() string {
	keys := make([]string, len(c.Keys))
	for i, k := range c.Keys {
		keys[i] = fmt.Sprint(k.Key)
	}
	return fmt.Sprintf("emit on window close (keys [%s] by the watermark of %s)", strings.Join(keys, ", "), c.SourceName)
}

// Watermarks is what a dataflow reads watermarks from: implemented by the
// SharedArrangements handed to Build when the plan has a WindowClose.
// Watermark returns a function reporting the current watermark of the
// collection (micros since 2000; false while it has none), or nil when the
// collection has no watermark. The function is called at every step.
type Watermarks interface {
	Watermark(id CollectionID) func() (int64, bool)
}

// closing is the state of a Reduce that emits on window close.
type closing struct {
	spec      *WindowClose
	watermark func() (int64, bool)
	// bounds[i] is Keys[i]'s current bound: groups below it are closed.
	bounds    []int64
	haveBound bool
	// byKey[i] orders the open groups by Keys[i]'s value, so that closing
	// visits only the groups that close.
	byKey []*btree.BTreeG[closeEntry]
	late  int64
	wmRow types.Row
}

type closeEntry struct {
	at  int64 // the key's value (micros since 2000)
	key string
}

func lessClose(a, b closeEntry) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.key < b.key
}

func newClosing(spec *WindowClose, shared SharedArrangements) (*closing, error) {
	w, ok := shared.(Watermarks)
	var f func() (int64, bool)
	if ok {
		f = w.Watermark(spec.Source)
	}
	if f == nil {
		return nil, fmt.Errorf("dataflow: no watermark for collection %d (%s)", spec.Source, spec.SourceName)
	}
	c := &closing{spec: spec, watermark: f, bounds: make([]int64, len(spec.Keys)), wmRow: make(types.Row, 1)}
	for range spec.Keys {
		c.byKey = append(c.byKey, btree.NewG(16, lessClose))
	}
	return c, nil
}

// closed reports whether the group of an input row is closed.
func (c *closing) closed(o *reduceOp, row types.Row) bool {
	if !c.haveBound {
		return false
	}
	for i, k := range c.spec.Keys {
		d := row[o.keys[k.Key]]
		if !d.IsNull() && d.Int() < c.bounds[i] {
			return true
		}
	}
	return false
}

// index adds or removes a group from the close orders.
func (c *closing) index(g *group, key string, add bool) {
	for i, k := range c.spec.Keys {
		d := g.key[k.Key]
		if d.IsNull() {
			continue
		}
		if add {
			c.byKey[i].ReplaceOrInsert(closeEntry{at: d.Int(), key: key})
		} else {
			c.byKey[i].Delete(closeEntry{at: d.Int(), key: key})
		}
	}
}

// stepClosing accumulates the updates of open groups, then closes every
// group the watermark has passed: emits its row once and drops its state.
func (o *reduceOp) stepClosing(ctx *expr.Ctx, in []Update) ([]Update, error) {
	c := o.closing
	var args []types.Datum
	var emptied []string
	for _, u := range in {
		if c.closed(o, u.Row) {
			if u.Diff > 0 {
				c.late += u.Diff
			}
			continue
		}
		g, created := o.groupOf(u.Row)
		if created {
			c.index(g, string(o.buf), true)
		}
		var err error
		if args, err = o.accumulate(ctx, g, u, args); err != nil {
			return nil, err
		}
		if g.count == 0 {
			emptied = append(emptied, string(o.buf))
		}
	}
	// A group whose rows were all retracted before it closed holds nothing.
	for _, k := range emptied {
		if g, ok := o.groups[k]; ok && g.count == 0 {
			c.index(g, k, false)
			delete(o.groups, k)
		}
	}
	w, ok := c.watermark()
	if !ok {
		return nil, nil
	}
	c.wmRow[0] = types.NewTimestamp(c.spec.TimeType, w)
	for i, k := range c.spec.Keys {
		bound := int64(0)
		for j, b := range k.Bounds {
			d, err := b.Eval(ctx, c.wmRow)
			if err != nil {
				return nil, err
			}
			if j == 0 || d.Int() < bound {
				bound = d.Int()
			}
		}
		// Bounds only move forward, like the watermark.
		if !c.haveBound || bound > c.bounds[i] {
			c.bounds[i] = bound
		}
	}
	c.haveBound = true
	var out []Update
	for i := range c.spec.Keys {
		var done []closeEntry
		c.byKey[i].Ascend(func(e closeEntry) bool {
			if e.at >= c.bounds[i] {
				return false
			}
			done = append(done, e)
			return true
		})
		for _, e := range done {
			g, ok := o.groups[e.key]
			if !ok {
				continue
			}
			if g.count > 0 {
				row := make(types.Row, 0, len(g.key)+len(o.aggs))
				row = append(row, g.key...)
				for _, s := range g.states {
					d, err := s.Result()
					if err != nil {
						return nil, err
					}
					row = append(row, d)
				}
				out = append(out, Update{Row: row, Diff: 1})
			}
			c.index(g, e.key, false)
			delete(o.groups, e.key)
		}
	}
	return out, nil
}

// LateRows is the number of rows the dataflow's EMIT ON WINDOW CLOSE
// operators dropped because their window had already closed.
func (d *Dataflow) LateRows() int64 {
	var n int64
	for _, nd := range d.nodes {
		if r, ok := nd.op.(*reduceOp); ok && r.closing != nil {
			n += r.closing.late
		}
		if s, ok := nd.op.(*sessionOp); ok && s.closing != nil {
			n += s.closing.lateRows
		}
	}
	return n
}

// OpenWindows is the number of groups the dataflow's EMIT ON WINDOW CLOSE
// operators hold, waiting for their window to close.
func (d *Dataflow) OpenWindows() int {
	n := 0
	for _, nd := range d.nodes {
		if r, ok := nd.op.(*reduceOp); ok && r.closing != nil {
			n += len(r.groups)
		}
	}
	return n
}

// WindowClose returns the dataflow's EMIT ON WINDOW CLOSE specification,
// nil if it has none.
func (d *Dataflow) WindowClose() *WindowClose {
	for _, nd := range d.nodes {
		if r, ok := nd.op.(*reduceOp); ok && r.closing != nil {
			return r.closing.spec
		}
	}
	return nil
}

// SessionClose makes a Session drop the rows behind the watermark of the
// Source collection's time column (its Time column) and forget the
// sessions the watermark has closed, so that an EMIT ON WINDOW CLOSE view
// over SESSION windows keeps only open sessions. With rows behind the
// watermark dropped, no later row can reach a session that ends (last time
// plus gap) before the watermark: such a session is final. (Dropping late
// rows after the sessions were formed would not do: a late row can merge a
// closed session into an open one.) Retractions behind the watermark are
// dropped too; late insertions are counted.
type SessionClose struct {
	Source     CollectionID
	SourceName string
}

type sessionClosing struct {
	watermark func() (int64, bool)
	closed    int64 // the watermark at the end of the last step
	have      bool
	lateRows  int64
}

func newSessionClosing(spec *SessionClose, shared SharedArrangements) (*sessionClosing, error) {
	w, ok := shared.(Watermarks)
	var f func() (int64, bool)
	if ok {
		f = w.Watermark(spec.Source)
	}
	if f == nil {
		return nil, fmt.Errorf("dataflow: no watermark for collection %d (%s)", spec.Source, spec.SourceName)
	}
	return &sessionClosing{watermark: f}, nil
}

// late reports whether an update at event time t is behind the watermark,
// counting late insertions.
func (c *sessionClosing) late(t, diff int64) bool {
	if !c.have || t >= c.closed {
		return false
	}
	if diff > 0 {
		c.lateRows += diff
	}
	return true
}

// closeSessions forgets every session that ends before the watermark: its
// rows and its span. It visits every group (the first span of each is the
// only candidate, spans being ordered); a group left empty is dropped.
func (o *sessionOp) closeSessions() {
	c := o.closing
	w, ok := c.watermark()
	if !ok {
		return
	}
	if !c.have || w > c.closed {
		c.closed, c.have = w, true
	}
	var spans []sessSpan
	var rows []sessRow
	for key, g := range o.groups {
		spans = spans[:0]
		g.spans.Ascend(func(s sessSpan) bool {
			if s.last+o.p.Gap >= c.closed {
				return false
			}
			spans = append(spans, s)
			return true
		})
		for _, s := range spans {
			rows = rows[:0]
			g.rows.AscendGreaterOrEqual(sessRow{t: s.start}, func(r sessRow) bool {
				if r.t > s.last {
					return false
				}
				rows = append(rows, r)
				return true
			})
			for _, r := range rows {
				g.rows.Delete(r)
			}
			g.spans.Delete(s)
		}
		if g.rows.Len() == 0 {
			delete(o.groups, key)
		}
	}
}

func (o *sessionOp) stateRows() int {
	n := 0
	for _, g := range o.groups {
		n += g.rows.Len()
	}
	return n
}
