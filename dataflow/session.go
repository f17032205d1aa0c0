package dataflow

import (
	"fmt"
	"slices"

	"github.com/google/btree"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// Session assigns session windows: per group of the Keys columns, rows whose
// event times (column Time, a timestamp or timestamptz in microseconds) are
// at most Gap apart, chained, share a session. Each output row is its input
// row followed by the session's window_start (the first row's time) and
// window_end (the last row's time plus Gap), of the time column's type. Rows
// with a NULL time belong to no session; NULL keys group together, as in
// GROUP BY.
//
// Sessions are not linear: a row bridging two sessions merges them and the
// deletion of a bridging row splits one, changing the window of rows the
// change never named. The operator keeps each group's rows ordered by time
// and re-derives only the sessions within reach (Gap) of the changed times.
type Session struct {
	Input Plan
	Time  int
	Keys  []int
	Gap   int64 // microseconds, > 0
	// Close, when set, drops rows behind the watermark and forgets closed
	// sessions (EMIT ON WINDOW CLOSE: windowclose.go).
	Close *SessionClose
}

func (p *Session) Types() []types.Type {
	in := p.Input.Types()
	out := append(append([]types.Type(nil), in...), in[p.Time], in[p.Time])
	return out
}

func (p *Session) Inputs() []Plan { return []Plan{p.Input} }

func (p *Session) describe() string {
	gap := expr.Const{Val: types.NewInterval(types.IntervalValue{Micros: p.Gap})}
	d := fmt.Sprintf("Session time=#%d gap=%s keys=%v", p.Time, gap.String(), p.Keys)
	if p.Close != nil {
		d += " drops rows behind the watermark of " + p.Close.SourceName + " and forgets closed sessions"
	}
	return d
}

// sessionOp runs a Session. Per group it keeps
//
//   - rows: the group's multiset of rows ordered by (time, row), and
//   - spans: its current sessions, ordered by start, pairwise more than Gap
//     apart (the first time of one minus the last time of the previous).
//
// A step sorts each touched group's changes by time and groups them into
// chains: a chain is a maximal run of changed times and old sessions in
// which each is within Gap of the next. Every session before or after the
// step lies in exactly one chain (a session's times are connected by steps
// of at most Gap, and old ∪ inserted times only add links), so sessions
// outside every chain are untouched. Within a chain the new sessions are
// the chain's rows cut wherever a deleted time leaves a gap wider than Gap;
// insertions only ever join. The chain is then diffed session by session:
// a session with the same start and last time before and after keeps every
// unchanged row's window, so only the changes themselves are emitted (a late
// row in the middle of a long session costs O(log n), not O(session)); a
// session that disappeared retracts its old rows with the old window, a new
// one emits its rows with the new window.
type sessionOp struct {
	p      *Session
	typ    types.Type // the time column's type
	groups map[string]*sessGroup
	buf    []byte
	// One node free list per tree type for all groups: a group costs no
	// free list of its own, and nodes of emptied groups are reused.
	freeRows  *btree.FreeListG[sessRow]
	freeSpans *btree.FreeListG[sessSpan]

	// Scratch, reused across steps.
	touched []*sessGroup
	chains  []sessChain
	olds    []sessSpan
	news    []sessSpan
	cuts    []sessSpan // (last time before a cut, first time after it)
	slab    []types.Datum

	// closing is set for EMIT ON WINDOW CLOSE (windowclose.go).
	closing *sessionClosing
}

type sessRow struct {
	t     int64
	row   types.Row // nil only in search pivots: before every row at t
	count int64
}

type sessSpan struct{ start, last int64 }

type sessGroup struct {
	key     string
	rows    *btree.BTreeG[sessRow]
	spans   *btree.BTreeG[sessSpan]
	changes []Update
}

// sessChain is a chain of one step: [lo, hi] covers its old sessions and
// changed times; olds and changes index o.olds and the group's sorted
// changes.
type sessChain struct {
	lo, hi       int64
	oldLo, oldHi int
	chgLo, chgHi int
}

func newSessionOp(p *Session) *sessionOp {
	return &sessionOp{
		p: p, typ: p.Input.Types()[p.Time], groups: map[string]*sessGroup{},
		freeRows:  btree.NewFreeListG[sessRow](btree.DefaultFreeListSize),
		freeSpans: btree.NewFreeListG[sessSpan](btree.DefaultFreeListSize),
	}
}

func sessRowLess(a, b sessRow) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	if a.row == nil || b.row == nil {
		return a.row == nil && b.row != nil
	}
	return types.CompareRows(a.row, b.row) < 0
}

func sessSpanLess(a, b sessSpan) bool { return a.start < b.start }

func (o *sessionOp) step(ctx *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	touched := o.touched[:0]
	for _, u := range ins[0] {
		if u.Row[o.p.Time].IsNull() {
			continue
		}
		if o.closing != nil && o.closing.late(u.Row[o.p.Time].Int(), u.Diff) {
			continue
		}
		g := o.groupOf(u.Row)
		if len(g.changes) == 0 {
			touched = append(touched, g)
		}
		g.changes = append(g.changes, u)
	}
	var out []Update
	for i, g := range touched {
		if i&255 == 255 {
			if err := ctx.Canceled(); err != nil {
				return nil, err
			}
		}
		out = o.stepGroup(g, out)
		if invariants {
			o.checkGroup(g)
		}
		if cap(g.changes) > 64 {
			g.changes = nil // a snapshot's capacity is not worth keeping per group
		} else {
			clear(g.changes) // drop the references to this step's rows
			g.changes = g.changes[:0]
		}
		if g.rows.Len() == 0 {
			delete(o.groups, g.key)
		}
	}
	clear(touched)
	o.touched = touched[:0]
	if o.closing != nil {
		o.closeSessions()
	}
	return out, nil
}

// groupOf returns the group of row's keys, created empty if new.
func (o *sessionOp) groupOf(row types.Row) *sessGroup {
	o.buf = o.buf[:0]
	for _, k := range o.p.Keys {
		o.buf = types.AppendKey(o.buf, row[k])
	}
	g, ok := o.groups[string(o.buf)]
	if !ok {
		g = &sessGroup{
			key:   string(o.buf),
			rows:  btree.NewWithFreeListG(16, sessRowLess, o.freeRows),
			spans: btree.NewWithFreeListG(16, sessSpanLess, o.freeSpans),
		}
		o.groups[g.key] = g
	}
	return g
}

func (o *sessionOp) time(u Update) int64 { return u.Row[o.p.Time].Int() }

// stepGroup applies one group's changes and appends the change of its
// output to out.
func (o *sessionOp) stepGroup(g *sessGroup, out []Update) []Update {
	gap := o.p.Gap
	ch := g.changes
	slices.SortFunc(ch, func(a, b Update) int {
		ta, tb := o.time(a), o.time(b)
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})

	// 1. Chains, over the sessions before the step.
	o.chains, o.olds = o.chains[:0], o.olds[:0]
	for i := 0; i < len(ch); {
		t := o.time(ch[i])
		c := sessChain{lo: t, hi: t, oldLo: len(o.olds), chgLo: i}
		scanFrom := t
		// The session starting at or before t that reaches t.
		g.spans.DescendLessOrEqual(sessSpan{start: t}, func(s sessSpan) bool {
			if s.last+gap >= t {
				c.lo, c.hi = s.start, max(c.hi, s.last)
				o.olds = append(o.olds, s)
				scanFrom = s.start + 1
			}
			return false
		})
		for {
			grew := false
			for i < len(ch) && o.time(ch[i]) <= c.hi+gap {
				c.hi = max(c.hi, o.time(ch[i]))
				i++
				grew = true
			}
			g.spans.AscendGreaterOrEqual(sessSpan{start: scanFrom}, func(s sessSpan) bool {
				if s.start > c.hi+gap {
					return false
				}
				c.hi = max(c.hi, s.last)
				o.olds = append(o.olds, s)
				scanFrom = s.start + 1
				grew = true
				return true
			})
			if !grew {
				break
			}
		}
		c.oldHi, c.chgHi = len(o.olds), i
		o.chains = append(o.chains, c)
	}

	// 2. Apply the changes.
	for _, u := range ch {
		o.addRow(g, o.time(u), u.Row, u.Diff)
	}

	// 3. Per chain: the new sessions, and the difference.
	for _, c := range o.chains {
		news := o.newSessions(g, c, ch)
		olds := o.olds[c.oldLo:c.oldHi]
		chg := ch[c.chgLo:c.chgHi]
		i, j := 0, 0
		for i < len(olds) || j < len(news) {
			switch {
			case i < len(olds) && j < len(news) && olds[i] == news[j]:
				// Same window before and after: only the changed rows change.
				s := olds[i]
				for _, u := range chg {
					if t := o.time(u); t >= s.start && t <= s.last {
						out = append(out, Update{Row: o.windowRow(u.Row, s), Diff: u.Diff})
					}
				}
				i++
				j++
			case j == len(news) || (i < len(olds) && olds[i].start <= news[j].start):
				// Gone: retract its old rows (current rows minus the changes).
				s := olds[i]
				out = o.emitRows(g, s, s, -1, out)
				for _, u := range chg {
					if t := o.time(u); t >= s.start && t <= s.last {
						out = append(out, Update{Row: o.windowRow(u.Row, s), Diff: u.Diff})
					}
				}
				g.spans.Delete(s)
				i++
			default:
				s := news[j]
				out = o.emitRows(g, s, s, 1, out)
				g.spans.ReplaceOrInsert(s)
				j++
			}
		}
	}
	return out
}

// newSessions returns the sessions of chain c after the step: the chain's
// rows, cut wherever a vanished time leaves a gap wider than Gap.
func (o *sessionOp) newSessions(g *sessGroup, c sessChain, ch []Update) []sessSpan {
	gap := o.p.Gap
	o.cuts = o.cuts[:0]
	for k := c.chgLo; k < c.chgHi; k++ {
		t := o.time(ch[k])
		if k > c.chgLo && o.time(ch[k-1]) == t {
			continue
		}
		if _, ok := o.firstAtOrAfter(g, t, t); ok {
			continue // t is still there: nothing opened up
		}
		p, okP := o.lastAtOrBefore(g, t-1, c.lo)
		s, okS := o.firstAtOrAfter(g, t+1, c.hi)
		if okP && okS && s-p > gap {
			if n := len(o.cuts); n == 0 || o.cuts[n-1] != (sessSpan{p, s}) {
				o.cuts = append(o.cuts, sessSpan{p, s})
			}
		}
	}
	o.news = o.news[:0]
	begin := c.lo
	segment := func(from, to int64) {
		first, ok := o.firstAtOrAfter(g, from, to)
		if !ok {
			return
		}
		last, _ := o.lastAtOrBefore(g, to, from)
		o.news = append(o.news, sessSpan{first, last})
	}
	for _, cut := range o.cuts {
		segment(begin, cut.start)
		begin = cut.last
	}
	segment(begin, c.hi)
	return o.news
}

// firstAtOrAfter returns the smallest time ≥ t in g's rows, if it is ≤ limit.
func (o *sessionOp) firstAtOrAfter(g *sessGroup, t, limit int64) (int64, bool) {
	found, ok := int64(0), false
	g.rows.AscendGreaterOrEqual(sessRow{t: t}, func(r sessRow) bool {
		found, ok = r.t, r.t <= limit
		return false
	})
	return found, ok
}

// lastAtOrBefore returns the largest time ≤ t in g's rows, if it is ≥ limit.
func (o *sessionOp) lastAtOrBefore(g *sessGroup, t, limit int64) (int64, bool) {
	found, ok := int64(0), false
	// The pivot (t+1, nil) sorts before every row at t+1 and equals none.
	g.rows.DescendLessOrEqual(sessRow{t: t + 1}, func(r sessRow) bool {
		found, ok = r.t, r.t >= limit
		return false
	})
	return found, ok
}

// emitRows appends every row of g with a time in [in.start, in.last], with
// window w, each with its multiplicity times sign.
func (o *sessionOp) emitRows(g *sessGroup, in, w sessSpan, sign int64, out []Update) []Update {
	g.rows.AscendGreaterOrEqual(sessRow{t: in.start}, func(r sessRow) bool {
		if r.t > in.last {
			return false
		}
		out = append(out, Update{Row: o.windowRow(r.row, w), Diff: sign * r.count})
		return true
	})
	return out
}

// addRow adds diff copies of row at time t, dropping the entry at zero.
func (o *sessionOp) addRow(g *sessGroup, t int64, row types.Row, diff int64) {
	if diff == 0 {
		return
	}
	old, existed := g.rows.ReplaceOrInsert(sessRow{t: t, row: row, count: diff})
	if !existed {
		return
	}
	if n := old.count + diff; n == 0 {
		g.rows.Delete(old)
	} else {
		g.rows.ReplaceOrInsert(sessRow{t: t, row: old.row, count: n})
	}
}

// windowRow returns row followed by s's window_start and window_end. Output
// rows are carved from a shared slab: one allocation per few thousand rows,
// not one per row (the consumers own them and never modify them).
func (o *sessionOp) windowRow(row types.Row, s sessSpan) types.Row {
	n := len(row) + 2
	if len(o.slab) < n {
		o.slab = make([]types.Datum, 1024*n)
	}
	r := types.Row(o.slab[:n:n])
	o.slab = o.slab[n:]
	copy(r, row)
	r[n-2] = types.NewTimestamp(o.typ, s.start)
	r[n-1] = types.NewTimestamp(o.typ, s.last+o.p.Gap)
	return r
}

// checkGroup recomputes g's sessions from its rows and panics unless they
// are exactly the spans the operator keeps (invariants builds only).
func (o *sessionOp) checkGroup(g *sessGroup) {
	var want []sessSpan
	g.rows.Ascend(func(r sessRow) bool {
		if r.count <= 0 {
			panic(fmt.Sprintf("dataflow: session row %v at %d has count %d", r.row, r.t, r.count))
		}
		if n := len(want); n > 0 && r.t-want[n-1].last <= o.p.Gap {
			want[n-1].last = r.t
		} else {
			want = append(want, sessSpan{r.t, r.t})
		}
		return true
	})
	var got []sessSpan
	g.spans.Ascend(func(s sessSpan) bool {
		got = append(got, s)
		return true
	})
	if !slices.Equal(got, want) {
		panic(fmt.Sprintf("dataflow: session spans %v do not match the rows' sessions %v", got, want))
	}
}
