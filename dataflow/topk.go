package dataflow

import (
	"fmt"
	"slices"

	"github.com/google/btree"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// topKOp keeps each group's rows and emits the change of the group's
// window of ranks Offset+1 … Offset+Limit.
//
// With a LIMIT, only a group's first rows are kept in order: the head, a
// B-tree of the rows up to a boundary row, holding at least the window
// (when the group has that many rows) and at most topKHeadFactor times
// what the last refill left (at least headMin) entries. The other rows — all ordered after the boundary — are kept
// unordered in a hash map, the tail, and cost a hash lookup per change
// instead of a B-tree descent. When retractions leave the head shorter
// than the window, the head is refilled with the tail's first rows, found
// in one pass over it. `UPDATE events SET v = v + 1` over 100k rows under
// `ORDER BY v DESC, id LIMIT 10` retracts and re-inserts every row: in one
// B-tree of all rows that was 17% of the statement's CPU
// (BenchmarkUpdateUnderViews). Without a LIMIT, or with one above
// topKTailAbove, every row is in the head.
type topKOp struct {
	plan   *TopK
	groups map[string]*topGroup
	buf    []byte
	// loading: rows go to tails by rowBag.appendRow, not add (loadState,
	// whose rows are distinct; it places them when done).
	loading bool
}

// topGroup is one group's rows. Every row of head orders at or before
// bound, every row of tail after it; bound is nil while the group has no
// tail rows (every row is in head; the tail may be sized for a restore).
type topGroup struct {
	head  *btree.BTreeG[*indexEntry]
	headN int64 // rows in head, counting multiplicity
	bound types.Row
	tail  *rowBag
	// keep is the entries the last refill left in the head, at least
	// headMin: a split keeps as many, and splits only past
	// topKHeadFactor times that.
	keep    int
	out     []types.Row
	touched bool
}

const (
	// topKHeadMin is the fewest entries a refill or a split leaves in a
	// head (at least twice the window), so that retractions of the first
	// rows do not send every step back to the tail.
	topKHeadMin = 32
	// topKHeadFactor: a head of more than topKHeadFactor × its minimum
	// entries is split (its last rows move to the tail).
	topKHeadFactor = 4
	// topKRefillFraction: a refill moves at least this fraction of the
	// tail to the head.
	topKRefillFraction = 8
)

func newTopKOp(p *TopK) *topKOp { return &topKOp{plan: p, groups: map[string]*topGroup{}} }

func (o *topKOp) less(a, b *indexEntry) bool { return o.cmp(a.row, b.row) < 0 }

// cmp orders rows by the ORDER BY keys, then by the whole row.
func (o *topKOp) cmp(a, b types.Row) int {
	for _, k := range o.plan.Order {
		x, y := &a[k.Col], &b[k.Col]
		if x.IsNull() != y.IsNull() {
			// NULLs sort last ascending and first descending, unless overridden.
			if x.IsNull() == k.NullsFirst {
				return -1
			}
			return 1
		}
		c := types.CompareRef(x, y)
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return types.CompareRows(a, b)
}

// topKTailAbove: a window of more rows than this (or no LIMIT) keeps every
// row in the head; a tail would hold few rows.
const topKTailAbove = 1 << 16

// headMin is the entries a head keeps when it is split or refilled; 0 when
// the group has no tail.
func (o *topKOp) headMin() int {
	need := o.plan.Offset + o.plan.Limit
	if o.plan.Limit < 0 || need > topKTailAbove {
		return 0
	}
	return int(max(2*need, topKHeadMin))
}

// group returns the group of row, creating it when it is new; o.buf holds
// the group's encoded key afterwards.
func (o *topKOp) group(row types.Row) *topGroup {
	o.buf = o.buf[:0]
	for _, k := range o.plan.Group {
		o.buf = types.AppendKey(o.buf, row[k])
	}
	g, ok := o.groups[string(o.buf)]
	if !ok {
		g = &topGroup{head: btree.NewG(16, o.less)}
		o.groups[string(o.buf)] = g
	}
	return g
}

// add adds diff copies of row to g: to the head if it orders at or before
// the boundary, else to the tail. A head grown past its maximum is split.
func (o *topKOp) add(g *topGroup, row types.Row, diff int64) {
	if g.bound == nil || o.cmp(row, g.bound) <= 0 {
		addCount(g.head, row, diff)
		g.headN += diff
		if m := o.headMin(); m > 0 {
			if keep := max(m, g.keep); g.head.Len() > topKHeadFactor*keep {
				o.split(g, keep)
			}
		}
		return
	}
	o.addTail(g, row, diff)
}

// addTail adds diff copies of row to g's tail.
func (o *topKOp) addTail(g *topGroup, row types.Row, diff int64) {
	if o.loading {
		g.tail.appendRow(row, diff)
	} else {
		g.tail.add(row, diff)
	}
}

// split keeps the first keep entries of g's head and moves the others to
// the tail; the last one kept becomes the boundary.
func (o *topKOp) split(g *topGroup, keep int) {
	head := btree.NewG(16, o.less)
	var moved []*indexEntry
	g.headN = 0
	g.head.Ascend(func(e *indexEntry) bool {
		if head.Len() < keep {
			head.ReplaceOrInsert(e)
			g.headN += e.count
			g.bound = e.row
		} else {
			moved = append(moved, e)
		}
		return true
	})
	g.head = head
	if g.tail == nil {
		g.tail = newRowBag(len(moved))
	}
	for _, e := range moved {
		o.addTail(g, e.row, e.count) // a new row: the tail orders after the old boundary
	}
}

// refill moves the tail's first rows to the head until the head holds the
// window's rows or the tail is empty: the first headMin entries, or an
// eighth of the tail if that is more, found in one pass over the tail
// (candidates are sorted and cut in batches). Taking a fraction of the
// tail bounds the cost of retractions that keep emptying the head — a
// window of the oldest rows under retention deletes — to a constant per
// retraction, not a pass over the tail every few.
func (o *topKOp) refill(g *topGroup) {
	need := o.plan.Offset + o.plan.Limit
	for g.bound != nil && g.headN < need {
		keep := max(o.headMin(), g.tail.n/topKRefillFraction)
		g.keep = keep
		cand := make([]indexEntry, 0, 2*keep)
		var worst types.Row // no row after it can be among the first keep
		byOrder := func(a, b indexEntry) int { return o.cmp(a.row, b.row) }
		g.tail.each(func(e indexEntry) bool {
			if worst != nil && o.cmp(e.row, worst) >= 0 {
				return true
			}
			if cand = append(cand, e); len(cand) == cap(cand) {
				slices.SortFunc(cand, byOrder)
				cand = cand[:keep]
				worst = cand[keep-1].row
			}
			return true
		})
		slices.SortFunc(cand, byOrder)
		cand = cand[:min(len(cand), keep)]
		for _, e := range cand {
			addCount(g.head, e.row, e.count)
			g.headN += e.count
			g.tail.add(e.row, -e.count)
		}
		if g.tail.n == 0 {
			g.bound, g.tail = nil, nil
		} else {
			g.bound = cand[len(cand)-1].row
		}
	}
}

// rows is the number of distinct rows of g.
func (g *topGroup) rows() int {
	if g.tail == nil {
		return g.head.Len()
	}
	return g.head.Len() + g.tail.n
}

// each calls f for every distinct row of g with its multiplicity, the head's
// in order, then the tail's in no order.
func (g *topGroup) each(f func(row types.Row, count int64) bool) {
	ok := true
	g.head.Ascend(func(e *indexEntry) bool {
		ok = f(e.row, e.count)
		return ok
	})
	if ok && g.tail != nil {
		g.tail.each(func(e indexEntry) bool { return f(e.row, e.count) })
	}
}

// checkGroup panics unless g's head and tail are split at its boundary,
// headN counts the head and the head holds the window (invariants builds).
func (o *topKOp) checkGroup(g *topGroup) {
	n := int64(0)
	g.head.Ascend(func(e *indexEntry) bool {
		if e.count <= 0 || g.bound != nil && o.cmp(e.row, g.bound) > 0 {
			panic(fmt.Sprintf("dataflow: top-k head row %v ×%d, boundary %v", e.row, e.count, g.bound))
		}
		n += e.count
		return true
	})
	if n != g.headN {
		panic(fmt.Sprintf("dataflow: top-k head holds %d rows, counted %d", n, g.headN))
	}
	if g.tail == nil {
		return
	}
	if g.bound == nil {
		if g.tail.n > 0 {
			panic("dataflow: top-k tail without a boundary")
		}
		return // sized for a restore that did not split the head
	}
	rows := 0
	g.tail.each(func(e indexEntry) bool {
		if e.count <= 0 || o.cmp(e.row, g.bound) <= 0 {
			panic(fmt.Sprintf("dataflow: top-k tail row %v ×%d, boundary %v", e.row, e.count, g.bound))
		}
		rows++
		return true
	})
	if rows != g.tail.n {
		panic(fmt.Sprintf("dataflow: top-k tail of %d rows, counted %d", rows, g.tail.n))
	}
	if g.headN < o.plan.Offset+o.plan.Limit {
		panic(fmt.Sprintf("dataflow: top-k head of %d rows for a window to %d", g.headN, o.plan.Offset+o.plan.Limit))
	}
}

// topKSortAbove is the batch size from which topKOp without a LIMIT sorts a
// batch before adding it to its trees.
const topKSortAbove = 1024

func (o *topKOp) step(_ *expr.Ctx, _ bool, ins [][]Update) ([]Update, error) {
	var touched []*topGroup
	var keys []string
	in := ins[0]
	if len(in) > topKSortAbove && o.headMin() == 0 {
		// Added in the trees' order, a large batch (a snapshot) follows
		// one hot path down each tree instead of a cold descent per row:
		// 1M rows in random order took 2.2 s. Sorted as a whole, each
		// group's rows are in order too. (With a LIMIT, most rows go to
		// the tails, which are not ordered.)
		in = slices.Clone(in)
		slices.SortFunc(in, func(a, b Update) int { return o.cmp(a.Row, b.Row) })
	}
	for _, u := range in {
		g := o.group(u.Row)
		if !g.touched {
			g.touched = true
			touched = append(touched, g)
			keys = append(keys, string(o.buf))
		}
		o.add(g, u.Row, u.Diff)
	}
	var out []Update
	for i, g := range touched {
		g.touched = false
		o.refill(g)
		if invariants {
			o.checkGroup(g)
		}
		next := o.window(g)
		for _, r := range g.out {
			out = append(out, Update{Row: r, Diff: -1})
		}
		for _, r := range next {
			out = append(out, Update{Row: r, Diff: 1})
		}
		g.out = next
		if g.rows() == 0 {
			delete(o.groups, keys[i])
		}
	}
	return out, nil
}

// window returns the rows of g's ranks Offset+1 … Offset+Limit: its
// output. REQUIRES: g refilled (its head holds the window).
func (o *topKOp) window(g *topGroup) []types.Row {
	var next []types.Row
	rank := int64(0)
	g.head.Ascend(func(e *indexEntry) bool {
		for c := int64(0); c < e.count; c++ {
			rank++
			if rank <= o.plan.Offset {
				continue
			}
			if o.plan.Limit >= 0 && rank > o.plan.Offset+o.plan.Limit {
				return false
			}
			row := e.row
			if o.plan.RowNumber {
				row = append(row.Copy(), types.NewInt8(rank))
			}
			next = append(next, row)
		}
		return true
	})
	return next
}
