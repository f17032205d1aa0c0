package storage

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tributary-db/tributary/sql/types"
)

// FormatVersion is the version of the on-disk layout (format.md). It only
// moves forward: a binary opens data directories of its own version and
// refuses newer ones with ErrNewerFormat.
//
// Version 2 added checkpoints (the 0x04 key space and the "checkpoint"
// metadata key); a version 1 directory has none, so opening it stamps it
// with version 2 and nothing else changes. Version 3 added the operator
// state of materialized views to checkpoints (checkpoint manifest version
// 3, state chunks at seq ≥ 2^63); a version 2 directory's checkpoints are
// still read, so opening it stamps it with version 3. Version 4 adds source
// positions (0x05); opening an older directory stamps it with version 4.
// Version 5 writes a checkpoint's rows many to a value
// (checkpointRowsEncoding); a version 4 checkpoint (a row a value) is still
// read, so opening a version 4 directory stamps it with version 5.
const FormatVersion = 5

// The key spaces, each behind a one-byte prefix (format.md, "Keys").
const (
	prefixMeta       byte = 0x01 // metadata: format version, latest time
	prefixCatalog    byte = 0x02 // catalog records by time
	prefixUpdates    byte = 0x03 // updates by (collection, time, seq)
	prefixCheckpoint byte = 0x04 // checkpoints by (time, collection, seq)
	prefixPosition   byte = 0x05 // source positions by source collection
)

var (
	keyFormatVersion = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	keyLastTime      = []byte{prefixMeta, 'l', 'a', 's', 't', '_', 't', 'i', 'm', 'e'}
	keyCheckpoint    = []byte{prefixMeta, 'c', 'h', 'e', 'c', 'k', 'p', 'o', 'i', 'n', 't'}
)

// catalogRecordVersion is the first byte of a catalog record's value; the
// rest is the record (today the DDL statement's SQL text).
const catalogRecordVersion = 1

// ErrNewerFormat is returned by OpenPebble for a data directory written by a
// newer binary, whose format this one cannot read.
var ErrNewerFormat = errors.New("data directory has a newer format version")

// ErrClosed is returned by a PebbleLog's methods after Close.
var ErrClosed = errors.New("storage: log is closed")

// ErrOutOfOrder is returned by Append for a batch whose Time is not later
// than the previous batch's.
var ErrOutOfOrder = errors.New("storage: batch appended out of time order")

// CorruptionError reports data that cannot be read back: Pebble found a
// checksum mismatch or a damaged file, or a value does not decode. Range
// names the key range that was being read.
type CorruptionError struct {
	Range string
	Err   error
	// Collection is the collection whose updates were being read, 0 when
	// the damage is elsewhere (the catalog, the metadata) or unknown; the
	// coordinator names its table.
	Collection CollectionID
}

// tagCollection sets Collection on a CorruptionError err (of a read of c).
func tagCollection(err error, c CollectionID) error {
	var ce *CorruptionError
	if errors.As(err, &ce) && ce.Collection == 0 {
		ce.Collection = c
	}
	return err
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("storage: corruption in %s: %v", e.Range, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// SQLState is data_corrupted: the pgwire edge reports it to the client.
func (e *CorruptionError) SQLState() string { return "XX001" }

// PebbleOptions configure a PebbleLog.
type PebbleOptions struct {
	// Logger receives Pebble's messages and the log's own; nil means
	// slog.Default().
	Logger *slog.Logger
	// FS is the filesystem; nil means the operating system's. Tests pass
	// vfs.NewCrashableMem() to simulate crashes.
	FS vfs.FS
	// MinFreeBytes is the reserve of free disk space below which writes
	// are refused with ErrDiskFull (space.go); 0 means
	// DefaultMinFreeBytes, a negative value no check.
	MinFreeBytes int64
	// DiskCheckInterval is how stale the free space a write is admitted
	// on may be (it is also re-read after 8 MiB of writes); 0 means one
	// second, a negative value re-reads it on every write (tests).
	DiskCheckInterval time.Duration
	// OnSync, when set, is called by the commit pipeline after each group
	// commit (or each ingested batch) with the number of batches it made
	// durable and how long it took (encoding and the one WAL sync, or
	// writing and ingesting the table file); monitoring records them. It runs on
	// the committer goroutine, so it must be quick.
	OnSync func(batches int, d time.Duration, err error)
}

// PebbleLog is a durable Log in a Pebble database (format.md).
//
// Appends go through a commit pipeline: Append queues its batch and waits;
// one goroutine takes everything queued, encodes it into one Pebble batch,
// commits that with one WAL sync, and releases the waiters. Concurrent
// appenders thus share a sync (group commit), and what is durable is always
// a prefix of the appended batches in time order. A large batch of one
// collection is ingested as a table file of its own instead (ingest.go), in
// its place in that order.
type PebbleLog struct {
	db         *pebble.DB
	dir        string
	fs         vfs.FS
	writerOpts sstable.WriterOptions // for the table files of ingested batches
	logger     *slog.Logger

	wake      chan struct{}                                 // a token when the queue may be non-empty
	committed chan struct{}                                 // closed when the committer has exited
	syncs     atomic.Int64                                  // group commits done, for tests and metrics
	onSync    func(batches int, d time.Duration, err error) // PebbleOptions.OnSync
	space     spaceGuard                                    // refuses writes on a full disk (space.go)

	mu struct {
		sync.Mutex
		queue    []*pendingAppend
		lastTime uint64 // the Time of the latest batch queued
		// durable is the Time of the latest batch known durable;
		// durableCh is closed (and replaced) whenever durable advances
		// or the log fails, to wake WaitDurable.
		durable   uint64
		durableCh chan struct{}
		closing   bool
		// err is the first commit failure. After it the log refuses
		// appends: whether the failed group is on disk is unknown.
		err error
	}
}

// pendingAppend is a queued batch. Its rows are encoded by the committer,
// not under the caller's lock: a caller (the coordinator) must not change
// the rows after queuing them (rows are immutable once written anyway).
type pendingAppend struct {
	batch Batch
	err   error
	done  chan struct{}
}

// OpenPebble opens the log in dir, creating it if needed. A new directory
// is stamped with FormatVersion; an existing one must carry a version this
// binary reads.
func OpenPebble(dir string, opts *PebbleOptions) (*PebbleLog, error) {
	var o PebbleOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	popts := &pebble.Options{
		FS:     o.FS,
		Logger: pebbleLogger{o.Logger},
		// Recovery stops at a torn WAL tail (a crash mid-write) and reports
		// damage elsewhere as corruption.
		FormatMajorVersion: pebble.FormatNewest,
		// Bulk writes (a COPY is one batch) go through the memtable; the
		// default 4 MB memtable makes one L0 file per COPY of ~100k rows
		// and a compaction every few of them.
		MemTableSize:          64 << 20,
		L0CompactionThreshold: 8,
		EventListener: &pebble.EventListener{
			// Pebble's default exits the process; the read that found the
			// damage returns an error, which Replay reports with its key
			// range, so log and carry on.
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				o.Logger.Error("on-disk corruption", "path", info.Path, "details", info.Details)
			},
			BackgroundError: func(err error) {
				o.Logger.Error("pebble background error", "err", err)
			},
		},
	}
	if o.FS == nil {
		popts.FS = vfs.Default
	}
	popts.EnsureDefaults()
	db, err := pebble.Open(dir, popts)
	if err != nil {
		if pebble.IsCorruptionError(err) {
			// Recovery found damage in the WAL or the table files it read.
			return nil, &CorruptionError{Range: "the write-ahead log or table files of " + dir, Err: err}
		}
		return nil, fmt.Errorf("storage: opening %s: %w", dir, err)
	}
	l := &PebbleLog{db: db, dir: dir, fs: popts.FS, logger: o.Logger, wake: make(chan struct{}, 1), committed: make(chan struct{}), onSync: o.OnSync}
	l.space = spaceGuard{fs: popts.FS, dir: dir, every: cmp.Or(o.DiskCheckInterval, spaceCheckEvery)}
	switch {
	case o.MinFreeBytes == 0:
		l.space.reserve = DefaultMinFreeBytes
	case o.MinFreeBytes > 0:
		l.space.reserve = uint64(o.MinFreeBytes)
	}
	l.writerOpts = popts.MakeWriterOptions(6, db.TableFormat())
	if err := l.removeIngestFiles(); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: removing table files left before ingesting them in %s: %w", dir, err)
	}
	if err := l.checkFormat(); err != nil {
		db.Close()
		return nil, err
	}
	last, err := l.readLastTime()
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := l.dropStaleCheckpoints(); err != nil {
		db.Close()
		return nil, err
	}
	l.mu.lastTime, l.mu.durable, l.mu.durableCh = last, last, make(chan struct{})
	go l.commitLoop()
	return l, nil
}

// checkFormat stamps an empty database with FormatVersion, or checks that
// an existing one's version is readable.
func (l *PebbleLog) checkFormat() error {
	v, closer, err := l.db.Get(keyFormatVersion)
	if errors.Is(err, pebble.ErrNotFound) {
		empty, err := l.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("storage: %s holds data but no format version: not a Tributary data directory", l.dir)
		}
		return l.db.Set(keyFormatVersion, binary.AppendUvarint(nil, FormatVersion), pebble.Sync)
	}
	if err != nil {
		return l.corruption("the metadata", err)
	}
	defer closer.Close()
	version, n := binary.Uvarint(v)
	if n <= 0 {
		return l.corruption("the metadata", fmt.Errorf("bad format version %x", v))
	}
	if version > FormatVersion {
		return fmt.Errorf("%w: %s has format version %d, this binary reads version %d at most; run a newer tributary",
			ErrNewerFormat, l.dir, version, FormatVersion)
	}
	if version >= 1 && version <= 4 {
		// Version 2 only added checkpoints, of which a version 1 directory
		// has none; version 3 reads version 2's checkpoints; version 4 only
		// added source positions, of which an older directory has none;
		// version 5 reads version 4's checkpoints.
		l.logger.Info("upgrading the data directory's format", "dir", l.dir, "from", version, "to", FormatVersion)
		return l.db.Set(keyFormatVersion, binary.AppendUvarint(nil, FormatVersion), pebble.Sync)
	}
	if version < FormatVersion {
		return fmt.Errorf("storage: %s has format version %d, which this binary cannot upgrade", l.dir, version)
	}
	return nil
}

func (l *PebbleLog) isEmpty() (bool, error) {
	it, err := l.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return false, l.corruption("the whole key space", err)
	}
	return empty, nil
}

func (l *PebbleLog) readLastTime() (uint64, error) {
	v, closer, err := l.db.Get(keyLastTime)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, l.corruption("the metadata", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, l.corruption("the metadata", fmt.Errorf("bad last time %x", v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// corruption wraps a read error. Pebble's corruption errors (and our own
// decoding errors) become a CorruptionError naming the key range; others
// (a closed database, a cancelled context) pass through with context.
func (l *PebbleLog) corruption(keyRange string, err error) error {
	if pebble.IsCorruptionError(err) || errors.Is(err, errBadRow) {
		return &CorruptionError{Range: keyRange + " of " + l.dir, Err: err}
	}
	return fmt.Errorf("storage: reading %s of %s: %w", keyRange, l.dir, err)
}

// LastTime returns the Time of the latest batch appended (queued), or of
// the latest durable batch when the log was opened: 0 for an empty log.
func (l *PebbleLog) LastTime() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.lastTime
}

// Append implements Log: it returns once b is durable. Once b is queued,
// Append waits for the commit whatever ctx says, since b may be on disk.
func (l *PebbleLog) Append(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.AppendAsync(b)()
}

// AppendAsync queues b and returns a function that waits until b is durable
// and returns the outcome. A caller that orders its batches under its own
// lock (a coordinator handing out timestamps) queues under the lock and
// waits after releasing it, so that its writers share syncs.
func (l *PebbleLog) AppendAsync(b Batch) (wait func() error) {
	p, err := l.enqueue(b)
	if err != nil {
		return func() error { return err }
	}
	return func() error {
		<-p.done
		return p.err
	}
}

// Enqueue implements Log: it queues b for the committer and returns
// without waiting for the sync.
func (l *PebbleLog) Enqueue(b Batch) error {
	_, err := l.enqueue(b)
	return err
}

// WaitDurable implements Log.
func (l *PebbleLog) WaitDurable(t uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		switch {
		case l.mu.durable >= t:
			return nil
		case l.mu.err != nil:
			return l.mu.err
		}
		ch := l.mu.durableCh
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
	}
}

// DurableTime returns the Time of the latest batch known durable.
func (l *PebbleLog) DurableTime() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.durable
}

func (l *PebbleLog) enqueue(b Batch) (*pendingAppend, error) {
	if err := l.space.admit(estimatedSize(b)); err != nil {
		return nil, err
	}
	p := &pendingAppend{batch: b, done: make(chan struct{})}
	l.mu.Lock()
	switch {
	case l.mu.closing:
		l.mu.Unlock()
		return nil, ErrClosed
	case l.mu.err != nil:
		err := l.mu.err
		l.mu.Unlock()
		return nil, err
	case b.Time <= l.mu.lastTime:
		last := l.mu.lastTime
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: time %d after %d", ErrOutOfOrder, b.Time, last)
	}
	l.mu.queue = append(l.mu.queue, p)
	l.mu.lastTime = b.Time
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // a token is already there
	}
	return p, nil
}

// estimatedSize is what the disk-space guard admits a batch by, before it
// is encoded (on the committer: a COPY of 100k rows took 20 ms to encode
// under the coordinator's lock): per entry its key and diff, and per datum
// a tag, up to 9 bytes of a fixed-size value and a string's bytes: a bound
// for most rows, a little short for numerics and intervals, which need more.
func estimatedSize(b Batch) int {
	n := len(b.Catalog)
	for _, e := range b.Entries {
		n += 32
		for _, d := range e.Row {
			n += 10 + len(d.Str())
		}
	}
	return n
}

// encodeBatch writes b's keys into pb (format.md, "Keys").
func encodeBatch(pb *pebble.Batch, b Batch) error {
	if b.Catalog != nil {
		v := append([]byte{catalogRecordVersion}, b.Catalog...)
		if err := pb.Set(catalogKey(b.Time), v, nil); err != nil {
			return err
		}
	}
	seq := map[CollectionID]uint32{}
	var key, val []byte
	for _, e := range b.Entries {
		s := seq[e.Collection]
		seq[e.Collection] = s + 1
		key = appendUpdateKey(key[:0], e.Collection, b.Time, s)
		val = append(val[:0], RowEncodingVersion)
		val = binary.AppendVarint(val, e.Diff)
		val = AppendRow(val, e.Row)
		if err := pb.Set(key, val, nil); err != nil { // Set copies key and value
			return err
		}
	}
	for _, p := range b.Positions {
		val = append(append(val[:0], positionVersion), p.Value...)
		if err := pb.Set(positionKey(p.Source), val, nil); err != nil {
			return err
		}
	}
	return nil
}

// positionVersion is the first byte of a source position's value.
const positionVersion = 0x01

func positionKey(c CollectionID) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixPosition}, c)
}

// Positions implements Log: one scan of the position key space.
func (l *PebbleLog) Positions() (map[CollectionID][]byte, error) {
	if err := l.checkOpen(); err != nil {
		return nil, err
	}
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPosition}, UpperBound: []byte{prefixPosition + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[CollectionID][]byte{}
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 9 || len(v) == 0 || v[0] != positionVersion {
			return nil, l.corruption("the source positions", fmt.Errorf("bad position key %x or value %x", k, v))
		}
		out[binary.BigEndian.Uint64(k[1:])] = slices.Clone(v[1:])
	}
	if err := it.Error(); err != nil {
		return nil, l.corruption("the source positions", err)
	}
	return out, nil
}

func catalogKey(t uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixCatalog}, t)
}

func appendUpdateKey(buf []byte, c CollectionID, t uint64, seq uint32) []byte {
	buf = append(buf, prefixUpdates)
	buf = binary.BigEndian.AppendUint64(buf, c)
	buf = binary.BigEndian.AppendUint64(buf, t)
	return binary.BigEndian.AppendUint32(buf, seq)
}

// commitLoop is the commit pipeline's one committer.
func (l *PebbleLog) commitLoop() {
	defer close(l.committed)
	for {
		<-l.wake
		for {
			l.mu.Lock()
			group, closing := l.mu.queue, l.mu.closing
			l.mu.queue = nil
			l.mu.Unlock()
			if len(group) == 0 {
				if closing {
					return
				}
				break
			}
			l.commitGroup(group)
		}
	}
}

// commitGroup commits a group of queued appends in time order: runs of
// small batches as one Pebble batch with one sync each, and each batch of
// ingestMinEntries entries or more as an ingested table file (ingest.go).
// Each run is durable before the next starts, so after a crash the batches
// present are still a prefix of those appended. After a failure the rest of
// the group fails with the log's error.
func (l *PebbleLog) commitGroup(group []*pendingAppend) {
	start := 0
	for i, p := range group {
		if !ingestable(p.batch) {
			continue
		}
		if start < i {
			l.commitRun(group[start:i], l.commitBatch)
		}
		l.commitRun(group[i:i+1], l.ingestBatch)
		start = i + 1
	}
	if start < len(group) {
		l.commitRun(group[start:], l.commitBatch)
	}
}

// commitRun makes run durable with commit (unless the log has failed),
// publishes the outcome and releases its waiters.
func (l *PebbleLog) commitRun(run []*pendingAppend, commit func([]*pendingAppend) error) {
	l.mu.Lock()
	err := l.mu.err
	l.mu.Unlock()
	if err == nil {
		start := time.Now()
		err = commit(run)
		if l.onSync != nil {
			l.onSync(len(run), time.Since(start), err)
		}
		l.syncs.Add(1)
		l.mu.Lock()
		if err != nil {
			err = fmt.Errorf("storage: committing to %s: %w", l.dir, err)
			l.logger.Error("the event log failed; refusing further writes", "dir", l.dir, "err", err)
			l.mu.err = err
		} else {
			l.mu.durable = run[len(run)-1].batch.Time
		}
		close(l.mu.durableCh)
		l.mu.durableCh = make(chan struct{})
		l.mu.Unlock()
	}
	for _, p := range run {
		p.err = err
		close(p.done)
	}
}

// commitBatch commits run as one Pebble batch with one WAL sync: all of it
// is durable, or (after a crash) none.
func (l *PebbleLog) commitBatch(run []*pendingAppend) error {
	b := l.db.NewBatch()
	defer b.Close()
	if err := encodeGroup(b, run); err != nil {
		return err
	}
	if err := b.Set(keyLastTime, binary.BigEndian.AppendUint64(nil, run[len(run)-1].batch.Time), nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// encodeGroup encodes the queued batches of one group commit into b. A
// panic (a row the encoding cannot represent: a programming error) fails
// the group rather than the process.
func encodeGroup(b *pebble.Batch, group []*pendingAppend) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage: encoding a batch: %v", r)
		}
	}()
	for _, p := range group {
		if err := encodeBatch(b, p.batch); err != nil {
			return err
		}
	}
	return nil
}

// Replay implements Log: it calls f with every batch in time order, catalog
// records and updates of every collection merged by time, as of a snapshot
// taken when Replay starts. Row datums are owned by f.
func (l *PebbleLog) Replay(ctx context.Context, f func(Batch) error) error {
	return l.replay(ctx, 0, f)
}

// ReplayAfter implements Checkpoints: Replay, skipping the updates with a
// time ≤ after (catalog records are all read).
func (l *PebbleLog) ReplayAfter(ctx context.Context, after uint64, f func(Batch) error) error {
	return l.replay(ctx, after, f)
}

func (l *PebbleLog) replay(ctx context.Context, after uint64, f func(Batch) error) error {
	l.mu.Lock()
	closing := l.mu.closing
	l.mu.Unlock()
	if closing {
		return ErrClosed
	}
	snap := l.db.NewSnapshot()
	defer snap.Close()

	var cursors []*cursor
	defer func() {
		for _, c := range cursors {
			c.it.Close()
		}
	}()
	cat, err := l.newCursor(snap, []byte{prefixCatalog}, []byte{prefixCatalog + 1}, "the catalog")
	if err != nil {
		return err
	}
	cursors = append(cursors, cat)
	colls, err := l.collections(snap)
	if err != nil {
		return err
	}
	for _, c := range colls {
		lo := binary.BigEndian.AppendUint64([]byte{prefixUpdates}, c)
		if after > 0 {
			lo = binary.BigEndian.AppendUint64(lo, after+1)
		}
		hi := binary.BigEndian.AppendUint64([]byte{prefixUpdates}, c+1)
		if c == ^uint64(0) {
			hi = []byte{prefixUpdates + 1}
		}
		cur, err := l.newCursor(snap, lo, hi, fmt.Sprintf("the updates of collection %d", c))
		if err != nil {
			return tagCollection(err, c)
		}
		cur.coll = c
		cursors = append(cursors, cur)
	}
	h := &cursorHeap{}
	for _, c := range cursors {
		if c.valid {
			h.push(c)
		}
	}
	for h.len() > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := Batch{Time: h.min().time}
		for h.len() > 0 && h.min().time == b.Time {
			c := h.pop()
			if err := c.readBatch(&b); err != nil {
				return tagCollection(err, c.coll)
			}
			if c.valid {
				h.push(c)
			}
		}
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

// collections lists the collections that have updates, by skipping from
// one collection's first key to the next's.
func (l *PebbleLog) collections(snap *pebble.Snapshot) ([]CollectionID, error) {
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixUpdates}, UpperBound: []byte{prefixUpdates + 1}})
	if err != nil {
		return nil, l.corruption("the updates", err)
	}
	var out []CollectionID
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) != updateKeyLen {
			it.Close()
			return nil, &CorruptionError{Range: "the updates of " + l.dir, Err: fmt.Errorf("malformed key %x", k)}
		}
		c := binary.BigEndian.Uint64(k[1:9])
		out = append(out, c)
		if c == ^uint64(0) {
			break
		}
		ok = it.SeekGE(binary.BigEndian.AppendUint64([]byte{prefixUpdates}, c+1))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, l.corruption("the updates", err)
	}
	return out, nil
}

const updateKeyLen = 1 + 8 + 8 + 4

// cursor reads one key range (the catalog, or one collection's updates) in
// time order.
type cursor struct {
	l       *PebbleLog
	it      *pebble.Iterator
	catalog bool
	name    string       // the key range, for errors
	coll    CollectionID // the collection read, 0 for the catalog
	valid   bool
	time    uint64 // the time of the current key, when valid
}

func (l *PebbleLog) newCursor(snap *pebble.Snapshot, lo, hi []byte, name string) (*cursor, error) {
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, l.corruption(name, err)
	}
	c := &cursor{l: l, it: it, catalog: lo[0] == prefixCatalog, name: name}
	c.valid = it.First()
	if err := c.settle(); err != nil {
		it.Close()
		return nil, err
	}
	return c, nil
}

// settle decodes the current key's time, or reports the iterator's error.
func (c *cursor) settle() error {
	if !c.valid {
		if err := c.it.Error(); err != nil {
			return c.l.corruption(c.name, err)
		}
		return nil
	}
	k := c.it.Key()
	switch {
	case c.catalog && len(k) == 9:
		c.time = binary.BigEndian.Uint64(k[1:])
	case !c.catalog && len(k) == updateKeyLen:
		c.time = binary.BigEndian.Uint64(k[9:17])
	default:
		return &CorruptionError{Range: c.name + " of " + c.l.dir, Err: fmt.Errorf("malformed key %x", k)}
	}
	return nil
}

// readBatch adds every record of the cursor at its current time to b.
func (c *cursor) readBatch(b *Batch) error {
	t := c.time
	for c.valid && c.time == t {
		v, err := c.it.ValueAndErr()
		if err != nil {
			return c.l.corruption(c.name, err)
		}
		if c.catalog {
			if len(v) == 0 || v[0] != catalogRecordVersion {
				return &CorruptionError{Range: fmt.Sprintf("%s of %s at time %d", c.name, c.l.dir, t), Err: fmt.Errorf("%w: unknown catalog record version", errBadRow)}
			}
			b.Catalog = append([]byte(nil), v[1:]...)
		} else {
			e, err := decodeEntry(v)
			if err != nil {
				return &CorruptionError{Range: fmt.Sprintf("%s of %s at key %x", c.name, c.l.dir, c.it.Key()), Err: err}
			}
			e.Collection = binary.BigEndian.Uint64(c.it.Key()[1:9])
			b.Entries = append(b.Entries, e)
		}
		c.valid = c.it.Next()
		if err := c.settle(); err != nil {
			return err
		}
	}
	return nil
}

func decodeEntry(v []byte) (Entry, error) { return decodeEntryArena(v, nil) }

// decodeEntryArena is decodeEntry with the row from arena, when not nil.
func decodeEntryArena(v []byte, arena *rowArena) (Entry, error) {
	if len(v) == 0 || v[0] != RowEncodingVersion {
		return Entry{}, fmt.Errorf("%w: unknown row encoding version", errBadRow)
	}
	diff, n := binary.Varint(v[1:])
	if n <= 0 {
		return Entry{}, fmt.Errorf("%w: bad diff", errBadRow)
	}
	var row types.Row
	var rest []byte
	var err error
	if arena != nil {
		row, rest, err = decodeRowArena(v[1+n:], arena)
	} else {
		row, rest, err = DecodeRow(v[1+n:])
	}
	if err != nil {
		return Entry{}, err
	}
	if len(rest) != 0 {
		return Entry{}, fmt.Errorf("%w: %d trailing bytes", errBadRow, len(rest))
	}
	return Entry{Row: row, Diff: diff}, nil
}

// cursorHeap orders cursors by their current time (a min-heap).
type cursorHeap struct{ cs []*cursor }

func (h *cursorHeap) len() int           { return len(h.cs) }
func (h *cursorHeap) min() *cursor       { return h.cs[0] }
func (h *cursorHeap) less(i, j int) bool { return h.cs[i].time < h.cs[j].time }

func (h *cursorHeap) push(c *cursor) {
	h.cs = append(h.cs, c)
	for i := len(h.cs) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.cs[i], h.cs[p] = h.cs[p], h.cs[i]
		i = p
	}
}

func (h *cursorHeap) pop() *cursor {
	top := h.cs[0]
	last := len(h.cs) - 1
	h.cs[0] = h.cs[last]
	h.cs = h.cs[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.cs) && h.less(l, m) {
			m = l
		}
		if r < len(h.cs) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.cs[i], h.cs[m] = h.cs[m], h.cs[i]
		i = m
	}
	return top
}

// Close implements Log: it waits for queued appends to commit, then closes
// the database. A second Close returns ErrClosed.
func (l *PebbleLog) Close() error {
	l.mu.Lock()
	if l.mu.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	l.mu.closing = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.committed
	// Flush the memtables, so that after a clean shutdown everything is in
	// checksummed table files and the WAL holds nothing needed: Pebble
	// reads damage at the tail of the last WAL as a torn write (which a
	// crash leaves) and stops there, so rot in a WAL that matters could go
	// unnoticed. Skipped on a full disk (the WAL has it all anyway).
	l.mu.Lock()
	failed := l.mu.err != nil
	l.mu.Unlock()
	if !failed && l.space.admit(0) == nil {
		if err := l.db.Flush(); err != nil {
			l.logger.Warn("flushing the event log at close", "dir", l.dir, "err", err)
		}
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("storage: closing %s: %w", l.dir, err)
	}
	return nil
}

// pebbleLogger sends Pebble's messages to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
	os.Exit(1)
}

// sinceKey is the metadata key of collection c's since (format.md).
func sinceKey(c CollectionID) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixMeta, 's', 'i', 'n', 'c', 'e'}, c)
}

// updatesRange is the key range of collection c's updates at times in
// [from, to] (to = ^uint64(0) for all).
func updatesRange(c CollectionID, from, to uint64) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{prefixUpdates}, c), from)
	if to == ^uint64(0) {
		if c == ^uint64(0) {
			return lo, []byte{prefixUpdates + 1}
		}
		return lo, binary.BigEndian.AppendUint64([]byte{prefixUpdates}, c+1)
	}
	return lo, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{prefixUpdates}, c), to+1)
}

func (l *PebbleLog) checkOpen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closing {
		return ErrClosed
	}
	return nil
}

// ReadUpdates implements History: one bounded scan of c's key range.
func (l *PebbleLog) ReadUpdates(ctx context.Context, c CollectionID, upTo uint64, f func(uint64, Entry) error) (err error) {
	defer func() { err = tagCollection(err, c) }()
	if err := l.checkOpen(); err != nil {
		return err
	}
	lo, hi := updatesRange(c, 0, upTo)
	name := fmt.Sprintf("the updates of collection %d", c)
	it, err := l.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return l.corruption(name, err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != updateKeyLen {
			return &CorruptionError{Range: name + " of " + l.dir, Err: fmt.Errorf("malformed key %x", k)}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return l.corruption(name, err)
		}
		e, err := decodeEntry(v)
		if err != nil {
			return &CorruptionError{Range: fmt.Sprintf("%s of %s at key %x", name, l.dir, k), Err: err}
		}
		e.Collection = c
		if err := f(binary.BigEndian.Uint64(k[9:17]), e); err != nil {
			return err
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return l.corruption(name, err)
	}
	return nil
}

// Since implements History.
func (l *PebbleLog) Since(c CollectionID) (uint64, error) {
	if err := l.checkOpen(); err != nil {
		return 0, err
	}
	v, closer, err := l.db.Get(sinceKey(c))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, l.corruption("the metadata", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, l.corruption("the metadata", fmt.Errorf("%w: bad since of collection %d: %x", errBadRow, c, v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Compact implements History. It reads c's updates up to since from a
// snapshot, nets them (netFIFO) in memory, and commits the deletions, the
// rewritten diffs and the new since as one synced Pebble batch, outside the
// commit pipeline: its keys are all at times ≤ since, which no append
// writes. Memory is proportional to the updates below since, which after
// the first compaction are mostly the collection's live rows.
func (l *PebbleLog) Compact(ctx context.Context, c CollectionID, since uint64) (CompactStats, error) {
	old, err := l.Since(c)
	if err != nil || since <= old {
		return CompactStats{}, err
	}
	l.mu.Lock()
	failed := l.mu.err
	l.mu.Unlock()
	if failed != nil {
		return CompactStats{}, failed
	}
	if err := l.space.admit(0); err != nil {
		return CompactStats{}, err
	}
	var ups []*netted
	var keys [][]byte
	var lastT uint64
	seq := 0
	err = l.ReadUpdates(ctx, c, since, func(t uint64, e Entry) error {
		if t != lastT {
			lastT, seq = t, 0
		}
		ups = append(ups, &netted{time: t, seq: seq, diff: e.Diff, row: e.Row})
		keys = append(keys, appendUpdateKey(nil, c, t, uint32(seq)))
		seq++
		return nil
	})
	if err != nil {
		return CompactStats{}, err
	}
	st := netFIFO(ups)
	b := l.db.NewBatch()
	defer b.Close()
	var val []byte
	for i, u := range ups {
		switch {
		case u.removed:
			err = b.Delete(keys[i], nil)
		case u.changed:
			val = append(val[:0], RowEncodingVersion)
			val = binary.AppendVarint(val, u.diff)
			val = AppendRow(val, u.row)
			err = b.Set(keys[i], val, nil)
		}
		if err != nil {
			return CompactStats{}, err
		}
	}
	if err := b.Set(sinceKey(c), binary.BigEndian.AppendUint64(nil, since), nil); err != nil {
		return CompactStats{}, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return CompactStats{}, fmt.Errorf("storage: compacting collection %d of %s: %w", c, l.dir, err)
	}
	return st, nil
}

// DropCollection implements History: one range deletion.
func (l *PebbleLog) DropCollection(ctx context.Context, c CollectionID) error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	if err := l.space.admit(0); err != nil {
		return err
	}
	lo, hi := updatesRange(c, 0, ^uint64(0))
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	if err := b.Delete(sinceKey(c), nil); err != nil {
		return err
	}
	if err := b.Delete(positionKey(c), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("storage: dropping collection %d of %s: %w", c, l.dir, err)
	}
	return nil
}

// CheckSpace returns ErrDiskFull (wrapped) while writes would be refused
// for lack of disk space, so that a caller can refuse a statement before
// changing anything.
func (l *PebbleLog) CheckSpace() error { return l.space.admit(0) }

// Flush writes Pebble's memtables to table files, so that what is durable
// in the WAL is also in sstables (tests that damage table files use it).
func (l *PebbleLog) Flush() error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	return l.db.Flush()
}
