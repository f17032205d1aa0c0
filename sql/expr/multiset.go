package expr

import (
	"cmp"
	"slices"

	"github.com/tributary-db/tributary/sql/types"
)

// multiset is an ordered multiset of rows (one or more datums) with counts:
// the state of min, max and string_agg.
//
// Changes are buffered and applied in key order when the multiset is next
// read (flush). The items live in sorted chunks of at most msChunkMax, not
// in a tree, so that a flush can take either of two paths:
//
//   - a few changes (a single-row write) are each found by binary search,
//     O(log n) comparisons and a move within one chunk, as in a B-tree;
//   - many changes (an UPDATE of every row, a snapshot) are merged with the
//     items in one pass, O(n + p) comparisons, rebuilding the chunks.
//
// Through a B-tree, `UPDATE events SET v = v + 1` over 100k rows retracted
// and re-inserted the 10k values of each min/max group one descent at a
// time (plus a delete's rebalancing), 26% of the statement's CPU
// (BenchmarkUpdateUnderViews); building a min/max over a 1M-row snapshot
// in input order took 3 µs per value (BenchmarkViewInitialBuild).
type multiset struct {
	cmp     func(a, b types.Row) int
	byDatum bool          // keys are single datums ordered by types.Compare
	chunks  [][]msItem    // each sorted and non-empty; in order
	items   int           // the items in chunks
	pending []msPending   // changes not yet in chunks, in arrival order
	keyBuf  []types.Datum // the pending keys' datums
	// ints holds the pending changes instead of pending while every key
	// is one non-NULL integer of type intType (min and max of an integer
	// column): 16 bytes a change instead of 104, and sorted as pairs of
	// integers. A key of another kind moves them to pending (spillInts).
	ints    []msInt
	intType types.Type
	// ichunks holds the items instead of chunks while every key is one
	// non-NULL integer of type intType (only ints have been flushed since
	// the multiset was last empty): an item is then 16 bytes without a
	// pointer, where in chunks it is 88 (an msItem and its datum) that the
	// garbage collector scans. min and max of an integer column over 1M
	// rows kept 160 MB of items in chunks. A change that is not such an
	// integer moves them to chunks first (spillItems). At most one of
	// chunks and ichunks is not empty.
	ichunks [][]msInt
}

type msPending struct {
	key types.Row
	n   int64
	seq int // arrival order, to break ties between equal keys
}

// msItem is one distinct key and its multiplicity (never 0 in chunks).
type msItem struct {
	key types.Row
	n   int64
}

const (
	// msChunkMax is the most items a chunk holds before it is split: a
	// single change moves at most this many 32-byte items.
	msChunkMax = 256
	// msMergeRatio: a flush merges when its distinct keys number at least
	// items/msMergeRatio, where one pass costs less than a binary search
	// and a move per key.
	msMergeRatio = 16
)

func newMultiset() *multiset { return newMultisetCmp(types.CompareRows) }

// newMultisetCmp returns a multiset ordered by cmp.
func newMultisetCmp(cmp func(a, b types.Row) int) *multiset {
	return &multiset{cmp: cmp}
}

// add changes key's multiplicity by diff. key is copied.
func (m *multiset) add(key types.Row, diff int64) {
	if diff == 0 {
		return
	}
	if m.byDatum && len(m.pending) == 0 {
		if d := &key[0]; !d.IsNull() && d.Type().IsInteger() && (d.Type() == m.intType || len(m.ints) == 0 && len(m.ichunks) == 0) {
			m.intType = d.Type()
			m.ints = append(m.ints, msInt{v: d.Int(), n: diff})
			return
		}
		m.spillInts()
	}
	at := len(m.keyBuf)
	m.keyBuf = append(m.keyBuf, key...)
	m.pending = append(m.pending, msPending{key: m.keyBuf[at:len(m.keyBuf):len(m.keyBuf)], n: diff, seq: len(m.pending)})
}

// spillInts moves the changes in ints to pending, in their arrival order
// (they all arrived before any change in pending).
func (m *multiset) spillInts() {
	if len(m.ints) == 0 {
		return
	}
	for _, c := range m.ints {
		m.keyBuf = append(m.keyBuf, types.NewInt(m.intType, c.v))
		at := len(m.keyBuf)
		m.pending = append(m.pending, msPending{key: m.keyBuf[at-1 : at : at], n: c.n, seq: len(m.pending)})
	}
	m.ints = m.ints[:0]
}

// spillItems moves the items in ichunks to chunks, as keys of intType.
func (m *multiset) spillItems() {
	if len(m.ichunks) == 0 {
		return
	}
	keys := make([]types.Datum, m.items)
	out := make([]msItem, 0, m.items)
	for _, c := range m.ichunks {
		for _, x := range c {
			keys[len(out)] = types.NewInt(m.intType, x.v)
			out = append(out, msItem{key: keys[len(out) : len(out)+1 : len(out)+1], n: x.n})
		}
	}
	m.ichunks = nil
	m.setChunks(out)
}

// setChunks makes out, sorted, the items: cut into full chunks.
func (m *multiset) setChunks(out []msItem) {
	clear(m.chunks)
	m.chunks, m.items = m.chunks[:0], len(out)
	for len(out) > 0 {
		c := out[:min(len(out), msChunkMax):min(len(out), msChunkMax)]
		out = out[len(c):]
		m.chunks = append(m.chunks, c)
	}
}

// ascend calls f for each item in key order until f returns false. The
// item is valid only during the call.
func (m *multiset) ascend(f func(it *msItem) bool) {
	m.flush()
	if len(m.ichunks) > 0 {
		it := &msItem{key: make(types.Row, 1)}
		for _, c := range m.ichunks {
			for _, x := range c {
				it.key[0], it.n = types.NewInt(m.intType, x.v), x.n
				if !f(it) {
					return
				}
			}
		}
		return
	}
	for _, c := range m.chunks {
		for i := range c {
			if !f(&c[i]) {
				return
			}
		}
	}
}

// extreme returns the first key of a positive count in key order, or the
// last when last is set: the result of min or max.
func (m *multiset) extreme(last bool) (types.Datum, bool) {
	m.flush()
	if len(m.ichunks) > 0 {
		for k := range m.ichunks {
			ci := k
			if last {
				ci = len(m.ichunks) - 1 - k
			}
			c := m.ichunks[ci]
			for j := range c {
				i := j
				if last {
					i = len(c) - 1 - j
				}
				if c[i].n > 0 {
					return types.NewInt(m.intType, c[i].v), true
				}
			}
		}
		return types.Datum{}, false
	}
	var out types.Datum
	found := false
	visit := func(it *msItem) bool {
		if it.n > 0 {
			out, found = it.key[0], true
			return false
		}
		return true
	}
	if last {
		m.descend(visit)
	} else {
		m.ascend(visit)
	}
	return out, found
}

// descend calls f for each item in reverse key order until f returns
// false. The item is valid only during the call.
func (m *multiset) descend(f func(it *msItem) bool) {
	m.flush()
	if len(m.ichunks) > 0 {
		it := &msItem{key: make(types.Row, 1)}
		for ci := len(m.ichunks) - 1; ci >= 0; ci-- {
			c := m.ichunks[ci]
			for i := len(c) - 1; i >= 0; i-- {
				it.key[0], it.n = types.NewInt(m.intType, c[i].v), c[i].n
				if !f(it) {
					return
				}
			}
		}
		return
	}
	for ci := len(m.chunks) - 1; ci >= 0; ci-- {
		c := m.chunks[ci]
		for i := len(c) - 1; i >= 0; i-- {
			if !f(&c[i]) {
				return
			}
		}
	}
}

// flush applies every pending change.
//
// The result is the one of applying the changes one by one in arrival
// order, where each change replaces an equal key's item by one with its own
// key (keys can compare equal and print differently, 1.0 and 1.00): for each
// run of equal keys the last key is kept, with the sum of the run's diffs
// folded into the item's count, removed if that is zero.
func (m *multiset) flush() {
	if len(m.ints) > 0 {
		m.flushInts()
		return
	}
	if len(m.pending) == 0 {
		return
	}
	m.spillItems()
	p := m.pending
	if len(p) > 1 {
		slices.SortFunc(p, func(a, b msPending) int {
			if c := m.cmp(a.key, b.key); c != 0 {
				return c
			}
			return a.seq - b.seq
		})
	}
	// Merge runs of equal keys in place: p[:n] are the runs' results.
	n, width := 0, 0
	for i := 0; i < len(p); {
		j, sum := i, int64(0)
		for ; j < len(p) && m.cmp(p[i].key, p[j].key) == 0; j++ {
			sum += p[j].n
		}
		p[n] = msPending{key: p[j-1].key, n: sum}
		width += len(p[j-1].key)
		n++
		i = j
	}
	m.applyRuns(p[:n], width)
	clear(m.pending)
	clear(m.keyBuf)
	m.pending, m.keyBuf = m.pending[:0], m.keyBuf[:0]
	if cap(m.pending) > 4096 {
		// A snapshot's buffers are not worth keeping per group.
		m.pending, m.keyBuf = nil, nil
	}
}

// flushInts is flush of the changes in ints: sorted as (value, diff)
// pairs — equal integers of one type are one key, so arrival order does
// not matter — summed into runs, and applied.
func (m *multiset) flushInts() {
	c := m.ints
	c = sortInts(c)
	n := 0
	for i := 0; i < len(c); {
		j, sum := i, int64(0)
		for ; j < len(c) && c[j].v == c[i].v; j++ {
			sum += c[j].n
		}
		c[n] = msInt{v: c[i].v, n: sum}
		n++
		i = j
	}
	switch {
	case len(m.chunks) == 0 && n*msMergeRatio >= m.items:
		m.mergeInts(c[:n])
	case len(m.chunks) == 0:
		for _, x := range c[:n] {
			m.applyInt(x.v, x.n)
		}
	case n*msMergeRatio >= m.items:
		key := types.Row{{}} // the run's key, copied by merge
		m.merge(n, n, func(i int) (types.Row, int64) {
			key[0] = types.NewInt(m.intType, c[i].v)
			return key, c[i].n
		})
	default:
		keys := make([]types.Datum, n)
		for i := range keys {
			keys[i] = types.NewInt(m.intType, c[i].v)
			m.apply(keys[i:i+1:i+1], c[i].n)
		}
	}
	m.ints = m.ints[:0]
	if cap(m.ints) > 4*m.items+1024 {
		// Kept while it is small next to the items (an UPDATE of every row
		// refills it at every step); a snapshot's is dropped.
		m.ints = nil
	}
}

// msInt is a pending change of an integer key.
type msInt struct{ v, n int64 }

// sortInts sorts changes by value, not stably, and returns them (in c or
// in a new array). Many changes are radix-sorted on the bytes of v − min
// that vary, a pass each (two or three for the values of an int column):
// comparison-sorting the 20k changes of each of 20 min/max groups was most
// of a flush under UPDATE events SET v = v + 1.
func sortInts(c []msInt) []msInt {
	if slices.IsSortedFunc(c, func(a, b msInt) int { return cmp.Compare(a.v, b.v) }) {
		return c // a restored state's items, say
	}
	if len(c) < 256 {
		slices.SortFunc(c, func(a, b msInt) int { return cmp.Compare(a.v, b.v) })
		return c
	}
	lo, hi := c[0].v, c[0].v
	for _, x := range c {
		lo, hi = min(lo, x.v), max(hi, x.v)
	}
	span := uint64(hi) - uint64(lo) // the values' spread, without overflow
	tmp := make([]msInt, len(c))
	for shift := uint(0); shift < 64 && span>>shift != 0; shift += 8 {
		var count [256]int
		for _, x := range c {
			count[byte((uint64(x.v)-uint64(lo))>>shift)]++
		}
		at := 0
		for i, n := range count {
			count[i] = at
			at += n
		}
		for _, x := range c {
			d := byte((uint64(x.v) - uint64(lo)) >> shift)
			tmp[count[d]] = x
			count[d]++
		}
		c, tmp = tmp, c
	}
	return c
}

// applyRuns applies sorted changes, one per distinct key (width datums in
// all): merged in one pass when they are many next to the items, else
// each by binary search.
func (m *multiset) applyRuns(runs []msPending, width int) {
	if len(runs)*msMergeRatio >= m.items {
		m.merge(len(runs), width, func(i int) (types.Row, int64) { return runs[i].key, runs[i].n })
		return
	}
	// The items keep the keys: copied into one slab, out of the pending
	// buffer, which is reused.
	keys := make([]types.Datum, width)
	for _, c := range runs {
		k := keys[:len(c.key):len(c.key)]
		keys = keys[len(k):]
		copy(k, c.key)
		m.apply(k, c.n)
	}
}

// merge applies n sorted changes, one per distinct key, in one pass over
// the items, and rebuilds the chunks full from one new array. run(i) is the
// i-th change: its key (valid until the next call) and diff; width is the
// datums of all their keys. The surviving keys are copied into one slab as
// they are emitted, so that the slabs of earlier flushes are not kept alive
// by a few keys each.
func (m *multiset) merge(n, width int, run func(i int) (types.Row, int64)) {
	for _, c := range m.chunks {
		for i := range c {
			width += len(c[i].key)
		}
	}
	out := make([]msItem, 0, m.items+n)
	keys := make([]types.Datum, 0, width) // never grows: the keys stay put
	emit := func(key types.Row, count int64) {
		if count != 0 {
			keys = append(keys, key...)
			out = append(out, msItem{key: keys[len(keys)-len(key) : len(keys) : len(keys)], n: count})
		}
	}
	ci, i := 0, 0 // the next item: m.chunks[ci][i]
	for r := 0; r < n; r++ {
		key, count := run(r)
		for ci < len(m.chunks) {
			it := &m.chunks[ci][i]
			c := m.cmp(it.key, key)
			if c > 0 {
				break
			}
			if c == 0 {
				count += it.n
			} else {
				emit(it.key, it.n)
			}
			if i++; i == len(m.chunks[ci]) {
				ci, i = ci+1, 0
			}
			if c == 0 {
				break
			}
		}
		emit(key, count)
	}
	for ; ci < len(m.chunks); ci, i = ci+1, 0 {
		for _, it := range m.chunks[ci][i:] {
			emit(it.key, it.n)
		}
	}
	m.setChunks(out)
}

// mergeInts is merge of sorted changes of integer keys, one per value, into
// the items in ichunks (or none).
func (m *multiset) mergeInts(runs []msInt) {
	out := make([]msInt, 0, m.items+len(runs))
	ci, i := 0, 0 // the next item: m.ichunks[ci][i]
	for _, r := range runs {
		for ci < len(m.ichunks) {
			it := m.ichunks[ci][i]
			if it.v > r.v {
				break
			}
			if it.v == r.v {
				r.n += it.n
			} else {
				out = append(out, it)
			}
			if i++; i == len(m.ichunks[ci]) {
				ci, i = ci+1, 0
			}
			if it.v == r.v {
				break
			}
		}
		if r.n != 0 {
			out = append(out, r)
		}
	}
	for ; ci < len(m.ichunks); ci, i = ci+1, 0 {
		out = append(out, m.ichunks[ci][i:]...)
	}
	clear(m.ichunks)
	m.ichunks, m.items = m.ichunks[:0], len(out)
	for len(out) > 0 {
		c := out[:min(len(out), msChunkMax):min(len(out), msChunkMax)]
		out = out[len(c):]
		m.ichunks = append(m.ichunks, c)
	}
}

// applyInt is apply of an integer key to the items in ichunks (or none).
func (m *multiset) applyInt(v, n int64) {
	ci, _ := slices.BinarySearchFunc(m.ichunks, v, func(c []msInt, v int64) int { return cmp.Compare(c[len(c)-1].v, v) })
	if ci == len(m.ichunks) {
		if n == 0 {
			return
		}
		if ci == 0 {
			m.ichunks = append(m.ichunks, []msInt{{v: v, n: n}})
			m.items++
			return
		}
		ci--
	}
	c := m.ichunks[ci]
	i, found := slices.BinarySearchFunc(c, v, func(x msInt, v int64) int { return cmp.Compare(x.v, v) })
	switch {
	case found:
		if c[i].n += n; c[i].n != 0 {
			return
		}
		m.items--
		if len(c) == 1 {
			m.ichunks = slices.Delete(m.ichunks, ci, ci+1)
			return
		}
		m.ichunks[ci] = slices.Delete(c, i, i+1)
	case n != 0:
		m.items++
		c = slices.Insert(c, i, msInt{v: v, n: n})
		if len(c) <= msChunkMax {
			m.ichunks[ci] = c
			return
		}
		half := len(c) / 2
		lo := append(make([]msInt, 0, msChunkMax), c[:half]...)
		hi := append(make([]msInt, 0, msChunkMax), c[half:]...)
		m.ichunks[ci] = lo
		m.ichunks = slices.Insert(m.ichunks, ci+1, hi)
	}
}

// apply adds n to key's count: a binary search for its chunk and its place
// in it.
func (m *multiset) apply(key types.Row, n int64) {
	// The first chunk whose last key is ≥ key, or the last chunk.
	ci, _ := slices.BinarySearchFunc(m.chunks, key, func(c []msItem, k types.Row) int { return m.cmp(c[len(c)-1].key, k) })
	if ci == len(m.chunks) {
		if n == 0 {
			return
		}
		if ci == 0 {
			m.chunks = append(m.chunks, []msItem{{key: key, n: n}})
			m.items++
			return
		}
		ci--
	}
	c := m.chunks[ci]
	i, found := slices.BinarySearchFunc(c, key, func(it msItem, k types.Row) int { return m.cmp(it.key, k) })
	switch {
	case found:
		c[i].key = key
		if c[i].n += n; c[i].n != 0 {
			return
		}
		m.items--
		if len(c) == 1 {
			m.chunks = slices.Delete(m.chunks, ci, ci+1)
			return
		}
		m.chunks[ci] = slices.Delete(c, i, i+1)
	case n != 0:
		m.items++
		c = slices.Insert(c, i, msItem{key: key, n: n})
		if len(c) <= msChunkMax {
			m.chunks[ci] = c
			return
		}
		// Split: the halves get arrays of their own, with room to grow.
		half := len(c) / 2
		lo := append(make([]msItem, 0, msChunkMax), c[:half]...)
		hi := append(make([]msItem, 0, msChunkMax), c[half:]...)
		m.chunks[ci] = lo
		m.chunks = slices.Insert(m.chunks, ci+1, hi)
	}
}
