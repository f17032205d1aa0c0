package dataflow

import (
	"hash/maphash"
	"slices"
	"sync/atomic"

	"github.com/google/btree"
	"github.com/tributary-db/tributary/sql/types"
)

// Timestamp is a point on Tributary's one timeline: milliseconds since the
// Unix epoch, handed out by the timestamp oracle.
type Timestamp = uint64

// Update is one change to a collection: Diff copies of Row are added
// (Diff > 0) or removed (Diff < 0). All updates handed to one step share the
// step's timestamp, so a batch ([]Update) carries no time of its own.
type Update struct {
	Row  types.Row
	Diff int64
}

// Consolidate sorts a batch by row, adds the diffs of equal rows and drops
// rows whose diffs cancel. It reorders and reuses batch's backing array.
func Consolidate(batch []Update) []Update {
	if len(batch) < 2 {
		if len(batch) == 1 && batch[0].Diff == 0 {
			return batch[:0]
		}
		return batch
	}
	slices.SortFunc(batch, func(a, b Update) int { return types.CompareRows(a.Row, b.Row) })
	out := batch[:0]
	for _, u := range batch {
		if n := len(out); n > 0 && types.RowsEqual(out[n-1].Row, u.Row) {
			out[n-1].Diff += u.Diff
			if out[n-1].Diff == 0 {
				out = out[:n-1]
			}
			continue
		}
		if u.Diff != 0 {
			out = append(out, u)
		}
	}
	return out
}

// Index is a multiset of rows ordered by row: the state behind a table's or a
// view's contents. It is not safe for concurrent use; the coordinator
// serializes writers and readers.
type Index struct {
	tree *btree.BTreeG[*indexEntry]
	n    int64 // total multiplicity
	// appending is the entry Apply is inserting when it orders after
	// every entry of the tree: the tree's less orders it without
	// comparing rows. Clones share the tree's less, and are read while
	// the original changes, hence atomic; a clone never holds the entry.
	// nil in a clone, whose Apply compares every time.
	appending *atomic.Pointer[indexEntry]
}

type indexEntry struct {
	row   types.Row
	count int64
}

// indexDegree is the B-tree's degree (nodes of up to 2×indexDegree−1
// entries). 32 rather than 16: two levels fewer over 10M rows; a restart of
// 10M rows under five views took 3.45–3.52 s against 3.60–3.63 s, an UPDATE
// of 100k rows under them 1.01–1.02M against 0.95–0.99M updates/s, and COPY
// was level (BenchmarkDurableCopy).
const indexDegree = 32

// NewIndex returns an empty index.
func NewIndex() *Index {
	appending := new(atomic.Pointer[indexEntry])
	less := func(a, b *indexEntry) bool {
		if p := appending.Load(); p != nil {
			// p orders after every other entry.
			if a == p {
				return false
			}
			if b == p {
				return true
			}
		}
		return types.CompareRows(a.row, b.row) < 0
	}
	return &Index{tree: btree.NewG(indexDegree, less), appending: appending}
}

// indexEntryBlock is the most entries Apply allocates at once.
const indexEntryBlock = 1024

// Apply adds a batch of updates. A count that would go negative is clamped
// at the caller's risk: it signals a broken invariant upstream.
//
// Rows that order after every row of the index (a checkpoint loaded in
// row order, a COPY of rising keys) are inserted as such: one comparison
// with the greatest row, where a descent compared the row with about
// twenty (log₂ of the rows), most of the B-tree's cost. Apply stops trying
// at the first row of the batch that does not.
//
// Appended entries are allocated in blocks, not one by one (10M
// allocations restoring 10M rows): a block lives while any of its entries
// is in the tree. Blocks start at a few entries, double up to
// indexEntryBlock and never outrun the batch, so a block holds at most as
// many entries as were appended with it, and a few more when the batch
// stops appending (a single-row INSERT allocates one entry).
func (x *Index) Apply(batch []Update) {
	var last *indexEntry // the greatest entry, after an appended row
	tryAppend := x.appending != nil
	var block []indexEntry
	blockSize := 4
	for i, u := range batch {
		if tryAppend && u.Diff != 0 {
			if last == nil {
				last, _ = x.tree.Max()
			}
			if last == nil || types.CompareRows(u.Row, last.row) > 0 {
				if len(block) == 0 {
					blockSize = min(2*blockSize, indexEntryBlock)
					block = make([]indexEntry, min(blockSize, len(batch)-i))
				}
				e := &block[0]
				block = block[1:]
				*e = indexEntry{row: u.Row, count: u.Diff}
				x.appending.Store(e)
				x.tree.ReplaceOrInsert(e)
				last = e
				x.n += u.Diff
				continue
			}
			x.appending.Store(nil)
			tryAppend = false
		}
		addCount(x.tree, u.Row, u.Diff)
		x.n += u.Diff
	}
	if tryAppend {
		x.appending.Store(nil)
	}
}

// Clone returns a snapshot of the index in O(1): the B-tree's nodes are
// shared copy-on-write, and entries are never modified once in a tree
// (addCount replaces them), so after Clone returns the original may keep
// changing while another goroutine reads the clone. Clone itself must not
// run concurrently with a change to x (a checkpoint clones under the
// coordinator's write lock).
func (x *Index) Clone() *Index { return &Index{tree: x.tree.Clone(), n: x.n} }

// Len is the number of rows, counting multiplicity.
func (x *Index) Len() int64 { return x.n }

// Max returns the greatest row, if the index holds any.
func (x *Index) Max() (types.Row, bool) {
	e, ok := x.tree.Max()
	if !ok {
		return nil, false
	}
	return e.row, true
}

// Count returns the multiplicity of row.
func (x *Index) Count(row types.Row) int64 {
	if e, ok := x.tree.Get(&indexEntry{row: row}); ok {
		return e.count
	}
	return 0
}

// Scan calls f for every distinct row with its multiplicity, in row order,
// until f returns false. f must not modify the index or retain row's slice
// beyond the call unless it copies it.
func (x *Index) Scan(f func(row types.Row, count int64) bool) {
	x.tree.Ascend(func(e *indexEntry) bool { return f(e.row, e.count) })
}

// ScanFrom is Scan starting at the first row ≥ from.
func (x *Index) ScanFrom(from types.Row, f func(row types.Row, count int64) bool) {
	x.tree.AscendGreaterOrEqual(&indexEntry{row: from}, func(e *indexEntry) bool { return f(e.row, e.count) })
}

// Snapshot returns the contents as a batch of insertions.
func (x *Index) Snapshot() []Update {
	out := make([]Update, 0, x.tree.Len())
	x.Scan(func(row types.Row, count int64) bool {
		out = append(out, Update{Row: row, Diff: count})
		return true
	})
	return out
}

// Rows returns the contents as rows, each repeated by its multiplicity.
func (x *Index) Rows() []types.Row {
	out := make([]types.Row, 0, x.n)
	x.Scan(func(row types.Row, count int64) bool {
		for i := int64(0); i < count; i++ {
			out = append(out, row)
		}
		return true
	})
	return out
}

// addCount adds diff to row's multiplicity in a multiset tree, removing the
// row when it reaches zero.
//
// It descends the tree once for a new row (the common case of an insert):
// the entry goes in directly, and only if the row was there already is the
// old count folded in.
func addCount(tree *btree.BTreeG[*indexEntry], row types.Row, diff int64) {
	if diff == 0 {
		return
	}
	e := &indexEntry{row: row, count: diff}
	old, existed := tree.ReplaceOrInsert(e)
	if !existed {
		return
	}
	e.row = old.row
	e.count += old.count
	if e.count == 0 {
		tree.Delete(e)
	}
}

// consolidateSortBelow is the batch size under which consolidator sorts, as
// Consolidate does: for a few rows a sort is as cheap as hashing.
const consolidateSortBelow = 256

// consolidator consolidates the batches passed between a dataflow's
// operators. Operators need their inputs consolidated (each row once, no
// zero diffs) but not ordered, so a large batch is consolidated by hashing
// in O(n), keeping the first occurrence of each row in input order, instead
// of sorted in O(n log n) with a full row comparison per step: on the
// initial build of a view over 1M rows the sorts were a third of the CPU
// (BenchmarkViewInitialBuild). Its tables are reused from step to step.
type consolidator struct {
	seed   maphash.Seed
	buf    []byte
	slots  []int32  // open addressing over out's indexes, +1 (0 is empty)
	hashes []uint64 // hashes[i] is the hash of out[i].Row
}

// consolidate is Consolidate without the ordering: rows equal under
// types.RowsEqual are merged (their diffs added, the first one's Row kept)
// and zero diffs dropped. It reuses batch's backing array.
func (c *consolidator) consolidate(batch []Update) []Update {
	if len(batch) < consolidateSortBelow {
		return Consolidate(batch)
	}
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	size := 1
	for size < 2*len(batch) {
		size <<= 1
	}
	if cap(c.slots) < size {
		c.slots = make([]int32, size)
	} else {
		c.slots = c.slots[:size]
		clear(c.slots)
	}
	mask := uint64(size - 1)
	c.hashes = c.hashes[:0]
	out := batch[:0]
	for _, u := range batch {
		c.buf = types.RowKey(c.buf[:0], u.Row)
		h := maphash.Bytes(c.seed, c.buf)
		for s := h & mask; ; s = (s + 1) & mask {
			at := c.slots[s]
			if at == 0 {
				out = append(out, u)
				c.hashes = append(c.hashes, h)
				c.slots[s] = int32(len(out))
				break
			}
			if e := &out[at-1]; c.hashes[at-1] == h && types.RowsEqual(e.Row, u.Row) {
				e.Diff += u.Diff
				break
			}
		}
	}
	// Drop the rows whose diffs cancelled, in place.
	kept := out[:0]
	for _, u := range out {
		if u.Diff != 0 {
			kept = append(kept, u)
		}
	}
	clear(out[len(kept):])
	return kept
}
