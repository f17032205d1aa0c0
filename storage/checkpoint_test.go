package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tributary-db/tributary/sql/types"
)

// rowsSource is a CheckpointSource over a fixed list of (row, count).
func rowsSource(id CollectionID, n int, tag string) CheckpointSource {
	return CheckpointSource{ID: id, Scan: func(emit func(types.Row, int64) bool) {
		for i := 0; i < n; i++ {
			if !emit(types.Row{types.NewInt8(int64(i)), types.NewText(fmt.Sprintf("%s %d", tag, i))}, int64(1+i%3)) {
				return
			}
		}
	}}
}

func readCheckpoint(t *testing.T, l *PebbleLog, cp *Checkpoint) map[CollectionID][]Entry {
	t.Helper()
	out := map[CollectionID][]Entry{}
	if err := l.ReadCheckpoint(ctx, cp, func(c CollectionID, es []Entry) error {
		out[c] = append(out[c], es...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCheckpointRoundTrip writes two checkpoints (the second replaces the
// first) and reads the latest back after a reopen; ReplayAfter then yields
// every catalog record but only the updates after the checkpoint.
func TestCheckpointRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	l := openMem(t, fs)
	row := types.Row{types.NewInt8(1)}
	for tm := uint64(1); tm <= 6; tm++ {
		b := Batch{Time: tm, Entries: []Entry{{Collection: 3, Row: row, Diff: 1}}}
		if tm == 1 || tm == 5 {
			b = Batch{Time: tm, Catalog: []byte(fmt.Sprintf("ddl %d", tm))}
		}
		if err := l.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.WriteCheckpoint(ctx, 7, 5, nil); err == nil {
		t.Fatal("a checkpoint ahead of the durable log was accepted")
	}
	if _, err := l.WriteCheckpoint(ctx, 2, 1, []CheckpointSource{rowsSource(3, 10, "old")}); err != nil {
		t.Fatal(err)
	}
	cp, err := l.WriteCheckpoint(ctx, 4, 1, []CheckpointSource{rowsSource(9, 3, "nine"), rowsSource(3, 100_000, "three")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WriteCheckpoint(ctx, 4, 1, nil); err == nil {
		t.Fatal("a checkpoint not after the latest was accepted")
	}
	l.Close()

	l = openMem(t, fs)
	defer l.Close()
	got, err := l.LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(cp) || got.Time != 4 || got.CatalogTime != 1 || len(got.Collections) != 2 || got.Collections[0].ID != 3 || got.Collections[0].Rows != 100_000 {
		t.Fatalf("latest checkpoint %+v, want %+v", got, cp)
	}
	contents := readCheckpoint(t, l, got)
	if len(contents[3]) != 100_000 || len(contents[9]) != 3 {
		t.Fatalf("read back %d and %d rows", len(contents[3]), len(contents[9]))
	}
	if e := contents[3][99_999]; e.Diff != 1+99_999%3 || types.FormatText(e.Row[1]) != "three 99999" {
		t.Fatalf("last row read back as %+v", e)
	}
	// Only the latest checkpoint's rows are left, many rows to a value.
	lo, hi := checkpointBounds(4)
	if n, latest := countKeys(t, l, []byte{prefixCheckpoint}, []byte{prefixCheckpoint + 1}), countKeys(t, l, lo, hi); n != latest || n > 100 {
		t.Fatalf("%d checkpoint keys, %d of them the latest's; want only the latest's, and a value of many rows", n, latest)
	}
	var tail []string
	if err := l.ReplayAfter(ctx, 4, func(b Batch) error {
		tail = append(tail, fmt.Sprintf("%d:%q:%d", b.Time, b.Catalog, len(b.Entries)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := `[1:"ddl 1":0 5:"ddl 5":0 6:"":1]`; fmt.Sprint(tail) != want {
		t.Fatalf("ReplayAfter(4): %v, want %s", tail, want)
	}
}

func countKeys(t *testing.T, l *PebbleLog, lo, hi []byte) int {
	t.Helper()
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCheckpointCrashMidWrite: a crash while a checkpoint is written (its
// rows are there, its manifest is not) leaves the previous checkpoint as
// the latest, and the unfinished rows are deleted at the next open.
func TestCheckpointCrashMidWrite(t *testing.T) {
	fs := vfs.NewCrashableMem()
	l := openMem(t, fs)
	for tm := uint64(1); tm <= 3; tm++ {
		if err := l.Append(ctx, Batch{Time: tm, Entries: []Entry{{Collection: 1, Row: types.Row{types.NewInt8(int64(tm))}, Diff: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.WriteCheckpoint(ctx, 2, 0, []CheckpointSource{rowsSource(1, 2, "a")}); err != nil {
		t.Fatal(err)
	}
	// The rows of a checkpoint at 3, synced, without its manifest.
	b := l.db.NewBatch()
	for i := uint64(0); i < 5; i++ {
		b.Set(appendCheckpointKey(nil, 3, 1, i), []byte{RowEncodingVersion, 2, 0}, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	l.Close()

	l = openMem(t, crashed)
	defer l.Close()
	cp, err := l.LatestCheckpoint()
	if err != nil || cp == nil || cp.Time != 2 {
		t.Fatalf("latest checkpoint after the crash: %+v, %v; want the one at 2", cp, err)
	}
	lo, hi := checkpointBounds(2)
	if n, at2 := countKeys(t, l, []byte{prefixCheckpoint}, []byte{prefixCheckpoint + 1}), countKeys(t, l, lo, hi); n != at2 {
		t.Fatalf("%d checkpoint keys after reopening, want only the %d of the checkpoint at 2", n, at2)
	}
}

// TestCheckpointRowCountMismatch: a checkpoint whose rows do not match its
// manifest is reported as corruption.
func TestCheckpointRowCountMismatch(t *testing.T) {
	l := openMem(t, vfs.NewMem())
	defer l.Close()
	if err := l.Append(ctx, Batch{Time: 1, Catalog: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cp, err := l.WriteCheckpoint(ctx, 1, 1, []CheckpointSource{rowsSource(4, 10, "r")})
	if err != nil {
		t.Fatal(err)
	}
	// The rows after the first value's (seq 0) are missing.
	rows := countKeys(t, l, appendCheckpointKey(nil, 1, 4, 0), appendCheckpointKey(nil, 1, 4, stateSeq))
	b := l.db.NewBatch()
	b.Set(appendCheckpointKey(nil, 1, 4, 0), AppendRow(binary.AppendVarint([]byte{checkpointRowsEncoding}, 1), types.Row{types.NewInt8(1)}), nil)
	for seq := uint64(1); seq < uint64(rows); seq++ {
		b.Delete(appendCheckpointKey(nil, 1, 4, seq), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	err = l.ReadCheckpoint(ctx, cp, func(CollectionID, []Entry) error { return nil })
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("reading a checkpoint with a missing row: %v, want a CorruptionError", err)
	}
}

// TestCheckpointOfRowAValue reads a version 4 checkpoint, whose values
// hold a row each, beside a value of many rows.
func TestCheckpointOfRowAValue(t *testing.T) {
	l := openMem(t, vfs.NewMem())
	defer l.Close()
	if err := l.Append(ctx, Batch{Time: 1, Catalog: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	b := l.db.NewBatch()
	for i := int64(0); i < 5; i++ {
		b.Set(appendCheckpointKey(nil, 1, 4, uint64(i)), AppendRow(binary.AppendVarint([]byte{RowEncodingVersion}, i+1), types.Row{types.NewInt8(i)}), nil)
	}
	many := []byte{checkpointRowsEncoding}
	for i := int64(5); i < 8; i++ {
		many = AppendRow(binary.AppendVarint(many, 1), types.Row{types.NewInt8(i)})
	}
	b.Set(appendCheckpointKey(nil, 1, 4, 5), many, nil)
	cp := &Checkpoint{Time: 1, CatalogTime: 1, Collections: []CheckpointCollection{{ID: 4, Rows: 8}}}
	b.Set(keyCheckpoint, encodeManifest(cp), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range readCheckpoint(t, l, cp)[4] {
		got = append(got, fmt.Sprintf("%s×%d", types.FormatText(e.Row[0]), e.Diff))
	}
	if want := "[0×1 1×2 2×3 3×4 4×5 5×1 6×1 7×1]"; fmt.Sprint(got) != want {
		t.Fatalf("read %v, want %s", got, want)
	}
}

// TestReadCheckpointStopsAtError: an error from f ends ReadCheckpoint with
// that error after the chunk that caused it; the reader, a chunk ahead,
// stops too.
func TestReadCheckpointStopsAtError(t *testing.T) {
	l := openMem(t, vfs.NewMem())
	defer func() {
		if err := l.Close(); err != nil {
			t.Fatalf("closing the log after the reads: %v", err)
		}
	}()
	if err := l.Append(ctx, Batch{Time: 1, Catalog: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cp, err := l.WriteCheckpoint(ctx, 1, 1, []CheckpointSource{rowsSource(4, 4*checkpointReadChunk+1, "r"), rowsSource(5, 10, "s")})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = l.ReadCheckpoint(ctx, cp, func(c CollectionID, es []Entry) error {
		if calls++; calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("ReadCheckpoint after f failed on chunk 2: %v after %d calls, want %v after 2", err, calls, stop)
	}
	// A panic in f, which a caller may recover from, stops the reader too
	// (its iterator closed: Close checks for leaked iterators).
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want f's panic", r)
			}
		}()
		l.ReadCheckpoint(ctx, cp, func(CollectionID, []Entry) error { panic("boom") })
	}()
	// Every chunk, in order, when f does not fail.
	got := readCheckpoint(t, l, cp)
	if len(got[4]) != 4*checkpointReadChunk+1 || len(got[5]) != 10 {
		t.Fatalf("read %d and %d rows, want %d and 10", len(got[4]), len(got[5]), 4*checkpointReadChunk+1)
	}
	for i, e := range got[4] {
		if e.Row[0].Int() != int64(i) {
			t.Fatalf("row %d of collection 4 is %v", i, e.Row)
		}
	}
}

// TestOlderFormatsUpgrade: a directory of every older version (1, before
// checkpoints, to 4, a checkpoint row a value) opens, keeps its log and is
// stamped with the current version.
func TestOlderFormatsUpgrade(t *testing.T) {
	for version := uint64(1); version < FormatVersion; version++ {
		fs := vfs.NewMem()
		l := openMem(t, fs)
		if err := l.Append(ctx, Batch{Time: 5, Catalog: []byte("CREATE TABLE t (a int)")}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		db, err := pebble.Open("data", &pebble.Options{FS: fs, Logger: quietPebble})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set(keyFormatVersion, binary.AppendUvarint(nil, version), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		db.Close()
		l = openMem(t, fs)
		if got := describe(replayAll(t, l)); got != `t=5 catalog="CREATE TABLE t (a int)"`+"\n" {
			t.Fatalf("replay after the upgrade from version %d: %q", version, got)
		}
		v, closer, err := l.db.Get(keyFormatVersion)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := binary.Uvarint(v); got != FormatVersion {
			t.Fatalf("format version after opening a version %d directory: %d", version, got)
		}
		closer.Close()
		l.Close()
	}
}

// TestManifestMeta round-trips a manifest with per-collection state and
// still reads version 1 (no Meta) and version 2 (no state chunks)
// manifests.
func TestManifestMeta(t *testing.T) {
	cp := &Checkpoint{Time: 9, CatalogTime: 3, Collections: []CheckpointCollection{
		{ID: 1, Rows: 5, Meta: []byte{1, 2, 3}}, {ID: 4, Rows: 0, StateChunks: 2},
	}}
	got, err := decodeManifest(encodeManifest(cp))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cp) {
		t.Fatalf("round trip: got %+v, want %+v", got, cp)
	}
	v1 := []byte{1}
	v1 = binary.BigEndian.AppendUint64(v1, 9)
	v1 = binary.BigEndian.AppendUint64(v1, 3)
	v1 = binary.AppendUvarint(v1, 1)
	v1 = binary.BigEndian.AppendUint64(v1, 1)
	v1 = binary.AppendUvarint(v1, 5)
	got, err = decodeManifest(v1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Checkpoint{Time: 9, CatalogTime: 3, Collections: []CheckpointCollection{{ID: 1, Rows: 5}}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("version 1: got %+v, want %+v", got, want)
	}
	// Version 2: Meta, no state chunk counts (checkpoints of tables only).
	v2 := []byte{2}
	v2 = binary.BigEndian.AppendUint64(v2, 9)
	v2 = binary.BigEndian.AppendUint64(v2, 3)
	v2 = binary.AppendUvarint(v2, 1)
	v2 = binary.BigEndian.AppendUint64(v2, 1)
	v2 = binary.AppendUvarint(v2, 5)
	v2 = binary.AppendUvarint(v2, 2)
	v2 = append(v2, 7, 8)
	got, err = decodeManifest(v2)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Checkpoint{Time: 9, CatalogTime: 3, Collections: []CheckpointCollection{{ID: 1, Rows: 5, Meta: []byte{7, 8}}}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("version 2: got %+v, want %+v", got, want)
	}
	if _, err := decodeManifest(append(encodeManifest(cp)[:len(encodeManifest(cp))-1], 0xff, 0xff)); err == nil {
		t.Fatal("a manifest with a bad state chunk count decoded")
	}
}

// TestCheckpointState writes a collection's rows and its state chunks and
// reads both back: the chunks as written, in order, and the rows without
// them; a chunk missing from the store is corruption.
func TestCheckpointState(t *testing.T) {
	fs := vfs.NewMem()
	l := openMem(t, fs)
	defer l.Close()
	if err := l.Append(ctx, Batch{Time: 1, Catalog: []byte("ddl")}); err != nil {
		t.Fatal(err)
	}
	src := rowsSource(5, 1000, "view")
	big := make([]byte, checkpointChunkBytes+10)
	big[7] = 7
	src.State = [][]byte{[]byte("first"), big, {}, []byte("last")}
	cp, err := l.WriteCheckpoint(ctx, 1, 1, []CheckpointSource{src, rowsSource(6, 2, "table")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cp) || got.Collections[0].StateChunks != 4 || got.Collections[1].StateChunks != 0 {
		t.Fatalf("manifest %+v, want %+v", got, cp)
	}
	if contents := readCheckpoint(t, l, got); len(contents[5]) != 1000 || len(contents[6]) != 2 {
		t.Fatalf("read back %d and %d rows", len(contents[5]), len(contents[6]))
	}
	var chunks [][]byte
	if err := l.ReadCheckpointState(ctx, got, 5, func(c []byte) error {
		chunks = append(chunks, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(chunks, [][]byte{[]byte("first"), big, {}, []byte("last")}) {
		t.Fatalf("state read back as %d chunks", len(chunks))
	}
	if err := l.ReadCheckpointState(ctx, got, 6, func([]byte) error { t.Fatal("a chunk of a collection without state"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := l.db.Delete(appendCheckpointKey(nil, 1, 5, stateSeq+1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptionError
	if err := l.ReadCheckpointState(ctx, got, 5, func([]byte) error { return nil }); !errors.As(err, &ce) {
		t.Fatalf("reading a state with a chunk missing: %v, want a CorruptionError", err)
	}
}
