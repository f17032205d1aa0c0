package storage

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/tributary-db/tributary/sql/types"
)

// BenchmarkPebbleAppend measures durable appends of one-row batches on disk
// by 1 and by 16 concurrent appenders, who take a timestamp and queue under
// one lock and wait for durability outside it (as a coordinator would), so
// that they share syncs:
//
//	timeout 900 go test -run XXX -bench PebbleAppend ./storage/
func BenchmarkPebbleAppend(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l, err := OpenPebble(b.TempDir(), &PebbleOptions{Logger: quietPebble.l})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var mu sync.Mutex
			var clock uint64
			row := types.Row{types.NewInt8(1), types.NewText("a row of some length")}
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / writers
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < per; i++ {
						mu.Lock()
						clock++
						wait := l.AppendAsync(Batch{Time: clock, Entries: []Entry{{Collection: 1, Row: row, Diff: 1}}})
						mu.Unlock()
						if err := wait(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(per*writers)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(per*writers)/float64(l.syncs.Load()), "appends/sync")
		})
	}
}

// BenchmarkPebbleCompact compacts a collection whose history is 100k
// updates in 1000 batches: 60k insertions and 40k retractions of them, so
// that 80k cancel and 20k live rows remain:
//
//	timeout 900 go test -run XXX -bench PebbleCompact -benchtime 3x ./storage/
func BenchmarkPebbleCompact(b *testing.B) {
	const batches, per = 1000, 100
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l, err := OpenPebble(b.TempDir(), &PebbleOptions{Logger: quietPebble.l})
		if err != nil {
			b.Fatal(err)
		}
		next := int64(0)
		for t := 1; t <= batches; t++ {
			var es []Entry
			for j := 0; j < per; j++ {
				if j%5 < 3 { // 3 of 5 insert a new row
					next++
					es = append(es, Entry{Collection: 1, Row: types.Row{types.NewInt8(next), types.NewText("a row of some length")}, Diff: 1})
				} else { // 2 of 5 retract an earlier one
					es = append(es, Entry{Collection: 1, Row: types.Row{types.NewInt8(next - 1), types.NewText("a row of some length")}, Diff: -1})
					next-- // retract the latest row still there, keep the count exact
				}
			}
			if err := l.Append(ctx, Batch{Time: uint64(t), Entries: es}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		st, err := l.Compact(ctx, 1, batches)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st.Read != batches*per || st.Removed != 80_000 {
			b.Fatalf("compaction read %d and removed %d updates", st.Read, st.Removed)
		}
		l.Close()
	}
	b.ReportMetric(float64(batches*per*b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkPebbleAppendLarge measures durable appends of 100k-row batches
// (a COPY's) through the WAL and memtable and as ingested table files, with
// Pebble's flushes and compactions included by closing the log:
//
//	timeout 900 go test -run XXX -bench PebbleAppendLarge -benchtime 10x -benchmem ./storage/
func BenchmarkPebbleAppendLarge(b *testing.B) {
	const rows = 100_000
	for _, path := range []string{"wal", "ingest"} {
		b.Run("path="+path, func(b *testing.B) {
			defer func(n int) { ingestMinEntries = n }(ingestMinEntries)
			if path == "wal" {
				ingestMinEntries = math.MaxInt
			}
			l, err := OpenPebble(b.TempDir(), &PebbleOptions{Logger: quietPebble.l})
			if err != nil {
				b.Fatal(err)
			}
			batches := make([]Batch, b.N)
			for i := range batches {
				es := make([]Entry, rows)
				for j := range es {
					id := int64(i*rows + j)
					es[j] = Entry{Collection: 1, Diff: 1, Row: types.Row{types.NewInt8(id), types.NewInt4(int32(id % 1000)),
						types.NewInt4(int32(id * 7919 % 1_000_000)), types.NewText(fmt.Sprintf("note %d", id))}}
				}
				batches[i] = Batch{Time: uint64(i + 1), Entries: es}
			}
			b.ResetTimer()
			for _, bt := range batches {
				if err := l.Append(context.Background(), bt); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
