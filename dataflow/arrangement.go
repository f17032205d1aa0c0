package dataflow

import (
	"github.com/google/btree"
	"github.com/tributary-db/tributary/sql/types"
)

// Arrangement is a Z-set of rows indexed by a key: for each key, the rows
// with that key and their multiplicities. Joins keep one per input; it is
// the "arrangement" of differential dataflow. Not safe for concurrent use.
type Arrangement struct {
	tree *btree.BTreeG[*arrKey]
	buf  []byte
}

type arrKey struct {
	key  types.Row
	rows map[string]*arrRow // by types.RowKey of the row
}

type arrRow struct {
	row   types.Row
	count int64
}

// NewArrangement returns an empty arrangement.
func NewArrangement() *Arrangement {
	return &Arrangement{tree: btree.NewG(16, func(a, b *arrKey) bool { return types.CompareRows(a.key, b.key) < 0 })}
}

// Add adds diff copies of row under key.
func (a *Arrangement) Add(key, row types.Row, diff int64) {
	probe := &arrKey{key: key}
	e, ok := a.tree.Get(probe)
	if !ok {
		if diff == 0 {
			return
		}
		e = &arrKey{key: key, rows: map[string]*arrRow{}}
		a.tree.ReplaceOrInsert(e)
	}
	a.buf = types.RowKey(a.buf[:0], row)
	r, ok := e.rows[string(a.buf)]
	if !ok {
		e.rows[string(a.buf)] = &arrRow{row: row, count: diff}
		return
	}
	r.count += diff
	if r.count == 0 {
		delete(e.rows, string(a.buf))
		if len(e.rows) == 0 {
			a.tree.Delete(probe)
		}
	}
}

// Lookup calls f for each row stored under key with its multiplicity. f
// must not modify the arrangement.
func (a *Arrangement) Lookup(key types.Row, f func(row types.Row, count int64)) {
	e, ok := a.tree.Get(&arrKey{key: key})
	if !ok {
		return
	}
	for _, r := range e.rows {
		f(r.row, r.count)
	}
}

// Len returns the number of distinct keys.
func (a *Arrangement) Len() int { return a.tree.Len() }
