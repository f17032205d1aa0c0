package storage

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/tributary-db/tributary/sql/types"
)

// CollectionID names one collection's log (a table or a source).
type CollectionID = uint64

// Entry is one change to one collection.
type Entry struct {
	Collection CollectionID
	Row        types.Row
	Diff       int64
}

// Batch is everything one write (a statement, a transaction, an ingestion
// batch) changes, at one timestamp. A batch is applied atomically: after a
// crash it is either wholly present or absent.
type Batch struct {
	Time    uint64
	Entries []Entry
	// Catalog is a DDL record written in the same batch, if any.
	Catalog []byte
	// Positions are the source positions this batch brings its sources to
	// (a Kafka offset, a generator's counter), written in the same atomic
	// batch as the data: after a crash a source resumes from exactly the
	// position of the data present (exactly once).
	Positions []Position
}

// Position is how far one source has been read: opaque bytes its
// connector encodes and decodes.
type Position struct {
	Source CollectionID
	Value  []byte
}

// Log is the append-only event log.
//
// Append makes a batch durable: when it returns nil, the batch survives a
// crash, whole. Batches must be appended in strictly increasing Time order
// (PebbleLog refuses others with ErrOutOfOrder). Replay calls f with every
// batch in Time order; a batch's Entries of one collection keep the order
// they were appended in; f must not modify the batch.
//
// Enqueue is Append split in two, for a caller that orders batches under
// its own lock and must not hold it across a sync (the coordinator): it
// fixes b's place in the log and returns at once; nil means b is queued (it
// will be durable unless the log fails), an error that it was refused and
// will never be written. WaitDurable(t) returns nil once every batch queued
// with Time ≤ t is durable, or the failure that makes that impossible (after
// which the log refuses appends). What is durable is always a prefix, in
// time order, of what was queued. The log may read a queued batch's rows
// until it is durable (PebbleLog encodes them on its committer), so the
// caller must not change them; rows are immutable once written.
//
// A Log is also a History (history.go): AS OF reads and compaction.
// LastTime returns the Time of the latest batch appended or queued, which
// stays known after compaction has removed the batch itself (0 for none).
//
// Positions returns each source's latest durable position (the Positions of
// the latest batch that carried one for it; a dropped collection's are
// gone). It is read at restart, before any append.
//
// The Log is safe for concurrent use; Close may be called once, after which
// every method fails.
type Log interface {
	Append(ctx context.Context, b Batch) error
	Enqueue(b Batch) error
	WaitDurable(t uint64) error
	Replay(ctx context.Context, f func(Batch) error) error
	History
	LastTime() uint64
	Positions() (map[CollectionID][]byte, error)
	Close() error
}

// MemLog is a Log held in memory, for tests and `tributary slt`. It keeps
// every batch (nothing is durable across processes).
type MemLog struct {
	mu struct {
		sync.Mutex
		batches   []Batch
		since     map[CollectionID]uint64
		positions map[CollectionID][]byte
		lastTime  uint64
	}
}

// NewMemLog returns an empty in-memory log.
func NewMemLog() *MemLog { return &MemLog{} }

// Append implements Log.
func (l *MemLog) Append(_ context.Context, b Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b.Time <= l.mu.lastTime {
		return fmt.Errorf("%w: time %d after %d", ErrOutOfOrder, b.Time, l.mu.lastTime)
	}
	l.mu.batches = append(l.mu.batches, b)
	l.mu.lastTime = b.Time
	for _, p := range b.Positions {
		if l.mu.positions == nil {
			l.mu.positions = map[CollectionID][]byte{}
		}
		l.mu.positions[p.Source] = p.Value
	}
	return nil
}

// Positions implements Log.
func (l *MemLog) Positions() (map[CollectionID][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.mu.positions), nil
}

// LastTime implements Log.
func (l *MemLog) LastTime() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.lastTime
}

// Enqueue implements Log: a MemLog's batches are "durable" at once.
func (l *MemLog) Enqueue(b Batch) error { return l.Append(context.Background(), b) }

// WaitDurable implements Log.
func (l *MemLog) WaitDurable(uint64) error { return nil }

// Replay implements Log.
func (l *MemLog) Replay(_ context.Context, f func(Batch) error) error {
	l.mu.Lock()
	batches := append([]Batch(nil), l.mu.batches...)
	l.mu.Unlock()
	for _, b := range batches {
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Log.
func (l *MemLog) Close() error { return nil }
