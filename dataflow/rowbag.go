package dataflow

import (
	"hash/maphash"
	"slices"

	"github.com/tributary-db/tributary/sql/types"
)

// rowBag is an unordered multiset of rows: a top-k group's tail, and the
// rows under one key of an Arrangement. A row is found by a hash of its
// types.RowKey encoding (types.HashRow) and told apart from other rows of
// that hash by types.RowsEqual, so that keeping a row costs no key string and no entry
// of its own (in a map[string] the key was an allocation per row, a fifth
// of an UPDATE's allocations under an ORDER BY … LIMIT view). As with a
// B-tree of rows, adding a row that equals one already there keeps the old
// one.
//
// The rows are kept dense in entries, in no order, and found through an
// open-addressing table of slots (linear probing, at most half full),
// each slot 8 bytes: a 32-bit hash of its row and the row's index in
// entries. A row costs its entry (32 bytes), its hash (4) and two to four
// slots; in a map[uint64]indexEntry it cost about 94 bytes (a restored
// top-k's tail of 1M rows) and the map's growth rehashed every entry.
// A removed row's place in entries is taken by the last one.
type rowBag struct {
	mask    uint64       // applied to hashes: tests force collisions
	entries []indexEntry // the rows, each with a count that is not 0
	hashes  []uint32     // hashes[i] is the hash of entries[i].row
	slots   []uint64     // hash<<32 | index in entries + 1; 0 is empty
	n       int          // distinct rows: len(entries)
	buf     []byte       // a row's encoding
	// placed is the entries in slots: less than n after appendRow, until
	// place (for a restored index's bag, until its first change).
	placed int
}

var (
	rowBagSeed = maphash.MakeSeed()
	rowBagKey  = maphash.String(rowBagSeed, "rowBag")
)

// newRowBag returns a bag with room for size rows.
func newRowBag(size int) *rowBag {
	b := &rowBag{mask: ^uint64(0)}
	if size > 0 {
		b.entries = make([]indexEntry, 0, size)
		b.hashes = make([]uint32, 0, size)
		b.slots = make([]uint64, slotsFor(size))
	}
	return b
}

// slotsFor is the table size for n rows: a power of two, at least 2n.
func slotsFor(n int) int {
	s := 8
	for s < 2*n {
		s <<= 1
	}
	return s
}

func (b *rowBag) hash(row types.Row) uint32 {
	var h uint64
	h, b.buf = types.HashRow(rowBagSeed, rowBagKey, row, b.buf)
	h &= b.mask
	return uint32(h>>32) ^ uint32(h)
}

// find returns the slot of row, whose hash is h, and whether it holds the
// row; when it does not, the slot is the empty one where row belongs.
// REQUIRES: a table with an empty slot.
func (b *rowBag) find(row types.Row, h uint32) (int, bool) {
	m := len(b.slots) - 1
	for s := int(h) & m; ; s = (s + 1) & m {
		sl := b.slots[s]
		if sl == 0 {
			return s, false
		}
		if uint32(sl>>32) == h && types.RowsEqual(b.entries[uint32(sl)-1].row, row) {
			return s, true
		}
	}
}

// add adds diff copies of row, and removes the row when its count reaches
// zero.
func (b *rowBag) add(row types.Row, diff int64) {
	if diff == 0 {
		return
	}
	b.place()
	if 2*(b.n+1) > len(b.slots) {
		b.grow()
	}
	h := b.hash(row)
	s, found := b.find(row, h)
	if !found {
		b.slots[s] = uint64(h)<<32 | uint64(len(b.entries)+1)
		b.entries = append(b.entries, indexEntry{row: row, count: diff})
		b.hashes = append(b.hashes, h)
		b.n++
		b.placed++
		return
	}
	i := int(uint32(b.slots[s])) - 1
	if b.entries[i].count += diff; b.entries[i].count != 0 {
		return
	}
	b.deleteSlot(s)
	// The last entry takes the removed one's place: its slot is repointed.
	last := len(b.entries) - 1
	if i != last {
		h := b.hashes[last]
		m := len(b.slots) - 1
		for s := int(h) & m; ; s = (s + 1) & m {
			if int(uint32(b.slots[s])) == last+1 {
				b.slots[s] = uint64(h)<<32 | uint64(i+1)
				break
			}
		}
		b.entries[i], b.hashes[i] = b.entries[last], b.hashes[last]
	}
	b.entries[last] = indexEntry{}
	b.entries, b.hashes = b.entries[:last], b.hashes[:last]
	b.n--
	b.placed--
}

// appendRow adds a row of diff copies that the caller knows not to be in
// the bag, without looking for it: restoring a top-k's tail, whose rows
// the checkpoint holds once each, or loading a table's rows into an
// arrangement (Arrangement.AddColsDistinct). Inserted one by one, each row
// cost a cache miss in a table of 2M slots (16 MB for a tail of 1M rows),
// most of the time of restoring that tail. The row is hashed now, while
// it is in cache (hashing 10M rows of a restored index later, at their
// bags' first changes, was 1.3 s of cache misses), and placed by place,
// which add calls first: until then the bag serves appendRow, each (which
// sees a row the bag held already twice, until place folds it) and place.
// An arrangement's bags are left so after a restart until their first
// change, so that a key never changed costs no slots and no placing.
func (b *rowBag) appendRow(row types.Row, diff int64) {
	if diff == 0 {
		return
	}
	if len(b.entries) == cap(b.entries) {
		// Double: append grows a large slice by a quarter, and a load of
		// 10M rows into 1000 bags then left three times its entries
		// behind as garbage, to be faulted in fresh while the collector
		// is off.
		b.entries = slices.Grow(b.entries, max(len(b.entries), 4))
		b.hashes = slices.Grow(b.hashes, max(len(b.hashes), 4))
	}
	b.entries = append(b.entries, indexEntry{row: row, count: diff})
	b.hashes = append(b.hashes, b.hash(row))
	b.n++
}

// place puts the rows appendRow added into the slots. When they are most
// of the bag, or the table must grow, it is rebuilt with every row placed
// in the order of its home slot, so that its writes sweep the table once
// instead of landing at random; else the new rows are placed one by one,
// in a table small enough to stay in cache while this bag is placed. Rows
// that turn out to equal another (a checkpoint that is not what it should
// be, or a row that was there) are folded by adding every row again one by
// one.
func (b *rowBag) place() {
	if b.placed == len(b.entries) {
		return
	}
	if 2*len(b.entries) > len(b.slots) || 2*b.placed < len(b.entries) {
		b.rebuild()
		return
	}
	m := len(b.slots) - 1
	dup := false
	for i := b.placed; i < len(b.entries); i++ {
		dup = b.placeEntry(i, m) || dup
	}
	b.placed = len(b.entries)
	if dup {
		b.fold()
	}
}

// placeEntry puts entries[i] in the first free slot from its home, and
// reports whether a slot on the way holds an equal row. m is the table's
// mask.
func (b *rowBag) placeEntry(i, m int) bool {
	h := b.hashes[i]
	dup := false
	s := int(h) & m
	for ; b.slots[s] != 0; s = (s + 1) & m {
		if uint32(b.slots[s]>>32) == h && types.RowsEqual(b.entries[uint32(b.slots[s])-1].row, b.entries[i].row) {
			dup = true
		}
	}
	b.slots[s] = uint64(h)<<32 | uint64(i+1)
	return dup
}

// fold rebuilds the bag by adding its entries one by one, which folds
// equal rows (and drops those whose counts cancel).
func (b *rowBag) fold() {
	rows := b.entries
	*b = rowBag{mask: b.mask, buf: b.buf}
	for _, e := range rows {
		b.add(e.row, e.count)
	}
}

// rebuild is place, rebuilding the table with every row.
func (b *rowBag) rebuild() {
	if size := slotsFor(len(b.entries)); len(b.slots) < size {
		b.slots = make([]uint64, size)
	} else {
		clear(b.slots)
	}
	m := len(b.slots) - 1
	// A counting sort of the rows by the top (at most) 16 bits of their
	// home slot: within a bucket they are placed near each other.
	shift := 0
	for len(b.slots)>>shift > 1<<16 {
		shift++
	}
	starts := make([]int32, len(b.slots)>>shift+1)
	for _, h := range b.hashes {
		starts[(int(h)&m)>>shift+1]++
	}
	for i := 1; i < len(starts); i++ {
		starts[i] += starts[i-1]
	}
	order := make([]int32, len(b.hashes))
	for i, h := range b.hashes {
		at := &starts[(int(h)&m)>>shift]
		order[*at] = int32(i)
		*at++
	}
	dup := false
	for _, i := range order {
		dup = b.placeEntry(int(i), m) || dup
	}
	b.placed = len(b.entries)
	if dup {
		b.fold()
	}
}

// deleteSlot empties slot s, shifting back the slots after it in its run
// that may take its place (linear probing's deletion without tombstones).
func (b *rowBag) deleteSlot(s int) {
	m := len(b.slots) - 1
	for j := (s + 1) & m; b.slots[j] != 0; j = (j + 1) & m {
		home := int(uint32(b.slots[j]>>32)) & m
		// The slot at j may move to s unless its home lies cyclically in
		// (s, j]: then s is before where it may be.
		if (j-home)&m >= (j-s)&m {
			b.slots[s] = b.slots[j]
			s = j
		}
	}
	b.slots[s] = 0
}

// grow doubles the table (or makes the first one), placing each row by
// the hash kept with it.
func (b *rowBag) grow() {
	b.slots = make([]uint64, max(slotsFor(b.n+1), 2*len(b.slots)))
	m := len(b.slots) - 1
	for i, h := range b.hashes {
		s := int(h) & m
		for b.slots[s] != 0 {
			s = (s + 1) & m
		}
		b.slots[s] = uint64(h)<<32 | uint64(i+1)
	}
}

// each calls f for every row with its count, in no order, until f returns
// false. f must not change the bag. each only reads: joins stepped in
// parallel read a shared arrangement's bags at once.
func (b *rowBag) each(f func(e indexEntry) bool) {
	for _, e := range b.entries {
		if !f(e) {
			return
		}
	}
}
