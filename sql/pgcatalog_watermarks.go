package sql

import "github.com/tributary-db/tributary/sql/types"

// tb_catalog relations of event time: the watermarks of tables
// (tb_catalog.watermarks), and the state of EMIT ON WINDOW CLOSE views
// (tb_catalog.window_close: the windows held open, the dataflow's state
// rows, and the late rows dropped). (This file's init runs after
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

	defineSys("tb_catalog", "window_close", "view:text source:text watermark:tstz open_windows:int8 state_rows:int8 late_rows:int8", func(c *catalogView) [][]any {
		var out [][]any
		for _, o := range c.userObjects(KindMatView) {
			if !o.EmitOnWindowClose || o.Flow == nil {
				continue
			}
			var source, value any
			if wc := o.Flow.WindowClose(); wc != nil {
				source = wc.SourceName
				if in := c.cat.byID(wc.Source); in != nil && in.Watermark != nil {
					if v, ok := in.Watermark.Value(); ok {
						value = types.NewTimestamp(types.TimestampTZ, v)
					}
				}
			}
			out = append(out, []any{o.Name, source, value, o.Flow.OpenWindows(), o.Flow.StateRows(), o.Flow.LateRows()})
		}
		return out
	})
}
