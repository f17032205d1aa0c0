package storage

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tributary-db/tributary/sql/types"
)

// withIngestMin lowers the size from which batches are ingested, for one
// test.
func withIngestMin(t *testing.T, n int) {
	old := ingestMinEntries
	ingestMinEntries = n
	t.Cleanup(func() { ingestMinEntries = old })
}

// batchOf is a batch at time tm of n rows of collection c.
func batchOf(tm uint64, c CollectionID, n int) Batch {
	b := Batch{Time: tm}
	for i := 0; i < n; i++ {
		b.Entries = append(b.Entries, Entry{Collection: c, Diff: 1, Row: types.Row{types.NewInt8(int64(tm)*1000 + int64(i)), types.NewText("row")}})
	}
	return b
}

// ingestFilesIn lists the table files written for ingestion that are left
// in the data directory.
func ingestFilesIn(t *testing.T, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List("data")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, ingestFilePrefix) {
			out = append(out, n)
		}
	}
	return out
}

// TestPebbleIngestInterleaved queues small and large batches (the large ones
// ingested as table files) behind a held WAL sync, so that one group mixes
// both, and checks that they replay in time order, that ingesting forced no
// memtable flush and put the files in the bottom level, and that all of it survives a reopen and a crash, with
// the latest time that of the last batch (an ingested one).
func TestPebbleIngestInterleaved(t *testing.T) {
	withIngestMin(t, 4)
	fs := vfs.NewCrashableMem()
	g := &gateFS{FS: fs, entered: make(chan struct{}), release: make(chan struct{})}
	l := openMem(t, g)
	want := []Batch{
		{Time: 1, Catalog: []byte("CREATE TABLE a (x int8, y text)")},
		batchOf(2, 1, 2),
		batchOf(3, 1, 5), // ingested
		batchOf(4, 2, 1),
		batchOf(5, 2, 6), // ingested
		batchOf(6, 1, 4), // ingested, right after another
		{Time: 7, Catalog: []byte("CREATE TABLE b (x int8, y text)"), Entries: batchOf(7, 3, 8).Entries}, // a catalog record: through the WAL
		{Time: 8, Entries: append(batchOf(8, 1, 3).Entries, batchOf(8, 2, 3).Entries...)},                // two collections: through the WAL
		batchOf(9, 2, 1),
		batchOf(10, 1, 10), // ingested, last
	}
	flushesBefore := l.db.Metrics().Flush.Count
	g.armed.Store(true)
	first := l.AppendAsync(want[0])
	<-g.entered // the committer holds the first group's sync; the rest queue
	var waits []func() error
	for _, b := range want[1:] {
		waits = append(waits, l.AppendAsync(b))
	}
	close(g.release)
	errs := []error{first()}
	for _, w := range waits {
		errs = append(errs, w())
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	m := l.db.Metrics()
	if m.Ingest.Count != 4 {
		t.Errorf("%d batches ingested, want 4", m.Ingest.Count)
	}
	if m.Flush.Count != flushesBefore {
		t.Errorf("ingesting forced %d memtable flushes", m.Flush.Count-flushesBefore)
	}
	if n := m.Levels[6].TablesCount; n != 4 {
		t.Errorf("%d tables in the bottom level, want the 4 ingested ones there (no compaction needed)", n)
	}
	if got := describe(replayAll(t, l)); got != describe(want) {
		t.Fatalf("replay:\n%s\nwant:\n%s", got, describe(want))
	}
	if got := l.DurableTime(); got != 10 {
		t.Fatalf("DurableTime = %d, want 10", got)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for name, fs := range map[string]vfs.FS{"reopen": fs, "crash": crashed} {
		l := openMem(t, fs)
		if got := describe(replayAll(t, l)); got != describe(want) {
			t.Fatalf("replay after %s:\n%s\nwant:\n%s", name, got, describe(want))
		}
		if got := l.LastTime(); got != 10 {
			t.Fatalf("LastTime after %s = %d, want 10 (the ingested last batch's)", name, got)
		}
		if err := l.Append(ctx, batchOf(10, 1, 1)); !errors.Is(err, ErrOutOfOrder) {
			t.Fatalf("appending at the ingested batch's time after %s: %v, want ErrOutOfOrder", name, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPebbleCrashBeforeIngest crashes after a large batch's table file is
// written and synced but before it is ingested: the reopened log holds the
// batches before it and nothing of it, not even the file; its last time is
// the lost batch's (written ahead), so no later batch reuses that time.
func TestPebbleCrashBeforeIngest(t *testing.T) {
	withIngestMin(t, 4)
	fs := vfs.NewCrashableMem()
	l := openMem(t, fs)
	small := batchOf(1, 1, 2)
	if err := l.Append(ctx, small); err != nil {
		t.Fatal(err)
	}
	var crashed *vfs.MemFS
	var once sync.Once
	testHookBeforeIngest = func() {
		once.Do(func() {
			if len(ingestFilesIn(t, fs)) != 1 {
				t.Error("no table file written before the ingest")
			}
			crashed = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
		})
	}
	t.Cleanup(func() { testHookBeforeIngest = nil })
	if err := l.Append(ctx, batchOf(2, 1, 5)); err != nil {
		t.Fatal(err)
	}
	if left := ingestFilesIn(t, fs); len(left) != 0 {
		t.Errorf("table files left after ingesting: %v", left)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openMem(t, crashed)
	defer l.Close()
	if left := ingestFilesIn(t, crashed); len(left) != 0 {
		t.Errorf("table files left after reopening: %v", left)
	}
	if got := describe(replayAll(t, l)); got != describe([]Batch{small}) {
		t.Fatalf("replay after the crash:\n%s\nwant:\n%s", got, describe([]Batch{small}))
	}
	if got := l.LastTime(); got != 2 {
		t.Fatalf("LastTime after the crash = %d, want 2", got)
	}
	again := batchOf(3, 1, 6)
	if err := l.Append(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got := describe(replayAll(t, l)); got != describe([]Batch{small, again}) {
		t.Fatalf("replay after appending again:\n%s\nwant:\n%s", got, describe([]Batch{small, again}))
	}
}

// failIngestFS refuses to open the table files written for ingestion, so
// that Pebble's Ingest fails after the file is written.
type failIngestFS struct{ vfs.FS }

var errInjected = errors.New("injected read error")

func (f failIngestFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if strings.Contains(name, ingestFilePrefix) {
		return nil, errInjected
	}
	return f.FS.Open(name, opts...)
}

// TestPebbleIngestFailure: a failed ingest fails the write with the log's
// error, like a failed sync, refuses later writes, and leaves no file.
func TestPebbleIngestFailure(t *testing.T) {
	withIngestMin(t, 4)
	fs := vfs.NewMem()
	l := openMem(t, failIngestFS{fs})
	defer l.Close()
	if err := l.Append(ctx, batchOf(1, 1, 2)); err != nil {
		t.Fatal(err)
	}
	err := l.Append(ctx, batchOf(2, 1, 5))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "committing to") {
		t.Fatalf("a failed ingest: %v, want the injected error as a commit failure", err)
	}
	if err := l.Append(ctx, batchOf(3, 1, 1)); !errors.Is(err, errInjected) {
		t.Fatalf("appending after a failed ingest: %v, want the log's error", err)
	}
	if err := l.WaitDurable(2); !errors.Is(err, errInjected) {
		t.Fatalf("WaitDurable after a failed ingest: %v, want the log's error", err)
	}
	if left := ingestFilesIn(t, fs); len(left) != 0 {
		t.Errorf("table files left after a failed ingest: %v", left)
	}
}

// TestPebbleIngestCrashMidStream runs concurrent appenders whose batches
// are ingested (three rows of one collection) or committed through the WAL
// (a row in each of two collections), and takes a crash copy of the
// filesystem while they run. In the copy every batch acknowledged before
// the crash is there, every batch there is whole, and the batches there are
// a prefix of those appended (no later batch without an earlier one).
func TestPebbleIngestCrashMidStream(t *testing.T) {
	withIngestMin(t, 3)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	fs := vfs.NewCrashableMem()
	l := openMem(t, fs)
	var (
		mu     sync.Mutex
		clock  uint64
		acked  sync.Map // time → true
		wg     sync.WaitGroup
		nAcked atomic.Int64
	)
	const writers, perWriter = 6, 60
	crashAt := 1 + int64(rand.N(writers*perWriter))
	crashed := make(chan *vfs.MemFS, 1)
	var before []uint64 // acknowledged when the crash copy was taken
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				mu.Lock()
				clock++
				tm := clock
				b := Batch{Time: tm}
				if tm%3 == 0 {
					b = batchOf(tm, 1, 3)
				} else {
					b.Entries = []Entry{
						{Collection: 1, Row: types.Row{types.NewInt8(int64(tm))}, Diff: 1},
						{Collection: 2, Row: types.Row{types.NewInt8(int64(tm))}, Diff: 1},
					}
				}
				wait := l.AppendAsync(b)
				mu.Unlock()
				if err := wait(); err != nil {
					t.Error(err)
					return
				}
				acked.Store(tm, true)
				if nAcked.Add(1) == crashAt {
					acked.Range(func(k, _ any) bool { before = append(before, k.(uint64)); return true })
					crashed <- fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, 3))})
				}
			}
		}()
	}
	wg.Wait()
	var clone *vfs.MemFS
	select {
	case clone = <-crashed:
	default: // an appender failed before the crash point (reported above)
		clone = fs.CrashClone(vfs.CrashCloneCfg{})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openMem(t, clone)
	defer l.Close()
	got := map[uint64]bool{}
	var latest uint64
	for _, b := range replayAll(t, l) {
		whole := len(b.Entries) == 3 && b.Time%3 == 0 ||
			len(b.Entries) == 2 && b.Time%3 != 0 && b.Entries[0].Collection != b.Entries[1].Collection
		if !whole {
			t.Fatalf("batch at %d is not whole: %s", b.Time, describe([]Batch{b}))
		}
		got[b.Time] = true
		latest = max(latest, b.Time)
	}
	for tm := uint64(1); tm <= latest; tm++ {
		if !got[tm] {
			t.Fatalf("batch %d is missing but batch %d survived the crash", tm, latest)
		}
	}
	for _, tm := range before {
		if !got[tm] {
			t.Errorf("batch %d acknowledged before the crash is lost", tm)
		}
	}
	t.Logf("crash after %d acknowledgements: %d batches survived", crashAt, latest)
}

// fullForIngestFS fails the writes of the table files written for
// ingestion with ENOSPC, as a disk filling up under the write would (the
// space guard admitted the batch on an estimate).
type fullForIngestFS struct{ vfs.FS }

type fullFile struct{ vfs.File }

func (f fullFile) Write(p []byte) (int, error) { return 0, syscall.ENOSPC }

func (f fullForIngestFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.Create(name, c)
	if err != nil || !strings.Contains(name, ingestFilePrefix) {
		return file, err
	}
	return fullFile{file}, nil
}

// TestPebbleIngestDiskFull: ENOSPC while writing a large batch's table file
// fails the write with it, the log refuses later writes, the file is gone,
// and a reopened log holds the batches before it.
func TestPebbleIngestDiskFull(t *testing.T) {
	withIngestMin(t, 4)
	fs := vfs.NewMem()
	l := openMem(t, fullForIngestFS{fs})
	small := batchOf(1, 1, 2)
	if err := l.Append(ctx, small); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, batchOf(2, 1, 5000)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing the table file on a full disk: %v, want ENOSPC", err)
	}
	if err := l.Append(ctx, batchOf(3, 1, 1)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("appending after the failure: %v, want the log's error", err)
	}
	if left := ingestFilesIn(t, fs); len(left) != 0 {
		t.Errorf("table files left after the failure: %v", left)
	}
	l.Close()
	l = openMem(t, fs)
	defer l.Close()
	if got := describe(replayAll(t, l)); got != describe([]Batch{small}) {
		t.Fatalf("replay after reopening:\n%s\nwant:\n%s", got, describe([]Batch{small}))
	}
}
