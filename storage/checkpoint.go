package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tributary-db/tributary/sql/types"
)

// Checkpoint describes one checkpoint: the contents of collections (the
// tables and the materialized views' outputs) at one time, and the views'
// operator state, so that a restart reads them instead of replaying the
// updates before it (format.md, "Checkpoints").
type Checkpoint struct {
	// Time is the time the checkpoint is valid at: it reflects every batch
	// with a time ≤ Time and none after.
	Time uint64
	// CatalogTime is the time of the latest catalog record ≤ Time (0 for
	// none): the catalog the collections' ids belong to. Restart replays
	// the catalog up to Time and checks that it ends at this record.
	CatalogTime uint64
	// Collections lists what the checkpoint holds, in id order.
	Collections []CheckpointCollection
}

// CheckpointCollection is one collection's contents in a checkpoint.
type CheckpointCollection struct {
	ID CollectionID
	// Rows is the number of distinct rows (entries) written.
	Rows uint64
	// Meta is the caller's state of the collection that its rows do not
	// hold (a table's watermark, a view's state fingerprint), opaque to
	// the log; nil for none.
	Meta []byte
	// StateChunks is the number of chunks of the collection's State
	// (ReadCheckpointState).
	StateChunks uint64
}

// CheckpointSource is one collection's contents for WriteCheckpoint. Scan
// calls emit with every distinct row and its (positive) multiplicity and
// stops early when emit returns false; it runs outside every lock of the
// caller, so it must read a snapshot (a cloned B-tree), and the rows must
// not change while it runs.
type CheckpointSource struct {
	ID   CollectionID
	Scan func(emit func(row types.Row, count int64) bool)
	// Meta is kept with the checkpoint as CheckpointCollection.Meta.
	Meta []byte
	// State is more of the caller's state of the collection (a view's
	// operator state), opaque to the log and already in memory: each chunk
	// is written as one value and read back as it was.
	State [][]byte
}

// Checkpoints is implemented by a log that keeps checkpoints (PebbleLog).
//
// WriteCheckpoint writes the sources as the checkpoint valid at time,
// replacing the previous one once it is wholly durable: a crash during it
// leaves the previous checkpoint in place. The caller must make sure every
// batch with a time ≤ time is durable first (WaitDurable), so that a
// checkpoint never runs ahead of the log. One WriteCheckpoint at a time.
//
// LatestCheckpoint returns the newest complete checkpoint, or nil.
// ReadCheckpoint calls f with a checkpoint's entries (a collection's rows
// with their multiplicities as Diff), in chunks, collection by collection;
// f owns the entries' rows, but not the slice of entries, which is reused
// once f returns. ReadCheckpointState calls f with each chunk of one
// collection's State, in order; f may keep the chunk. ReplayAfter is Log.Replay with every catalog record,
// but only the updates with a time after `after`: with a checkpoint at
// `after`, the tail to apply on top of it.
type Checkpoints interface {
	WriteCheckpoint(ctx context.Context, time, catalogTime uint64, sources []CheckpointSource) (*Checkpoint, error)
	LatestCheckpoint() (*Checkpoint, error)
	ReadCheckpoint(ctx context.Context, cp *Checkpoint, f func(c CollectionID, entries []Entry) error) error
	ReadCheckpointState(ctx context.Context, cp *Checkpoint, c CollectionID, f func(chunk []byte) error) error
	ReplayAfter(ctx context.Context, after uint64, f func(Batch) error) error
}

var _ Checkpoints = (*PebbleLog)(nil)

// checkpointManifestVersion is the first byte of the checkpoint manifest.
// Version 2 added each collection's Meta, version 3 its StateChunks;
// older manifests (none of them) are still read.
const checkpointManifestVersion = 3

// checkpointChunkBytes bounds one Pebble batch of a checkpoint being
// written, so that a large checkpoint neither sits in memory whole nor
// makes one huge commit.
const checkpointChunkBytes = 4 << 20

const checkpointKeyLen = 1 + 8 + 8 + 8

// checkpointRowsEncoding is the first byte of a value holding a run of a
// checkpoint's rows, each as its count (a varint) and the row (AppendRow),
// about checkpointRowsValueBytes of them (format 5). A key and a value a row
// cost a 10M-row restart a second of Pebble's iteration, and its shutdown as
// much writing them; a version 4 checkpoint's values are single entries
// (RowEncodingVersion), still read.
const checkpointRowsEncoding = 2

// checkpointRowsValueBytes is the size from which a value of rows is
// written and the next one started.
const checkpointRowsValueBytes = 64 << 10

// decodeChunkEntry decodes the first row of a run of them (after
// checkpointRowsEncoding) and returns the rest.
func decodeChunkEntry(buf []byte, arena *rowArena) (Entry, []byte, error) {
	diff, n := binary.Varint(buf)
	if n <= 0 {
		return Entry{}, nil, fmt.Errorf("%w: bad diff", errBadRow)
	}
	row, rest, err := decodeRowArena(buf[n:], arena)
	if err != nil {
		return Entry{}, nil, err
	}
	return Entry{Row: row, Diff: diff}, rest, nil
}

// stateSeq is the first seq of a collection's State chunks in its key
// range: they follow its rows, which never get that far.
const stateSeq = 1 << 63

func appendCheckpointKey(buf []byte, t uint64, c CollectionID, seq uint64) []byte {
	buf = append(buf, prefixCheckpoint)
	buf = binary.BigEndian.AppendUint64(buf, t)
	buf = binary.BigEndian.AppendUint64(buf, c)
	return binary.BigEndian.AppendUint64(buf, seq)
}

// checkpointBounds are the keys of the checkpoint at t: [lo, hi).
func checkpointBounds(t uint64) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint64([]byte{prefixCheckpoint}, t)
	if t == ^uint64(0) {
		return lo, []byte{prefixCheckpoint + 1}
	}
	return lo, binary.BigEndian.AppendUint64([]byte{prefixCheckpoint}, t+1)
}

func encodeManifest(cp *Checkpoint) []byte {
	v := []byte{checkpointManifestVersion}
	v = binary.BigEndian.AppendUint64(v, cp.Time)
	v = binary.BigEndian.AppendUint64(v, cp.CatalogTime)
	v = binary.AppendUvarint(v, uint64(len(cp.Collections)))
	for _, c := range cp.Collections {
		v = binary.BigEndian.AppendUint64(v, c.ID)
		v = binary.AppendUvarint(v, c.Rows)
		v = binary.AppendUvarint(v, uint64(len(c.Meta)))
		v = append(v, c.Meta...)
		v = binary.AppendUvarint(v, c.StateChunks)
	}
	return v
}

func decodeManifest(v []byte) (*Checkpoint, error) {
	bad := func(what string) error { return fmt.Errorf("%w: checkpoint manifest: %s", errBadRow, what) }
	if len(v) < 17 || v[0] < 1 || v[0] > checkpointManifestVersion {
		return nil, bad("unknown version or short")
	}
	withMeta, withState := v[0] >= 2, v[0] >= 3
	cp := &Checkpoint{Time: binary.BigEndian.Uint64(v[1:9]), CatalogTime: binary.BigEndian.Uint64(v[9:17])}
	v = v[17:]
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return nil, bad("bad count")
	}
	v = v[k:]
	for i := uint64(0); i < n; i++ {
		if len(v) < 8 {
			return nil, bad("short collection")
		}
		c := CheckpointCollection{ID: binary.BigEndian.Uint64(v)}
		rows, k := binary.Uvarint(v[8:])
		if k <= 0 {
			return nil, bad("bad row count")
		}
		c.Rows = rows
		v = v[8+k:]
		if withMeta {
			m, k := binary.Uvarint(v)
			if k <= 0 || m > uint64(len(v)-k) {
				return nil, bad("bad collection state")
			}
			if m > 0 {
				c.Meta = slices.Clone(v[k : k+int(m)])
			}
			v = v[k+int(m):]
		}
		if withState {
			s, k := binary.Uvarint(v)
			if k <= 0 {
				return nil, bad("bad state chunk count")
			}
			c.StateChunks = s
			v = v[k:]
		}
		cp.Collections = append(cp.Collections, c)
	}
	if len(v) != 0 {
		return nil, bad("trailing bytes")
	}
	return cp, nil
}

// WriteCheckpoint implements Checkpoints. The rows go in chunks committed
// without a sync; the last chunk carries the manifest (metadata
// "checkpoint") and is synced, which makes the whole checkpoint durable at
// once (the WAL is written in order). Only then is the previous checkpoint
// deleted.
func (l *PebbleLog) WriteCheckpoint(ctx context.Context, t, catalogTime uint64, sources []CheckpointSource) (*Checkpoint, error) {
	l.mu.Lock()
	closing, durable := l.mu.closing, l.mu.durable
	l.mu.Unlock()
	if closing {
		return nil, ErrClosed
	}
	if t > durable {
		return nil, fmt.Errorf("storage: a checkpoint at %d would run ahead of the durable log (%d)", t, durable)
	}
	if err := l.space.admit(0); err != nil {
		return nil, err
	}
	prev, err := l.LatestCheckpoint()
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.Time >= t {
		return nil, fmt.Errorf("storage: a checkpoint at %d is not after the latest one (%d)", t, prev.Time)
	}
	sources = slices.Clone(sources)
	slices.SortFunc(sources, func(a, b CheckpointSource) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	cp := &Checkpoint{Time: t, CatalogTime: catalogTime}
	b := l.db.NewBatch()
	defer func() { b.Close() }()
	var key, val []byte
	// commitChunk commits the batch so far, without a sync, and starts
	// the next.
	commitChunk := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.space.admit(b.Len()); err != nil {
			return err
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Close()
		b = l.db.NewBatch()
		return nil
	}
	for _, src := range sources {
		var rows, seq uint64
		var werr error
		// flush writes the rows gathered in val as the value at the next
		// seq (checkpointRowsEncoding).
		flush := func() error {
			if len(val) == 0 {
				return nil
			}
			key = appendCheckpointKey(key[:0], t, src.ID, seq)
			seq++
			if err := b.Set(key, val, nil); err != nil {
				return err
			}
			val = val[:0]
			if b.Len() >= checkpointChunkBytes {
				return commitChunk()
			}
			return nil
		}
		val = val[:0]
		src.Scan(func(row types.Row, count int64) bool {
			if len(val) == 0 {
				val = append(val, checkpointRowsEncoding)
			}
			val = binary.AppendVarint(val, count)
			val = AppendRow(val, row)
			rows++
			if len(val) >= checkpointRowsValueBytes {
				werr = flush()
			}
			return werr == nil
		})
		if werr == nil {
			werr = flush()
		}
		for i, chunk := range src.State {
			if werr != nil {
				break
			}
			key = appendCheckpointKey(key[:0], t, src.ID, stateSeq+uint64(i))
			if werr = b.Set(key, chunk, nil); werr == nil && b.Len() >= checkpointChunkBytes {
				werr = commitChunk()
			}
		}
		if werr != nil {
			l.abandonCheckpoint(t)
			return nil, fmt.Errorf("storage: writing the checkpoint at %d to %s: %w", t, l.dir, werr)
		}
		cp.Collections = append(cp.Collections, CheckpointCollection{ID: src.ID, Rows: rows, Meta: src.Meta, StateChunks: uint64(len(src.State))})
	}
	if err := b.Set(keyCheckpoint, encodeManifest(cp), nil); err != nil {
		return nil, err
	}
	// The last chunk counts against the reserve too: small checkpoints
	// taken often are all last chunks.
	if err := l.space.admit(b.Len()); err != nil {
		l.abandonCheckpoint(t)
		return nil, fmt.Errorf("storage: writing the checkpoint at %d to %s: %w", t, l.dir, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		l.abandonCheckpoint(t)
		return nil, fmt.Errorf("storage: writing the checkpoint at %d to %s: %w", t, l.dir, err)
	}
	if prev != nil {
		lo, hi := checkpointBounds(prev.Time)
		if err := l.db.DeleteRange(lo, hi, pebble.NoSync); err != nil {
			// Harmless: the next open deletes every checkpoint but the
			// latest.
			l.logger.Warn("deleting the previous checkpoint", "dir", l.dir, "err", err)
		}
	}
	return cp, nil
}

// abandonCheckpoint deletes the rows of a checkpoint that was not finished.
func (l *PebbleLog) abandonCheckpoint(t uint64) {
	lo, hi := checkpointBounds(t)
	if err := l.db.DeleteRange(lo, hi, pebble.NoSync); err != nil {
		l.logger.Warn("deleting an unfinished checkpoint", "dir", l.dir, "err", err)
	}
}

// LatestCheckpoint implements Checkpoints.
func (l *PebbleLog) LatestCheckpoint() (*Checkpoint, error) {
	v, closer, err := l.db.Get(keyCheckpoint)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, l.corruption("the metadata", err)
	}
	defer closer.Close()
	cp, err := decodeManifest(v)
	if err != nil {
		return nil, l.corruption("the metadata", err)
	}
	return cp, nil
}

// dropStaleCheckpoints deletes the rows of every checkpoint but the latest
// (one being written when the process stopped, or one whose deletion after
// its successor was lost).
func (l *PebbleLog) dropStaleCheckpoints() error {
	cp, err := l.LatestCheckpoint()
	if err != nil {
		return err
	}
	all := []byte{prefixCheckpoint}
	end := []byte{prefixCheckpoint + 1}
	if cp == nil {
		return l.db.DeleteRange(all, end, pebble.NoSync)
	}
	lo, hi := checkpointBounds(cp.Time)
	if err := l.db.DeleteRange(all, lo, pebble.NoSync); err != nil {
		return err
	}
	return l.db.DeleteRange(hi, end, pebble.NoSync)
}

// checkpointReadChunk is how many entries ReadCheckpoint hands f at once.
const checkpointReadChunk = 64 << 10

// ReadCheckpoint implements Checkpoints. It checks that each collection
// holds as many rows as the manifest says. The rows are read and decoded
// on a goroutine of their own, a chunk ahead of f (which runs on the
// caller's): a restart decodes the next chunk while it loads this one.
func (l *PebbleLog) ReadCheckpoint(ctx context.Context, cp *Checkpoint, f func(c CollectionID, entries []Entry) error) error {
	type chunk struct {
		c       CollectionID
		entries []Entry
	}
	chunks := make(chan chunk, 1)
	// Chunks f is done with go back to the reader: a new slice of entries
	// per chunk was half a gigabyte of garbage loading 10M rows.
	free := make(chan []Entry, 2)
	alloc := func(size int) []Entry {
		select {
		case es := <-free:
			if cap(es) >= size {
				return es[:0]
			}
		default:
		}
		return make([]Entry, 0, size)
	}
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(chunks)
		defer func() {
			if r := recover(); r != nil {
				readErr = fmt.Errorf("storage: reading the checkpoint at %d: panic: %v", cp.Time, r)
			}
		}()
		readErr = l.readCheckpointRows(ctx, cp, alloc, func(c CollectionID, entries []Entry) bool {
			select {
			case chunks <- chunk{c, entries}:
				return true
			case <-stop:
				return false
			}
		})
	}()
	// However f ends (an error, or a panic the caller recovers from), the
	// reader is stopped and waited for: its iterator is closed before
	// ReadCheckpoint returns.
	defer func() {
		close(stop)
		for range chunks {
		}
	}()
	for ch := range chunks {
		if err := f(ch.c, ch.entries); err != nil {
			return err
		}
		clear(ch.entries) // no rows kept alive from here
		select {
		case free <- ch.entries:
		default:
		}
	}
	return readErr // written before chunks was closed
}

// errStopped ends readCheckpointRows when its consumer stopped.
var errStopped = errors.New("storage: stopped")

// readCheckpointRows reads and decodes checkpoint cp's rows, collection by
// collection, and hands them to emit in chunks of up to
// checkpointReadChunk entries; it stops (errStopped) when emit returns
// false.
func (l *PebbleLog) readCheckpointRows(ctx context.Context, cp *Checkpoint, alloc func(size int) []Entry, emit func(c CollectionID, entries []Entry) bool) error {
	var arena rowArena
	for _, c := range cp.Collections {
		lo := appendCheckpointKey(nil, cp.Time, c.ID, 0)
		hi := appendCheckpointKey(nil, cp.Time, c.ID, stateSeq)
		name := fmt.Sprintf("the checkpoint at %d of collection %d", cp.Time, c.ID)
		it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return l.corruption(name, err)
		}
		var n uint64
		chunk := alloc(int(min(c.Rows, checkpointReadChunk)))
		for ok := it.First(); ok; ok = it.Next() {
			if len(it.Key()) != checkpointKeyLen {
				it.Close()
				return &CorruptionError{Range: name + " of " + l.dir, Err: fmt.Errorf("malformed key %x", it.Key())}
			}
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return l.corruption(name, err)
			}
			// add hands e on, and the chunk when it is full.
			add := func(e Entry) error {
				e.Collection = c.ID
				chunk = append(chunk, e)
				n++
				if len(chunk) == checkpointReadChunk {
					if err := ctx.Err(); err != nil {
						return err
					}
					if !emit(c.ID, chunk) {
						return errStopped
					}
					chunk = alloc(int(min(c.Rows-n, checkpointReadChunk)))
				}
				return nil
			}
			corrupt := func(err error) error {
				return &CorruptionError{Range: fmt.Sprintf("%s of %s at key %x", name, l.dir, it.Key()), Err: err}
			}
			if len(v) > 0 && v[0] == checkpointRowsEncoding {
				for rest := v[1:]; len(rest) > 0 && err == nil; {
					var e Entry
					if e, rest, err = decodeChunkEntry(rest, &arena); err != nil {
						err = corrupt(err)
					} else {
						err = add(e)
					}
				}
			} else if e, derr := decodeEntryArena(v, &arena); derr != nil { // a version 4 checkpoint: a row a value
				err = corrupt(derr)
			} else {
				err = add(e)
			}
			if err != nil {
				it.Close()
				return err
			}
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return l.corruption(name, err)
		}
		if n != c.Rows {
			return &CorruptionError{Range: name + " of " + l.dir, Err: fmt.Errorf("%w: %d rows, the manifest says %d", errBadRow, n, c.Rows)}
		}
		if len(chunk) > 0 && !emit(c.ID, chunk) {
			return errStopped
		}
	}
	return nil
}

// ReadCheckpointState implements Checkpoints. It checks that the
// collection holds as many chunks as the manifest says.
func (l *PebbleLog) ReadCheckpointState(ctx context.Context, cp *Checkpoint, c CollectionID, f func(chunk []byte) error) error {
	var want uint64
	found := false
	for _, cc := range cp.Collections {
		if cc.ID == c {
			want, found = cc.StateChunks, true
		}
	}
	if !found {
		return fmt.Errorf("storage: the checkpoint at %d has no collection %d", cp.Time, c)
	}
	name := fmt.Sprintf("the checkpoint at %d of the state of collection %d", cp.Time, c)
	it, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: appendCheckpointKey(nil, cp.Time, c, stateSeq),
		UpperBound: appendCheckpointKey(nil, cp.Time, c+1, 0),
	})
	if err != nil {
		return l.corruption(name, err)
	}
	var n uint64
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			it.Close()
			return err
		}
		k := it.Key()
		if len(k) != checkpointKeyLen || binary.BigEndian.Uint64(k[17:]) != stateSeq+n {
			it.Close()
			return &CorruptionError{Range: name + " of " + l.dir, Err: fmt.Errorf("%w: unexpected key %x", errBadRow, k)}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return l.corruption(name, err)
		}
		n++
		if err := f(slices.Clone(v)); err != nil {
			it.Close()
			return err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return l.corruption(name, err)
	}
	if n != want {
		return &CorruptionError{Range: name + " of " + l.dir, Err: fmt.Errorf("%w: %d chunks, the manifest says %d", errBadRow, n, want)}
	}
	return nil
}
