package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage/faultfs"
)

// contentsAt sums c's updates up to t into a canonical multiset text.
func contentsAt(t *testing.T, l Log, c CollectionID, at uint64) string {
	t.Helper()
	counts := map[string]int64{}
	err := l.ReadUpdates(ctx, c, at, func(_ uint64, e Entry) error {
		var sb strings.Builder
		for _, d := range e.Row {
			sb.WriteString(types.FormatText(d) + ",")
		}
		counts[sb.String()] += e.Diff
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k, n := range counts {
		if n != 0 {
			out = append(out, fmt.Sprintf("%s×%d", k, n))
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func countUpdates(t *testing.T, l Log) int {
	n := 0
	for _, b := range replayAll(t, l) {
		n += len(b.Entries)
	}
	return n
}

// TestCompactKeepsContents appends a random history of inserts and deletes
// to two collections, compacts one at a random since, and checks that its
// contents at every time at or after since are unchanged, that the other
// collection and the catalog are untouched, and that the log shrank; for
// MemLog and PebbleLog alike, and for PebbleLog across a reopen.
func TestCompactKeepsContents(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	fs := vfs.NewMem()
	logs := map[string]Log{"mem": NewMemLog(), "pebble": openMem(t, fs)}
	rng := rand.New(rand.NewPCG(seed, 2))
	var batches []Batch
	live := map[CollectionID][]int64{}
	for i := range 300 {
		b := Batch{Time: uint64(100 + i)}
		if i%50 == 0 {
			b.Catalog = []byte(fmt.Sprintf("DDL %d", i))
		}
		for range 1 + rng.IntN(4) {
			c := CollectionID(1 + rng.IntN(2))
			if len(live[c]) > 0 && rng.IntN(2) == 0 {
				j := rng.IntN(len(live[c]))
				v := live[c][j]
				live[c] = slices.Delete(live[c], j, j+1)
				b.Entries = append(b.Entries, Entry{Collection: c, Row: types.Row{types.NewInt8(v)}, Diff: -1})
				continue
			}
			v := int64(rng.IntN(20))
			live[c] = append(live[c], v)
			b.Entries = append(b.Entries, Entry{Collection: c, Row: types.Row{types.NewInt8(v)}, Diff: 1})
		}
		batches = append(batches, b)
	}
	since := uint64(100 + 100 + rng.IntN(150))
	for name, l := range logs {
		for _, b := range batches {
			if err := l.Append(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		before := map[uint64]string{}
		for at := since; at < 400; at++ {
			before[at] = contentsAt(t, l, 1, at)
		}
		other := contentsAt(t, l, 2, 399)
		n0 := countUpdates(t, l)
		st, err := l.Compact(ctx, 1, since)
		if err != nil {
			t.Fatal(err)
		}
		if st.Removed == 0 || countUpdates(t, l) != n0-st.Removed {
			t.Fatalf("%s: compaction removed %d of %d updates; the log now has %d", name, st.Removed, n0, countUpdates(t, l))
		}
		if s, _ := l.Since(1); s != since {
			t.Fatalf("%s: since %d, want %d", name, s, since)
		}
		check := func(l Log) {
			for at := since; at < 400; at++ {
				if got := contentsAt(t, l, 1, at); got != before[at] {
					t.Fatalf("%s: contents at %d after compaction to %d:\n%s\nwant\n%s", name, at, since, got, before[at])
				}
			}
			if got := contentsAt(t, l, 2, 399); got != other {
				t.Fatalf("%s: collection 2 changed", name)
			}
			catalogs := 0
			for _, b := range replayAll(t, l) {
				if b.Catalog != nil {
					catalogs++
				}
			}
			if catalogs != 6 {
				t.Fatalf("%s: %d catalog records after compaction, want 6", name, catalogs)
			}
			if l.LastTime() != 399 {
				t.Fatalf("%s: LastTime %d", name, l.LastTime())
			}
		}
		check(l)
		// Below since, only insertions remain (every retraction cancelled
		// an earlier insertion), at their own times.
		err = l.ReadUpdates(ctx, 1, since, func(_ uint64, e Entry) error {
			if e.Diff < 0 {
				t.Errorf("%s: a retraction survived compaction below since", name)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st, err := l.Compact(ctx, 1, since-1); err != nil || st.Read != 0 {
			t.Fatalf("%s: compacting to an earlier since: %+v %v", name, st, err)
		}
		if pl, ok := l.(*PebbleLog); ok {
			pl.Close()
			l = openMem(t, fs)
			defer l.Close()
			check(l)
			if s, _ := l.Since(1); s != since {
				t.Fatalf("since after reopen %d", s)
			}
		}
		if err := l.DropCollection(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if got := contentsAt(t, l, 2, 399); got != "" {
			t.Fatalf("%s: dropped collection still has %s", name, got)
		}
		check2 := contentsAt(t, l, 1, 399)
		if check2 != before[399] {
			t.Fatalf("%s: dropping collection 2 changed collection 1", name)
		}
	}
}

// TestNetFIFOPartial nets retractions with diffs larger than one against
// several insertions, oldest first.
func TestNetFIFOPartial(t *testing.T) {
	r := types.Row{types.NewText("x")}
	ups := []*netted{{time: 1, diff: 2, row: r}, {time: 2, diff: 3, row: r}, {time: 3, diff: -4, row: r}, {time: 4, diff: -2, row: r}}
	st := netFIFO(ups)
	// 2 (t1) and 2 of 3 (t2) cancel -4; the last 1 of t2 cancels 1 of -2.
	if !ups[0].removed || !ups[1].removed || !ups[2].removed || ups[3].removed || ups[3].diff != -1 {
		t.Fatalf("netting: %+v %+v %+v %+v", *ups[0], *ups[1], *ups[2], *ups[3])
	}
	if st.Removed != 3 || st.Rewritten != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPebbleDiskFull fills the disk: appends, compaction and checkpoints
// are refused with ErrDiskFull before anything reaches the disk (the
// filesystem fails every write with ENOSPC meanwhile, which Pebble would
// treat as fatal), reads keep working, and writes resume once space
// returns.
func TestPebbleDiskFull(t *testing.T) {
	fs := faultfs.New(vfs.NewMem())
	l, err := OpenPebble("data", &PebbleOptions{FS: fs, DiskCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	row := func(i int64) []Entry { return []Entry{{Collection: 1, Row: types.Row{types.NewInt8(i)}, Diff: 1}} }
	if err := l.Append(ctx, Batch{Time: 1, Entries: row(1)}); err != nil {
		t.Fatal(err)
	}
	fs.Full.Store(true)
	if err := l.Append(ctx, Batch{Time: 2, Entries: row(2)}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append on a full disk: %v", err)
	}
	if err := l.Enqueue(Batch{Time: 3, Entries: row(3)}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("enqueue on a full disk: %v", err)
	}
	if _, err := l.Compact(ctx, 1, 1); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("compaction on a full disk: %v", err)
	}
	if _, err := l.WriteCheckpoint(ctx, 1, 0, nil); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("checkpoint on a full disk: %v", err)
	}
	if got := contentsAt(t, l, 1, 10); got != "1,×1" {
		t.Fatalf("read on a full disk: %q", got)
	}
	fs.Full.Store(false)
	if err := l.Append(ctx, Batch{Time: 4, Entries: row(4)}); err != nil {
		t.Fatalf("append after space returned: %v", err)
	}
	if got := contentsAt(t, l, 1, 10); got != "1,×1 4,×1" {
		t.Fatalf("after space returned: %q", got)
	}
}
