package dataflow

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// Checkpoints of a dataflow's operator state (Dataflow.Checkpoint and
// Restore), so that a restart resumes a materialized view where it was
// instead of recomputing it from its inputs.
//
// The state is written as a sequence of rows of datums, which the caller
// encodes (package sql, with storage's row encoding: there is one binary
// encoding of datums). For each stateful node, in node order (fixed for a
// plan), a header row [node index, kind] is followed by the operator's
// rows:
//
//	threshold  [n]; n × [count, row...]
//	join       [left shared, right shared]; per own side [n]; n × [key, count, row...]
//	reduce     [n, has closing]; closing: [have bound, late, bounds...];
//	           n × [count, key..., has out, out..., per aggregate: [len, state...],
//	                per DISTINCT aggregate: [m, m × (key, count)]]
//	topk       [n]; n × [count, row...]
//	temporal   [n]; n × [due at, diff, row...]
//	session    [n, has closing]; closing: [closed, have, late]; n × [count, row...]
//
// Whatever can be derived is not written: a reduce's close orders, a top-k
// group's output window, a session group's spans. Join arrangements and
// DISTINCT multisets are keyed by types.RowKey encodings, which are written
// as bytes; the key encoding is part of the Fingerprint.
//
// Restore loads such a sequence into a dataflow freshly built from the
// same plan (Fingerprint equal) with the same shared arrangements; the
// dataflow then produces exactly the outputs the checkpointed one would
// have.

// StateFormatVersion is the version of the layout above. Bump it with any
// change of what an operator writes or of the meaning of a state (an
// aggregate's AppendState layout is covered by expr.AggStateProbe):
// Fingerprint changes with it, so a checkpoint of another version is
// recomputed instead of loaded.
const StateFormatVersion = 1

// StateWriter receives a dataflow's state, row by row: WriteRow writes the
// row made of prefix followed by row (a few datums of the operator's and
// a row it holds, which is not copied to join them). Both are valid only
// during the call: WriteRow encodes or copies them.
type StateWriter interface {
	WriteRow(prefix, row types.Row) error
}

// StateReader hands the rows back in order; at the end it returns io.EOF.
// A row is valid until the next ReadRow: the dataflow copies what it
// keeps, so a reader may decode every row into one buffer.
type StateReader interface {
	ReadRow() (types.Row, error)
}

// ErrBadState marks a state that does not decode: corruption, since a
// state of another binary has another Fingerprint.
var ErrBadState = errors.New("malformed dataflow state")

// ErrStateMismatch marks a state that decodes but does not fit the
// dataflow: a join side shared when the state was taken is not now, or the
// other way round. The caller recomputes the dataflow instead.
var ErrStateMismatch = errors.New("dataflow state does not fit the dataflow")

// stateful is an operator with state to checkpoint. saveState writes the
// operator's rows after its header; loadState reads them into the empty
// operator.
type stateful interface {
	kind() string
	saveState(w *stateOut)
	loadState(r *stateIn) error
}

// keyEncodingProbe is types.RowKey of datums of every type: part of the
// Fingerprint, so that a binary whose key encoding differs does not load
// keys written by another.
var keyEncodingProbe = func() []byte {
	row := types.Row{
		types.Null(types.Int4), types.NewBool(true), types.NewInt(types.Int2, -2), types.NewInt4(-70000),
		types.NewInt8(1 << 40), types.NewFloat8(2), types.NewFloat8(0.1), types.NewFloat(types.Float4, 1.5),
		types.NewText("a\x00b"), types.NewString(types.Bpchar, "ab  "), types.NewString(types.Varchar, "v"),
		types.NewString(types.Bytea, "\x01\x02"), types.NewDate(-3), types.NewTime(5), types.NewTimestamp(types.Timestamp, 7),
		types.NewTimestamp(types.TimestampTZ, -7), types.NewInterval(types.IntervalValue{Months: 1, Days: 2, Micros: 3}),
		types.NewString(types.JSONB, `{"a": 1}`), types.NewString(types.UUID, "0123456789abcdef"),
	}
	return types.RowKey(nil, row)
}()

// Fingerprint identifies the shape of the dataflow's state: a hash of the
// state format's version, the key encoding, the aggregates' state layouts
// (expr.AggStateProbe), the plan (its EXPLAIN and
// every node's column types) and the operators built from it. A
// checkpointed state loads only into a dataflow with the same Fingerprint.
func (d *Dataflow) Fingerprint() string {
	if d.fingerprint == "" {
		d.fingerprint = d.computeFingerprint()
	}
	return d.fingerprint
}

func (d *Dataflow) computeFingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "state format %d\n", StateFormatVersion)
	h.Write(keyEncodingProbe)
	h.Write(expr.AggStateProbe())
	h.Write([]byte(Explain(d.plan)))
	Visit(d.plan, func(p Plan) { fmt.Fprintf(h, "%T %v\n", p, p.Types()) })
	for _, n := range d.nodes {
		fmt.Fprintf(h, "%T %v\n", n.op, n.inputs)
		if r, ok := n.op.(*reduceOp); ok && r.twins != nil {
			// A twin saves no state: a checkpoint from before twins
			// (which has one) is recomputed.
			fmt.Fprintf(h, "min/max twins %v\n", r.twins)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Checkpoint writes the state of every stateful operator to w. The
// dataflow must not be stepped concurrently (the caller holds the lock
// that steps it); Checkpoint does not change what the state means.
func (d *Dataflow) Checkpoint(w StateWriter) error {
	out := &stateOut{w: w}
	for i, n := range d.nodes {
		s, ok := n.op.(stateful)
		if !ok {
			continue
		}
		out.row(types.NewInt8(int64(i)), types.NewText(s.kind()))
		s.saveState(out)
		if out.err != nil {
			return out.err
		}
	}
	return out.err
}

// Restore loads a state written by Checkpoint of a dataflow with the same
// Fingerprint into d, which must be freshly built and never stepped. Its
// next Step is then a later step, not the first (Get inputs carry changes,
// not snapshots). An error wrapping ErrBadState or ErrStateMismatch leaves
// d unusable.
func (d *Dataflow) Restore(r StateReader) error {
	in := &stateIn{r: r}
	for i, n := range d.nodes {
		s, ok := n.op.(stateful)
		if !ok {
			continue
		}
		if !in.next(fmt.Sprintf("the header of node %d", i)) {
			return in.err
		}
		if at, kind := in.int(), in.text(); in.err == nil && (at != int64(i) || kind != s.kind()) {
			return fmt.Errorf("%w: node %d (%s) found the state of node %d (%s)", ErrBadState, i, s.kind(), at, kind)
		}
		if err := in.end(); err != nil {
			return err
		}
		if err := s.loadState(in); err != nil {
			return fmt.Errorf("node %d (%s): %w", i, s.kind(), err)
		}
	}
	if _, err := r.ReadRow(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("%w: rows after the last operator's state", ErrBadState)
		}
		return err
	}
	d.first = false
	return nil
}

// stateOut writes rows, keeping the first error.
type stateOut struct {
	w   StateWriter
	buf types.Row
	err error
}

func (o *stateOut) row(ds ...types.Datum) { o.write(append(o.buf[:0], ds...)) }

func (o *stateOut) write(r types.Row) { o.entry(r, nil) }

// entry writes prefix followed by row; prefix is the scratch row (start).
func (o *stateOut) entry(prefix, row types.Row) {
	o.buf = prefix[:0]
	if o.err == nil {
		o.err = o.w.WriteRow(prefix, row)
	}
}

// start returns the scratch row to fill and hand to write.
func (o *stateOut) start() types.Row { return o.buf[:0] }

func i8(v int64) types.Datum       { return types.NewInt8(v) }
func bytea(s string) types.Datum   { return types.NewString(types.Bytea, s) }
func boolDatum(b bool) types.Datum { return types.NewBool(b) }

// stateIn reads rows and the datums of the current row, keeping the first
// error; reads after an error return zero values.
type stateIn struct {
	r      StateReader
	row    types.Row
	err    error
	blocks types.RowBlocks // the rows datums returns
}

// next reads the next row; what names it for the error at the end of the
// state.
func (s *stateIn) next(what string) bool {
	if s.err != nil {
		return false
	}
	row, err := s.r.ReadRow()
	switch {
	case err == io.EOF:
		s.err = fmt.Errorf("%w: the state ends before %s", ErrBadState, what)
	case err != nil:
		s.err = err
	}
	s.row = row
	return s.err == nil
}

func (s *stateIn) datum(t types.Type) types.Datum {
	if s.err != nil {
		return types.Datum{}
	}
	if len(s.row) == 0 {
		s.err = fmt.Errorf("%w: a row ends early", ErrBadState)
		return types.Datum{}
	}
	d := s.row[0]
	if t != types.Unknown && (d.Type() != t || d.IsNull()) {
		s.err = fmt.Errorf("%w: found a %s where a %s belongs", ErrBadState, d.Type(), t)
		return types.Datum{}
	}
	s.row = s.row[1:]
	return d
}

func (s *stateIn) int() int64    { return s.datum(types.Int8).Int() }
func (s *stateIn) bool() bool    { return s.datum(types.Bool).Bool() }
func (s *stateIn) text() string  { return s.datum(types.Text).Str() }
func (s *stateIn) bytes() string { return s.datum(types.Bytea).Str() }

// datums takes a copy of the next n datums of the row, in a slice of its
// own: an operator keeps what it reads without the rest of the row (a
// state row's counts and keys, or a whole reduce group's aggregate
// states) and without the reader's buffer (StateReader).
func (s *stateIn) datums(n int) types.Row {
	if s.err != nil {
		return nil
	}
	if n < 0 || n > len(s.row) {
		s.err = fmt.Errorf("%w: a row ends early", ErrBadState)
		return nil
	}
	r := s.blocks.Row(n) // a row each was 10M allocations restoring a top-k over 10M rows
	copy(r, s.row)
	s.row = s.row[n:]
	return r
}

// view is datums without the copy: the next n datums of the row, valid
// until the next row is read, for a reader that copies what it keeps
// (expr.AggState.LoadState). A reduce group's aggregate states are most
// of its row, 10 MB a group for a min over 1M rows.
func (s *stateIn) view(n int) types.Row {
	if s.err != nil {
		return nil
	}
	if n < 0 || n > len(s.row) {
		s.err = fmt.Errorf("%w: a row ends early", ErrBadState)
		return nil
	}
	r := s.row[:n:n]
	s.row = s.row[n:]
	return r
}

// count reads an entry count: a positive number of entries or a
// multiplicity that is not zero.
func (s *stateIn) count() int64 {
	n := s.int()
	if s.err == nil && n == 0 {
		s.err = fmt.Errorf("%w: a count of zero", ErrBadState)
	}
	return n
}

// length reads a number of entries that follow.
func (s *stateIn) length() int {
	n := s.int()
	if s.err == nil && (n < 0 || n > 1<<40) {
		s.err = fmt.Errorf("%w: %d entries", ErrBadState, n)
	}
	return int(n)
}

// end checks that the current row was read whole.
func (s *stateIn) end() error {
	if s.err == nil && len(s.row) > 0 {
		s.err = fmt.Errorf("%w: %d datums left in a row", ErrBadState, len(s.row))
	}
	return s.err
}

// rows reads a count row [n] and then n rows, handing each to f (which
// reads its datums; the row is checked to be consumed).
func (s *stateIn) rows(what string, f func()) error { return s.rowsSized(what, nil, f) }

// rowsSized is rows, telling sized (when not nil) the number of rows first.
func (s *stateIn) rowsSized(what string, sized func(n int), f func()) error {
	if !s.next(what) {
		return s.err
	}
	n := s.length()
	if err := s.end(); err != nil {
		return err
	}
	if sized != nil {
		sized(n)
	}
	for i := 0; i < n; i++ {
		if !s.next(what) {
			return s.err
		}
		f()
		if err := s.end(); err != nil {
			return err
		}
	}
	return nil
}

// Threshold: each row's running count.

func (o *thresholdOp) kind() string { return "threshold" }

func (o *thresholdOp) saveState(w *stateOut) {
	w.row(i8(int64(o.counts.tree.Len())))
	o.counts.Scan(func(row types.Row, count int64) bool {
		w.entry(append(w.start(), i8(count)), row)
		return w.err == nil
	})
}

func (o *thresholdOp) loadState(r *stateIn) error {
	return r.rows("a threshold count", func() {
		n := r.count()
		if row := r.datums(len(r.row)); r.err == nil {
			o.counts.Apply([]Update{{Row: row, Diff: n}})
		}
	})
}

// Join: the arrangements the operator owns.

func (o *joinOp) kind() string { return "join" }

func (o *joinOp) saveState(w *stateOut) {
	w.row(boolDatum(o.leftShared), boolDatum(o.rightShared))
	for _, side := range []struct {
		a      *Arrangement
		shared bool
	}{{o.left, o.leftShared}, {o.right, o.rightShared}} {
		if side.shared {
			continue
		}
		w.row(i8(int64(side.a.rows())))
		side.a.scan(func(key string, row types.Row, count int64) {
			w.entry(append(w.start(), bytea(key), i8(count)), row)
		})
	}
}

func (o *joinOp) loadState(r *stateIn) error {
	if !r.next("a join's sides") {
		return r.err
	}
	ls, rs := r.bool(), r.bool()
	if err := r.end(); err != nil {
		return err
	}
	if ls != o.leftShared || rs != o.rightShared {
		return fmt.Errorf("%w: join sides shared (%t, %t) in the state, (%t, %t) now", ErrStateMismatch, ls, rs, o.leftShared, o.rightShared)
	}
	for _, side := range []struct {
		a      *Arrangement
		shared bool
	}{{o.left, o.leftShared}, {o.right, o.rightShared}} {
		if side.shared {
			continue
		}
		a := side.a
		err := r.rows("a join arrangement's row", func() {
			key, n := r.bytes(), r.count()
			if row := r.datums(len(r.row)); r.err == nil {
				a.buf = append(a.buf[:0], key...)
				a.addKeyed(row, n)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// scan calls f with every (key encoding, row, count) of the arrangement.
func (a *Arrangement) scan(f func(key string, row types.Row, count int64)) {
	each := func(k string, e arrKey) {
		if e.rows == nil {
			f(k, e.one.row, e.one.count)
			return
		}
		e.rows.each(func(r indexEntry) bool {
			f(k, r.row, r.count)
			return true
		})
	}
	for k, e := range a.keys {
		each(k, e)
	}
	var buf [intKeyLen]byte
	for v, e := range a.ints {
		each(string(appendIntKey(buf[:0], v)), e)
	}
}

// Reduce: per group its count, output and aggregate states (and DISTINCT
// multisets); for EMIT ON WINDOW CLOSE the closing bounds and late count.

func (o *reduceOp) kind() string { return "reduce" }

func (o *reduceOp) saveState(w *stateOut) {
	w.row(i8(int64(len(o.groups))), boolDatum(o.closing != nil))
	if c := o.closing; c != nil {
		row := append(w.start(), boolDatum(c.haveBound), i8(c.late))
		for _, b := range c.bounds {
			row = append(row, i8(b))
		}
		w.write(row)
	}
	for _, g := range o.groups {
		row := append(append(w.start(), i8(g.count)), g.key...)
		row = append(row, boolDatum(g.out != nil))
		row = append(row, g.out...)
		for _, s := range g.states {
			at := len(row)
			row = s.AppendState(append(row, types.Datum{}))
			row[at] = i8(int64(len(row) - at - 1))
		}
		for i, a := range o.aggs {
			if !a.Distinct {
				continue
			}
			row = append(row, i8(int64(len(g.distinct[i]))))
			for k, n := range g.distinct[i] {
				row = append(row, bytea(k), i8(n))
			}
		}
		w.write(row)
		if w.err != nil {
			return
		}
	}
}

func (o *reduceOp) loadState(r *stateIn) error {
	if !r.next("a reduce's group count") {
		return r.err
	}
	n, closing := r.length(), r.bool()
	if err := r.end(); err != nil {
		return err
	}
	if closing != (o.closing != nil) {
		return fmt.Errorf("%w: a reduce that emits on window close (%t) in the state, (%t) now", ErrBadState, closing, o.closing != nil)
	}
	if c := o.closing; c != nil {
		if !r.next("a reduce's window bounds") {
			return r.err
		}
		c.haveBound, c.late = r.bool(), r.int()
		for i := range c.bounds {
			c.bounds[i] = r.int()
		}
		if err := r.end(); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		if !r.next("a reduce's group") {
			return r.err
		}
		count := r.int()
		g := o.newGroup(r.datums(len(o.keys)))
		g.count = count
		if r.bool() {
			g.out = r.datums(len(o.keys) + len(o.aggs))
		}
		for _, s := range g.states {
			m := r.length()
			if st := r.view(m); r.err == nil {
				if err := s.LoadState(st); err != nil {
					return fmt.Errorf("%w: %w", ErrBadState, err)
				}
			}
		}
		for j, a := range o.aggs {
			if !a.Distinct {
				continue
			}
			m := r.length()
			for k := 0; k < m && r.err == nil; k++ {
				key := r.bytes()
				g.distinct[j][key] = r.count()
			}
		}
		if err := r.end(); err != nil {
			return err
		}
		o.buf = types.RowKey(o.buf[:0], g.key)
		if _, dup := o.groups[string(o.buf)]; dup {
			return fmt.Errorf("%w: a reduce group twice", ErrBadState)
		}
		o.groups[string(o.buf)] = g
		if o.closing != nil {
			o.closing.index(g, string(o.buf), true)
		}
	}
	return nil
}

// TopK: every group's rows; the output windows follow from them.

func (o *topKOp) kind() string { return "topk" }

func (o *topKOp) saveState(w *stateOut) {
	w.row(i8(int64(o.stateRows())))
	for _, g := range o.groups {
		g.each(func(row types.Row, count int64) bool {
			w.entry(append(w.start(), i8(count)), row)
			return w.err == nil
		})
	}
}

func (o *topKOp) loadState(r *stateIn) error {
	sized := func(n int) {
		if len(o.plan.Group) == 0 && o.headMin() > 0 && n > 0 {
			// The one group's tail gets room for its rows at once, instead
			// of growing by rehashing (a quarter of restoring 1M rows).
			o.group(nil).tail = newRowBag(n)
		}
	}
	o.loading = true
	defer func() { o.loading = false }()
	err := r.rowsSized("a top-k row", sized, func() {
		n := r.count()
		row := r.datums(len(r.row))
		if r.err != nil {
			return
		}
		for _, k := range o.plan.Group {
			if k >= len(row) {
				r.err = fmt.Errorf("%w: a top-k row of %d columns", ErrBadState, len(row))
				return
			}
		}
		o.add(o.group(row), row, n)
	})
	if err != nil {
		return err
	}
	o.loading = false
	for _, g := range o.groups {
		if g.tail != nil {
			g.tail.place()
		}
		o.refill(g)
		g.out = o.window(g)
	}
	return nil
}

// Temporal filter: the pending changes.

func (o *temporalOp) kind() string { return "temporal" }

func (o *temporalOp) saveState(w *stateOut) {
	w.row(i8(int64(o.pending.Len())))
	o.pending.Ascend(func(e *pendingChange) bool {
		w.entry(append(w.start(), i8(e.at), i8(e.diff)), e.row)
		return w.err == nil
	})
}

func (o *temporalOp) loadState(r *stateIn) error {
	return r.rows("a pending temporal change", func() {
		at, diff := r.int(), r.count()
		if row := r.datums(len(r.row)); r.err == nil {
			o.schedule(at, row, diff)
		}
	})
}

// Session: every group's rows; the spans follow from them.

func (o *sessionOp) kind() string { return "session" }

func (o *sessionOp) saveState(w *stateOut) {
	w.row(i8(int64(o.stateRows())), boolDatum(o.closing != nil))
	if c := o.closing; c != nil {
		w.row(i8(c.closed), boolDatum(c.have), i8(c.lateRows))
	}
	for _, g := range o.groups {
		g.rows.Ascend(func(e sessRow) bool {
			w.entry(append(w.start(), i8(e.count)), e.row)
			return w.err == nil
		})
	}
}

func (o *sessionOp) loadState(r *stateIn) error {
	if !r.next("a session's row count") {
		return r.err
	}
	n, closing := r.length(), r.bool()
	if err := r.end(); err != nil {
		return err
	}
	if closing != (o.closing != nil) {
		return fmt.Errorf("%w: a session that forgets closed sessions (%t) in the state, (%t) now", ErrBadState, closing, o.closing != nil)
	}
	if c := o.closing; c != nil {
		if !r.next("a session's watermark") {
			return r.err
		}
		c.closed, c.have, c.lateRows = r.int(), r.bool(), r.int()
		if err := r.end(); err != nil {
			return err
		}
	}
	width := len(o.p.Input.Types())
	for i := 0; i < n; i++ {
		if !r.next("a session row") {
			return r.err
		}
		count := r.count()
		row := r.datums(width)
		if err := r.end(); err != nil {
			return err
		}
		if row[o.p.Time].IsNull() {
			return fmt.Errorf("%w: a session row without a time", ErrBadState)
		}
		o.addRow(o.groupOf(row), row[o.p.Time].Int(), row, count)
	}
	for _, g := range o.groups {
		for _, s := range o.sessionsOf(g) {
			g.spans.ReplaceOrInsert(s)
		}
	}
	return nil
}

// sessionsOf derives g's sessions from its rows: runs of times at most Gap
// apart.
func (o *sessionOp) sessionsOf(g *sessGroup) []sessSpan {
	var out []sessSpan
	g.rows.Ascend(func(r sessRow) bool {
		if n := len(out); n > 0 && r.t-out[n-1].last <= o.p.Gap {
			out[n-1].last = r.t
		} else {
			out = append(out, sessSpan{r.t, r.t})
		}
		return true
	})
	return out
}

var _ = []stateful{(*thresholdOp)(nil), (*joinOp)(nil), (*reduceOp)(nil), (*topKOp)(nil), (*temporalOp)(nil), (*sessionOp)(nil)}
