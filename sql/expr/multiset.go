package expr

import (
	"cmp"
	"slices"
	"sync"

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
	if m.pending == nil {
		// Borrow a large batch's buffers, if one left them (flush).
		if b, _ := msBuffers.Get().(*msBuffer); b != nil {
			m.pending, m.keyBuf = b.pending, b.keyBuf
		}
	}
	at := len(m.keyBuf)
	m.keyBuf = append(m.keyBuf, key...)
	m.pending = append(m.pending, msPending{key: m.keyBuf[at:len(m.keyBuf):len(m.keyBuf)], n: diff, seq: len(m.pending)})
}

// ascend calls f for each item in key order until f returns false.
func (m *multiset) ascend(f func(it *msItem) bool) {
	m.flush()
	for _, c := range m.chunks {
		for i := range c {
			if !f(&c[i]) {
				return
			}
		}
	}
}

// descend calls f for each item in reverse key order until f returns false.
func (m *multiset) descend(f func(it *msItem) bool) {
	m.flush()
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
	if len(m.pending) == 0 {
		return
	}
	p, n, width := m.pending, 0, 0
	if m.intKeys() {
		n = m.runsOfInts()
		width = n
	} else {
		if len(p) > 1 {
			slices.SortFunc(p, func(a, b msPending) int {
				if c := m.cmp(a.key, b.key); c != 0 {
					return c
				}
				return a.seq - b.seq
			})
		}
		// Merge runs of equal keys in place: p[:n] are the runs' results.
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
	}
	if n*msMergeRatio >= m.items {
		m.merge(p[:n]) // copies the keys it keeps
	} else {
		// The items keep the keys: copied into one slab, out of the
		// pending buffer, which is reused.
		keys := make([]types.Datum, width)
		for _, c := range p[:n] {
			k := keys[:len(c.key):len(c.key)]
			keys = keys[len(k):]
			copy(k, c.key)
			m.apply(k, c.n)
		}
	}
	clear(m.pending)
	clear(m.keyBuf)
	m.pending, m.keyBuf = m.pending[:0], m.keyBuf[:0]
	if cap(m.pending) > msKeepPending {
		// A large batch's buffers go to a pool for the next large batch
		// rather than stay with this group, or be dropped: UPDATE events
		// SET v = v + 1 grew them from nothing in every min/max group at
		// every step, 60% of the bytes it allocated.
		msBuffers.Put(&msBuffer{pending: m.pending, keyBuf: m.keyBuf})
		m.pending, m.keyBuf = nil, nil
	}
}

// msKeepPending is the largest pending buffer a multiset keeps between
// flushes; larger ones go to msBuffers.
const msKeepPending = 4096

// msBuffer is a pair of pending buffers, pooled.
type msBuffer struct {
	pending []msPending
	keyBuf  []types.Datum
}

var msBuffers sync.Pool // of *msBuffer, cleared

// runsOfInts is flush's sort and merge of runs for intKeys: the values
// and diffs are sorted as pairs of integers (equal integers of one type
// are the same key, so arrival order does not matter), 3× faster than
// sorting the pending changes through their keys. It leaves the runs in
// m.pending[:n], their keys rewritten in m.keyBuf, and returns n.
func (m *multiset) runsOfInts() int {
	p := m.pending
	t := p[0].key[0].Type()
	vs := make([]msInt, len(p))
	for i := range p {
		vs[i] = msInt{v: p[i].key[0].Int(), n: p[i].n}
	}
	slices.SortFunc(vs, func(a, b msInt) int { return cmp.Compare(a.v, b.v) })
	n := 0
	for i := 0; i < len(vs); {
		j, sum := i, int64(0)
		for ; j < len(vs) && vs[j].v == vs[i].v; j++ {
			sum += vs[j].n
		}
		m.keyBuf[n] = types.NewInt(t, vs[i].v)
		p[n] = msPending{key: m.keyBuf[n : n+1 : n+1], n: sum}
		n++
		i = j
	}
	return n
}

type msInt struct{ v, n int64 }

// intKeys reports whether every pending key is one non-NULL integer of one
// type (min and max of an integer column), which types.Compare orders by
// value.
func (m *multiset) intKeys() bool {
	if !m.byDatum {
		return false
	}
	t := m.pending[0].key[0].Type()
	if !t.IsInteger() {
		return false
	}
	for i := range m.pending {
		if d := &m.pending[i].key[0]; d.IsNull() || d.Type() != t {
			return false
		}
	}
	return true
}

// merge applies sorted changes, one per distinct key, in one pass over the
// items, and rebuilds the chunks full from one new array. The surviving
// keys are copied into one slab, so that the slabs of earlier flushes are
// not kept alive by a few keys each.
func (m *multiset) merge(changes []msPending) {
	out := make([]msItem, 0, m.items+len(changes))
	width := 0
	emit := func(it msItem) {
		if it.n != 0 {
			out = append(out, it)
			width += len(it.key)
		}
	}
	ci, i := 0, 0 // the next item: m.chunks[ci][i]
	for _, c := range changes {
		for ci < len(m.chunks) {
			it := m.chunks[ci][i]
			cmp := m.cmp(it.key, c.key)
			if cmp > 0 {
				break
			}
			if cmp == 0 {
				c.n += it.n
			} else {
				emit(it)
			}
			if i++; i == len(m.chunks[ci]) {
				ci, i = ci+1, 0
			}
			if cmp == 0 {
				break
			}
		}
		emit(msItem{key: c.key, n: c.n})
	}
	for ; ci < len(m.chunks); ci, i = ci+1, 0 {
		for _, it := range m.chunks[ci][i:] {
			emit(it)
		}
	}
	keys := make([]types.Datum, width)
	for i := range out {
		k := keys[:len(out[i].key):len(out[i].key)]
		keys = keys[len(k):]
		copy(k, out[i].key)
		out[i].key = k
	}
	clear(m.chunks)
	m.chunks, m.items = m.chunks[:0], len(out)
	for len(out) > 0 {
		c := out[:min(len(out), msChunkMax):min(len(out), msChunkMax)]
		out = out[len(c):]
		m.chunks = append(m.chunks, c)
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
