package types

// RowBlocks hands out rows of datums from blocks of rowBlockDatums instead
// of an allocation each: loads that keep millions of rows (a checkpoint's
// tables, a view's restored state) allocated two or three per row. A block
// lives while any row in it does, which is never more memory than it took
// when it was filled. The zero value is ready; not safe for concurrent use.
type RowBlocks struct {
	free []Datum // the free part of the current block
}

const rowBlockDatums = 4096

// Row returns a row of n zero datums, with no room to append in place.
func (b *RowBlocks) Row(n int) Row {
	if len(b.free) < n {
		b.free = make([]Datum, max(n, rowBlockDatums))
	}
	r := b.free[:n:n]
	b.free = b.free[n:]
	return r
}
