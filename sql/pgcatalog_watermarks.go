package sql

import "github.com/tributary-db/tributary/sql/types"

// tb_catalog relations of event time: the watermarks of tables, and the
// state of EMIT ON WINDOW CLOSE views. (This file's init runs after
// pgcatalog_tables.go's, so the relations defined there keep their OIDs.)
func init() {
	defineSys("tb_catalog", "watermarks", "object:text column:text expression:text delay:interval max_event_time:tstz watermark:tstz", func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindTable) {
			w := o.Watermark
			if w == nil {
				continue
			}
			var maxEvent, value any
			if v, ok := w.Value(); ok {
				maxEvent = types.NewTimestamp(types.TimestampTZ, w.maxEvent)
				value = types.NewTimestamp(types.TimestampTZ, v)
			}
			out = append(out, []any{o.Name, o.Columns[w.Col].Name, w.Text,
				types.NewInterval(types.IntervalValue{Micros: w.Delay}), maxEvent, value})
		}
		return out
	})
}
