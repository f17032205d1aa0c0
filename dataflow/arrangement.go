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

// arrKey is the rows under one key. Most keys hold one row (a primary key,
// a join on a unique column), so that row is kept inline (one), compared
// with types.RowsEqual, and the map (and the rows' encodings) is made only
// when a second row arrives: for a unique key, 2 allocations per row
// instead of 5, and no small map's buckets (BenchmarkDurableCopy).
type arrKey struct {
	one  arrRow             // the only row, while rows is nil
	rows map[string]*arrRow // by types.RowKey of the row, once there were two
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
	a.addKeyed(row, diff)
}

// addKeyed is Add for the key whose types.RowKey encoding is a.buf.
func (a *Arrangement) addKeyed(row types.Row, diff int64) {
	k := len(a.buf)
	keyBytes := a.buf[:k]
	e, ok := a.keys[string(keyBytes)]
	if !ok {
		a.keys[string(keyBytes)] = &arrKey{one: arrRow{row: row, count: diff}}
		return
	}
	if e.rows == nil {
		if types.RowsEqual(e.one.row, row) {
			if e.one.count += diff; e.one.count == 0 {
				delete(a.keys, string(keyBytes))
			}
			return
		}
		a.buf = types.RowKey(a.buf, e.one.row)
		e.rows = map[string]*arrRow{string(a.buf[k:]): {row: e.one.row, count: e.one.count}}
		e.one = arrRow{}
		a.buf = a.buf[:k]
	}
	a.buf = types.RowKey(a.buf, row)
	keyBytes, rowKey := a.buf[:k], a.buf[k:]
	r, ok := e.rows[string(rowKey)]
	if !ok {
		e.rows[string(rowKey)] = &arrRow{row: row, count: diff}
		return
	}
	r.count += diff
	if r.count == 0 {
		delete(e.rows, string(rowKey))
		if len(e.rows) == 0 {
			delete(a.keys, string(keyBytes))
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
	if e.rows == nil {
		f(e.one.row, e.one.count)
		return
	}
	for _, r := range e.rows {
		f(r.row, r.count)
	}
}

// CountEncoded returns the number of rows (with multiplicity) under the
// key whose types.RowKey encoding is key.
func (a *Arrangement) CountEncoded(key string) int64 {
	e, ok := a.keys[key]
	if !ok {
		return 0
	}
	if e.rows == nil {
		return e.one.count
	}
	n := int64(0)
	for _, r := range e.rows {
		n += r.count
	}
	return n
}

// CountEncodedBytes is CountEncoded for a key in a byte slice.
func (a *Arrangement) CountEncodedBytes(key []byte) int64 {
	e, ok := a.keys[string(key)]
	if !ok {
		return 0
	}
	if e.rows == nil {
		return e.one.count
	}
	n := int64(0)
	for _, r := range e.rows {
		n += r.count
	}
	return n
}

// Len returns the number of distinct keys.
func (a *Arrangement) Len() int { return len(a.keys) }
