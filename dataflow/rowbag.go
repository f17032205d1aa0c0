package dataflow

import (
	"hash/maphash"

	"github.com/tributary-db/tributary/sql/types"
)

// rowBag is an unordered multiset of rows: a top-k group's tail, and the
// rows under one key of an Arrangement. A row is found by a hash of its
// types.RowKey encoding and told apart from other rows of that hash by
// types.RowsEqual, so that keeping a row costs no key string and no entry
// of its own (in a map[string] the key was an allocation per row, a fifth
// of an UPDATE's allocations under an ORDER BY … LIMIT view). As with a
// B-tree of rows, adding a row that equals one already there keeps the old
// one.
type rowBag struct {
	mask uint64                  // applied to hashes: tests force collisions
	one  map[uint64]indexEntry   // the first row of each hash
	more map[uint64][]indexEntry // the other rows of a hash; nil until one collides
	n    int                     // distinct rows
	buf  []byte                  // a row's encoding
}

var rowBagSeed = maphash.MakeSeed()

func newRowBag(size int) *rowBag {
	return &rowBag{mask: ^uint64(0), one: make(map[uint64]indexEntry, size)}
}

func (b *rowBag) hash(row types.Row) uint64 {
	b.buf = types.RowKey(b.buf[:0], row)
	return maphash.Bytes(rowBagSeed, b.buf) & b.mask
}

// add adds diff copies of row, and removes the row when its count reaches
// zero.
func (b *rowBag) add(row types.Row, diff int64) {
	h := b.hash(row)
	e, ok := b.one[h]
	switch {
	case !ok:
		b.one[h] = indexEntry{row: row, count: diff}
		b.n++
		return
	case types.RowsEqual(e.row, row):
		if e.count += diff; e.count != 0 {
			b.one[h] = e
			return
		}
		b.n--
		m := b.more[h]
		if len(m) == 0 {
			delete(b.one, h)
			return
		}
		b.one[h] = m[len(m)-1]
		b.setMore(h, m[:len(m)-1])
		return
	}
	m := b.more[h]
	for i := range m {
		if !types.RowsEqual(m[i].row, row) {
			continue
		}
		if m[i].count += diff; m[i].count == 0 {
			b.n--
			m[i] = m[len(m)-1]
			b.setMore(h, m[:len(m)-1])
		}
		return
	}
	if b.more == nil {
		b.more = map[uint64][]indexEntry{}
	}
	b.more[h] = append(m, indexEntry{row: row, count: diff})
	b.n++
}

func (b *rowBag) setMore(h uint64, m []indexEntry) {
	if len(m) == 0 {
		delete(b.more, h)
	} else {
		b.more[h] = m
	}
}

// each calls f for every row with its count, in no order, until f returns
// false. f must not change the bag.
func (b *rowBag) each(f func(e indexEntry) bool) {
	for _, e := range b.one {
		if !f(e) {
			return
		}
	}
	for _, m := range b.more {
		for _, e := range m {
			if !f(e) {
				return
			}
		}
	}
}
