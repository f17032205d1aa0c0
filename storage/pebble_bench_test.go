package storage

import (
	"fmt"
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
