package sql

import (
	"time"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/types"
)

// tb_catalog.history: for every table and view, when it was created, the
// oldest time it can be read AS OF (its since), and its history options
// (sql/history.go). A table's history_window is what it keeps: its
// retain_history (default 1 hour) or more for a materialized view over
// it, NULL when it keeps everything (an EMIT ON WINDOW CLOSE view reads
// it).
func init() {
	defineSys("tb_catalog", "history", "object:text kind:text created:tstz since:tstz retain_history:interval history_window:interval retention:interval", func(c *catalogView) [][]any {
		var out [][]any
		sinceOf := func(dataflow.CollectionID) uint64 { return 0 }
		if c.cat.hist != nil {
			sinceOf = c.cat.hist.sinceOf
		}
		interval := func(d time.Duration) any {
			if d <= 0 {
				return nil
			}
			day := 24 * time.Hour
			return types.NewInterval(types.IntervalValue{Days: int32(d / day), Micros: (d % day).Microseconds()})
		}
		for _, o := range c.userObjects(KindTable, KindView, KindMatView) {
			var retain, window, retention any
			if o.hist != nil {
				retain, retention = interval(o.hist.retainHistory), interval(o.hist.retention)
			}
			if o.Kind == KindTable {
				if w, ok := historyWindow(c.cat, o); ok {
					window = interval(w)
				}
			}
			since := objectSince(c.cat, o, sinceOf)
			out = append(out, []any{o.Name, o.kindName(),
				types.NewTimestamp(types.TimestampTZ, systemMicros(o.Created)),
				types.NewTimestamp(types.TimestampTZ, systemMicros(since)), retain, window, retention})
		}
		return out
	})
}
