package storage

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tributary-db/tributary/sql/types"
)

// TestPositionsMatchDataAfterCrash appends batches that each carry a
// source's rows and its new position, crashes with half the unsynced data
// lost, and checks that the position read back is exactly the one of the
// last batch present: a source resuming from it neither repeats nor skips
// a row.
func TestPositionsMatchDataAfterCrash(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	fs := vfs.NewCrashableMem()
	l := openMem(t, fs)
	const src = 7
	var waits []func() error
	next := int64(0)
	for tm := uint64(1); tm <= 200; tm++ {
		b := Batch{Time: tm}
		for i := 0; i < 3; i++ {
			next++
			b.Entries = append(b.Entries, Entry{Collection: src, Row: types.Row{types.NewInt8(next)}, Diff: 1})
		}
		b.Positions = []Position{{Source: src, Value: binary.AppendUvarint(nil, uint64(next))}}
		waits = append(waits, l.AppendAsync(b))
		if tm == 100 {
			for _, w := range waits {
				if err := w(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, 1))})
	for _, w := range waits {
		_ = w()
	}
	l.Close()

	l = openMem(t, crashed)
	defer l.Close()
	var rows int64
	for _, b := range replayAll(t, l) {
		for _, e := range b.Entries {
			rows++
			if got := e.Row[0].Int(); got != rows {
				t.Fatalf("row %d holds %d: the log is not a prefix", rows, got)
			}
		}
	}
	if rows < 300 {
		t.Fatalf("only %d rows after the crash; 300 were acknowledged", rows)
	}
	pos, err := l.Positions()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := binary.Uvarint(pos[src]); int64(got) != rows {
		t.Fatalf("position %d after the crash, but the log holds %d rows", got, rows)
	}
	t.Logf("%d of 600 rows survived the crash, position %d", rows, rows)

	if err := l.DropCollection(ctx, src); err != nil {
		t.Fatal(err)
	}
	if pos, err := l.Positions(); err != nil || len(pos) != 0 {
		t.Fatalf("positions after dropping the source: %v, %v", pos, err)
	}
}

// TestLargeBatchWithPositionIsNotIngested: a batch big enough to be
// ingested as a table file still writes its source position (through the
// WAL, with its rows).
func TestLargeBatchWithPositionIsNotIngested(t *testing.T) {
	fs := vfs.NewMem()
	l := openMem(t, fs)
	b := Batch{Time: 1, Positions: []Position{{Source: 3, Value: []byte("offset-9")}}}
	for i := 0; i < ingestMinEntries; i++ {
		b.Entries = append(b.Entries, Entry{Collection: 3, Row: types.Row{types.NewInt8(int64(i))}, Diff: 1})
	}
	if ingestable(b) {
		t.Fatal("a batch with a position would be ingested without it")
	}
	if err := l.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openMem(t, fs)
	defer l.Close()
	pos, err := l.Positions()
	if err != nil || string(pos[3]) != "offset-9" {
		t.Fatalf("position after reopen: %q, %v", pos[3], err)
	}
	mem := NewMemLog()
	if err := mem.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	if pos, _ := mem.Positions(); string(pos[3]) != "offset-9" {
		t.Fatalf("MemLog position: %q", pos[3])
	}
}
