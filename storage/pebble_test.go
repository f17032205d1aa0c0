package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tributary-db/tributary/sql/types"
)

var ctx = context.Background()

func openMem(t *testing.T, fs vfs.FS) *PebbleLog {
	t.Helper()
	l, err := OpenPebble("data", &PebbleOptions{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func replayAll(t *testing.T, l Log) []Batch {
	t.Helper()
	var out []Batch
	if err := l.Replay(ctx, func(b Batch) error { out = append(out, b); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// describe prints batches canonically: entries of one batch sorted by
// collection, in their order within a collection (Replay's order).
func describe(bs []Batch) string {
	var sb strings.Builder
	for _, b := range bs {
		fmt.Fprintf(&sb, "t=%d", b.Time)
		if b.Catalog != nil {
			fmt.Fprintf(&sb, " catalog=%q", b.Catalog)
		}
		es := append([]Entry(nil), b.Entries...)
		// A stable sort by collection keeps each collection's entry order.
		for i := 1; i < len(es); i++ {
			for j := i; j > 0 && es[j].Collection < es[j-1].Collection; j-- {
				es[j], es[j-1] = es[j-1], es[j]
			}
		}
		for _, e := range es {
			fmt.Fprintf(&sb, " c%d:%+d(", e.Collection, e.Diff)
			for i, d := range e.Row {
				if i > 0 {
					sb.WriteString(",")
				}
				if d.IsNull() {
					sb.WriteString("NULL")
				} else {
					sb.WriteString(types.FormatText(d))
				}
			}
			sb.WriteString(")")
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func sampleBatches() []Batch {
	row := func(i int64, s string) types.Row { return types.Row{types.NewInt8(i), types.NewText(s)} }
	return []Batch{
		{Time: 10, Catalog: []byte("CREATE TABLE a (x int8, y text)")},
		{Time: 11, Entries: []Entry{{Collection: 1, Row: row(1, "one"), Diff: 1}, {Collection: 1, Row: row(2, "two"), Diff: 2}}},
		{Time: 12, Catalog: []byte("CREATE TABLE b (x int8, y text)")},
		{Time: 15, Entries: []Entry{{Collection: 2, Row: row(3, "b"), Diff: 1}, {Collection: 1, Row: row(1, "one"), Diff: -1}, {Collection: 2, Row: types.Row{types.Null(types.Int8), types.NewText("\x00")}, Diff: 1}}},
		{Time: 16, Catalog: []byte("CREATE TABLE c (x int8, y text)"), Entries: []Entry{{Collection: 3, Row: row(9, "with catalog"), Diff: 1}}},
		{Time: 1 << 40, Entries: []Entry{{Collection: 1, Row: row(4, "late"), Diff: 1}}},
	}
}

func TestPebbleAppendReplayReopen(t *testing.T) {
	fs := vfs.NewMem()
	l := openMem(t, fs)
	want := sampleBatches()
	for _, b := range want {
		if err := l.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if got := describe(replayAll(t, l)); got != describe(want) {
		t.Fatalf("replay:\n%s\nwant:\n%s", got, describe(want))
	}
	if err := l.Append(ctx, Batch{Time: 16, Catalog: []byte("x")}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("appending an earlier time: %v, want ErrOutOfOrder", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Append(ctx, Batch{Time: 1 << 41}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	l = openMem(t, fs)
	defer l.Close()
	if got := describe(replayAll(t, l)); got != describe(want) {
		t.Fatalf("replay after reopen:\n%s\nwant:\n%s", got, describe(want))
	}
	if got := l.LastTime(); got != 1<<40 {
		t.Fatalf("LastTime after reopen = %d, want %d", got, uint64(1<<40))
	}
	if err := l.Append(ctx, Batch{Time: 5, Catalog: []byte("x")}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("appending before the reopened log's last time: %v, want ErrOutOfOrder", err)
	}
	more := Batch{Time: 1<<40 + 1, Entries: []Entry{{Collection: 2, Row: types.Row{types.NewInt8(5), types.NewText("after")}, Diff: 1}}}
	if err := l.Append(ctx, more); err != nil {
		t.Fatal(err)
	}
	if got, w := describe(replayAll(t, l)), describe(append(want, more)); got != w {
		t.Fatalf("replay after reopen and append:\n%s\nwant:\n%s", got, w)
	}
}

// TestPebbleMatchesMemLog appends random batches to both logs and compares
// their replays.
func TestPebbleMatchesMemLog(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	l := openMem(t, vfs.NewMem())
	defer l.Close()
	m := NewMemLog()
	var tm uint64
	for i := 0; i < 300; i++ {
		tm += 1 + uint64(rng.IntN(3))
		b := Batch{Time: tm}
		if rng.IntN(5) == 0 {
			b.Catalog = []byte(fmt.Sprintf("DDL %d", i))
		}
		for j := rng.IntN(6); j > 0; j-- {
			b.Entries = append(b.Entries, Entry{Collection: uint64(rng.IntN(4)) + 1, Row: types.Row{types.NewInt8(int64(rng.IntN(100)))}, Diff: int64(rng.IntN(5)) - 2})
		}
		if b.Catalog == nil && len(b.Entries) == 0 {
			continue
		}
		if err := l.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
		m.Append(ctx, b)
	}
	if got, want := describe(replayAll(t, l)), describe(replayAll(t, m)); got != want {
		t.Fatalf("pebble replay differs from memlog:\n%s\nwant:\n%s", got, want)
	}
}

func TestPebbleRefusesNewerFormat(t *testing.T) {
	fs := vfs.NewMem()
	l := openMem(t, fs)
	l.Close()
	db, err := pebble.Open("data", &pebble.Options{FS: fs, Logger: quietPebble})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(keyFormatVersion, binary.AppendUvarint(nil, FormatVersion+1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = OpenPebble("data", &PebbleOptions{FS: fs})
	if !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("opening a newer format: %v, want ErrNewerFormat", err)
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("format version %d", FormatVersion+1)) || !strings.Contains(msg, "data") {
		t.Fatalf("message %q does not say which directory and version", msg)
	}
}

func TestPebbleRefusesForeignData(t *testing.T) {
	fs := vfs.NewMem()
	db, err := pebble.Open("data", &pebble.Options{FS: fs, Logger: quietPebble})
	if err != nil {
		t.Fatal(err)
	}
	db.Set([]byte("someone else's"), []byte("data"), pebble.Sync)
	db.Close()
	if _, err := OpenPebble("data", &PebbleOptions{FS: fs}); err == nil || !strings.Contains(err.Error(), "no format version") {
		t.Fatalf("opening a foreign Pebble database: %v", err)
	}
}

// gateFS blocks WAL syncs while armed, so a test can make appends queue up
// behind a sync in progress.
type gateFS struct {
	vfs.FS
	armed   atomic.Bool
	entered chan struct{} // a sync is blocked
	release chan struct{} // closed to let it go
}

func (g *gateFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.Create(name, c)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &gatedFile{File: f, g: g}, nil
}

type gatedFile struct {
	vfs.File
	g *gateFS
}

func (f *gatedFile) wait() {
	if f.g.armed.CompareAndSwap(true, false) {
		f.g.entered <- struct{}{}
		<-f.g.release
	}
}

func (f *gatedFile) Sync() error                  { f.wait(); return f.File.Sync() }
func (f *gatedFile) SyncData() error              { f.wait(); return f.File.SyncData() }
func (f *gatedFile) SyncTo(n int64) (bool, error) { f.wait(); return f.File.SyncTo(n) }

// TestPebbleGroupCommit holds the first group's WAL sync, queues more
// appends behind it, and checks that they all commit with one more sync.
func TestPebbleGroupCommit(t *testing.T) {
	g := &gateFS{FS: vfs.NewMem(), entered: make(chan struct{}), release: make(chan struct{})}
	l := openMem(t, g)
	defer l.Close()
	g.armed.Store(true)
	first := l.AppendAsync(Batch{Time: 1, Catalog: []byte("first")})
	<-g.entered // the committer is inside the first group's sync
	const n = 20
	waits := make([]func() error, n)
	for i := range waits {
		waits[i] = l.AppendAsync(Batch{Time: uint64(i + 2), Entries: []Entry{{Collection: 1, Row: types.Row{types.NewInt8(int64(i))}, Diff: 1}}})
	}
	close(g.release)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, w := range waits {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = w() }()
	}
	wg.Wait()
	if err := errors.Join(append(errs, first())...); err != nil {
		t.Fatal(err)
	}
	if got := l.syncs.Load(); got != 2 {
		t.Fatalf("%d appends queued behind a sync took %d syncs in all, want 2 (theirs and the first's)", n, got)
	}
	if got := len(replayAll(t, l)); got != n+1 {
		t.Fatalf("replayed %d batches, want %d", got, n+1)
	}
}

// TestPebbleConcurrentAppendsSurviveCrash runs concurrent appenders (each
// takes a timestamp and queues under one lock, as a coordinator does, then
// waits outside it), then simulates a crash: a copy of the filesystem with
// only what was synced, plus a random part of the rest. Every acknowledged
// batch must be there, and what is there must be whole batches.
func TestPebbleConcurrentAppendsSurviveCrash(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	fs := vfs.NewCrashableMem()
	l := openMem(t, fs)
	var (
		mu    sync.Mutex
		clock uint64
		acked sync.Map // time → true
		wg    sync.WaitGroup
	)
	const writers, perWriter = 8, 50
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				mu.Lock()
				clock++
				tm := clock
				wait := l.AppendAsync(Batch{Time: tm, Entries: []Entry{
					{Collection: 1, Row: types.Row{types.NewInt8(int64(tm)), types.NewInt8(1)}, Diff: 1},
					{Collection: 2, Row: types.Row{types.NewInt8(int64(tm)), types.NewInt8(2)}, Diff: 1},
				}})
				mu.Unlock()
				if err := wait(); err != nil {
					t.Error(err)
					return
				}
				acked.Store(tm, true)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d appends, %d syncs", writers*perWriter, l.syncs.Load())
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, 2))})
	l.Close()

	l = openMem(t, crashed)
	defer l.Close()
	got := map[uint64]bool{}
	for _, b := range replayAll(t, l) {
		if len(b.Entries) != 2 || b.Entries[0].Collection == b.Entries[1].Collection {
			t.Fatalf("batch at %d is not whole: %s", b.Time, describe([]Batch{b}))
		}
		got[b.Time] = true
	}
	acked.Range(func(k, _ any) bool {
		if !got[k.(uint64)] {
			t.Errorf("acknowledged batch %d lost in the crash", k)
		}
		return true
	})
}

func TestPebbleCorruptValue(t *testing.T) {
	fs := vfs.NewMem()
	l := openMem(t, fs)
	l.Append(ctx, sampleBatches()[0])
	if err := l.db.Set(appendUpdateKey(nil, 7, 20, 0), []byte{RowEncodingVersion, 2, 0xff}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	err := l.Replay(ctx, func(Batch) error { return nil })
	var ce *CorruptionError
	if !errors.As(err, &ce) || !strings.Contains(ce.Range, "collection 7") || ce.Collection != 7 {
		t.Fatalf("replaying a bad value: %v, want a CorruptionError naming collection 7", err)
	}
	err = l.ReadUpdates(ctx, 7, 100, func(uint64, Entry) error { return nil })
	if !errors.As(err, &ce) || ce.Collection != 7 || ce.SQLState() != "XX001" {
		t.Fatalf("reading a bad value AS OF: %v, want a CorruptionError of collection 7", err)
	}
	l.Close()
}

// TestPebbleCorruptFile flips bytes in a table file: Pebble's checksums
// catch it, and the error names the key range being read.
func TestPebbleCorruptFile(t *testing.T) {
	fs := vfs.NewMem()
	l := openMem(t, fs)
	for _, b := range sampleBatches() {
		if err := l.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.db.Flush(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	names, _ := fs.List("data")
	corrupted := false
	for _, name := range names {
		if !strings.HasSuffix(name, ".sst") {
			continue
		}
		f, err := fs.OpenReadWrite(fs.PathJoin("data", name), vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef}, 20); err != nil {
			t.Fatal(err)
		}
		f.Close()
		corrupted = true
	}
	if !corrupted {
		t.Fatal("no table file to corrupt")
	}
	l, err := OpenPebble("data", &PebbleOptions{FS: fs})
	if err == nil {
		err = l.Replay(ctx, func(Batch) error { return nil })
		l.Close()
	}
	var ce *CorruptionError
	if !errors.As(err, &ce) || !pebble.IsCorruptionError(err) {
		t.Fatalf("reading a corrupted table: %v, want a CorruptionError", err)
	}
	t.Log(err)
}

var quietPebble = pebbleLogger{slog.New(slog.DiscardHandler)}
