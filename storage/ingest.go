package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ingestMinEntries is the size from which a batch bypasses the WAL and the
// memtable: its keys are written into a table file of their own, which is
// synced and ingested into Pebble (atomic, and durable once Ingest returns).
// An ingested file lands in the bottom level, where nothing overlaps it, so
// Pebble never merges it with its neighbours (a manual compaction does not
// rewrite the bottom level either): each stays a file for good, until a
// history compaction rewrites its keys. 50k entries keeps those files
// about 1 MB or more even for narrow rows (2.1 MB per 100k rows of a
// four-column table), the size of Pebble's own smaller files, instead of a
// 200 kB file per 10k-row COPY. A variable so that tests can take either
// path.
var ingestMinEntries = 50_000

// ingestFilePrefix names the table files the committer writes before
// ingesting them; one left by a crash is removed at open.
const ingestFilePrefix = "tributary-ingest-"

// testHookBeforeIngest, when set, runs between writing a batch's table file
// and ingesting it (tests crash there).
var testHookBeforeIngest func()

// ingestable reports whether b is committed by ingesting a table file: a
// large batch of one collection's updates and no catalog record, so that
// its keys (0x03 c t seq) are one contiguous range after everything in the
// memtable and ingesting them forces no flush. A batch that moves a source's
// position goes through the WAL, its position key with it.
func ingestable(b Batch) bool {
	if b.Catalog != nil || b.Positions != nil || len(b.Entries) < ingestMinEntries {
		return false
	}
	c := b.Entries[0].Collection
	for _, e := range b.Entries {
		if e.Collection != c {
			return false
		}
	}
	return true
}

// ingestBatch writes run's one batch into a table file, syncs it and
// ingests it. The last_time key cannot be in the file (it would overlap the
// memtable and force a flush), so it is committed through the WAL, synced,
// before the file is ingested: it may then be ahead of the latest batch on
// disk after a crash, never behind it (format.md).
func (l *PebbleLog) ingestBatch(run []*pendingAppend) (err error) {
	b := run[0].batch
	if err := l.db.Set(keyLastTime, binary.BigEndian.AppendUint64(nil, b.Time), pebble.Sync); err != nil {
		return err
	}
	path := l.fs.PathJoin(l.dir, fmt.Sprintf("%s%020d.sst", ingestFilePrefix, b.Time))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage: encoding a batch: %v", r)
		}
		// Ingest links the file into the database; the name we wrote it
		// under is ours to remove, whatever happened.
		if rmErr := l.fs.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
			l.logger.Warn("removing an ingested table file", "path", path, "err", rmErr)
		}
	}()
	f, err := l.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), l.writerOpts)
	var key, val []byte
	for i, e := range b.Entries {
		key = appendUpdateKey(key[:0], e.Collection, b.Time, uint32(i))
		val = append(val[:0], RowEncodingVersion)
		val = binary.AppendVarint(val, e.Diff)
		val = AppendRow(val, e.Row)
		if err := w.Set(key, val); err != nil {
			w.Close()
			return err
		}
	}
	if err := w.Close(); err != nil { // flushes and syncs the file
		return err
	}
	if testHookBeforeIngest != nil {
		testHookBeforeIngest()
	}
	return l.db.Ingest(context.Background(), []string{path})
}

// removeIngestFiles removes the table files a crash left between writing
// and ingesting them: they are not part of the database.
func (l *PebbleLog) removeIngestFiles() error {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, ingestFilePrefix) {
			if err := l.fs.Remove(l.fs.PathJoin(l.dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}
