package dataflow

import (
	"github.com/tributary-db/tributary/sql/types"
)

// Arrangement is a Z-set of rows indexed by a key: for each key, the rows
// with that key and their multiplicities. Joins keep one per input; it is
// the "arrangement" of differential dataflow. Not safe for concurrent use.
//
// Joins only ever look keys up by equality, so keys are hashed (by their
// types.RowKey encoding) rather than ordered: on the SQLite corpus's
// index/between file a btree keyed by types.CompareRows spent 38% of CPU in
// comparisons; ordered state (Index, TopK) stays on btrees.
type Arrangement struct {
	keys map[string]*arrKey
	buf  []byte
}

type arrKey struct {
	rows map[string]*arrRow // by types.RowKey of the row
}

type arrRow struct {
	row   types.Row
	count int64
}

// NewArrangement returns an empty arrangement.
func NewArrangement() *Arrangement {
	return &Arrangement{keys: map[string]*arrKey{}}
}

// Add adds diff copies of row under key.
func (a *Arrangement) Add(key, row types.Row, diff int64) {
	if diff == 0 {
		return
	}
	a.buf = types.RowKey(a.buf[:0], key)
	e, ok := a.keys[string(a.buf)]
	if !ok {
		e = &arrKey{rows: map[string]*arrRow{}}
		a.keys[string(a.buf)] = e
	}
	k := len(a.buf)
	a.buf = types.RowKey(a.buf, row)
	rowKey := a.buf[k:]
	r, ok := e.rows[string(rowKey)]
	if !ok {
		e.rows[string(rowKey)] = &arrRow{row: row, count: diff}
		return
	}
	r.count += diff
	if r.count == 0 {
		delete(e.rows, string(rowKey))
		if len(e.rows) == 0 {
			delete(a.keys, string(a.buf[:k]))
		}
	}
}

// Lookup calls f for each row stored under key with its multiplicity. f
// must not modify the arrangement.
func (a *Arrangement) Lookup(key types.Row, f func(row types.Row, count int64)) {
	a.buf = types.RowKey(a.buf[:0], key)
	e, ok := a.keys[string(a.buf)]
	if !ok {
		return
	}
	for _, r := range e.rows {
		f(r.row, r.count)
	}
}

// Len returns the number of distinct keys.
func (a *Arrangement) Len() int { return len(a.keys) }
