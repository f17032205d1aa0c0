package dataflow

import (
	"encoding/binary"

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
	// A key whose encoding is one integer (intKey) lives in ints, any
	// other in keys; a key has one encoding, so it is in exactly one.
	// Most keys are one integer column (a primary key, a join on an id):
	// under an int64 they cost no string, and the map's entries hold
	// them inline (a COPY of 1M rows spent a fifth of its time in the
	// primary key's map[string]*arrKey).
	keys map[string]arrKey
	ints map[int64]arrKey
	buf  []byte
	// loading: a key's bag takes rows by rowBag.appendRow
	// (AddColsDistinct).
	loading bool
}

// arrKey is the rows under one key. Most keys hold one row (a primary key,
// a join on a unique column), so that row is kept inline (one), compared
// with types.RowsEqual, and a rowBag is made only when a second row
// arrives: a key with one row costs its map entry and nothing else
// (BenchmarkDurableCopy).
type arrKey struct {
	one  arrRow  // the only row, while rows is nil
	rows *rowBag // once there were two
}

type arrRow struct {
	row   types.Row
	count int64
}

// NewArrangement returns an empty arrangement.
func NewArrangement() *Arrangement {
	return &Arrangement{keys: map[string]arrKey{}, ints: map[int64]arrKey{}}
}

// intKey reports whether a key's types.RowKey encoding is that of one
// integer (the not-null tag, the numeric family, 8 bytes big-endian: what
// AppendKey writes for an integer, and for a float or numeric of integral
// value, which equal it), and its value. Routing by the encoding keeps the
// key identity of types.RowKey exactly.
func intKey[E string | []byte](enc E) (int64, bool) {
	if len(enc) != intKeyLen || enc[0] != 1 || enc[1] != byte(types.FamNumeric) {
		return 0, false
	}
	var v uint64
	for i := 2; i < intKeyLen; i++ {
		v = v<<8 | uint64(enc[i])
	}
	return int64(v), true
}

const intKeyLen = 10

// appendIntKey appends the encoding intKey decodes.
func appendIntKey(buf []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(buf, 1, byte(types.FamNumeric)), uint64(v))
}

// Add adds diff copies of row under key.
func (a *Arrangement) Add(key, row types.Row, diff int64) {
	if diff == 0 {
		return
	}
	a.buf = types.RowKey(a.buf[:0], key)
	a.addKeyed(row, diff)
}

// AddCols adds diff copies of row under the key made of its columns cols
// (Add with that key, without building it: a table's indexes).
func (a *Arrangement) AddCols(row types.Row, cols []int, diff int64) {
	if diff == 0 {
		return
	}
	if len(cols) == 1 {
		// An integer encodes as intKey's form of its value.
		if d := &row[cols[0]]; !d.IsNull() && d.Type().IsInteger() {
			a.addInt(d.Int(), row, diff)
			return
		}
	}
	a.buf = a.buf[:0]
	for _, c := range cols {
		a.buf = types.AppendKey(a.buf, row[c])
	}
	a.addKeyed(row, diff)
}

// AddColsDistinct is AddCols of every row of ups, for rows that are not in
// the arrangement and not twice in ups: a checkpoint's rows, or a table's
// when an index is made. A key's rows then go into its bag without a
// lookup or a hash each, and the bag hashes and places them at its first
// change (rowBag.appendRow): added one at a time, rows in the order of the
// table's primary key land in a different key's bag each time, a cache
// miss each (0.6 s of restoring a 3M-row table's index on k, 1000 keys),
// and placing every bag at the end of a restart of 10M rows was a second
// of CPU for keys that may never change. A row that was there after all
// is folded by that first change.
func (a *Arrangement) AddColsDistinct(ups []Update, cols []int) {
	a.loading = true
	for _, u := range ups {
		a.AddCols(u.Row, cols, u.Diff)
	}
	a.loading = false
}

// addKeyed is Add for the key whose types.RowKey encoding is a.buf.
func (a *Arrangement) addKeyed(row types.Row, diff int64) {
	if v, ok := intKey(a.buf); ok {
		a.addInt(v, row, diff)
		return
	}
	e, ok := a.keys[string(a.buf)]
	if !ok {
		a.keys[string(a.buf)] = arrKey{one: arrRow{row: row, count: diff}}
		return
	}
	k := len(a.buf)
	bag := e.rows != nil // then e itself does not change
	if a.addTo(&e, row, diff) {
		if !bag {
			a.keys[string(a.buf[:k])] = e
		}
	} else {
		delete(a.keys, string(a.buf[:k]))
	}
}

// addInt is Add for a key whose encoding is the integer v (intKey).
func (a *Arrangement) addInt(v int64, row types.Row, diff int64) {
	e, ok := a.ints[v]
	if !ok {
		a.ints[v] = arrKey{one: arrRow{row: row, count: diff}}
		return
	}
	a.buf = a.buf[:0]
	bag := e.rows != nil // then e itself does not change
	if a.addTo(&e, row, diff) {
		if !bag {
			a.ints[v] = e
		}
	} else {
		delete(a.ints, v)
	}
}

// addTo adds diff copies of row to an existing key's rows, and reports
// whether any row is left under it. A key's second row moves its rows to a
// rowBag: no key string or entry allocation per row (an UPDATE of every row
// of a table re-filed each under a join's key, 200k allocations a step).
func (a *Arrangement) addTo(e *arrKey, row types.Row, diff int64) bool {
	if e.rows == nil {
		if types.RowsEqual(e.one.row, row) {
			e.one.count += diff
			return e.one.count != 0
		}
		e.rows = newRowBag(2)
		e.rows.add(e.one.row, e.one.count)
		e.one = arrRow{}
	}
	// A bag not placed yet (a restored index's, until it changes) takes
	// insertions unplaced too: a bag is a Z-set, and a row it then holds
	// twice reads as the sum of its two counts until the first retraction
	// places the bag and folds them. The log's tail after a restart, and
	// any run of inserts, then places nothing (the tail's 100k inserts
	// placed all 1000 bags of a 10M-row index on k).
	if a.loading || (diff > 0 && e.rows.placed < len(e.rows.entries)) {
		e.rows.appendRow(row, diff)
	} else {
		e.rows.add(row, diff)
	}
	return e.rows.n > 0
}

// lookup returns the entry of the key whose encoding is enc.
func lookup[E string | []byte](a *Arrangement, enc E) (arrKey, bool) {
	if v, ok := intKey(enc); ok {
		e, ok := a.ints[v]
		return e, ok
	}
	e, ok := a.keys[string(enc)]
	return e, ok
}

// Lookup calls f for each row stored under key with its multiplicity. f
// must not modify the arrangement. Lookup only reads: the joins of views
// stepped in parallel probe a shared arrangement at once (the key is
// encoded on the stack, not in a.buf).
func (a *Arrangement) Lookup(key types.Row, f func(row types.Row, count int64)) {
	var scratch [64]byte
	e, ok := lookup(a, types.RowKey(scratch[:0], key))
	if !ok {
		return
	}
	if e.rows == nil {
		f(e.one.row, e.one.count)
		return
	}
	e.rows.each(func(r indexEntry) bool {
		f(r.row, r.count)
		return true
	})
}

// CountEncoded returns the number of rows (with multiplicity) under the
// key whose types.RowKey encoding is key.
func (a *Arrangement) CountEncoded(key string) int64 { return count(lookup(a, key)) }

// CountEncodedBytes is CountEncoded for a key in a byte slice.
func (a *Arrangement) CountEncodedBytes(key []byte) int64 { return count(lookup(a, key)) }

func count(e arrKey, ok bool) int64 {
	if !ok {
		return 0
	}
	if e.rows == nil {
		return e.one.count
	}
	n := int64(0)
	e.rows.each(func(r indexEntry) bool {
		n += r.count
		return true
	})
	return n
}

// Len returns the number of distinct keys.
func (a *Arrangement) Len() int { return len(a.keys) + len(a.ints) }
